"""Gateway dependencies: the caller's credential, its scopes, and the downstream clients."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.clients import Downstream
from gateway.config import Settings
from gateway.domain.keys import Principal, hash_key
from gateway.domain.ratelimit import RateLimiter, retry_after
from gateway.store import tenants
from huikuan_runtime.problems import Forbidden, RateLimited, Unauthorized

bearer = HTTPBearer(auto_error=False, description="an API key, or the operator key for /admin")

Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("send 'Authorization: Bearer <api key>'")
    return credentials.credentials


def require_scope(scope: str) -> Callable[..., Awaitable[Principal]]:
    """The caller's principal, if its key is valid (401) and carries `scope` (403)."""

    async def principal(request: Request, credentials: Credentials) -> Principal:
        token = _token(credentials)
        async with request.app.state.pool.acquire() as conn:
            row = await tenants.key_by_hash(conn, hash_key(token))
        if row is None:
            raise Unauthorized("the API key is unknown or revoked")
        found = Principal(
            tenant=row["tenant_id"], key_id=row["key_id"], scopes=frozenset(row["scopes"])
        )
        if not found.allows(scope):
            raise Forbidden(f"this call needs the scope {scope!r}", required_scope=scope)
        limiter: RateLimiter = request.app.state.rate_limiter
        wait = limiter.take(found.key_id, scope, time.monotonic())
        if wait > 0:
            limit = limiter.limit(scope)
            raise RateLimited(
                f"this key may make {limit.rate:g} {scope!r} calls a second "
                f"(bursts of {limit.burst}); retry after {retry_after(wait)} s",
                headers={"Retry-After": retry_after(wait)},
            )
        return found

    return principal


async def require_operator(request: Request, credentials: Credentials) -> None:
    token = _token(credentials)
    settings: Settings = request.app.state.settings
    if not hmac.compare_digest(token.encode(), settings.operator_key.get_secret_value().encode()):
        raise Unauthorized("admin calls need the operator key")


def downstream(name: str) -> Callable[[Request], Downstream]:
    def get(request: Request) -> Downstream:
        client: Downstream = request.app.state.downstreams[name]
        return client

    return get


Ledger = Annotated[Downstream, Depends(downstream("ledger"))]
Credit = Annotated[Downstream, Depends(downstream("credit"))]
Reminders = Annotated[Downstream, Depends(downstream("reminders"))]
LedgerRead = Annotated[Principal, Depends(require_scope("ledger:read"))]
LedgerWrite = Annotated[Principal, Depends(require_scope("ledger:write"))]
CreditRead = Annotated[Principal, Depends(require_scope("credit:read"))]
DunningRead = Annotated[Principal, Depends(require_scope("dunning:read"))]
Operator = Annotated[None, Depends(require_operator)]
