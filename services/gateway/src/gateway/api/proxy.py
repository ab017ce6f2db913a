"""Public routes that forward to the owning service, declared as data.

Each `Route` (one table per service, in its contract: `huikuan_contracts.<service>.routes`)
names the public path, the service, the scope it needs and the models of its body, query
and response, from the service's contract (`huikuan_contracts.<service>`), which the
service implements too; `tests/contracts` checks the two sides agree. `mount` turns routes
into FastAPI endpoints whose signatures FastAPI reads for validation and documentation.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Path, Query, Response
from fastapi.openapi.models import Example
from pydantic import BaseModel

from gateway.api.deps import IdempotencyKey, Idempotent, Once, downstream, require_scope
from gateway.api.forward import relay
from gateway.api.responses import errors
from gateway.clients import Downstream
from gateway.domain.keys import Principal
from huikuan_contracts.routes import Route
from huikuan_runtime.http import IdPath

_PARAM = re.compile(r"{(\w+)}")


def _endpoint(route: Route) -> Any:
    path_params = _PARAM.findall(route.path)

    async def endpoint(**values: Any) -> Response:
        who: Principal = values["who"]
        client: Downstream = values["client"]
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

        once: Once | None = values.get("once")  # POSTs only
        if once is None:
            return await forward()
        return await once(who.tenant, values["idempotency_key"], payload, forward)

    kw = inspect.Parameter.KEYWORD_ONLY
    typed = route.params or {}
    parameters = [
        inspect.Parameter(p, kw, annotation=Annotated[typed[p], Path()] if p in typed else IdPath)
        for p in path_params
    ]
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
    parameters.append(
        inspect.Parameter(
            "client", kw, annotation=Annotated[Downstream, Depends(downstream(route.service))]
        )
    )
    if route.method == "POST":
        parameters.append(inspect.Parameter("once", kw, annotation=Idempotent))
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
