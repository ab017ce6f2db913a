"""Public routes that forward to the owning service, declared as data.

Each `Route` names the public path, the service, the scope it needs and the models of its
body, query and response — the owning service's own models, so the public OpenAPI
document cannot drift from what the service accepts. `mount` turns routes into FastAPI
endpoints whose signatures FastAPI reads for validation and documentation.
"""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Query, Request, Response
from fastapi.openapi.models import Example
from pydantic import BaseModel

from gateway import idempotency
from gateway.api.deps import require_scope
from gateway.api.forward import relay
from gateway.api.responses import errors
from gateway.clients import Downstream
from gateway.domain.keys import Principal
from huikuan_runtime.clock import SystemClock
from huikuan_runtime.fields import IdPath

_PARAM = re.compile(r"{(\w+)}")
clock = SystemClock()

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias=idempotency.HEADER,
        min_length=1,
        max_length=255,
        description="the same key and body again return the first response, unchanged; "
        "another body under the same key is a 422",
    ),
]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    service: str
    scope: str
    response: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    status: int = 200
    also: dict[int, str] | None = None  # other success statuses and what they mean
    problems: tuple[int, ...] = (404,)
    summary: str | None = None
    tags: tuple[str, ...] = ()
    upstream: str | None = None  # the service's path when it differs from the public one
    timeout: float | None = None  # seconds, when the call may take longer than the default
    example: Mapping[str, Any] | None = None  # a body for the document; must validate

    def __post_init__(self) -> None:
        if self.example is not None:  # an example the body model refuses fails at import
            if self.body is None:
                raise ValueError(f"{self.method} {self.path} takes no body to give an example of")
            self.body.model_validate_json(json.dumps(self.example))


def _endpoint(route: Route) -> Any:
    path_params = _PARAM.findall(route.path)

    async def endpoint(request: Request, **values: Any) -> Response:
        who: Principal = values["who"]
        client: Downstream = request.app.state.downstreams[route.service]
        body: BaseModel | None = values.get("body")
        query: BaseModel | None = values.get("query")
        payload = body.model_dump(mode="json") if body is not None else None

        async def forward() -> Response:
            return relay(
                await client.request(
                    route.method,
                    (route.upstream or route.path).format(**{p: values[p] for p in path_params}),
                    who.tenant,
                    json=payload,
                    params=query.model_dump(mode="json", exclude_none=True) if query else None,
                    deadline=route.timeout,
                )
            )

        key: str | None = values.get("idempotency_key")
        if key is None:
            return await forward()
        request_print = idempotency.fingerprint(route.method, request.url.path, payload)
        return await idempotency.once(
            request.app.state.pool, clock, who.tenant, key, request_print, forward
        )

    parameters = [
        inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Request)
    ]
    kw = inspect.Parameter.KEYWORD_ONLY
    parameters += [inspect.Parameter(p, kw, annotation=IdPath) for p in path_params]
    if route.body is not None:
        examples: dict[str, Example] = {}
        if route.example is not None:
            examples["example"] = {"summary": route.body.__name__, "value": route.example}
        body = Body(openapi_examples=examples or None)
        parameters.append(inspect.Parameter("body", kw, annotation=Annotated[route.body, body]))
    if route.query is not None:
        parameters.append(
            inspect.Parameter("query", kw, annotation=Annotated[route.query, Query()])
        )
    if route.method == "POST":
        parameters.append(
            inspect.Parameter("idempotency_key", kw, default=None, annotation=IdempotencyKey)
        )
    parameters.append(
        inspect.Parameter(
            "who", kw, annotation=Annotated[Principal, Depends(require_scope(route.scope))]
        )
    )
    endpoint.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    name = re.sub(r"\W+", "_", f"{route.method}_{route.path}").strip("_").lower()
    endpoint.__name__ = name
    return endpoint


def mount(router: APIRouter, routes: Sequence[Route]) -> None:
    for route in routes:
        responses: dict[int | str, dict[str, Any]] = dict(errors(*route.problems))
        for status, meaning in (route.also or {}).items():
            responses[status] = {"model": route.response, "description": meaning}
        router.add_api_route(
            route.path,
            _endpoint(route),
            methods=[route.method],
            response_model=route.response,
            status_code=route.status,
            responses=responses,
            summary=route.summary,
            description=route.summary,
            tags=list(route.tags) or None,
            openapi_extra={"x-required-scope": route.scope},
        )
