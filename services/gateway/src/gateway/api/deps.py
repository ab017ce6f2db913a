"""Gateway dependencies: the caller's credential (an API key or a bearer JWT), its scopes,
the downstream clients, what else the app keeps for its lifetime, and `Idempotency-Key`."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Header, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.clients import Downstream
from gateway.config import Settings
from gateway.domain.keys import Principal, PrincipalCache
from gateway.domain.ratelimit import RateLimiter, retry_after
from gateway.service import auth, idempotency
from huikuan_runtime.deps import Clock, Pool, app_state
from huikuan_runtime.problems import Forbidden, RateLimited, Unauthorized

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="apiKey",
    description="an API key (`hk_…`), or the operator key for /admin",
)
bearer_jwt = HTTPBearer(
    auto_error=False,
    scheme_name="bearerJwt",
    bearerFormat="JWT",
    description="an access token from the identity provider (mobile apps); "
    "the tenant and scopes come from its claims",
)

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
JwtCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_jwt)]
Config = Annotated[Settings, Depends(app_state("settings"))]

REALM = "huikuan"


def _challenge(error: str | None = None, description: str | None = None, **params: str) -> str:
    """An RFC 6750 `WWW-Authenticate` value. What goes inside quotes is cut to printable
    ASCII without quotes or backslashes (a description may quote a token's header)."""
    parts = {"realm": REALM}
    if error is not None:
        parts["error"] = error
    if description is not None:
        parts["error_description"] = description
    parts.update(params)
    return "Bearer " + ", ".join(f'{k}="{_quotable(v)}"' for k, v in parts.items())


def _quotable(text: str) -> str:
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in text)


def _refused(detail: str) -> Unauthorized:
    return Unauthorized(detail, headers={"WWW-Authenticate": _challenge("invalid_token", detail)})


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized(
            "send 'Authorization: Bearer <api key or token>'",
            headers={"WWW-Authenticate": _challenge()},
        )
    return credentials.credentials


async def authenticate(request: Request, token: str) -> Principal:
    """The principal behind an API key or, when an identity provider is configured, a JWT."""
    state = request.app.state
    try:
        return await auth.principal(state.pool, state.principals, state.token_verifier, token)
    except auth.Refused as refused:
        raise _refused(str(refused)) from None


def require_scope(scope: str) -> Callable[..., Awaitable[Principal]]:
    """The caller's principal, if its credential is valid (401) and carries `scope` (403)."""

    async def principal(
        request: Request, credentials: Credentials, _jwt: JwtCredentials
    ) -> Principal:
        found = await authenticate(request, _token(credentials))
        if not found.allows(scope):
            raise Forbidden(
                f"this call needs the scope {scope!r}",
                headers={"WWW-Authenticate": _challenge("insufficient_scope", scope=scope)},
                required_scope=scope,
            )
        limiter: RateLimiter = request.app.state.rate_limiter
        wait = limiter.take(found.rate_key, scope, time.monotonic())
        if wait > 0:
            limit = limiter.limit(scope)
            raise RateLimited(
                f"this credential may make {limit.rate:g} {scope!r} calls a second "
                f"(bursts of {limit.burst}); retry after {retry_after(wait)} s",
                headers={"Retry-After": retry_after(wait)},
            )
        return found

    return principal


async def require_operator(credentials: Credentials, settings: Config) -> None:
    token = _token(credentials)
    if not hmac.compare_digest(token.encode(), settings.operator_key.get_secret_value().encode()):
        raise _refused("admin calls need the operator key")


def downstream(name: str) -> Callable[[Request], Awaitable[Downstream]]:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop per request.
    async def get(request: Request) -> Downstream:
        client: Downstream = request.app.state.downstreams[name]
        return client

    return get


class Once:
    """Runs a POST's work at most once per `Idempotency-Key` (gateway.service.idempotency)
    and replays its response afterwards; without a key, simply runs it."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        clock: Clock,
        lifetimes: idempotency.Lifetimes,
        method: str,
        path: str,
    ) -> None:
        self.pool, self.clock, self.lifetimes = pool, clock, lifetimes
        self.method, self.path = method, path

    async def __call__(
        self,
        tenant: str,
        key: str | None,
        body: Any,
        call: Callable[[], Awaitable[Response]],
    ) -> Response:
        """`body`: the request's JSON body (None without one), part of what a key stands for."""
        if key is None:
            return await call()
        request_print = idempotency.fingerprint(self.method, self.path, body)
        return await idempotency.once(
            self.pool, self.clock, self.lifetimes, tenant, key, request_print, call
        )


async def once(request: Request, pool: Pool, clock: Clock, settings: Config) -> Once:
    lifetimes = idempotency.Lifetimes(
        ttl=timedelta(seconds=settings.idempotency_key_ttl_seconds),
        claim_timeout=timedelta(seconds=settings.idempotency_claim_timeout_seconds),
    )
    return Once(pool, clock, lifetimes, request.method, request.url.path)


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
Idempotent = Annotated[Once, Depends(once)]
Principals = Annotated[PrincipalCache, Depends(app_state("principals"))]
Downstreams = Annotated[dict[str, Downstream], Depends(app_state("downstreams"))]
Ledger = Annotated[Downstream, Depends(downstream("ledger"))]
Credit = Annotated[Downstream, Depends(downstream("credit"))]
Reminders = Annotated[Downstream, Depends(downstream("reminders"))]
LedgerRead = Annotated[Principal, Depends(require_scope("ledger:read"))]
LedgerWrite = Annotated[Principal, Depends(require_scope("ledger:write"))]
CreditRead = Annotated[Principal, Depends(require_scope("credit:read"))]
DunningRead = Annotated[Principal, Depends(require_scope("dunning:read"))]
Operator = Annotated[None, Depends(require_operator)]
