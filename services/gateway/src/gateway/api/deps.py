"""Gateway dependencies: the caller's credential (an API key or a bearer JWT), its scopes,
and the downstream clients."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from gateway.clients import Downstream
from gateway.config import Settings
from gateway.domain.keys import Principal, PrincipalCache, hash_key
from gateway.domain.ratelimit import RateLimiter, retry_after
from gateway.domain.tokens import TokenRejected, key_id, looks_like_jwt, verify
from gateway.jwks import KeysUnavailable, TokenVerifier
from gateway.store import tenants
from huikuan_runtime.problems import (
    Forbidden,
    RateLimited,
    Unauthorized,
    UpstreamUnavailable,
)

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


class TenantSuspended(Forbidden):
    """The credential is valid but its tenant is suspended (PATCH /v1/admin/tenants/{id}):
    403, not 401 — authenticating again does not help; the operator must reactivate it."""

    slug = "tenant-suspended"
    title = "The tenant is suspended"


def _suspended(tenant: str) -> TenantSuspended:
    return TenantSuspended(
        f"the tenant {tenant!r} is suspended; its credentials are refused until the "
        "operator makes it active again",
        tenant_id=tenant,
    )


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
    verifier: TokenVerifier | None = request.app.state.token_verifier
    if verifier is not None and looks_like_jwt(token):
        return await _from_jwt(request, verifier, token)
    cache: PrincipalCache = request.app.state.principals
    key_hash, now = hash_key(token), time.monotonic()
    if (known := cache.key(key_hash, now)) is not None:
        return known
    read_at = cache.generation  # a revocation or suspension meanwhile: do not cache
    async with request.app.state.pool.acquire() as conn:
        row = await tenants.key_by_hash(conn, key_hash)
    if row is None:
        raise _refused("the API key is unknown or revoked")
    if row["suspended_at"] is not None:
        raise _suspended(row["tenant_id"])
    found = Principal(row["tenant_id"], row["key_id"], frozenset(row["scopes"]))
    cache.remember_key(key_hash, found, now, read_at)
    return found


async def _from_jwt(request: Request, verifier: TokenVerifier, token: str) -> Principal:
    try:
        kid = key_id(token, verifier.rules)
        key = await verifier.keys.key(kid, time.monotonic())
        if key is None:
            raise TokenRejected("the token is signed by a key the identity provider does not list")
        claims = verify(token, key, verifier.rules, time.time())
    except TokenRejected as rejected:
        raise _refused(str(rejected)) from None
    except KeysUnavailable:
        raise UpstreamUnavailable("the identity provider's keys cannot be fetched") from None
    cache: PrincipalCache = request.app.state.principals
    now = time.monotonic()
    if not cache.tenant_known(claims.tenant, now):
        read_at = cache.generation
        async with request.app.state.pool.acquire() as conn:
            tenant = await tenants.get_tenant(conn, claims.tenant)
        if tenant is None:
            raise _refused("the token's tenant is unknown")
        if tenant["suspended_at"] is not None:
            raise _suspended(claims.tenant)
        cache.remember_tenant(claims.tenant, now, read_at)
    return Principal(
        tenant=claims.tenant, key_id=None, scopes=claims.scopes, subject=claims.subject
    )


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


async def require_operator(request: Request, credentials: Credentials) -> None:
    token = _token(credentials)
    settings: Settings = request.app.state.settings
    if not hmac.compare_digest(token.encode(), settings.operator_key.get_secret_value().encode()):
        raise _refused("admin calls need the operator key")


def downstream(name: str) -> Callable[[Request], Awaitable[Downstream]]:
    # async: FastAPI runs a plain `def` dependency in a worker thread, a hop per request.
    async def get(request: Request) -> Downstream:
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
