"""What every HTTP process shares: problem+json errors, request ids and trace context,
access logs and metrics, `/healthz`, `/readyz`, `/metrics`, and the internal credential."""

from __future__ import annotations

import hmac
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Any

from asyncpg.exceptions import CharacterNotInRepertoireError, UntranslatableCharacterError
from fastapi import APIRouter, Depends, FastAPI, Header, Path, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from huikuan_contracts.fields import ID_PATTERN
from huikuan_runtime import metrics
from huikuan_runtime.logs import request_id_var, request_path_var, trace_id_from, trace_id_var
from huikuan_runtime.problems import (
    PROBLEM_CONTENT_TYPE,
    InvalidInput,
    Problem,
    Unauthorized,
    problem_body,
)

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
INTERNAL_TOKEN_HEADER = "X-Internal-Token"
TENANT_HEADER = "X-Tenant-ID"

Check = Callable[[], Awaitable[None]]

_STATUS_SLUGS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "rate-limited",
}

# A caller id in a URL path (the same rule as huikuan_contracts.fields.ExternalId).
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, examples=["C-1001"])]


def problem_response(
    body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        body,
        status_code=body["status"],
        media_type=PROBLEM_CONTENT_TYPE,
        headers=dict(headers or {}),
    )


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(p) for p in err["loc"] if p != "body") or "body",
            "message": err["msg"],
        }
        for err in exc.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc.body(instance=request.url.path), headers=exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _validation_errors(exc)
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem_response(
            problem_body(
                InvalidInput.status,
                InvalidInput.slug,
                InvalidInput.title,
                detail,
                instance=request.url.path,
                errors=errors,
            )
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        slug = _STATUS_SLUGS.get(exc.status_code, "http-error")
        title = slug.replace("-", " ").capitalize()
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no route {request.method} {request.url.path}"
        return problem_response(
            problem_body(exc.status_code, slug, title, detail, instance=request.url.path),
            headers=exc.headers,
        )

    async def on_nul(request: Request, exc: Exception) -> JSONResponse:
        # PostgreSQL text and jsonb cannot hold U+0000: a request carrying one is invalid,
        # whichever string it hid in (the transaction it reached is rolled back).
        detail = "text may not contain the NUL character (U+0000)"
        return problem_response(
            problem_body(
                InvalidInput.status,
                InvalidInput.slug,
                InvalidInput.title,
                detail,
                instance=request.url.path,
            )
        )

    async def on_crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"path": request.url.path})
        return problem_response(
            problem_body(
                500,
                "internal",
                "Internal error",
                "the server failed to handle the request; it has been logged",
                instance=request.url.path,
            )
        )

    app.add_exception_handler(Problem, on_problem)
    for nul in (CharacterNotInRepertoireError, UntranslatableCharacterError):
        app.add_exception_handler(nul, on_nul)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)


def _refusal(scope: Scope) -> tuple[int, str, str, str] | None:
    """Why to refuse a request before the app sees it: a header value that is not UTF-8
    (status, slug, title, detail), or None."""
    for name, value in scope["headers"]:
        try:
            value.decode()
        except UnicodeDecodeError:
            header = name.decode("latin-1")
            return 400, "bad-header", "Bad header", f"the {header} header is not UTF-8"
    return None


class RequestContextMiddleware:
    """Request id and trace id in and out, an access log line and request metrics; requests
    with a header that is not UTF-8 (400) or a body over `max_body_bytes` (413, by its
    Content-Length at once, else as soon as the body read so far is larger: a streamed body
    is read here, never more than the limit) are refused as problems before the app sees
    them."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = 4 * 1024 * 1024) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = _refusal(scope)
        headers = {k.decode().lower(): v.decode(errors="replace") for k, v in scope["headers"]}
        request_id = headers.get("x-request-id") or secrets.token_hex(8)
        rid_token = request_id_var.set(request_id[:128])
        tid_token = trace_id_var.set(trace_id_from(headers.get("traceparent")))
        path_token = request_path_var.set(scope["path"])
        length = headers.get("content-length", "")
        if refused is None and length.isdigit() and int(length) > self.max_body_bytes:
            refused = self._too_large()
        body: list[bytes] = []
        if refused is None:
            # Read the body (the app would read it whole anyway) up to the limit; past it,
            # refuse without reading on. The app then gets it as one message.
            size, more = 0, True
            while more:
                message = await receive()
                if message["type"] != "http.request":  # the client went away
                    break
                body.append(message.get("body", b""))
                size += len(body[-1])
                more = message.get("more_body", False)
                if size > self.max_body_bytes:
                    refused = self._too_large()
                    break
        replayed = False

        async def receive_read() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(body), "more_body": False}
            return await receive()

        status = 500
        started = time.perf_counter()
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"].append((b"x-request-id", request_id[:128].encode()))
            await send(message)

        try:
            if refused is not None:
                await self._refuse(refused, scope, receive, send_with_id)
            else:
                await self.app(scope, receive_read, send_with_id)
        except Exception:
            # Logged once here; the caller gets a problem, never a stack trace.
            log.exception("unhandled error", extra={"path": scope["path"]})
            if not response_started:
                crash = problem_response(
                    problem_body(
                        500,
                        "internal",
                        "Internal error",
                        "the server failed to handle the request; it has been logged",
                        instance=scope["path"],
                    )
                )
                await crash(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            metrics.HTTP_REQUESTS.labels(scope["method"], path, str(status)).inc()
            metrics.HTTP_LATENCY.labels(scope["method"], path).observe(elapsed)
            if path not in ("/healthz", "/readyz", "/metrics"):
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round(elapsed * 1000, 2),
                    },
                )
            request_path_var.reset(path_token)
            request_id_var.reset(rid_token)
            trace_id_var.reset(tid_token)

    def _too_large(self) -> tuple[int, str, str, str]:
        return (
            413,
            "payload-too-large",
            "Request body too large",
            f"the body is larger than {self.max_body_bytes} bytes",
        )

    @staticmethod
    async def _refuse(
        why: tuple[int, str, str, str], scope: Scope, receive: Receive, send: Send
    ) -> None:
        status, slug, title, detail = why
        refusal = problem_response(
            problem_body(status, slug, title, detail, instance=scope["path"])
        )
        await refusal(scope, receive, send)


def health_router(checks: Callable[[], Mapping[str, Check]]) -> APIRouter:
    """`/healthz` (the process is up), `/readyz` (every dependency answers), `/metrics`."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", responses={503: {"description": "a dependency is failing"}})
    async def readyz() -> JSONResponse:
        results: dict[str, str] = {}
        for name, check in checks().items():
            try:
                await check()
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"failing: {type(exc).__name__}: {exc}"[:300]
        ready = all(v == "ok" for v in results.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": results},
            status_code=200 if ready else 503,
        )

    @router.get("/metrics", response_class=PlainTextResponse)
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


def internal_auth(token: str) -> Callable[..., Awaitable[None]]:
    """A dependency that admits only callers presenting the internal service credential."""
    expected = token.encode()

    async def verify(
        x_internal_token: Annotated[str | None, Header(include_in_schema=False)] = None,
    ) -> None:
        if x_internal_token is None or not hmac.compare_digest(x_internal_token.encode(), expected):
            raise Unauthorized("this service accepts only calls carrying the internal credential")

    return verify


async def tenant_from_header(
    x_tenant_id: Annotated[str, Header(min_length=1, max_length=64)],
) -> str:
    """The tenant an internal call acts for, set by the gateway from the caller's credential."""
    return x_tenant_id


TenantId = Annotated[str, Depends(tenant_from_header)]
