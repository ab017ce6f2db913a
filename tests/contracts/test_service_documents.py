"""The public document and the services agree, route by route.

Each public route the gateway forwards is declared once, in the owning service's contract
(`huikuan_contracts.<service>.routes`); the gateway builds its public operations from that
table, while each service declares its own FastAPI routes in its own code. Here the two
OpenAPI documents — the gateway's and the service's own — are compared for every route in
the tables: the service must serve the route (method and path), take the same path and
query parameters and the same body, and answer the same schema on success. A service route
that answers another model, takes another body, or was renamed fails here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI

from huikuan_contracts.credit.routes import ROUTES as CREDIT
from huikuan_contracts.ledger.routes import ROUTES as LEDGER
from huikuan_contracts.reminders.routes import ROUTES as REMINDERS
from huikuan_contracts.routes import Route

Document = dict[str, Any]


def _credit() -> FastAPI:
    from credit.api.app import create_app
    from credit.config import Settings

    return create_app(Settings())


def _ledger() -> FastAPI:
    from ledger.api.app import create_app
    from ledger.config import Settings

    return create_app(Settings())


def _reminders() -> FastAPI:
    from reminders.api.app import create_app
    from reminders.config import Settings

    return create_app(Settings())


def _gateway() -> FastAPI:
    from gateway.api.app import create_app
    from gateway.config import Settings

    return create_app(Settings())


SERVICES: dict[str, tuple[Callable[[], FastAPI], tuple[Route, ...]]] = {
    "ledger": (_ledger, LEDGER),
    "credit": (_credit, CREDIT),
    "reminders": (_reminders, REMINDERS),
}


_PROSE = frozenset({"title", "description", "examples"})


def _resolve(document: Document, node: Any, seen: frozenset[str] = frozenset()) -> Any:
    """`node` with every `$ref` into the document's components replaced by what it names;
    titles, descriptions and examples dropped: they document, they do not constrain."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            name = ref.rsplit("/", 1)[1]
            if name in seen:
                return {"$recursive": name}
            return _resolve(document, document["components"]["schemas"][name], seen | {name})
        return {k: _resolve(document, v, seen) for k, v in node.items() if k not in _PROSE}
    if isinstance(node, list):
        return [_resolve(document, v, seen) for v in node]
    return node


def _body(document: Document, operation: Document) -> Any:
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    return None if content is None else _resolve(document, content["schema"])


def _answer(document: Document, operation: Document, status: int) -> Any:
    response = operation["responses"].get(str(status), {})
    content = response.get("content", {}).get("application/json")
    return None if content is None else _resolve(document, content.get("schema"))


def _parameters(document: Document, operation: Document, where: str) -> dict[str, Any]:
    return {
        p["name"]: (p.get("required", False), _resolve(document, p.get("schema")))
        for p in operation.get("parameters", [])
        if p["in"] == where
    }


@pytest.fixture(scope="module")
def public() -> Document:
    document: Document = _gateway().openapi()
    return document


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_public_route_is_served_as_published(public: Document, service: str) -> None:
    make, routes = SERVICES[service]
    own: Document = make().openapi()
    problems: list[str] = []
    for route in routes:
        name = f"{route.method} {route.path}"
        path = route.upstream or route.path
        served = own["paths"].get(path, {}).get(route.method.lower())
        if served is None:
            problems.append(f"{name}: {service} serves no {route.method} {path}")
            continue
        published = public["paths"][f"/v1{route.path}"][route.method.lower()]
        if _body(own, served) != _body(public, published):
            problems.append(f"{name}: the body {service} takes is not the one published")
        if _answer(own, served, route.status) != _answer(public, published, route.status):
            problems.append(f"{name}: {service} answers {route.status} with another schema")
        served_path = _parameters(own, served, "path")
        if served_path != _parameters(public, published, "path"):
            problems.append(f"{name}: path parameters differ")
        # The gateway may leave a service's optional query parameter unpublished, never
        # publish one the service does not take the same way.
        served_query = _parameters(own, served, "query")
        for param, spec in _parameters(public, published, "query").items():
            if served_query.get(param) != spec:
                problems.append(f"{name}: query parameter {param} is not served as published")
        hidden = set(served_query) - set(_parameters(public, published, "query"))
        problems += [f"{name}: required {p} is not published" for p in hidden if served_query[p][0]]
    assert not problems, "\n".join(problems)


def test_the_check_can_fail() -> None:
    """A route the service does not serve, or serves with another answer, is reported."""
    from fastapi import APIRouter
    from pydantic import BaseModel

    class Answer(BaseModel):
        a: int

    class Other(BaseModel):
        b: str

    app = FastAPI()
    router = APIRouter()

    @router.get("/things/{thing_id}", response_model=Other)
    async def thing(thing_id: str) -> Other:
        raise NotImplementedError

    app.include_router(router)
    own: Document = app.openapi()
    served = own["paths"]["/things/{thing_id}"]["get"]
    public_app = FastAPI()

    @public_app.get("/things/{thing_id}", response_model=Answer)
    async def published(thing_id: str) -> Answer:
        raise NotImplementedError

    public_doc: Document = public_app.openapi()
    published_op = public_doc["paths"]["/things/{thing_id}"]["get"]
    assert _answer(own, served, 200) != _answer(public_doc, published_op, 200)
    assert _parameters(own, served, "path") == _parameters(public_doc, published_op, "path")
