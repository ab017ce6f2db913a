"""Who is calling: the principal behind an API key (its hash looked up, then kept in the
`PrincipalCache` for a short while) or, when an identity provider is configured, behind a
bearer JWT (verified against the provider's keys; its tenant checked to exist and be
active, which the cache also keeps)."""

from __future__ import annotations

import time

import asyncpg

from gateway.domain.keys import Principal, PrincipalCache, hash_key
from gateway.domain.tokens import TokenRejected, key_id, looks_like_jwt, verify
from gateway.jwks import KeysUnavailable, TokenVerifier
from gateway.store import tenants
from huikuan_runtime.problems import Forbidden, UpstreamUnavailable


class Refused(Exception):
    """The credential is not one we accept; the message says why."""


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


async def principal(
    pool: asyncpg.Pool, cache: PrincipalCache, verifier: TokenVerifier | None, token: str
) -> Principal:
    """The principal behind an API key or, when an identity provider is configured, a JWT.
    Raises `Refused`, `TenantSuspended`, or `UpstreamUnavailable` (the provider's keys)."""
    if verifier is not None and looks_like_jwt(token):
        return await _from_jwt(pool, cache, verifier, token)
    key_hash, now = hash_key(token), time.monotonic()
    if (known := cache.key(key_hash, now)) is not None:
        return known
    read_at = cache.generation  # a revocation or suspension meanwhile: do not cache
    async with pool.acquire() as conn:
        row = await tenants.key_by_hash(conn, key_hash)
    if row is None:
        raise Refused("the API key is unknown or revoked")
    if row["suspended_at"] is not None:
        raise _suspended(row["tenant_id"])
    found = Principal(row["tenant_id"], row["key_id"], frozenset(row["scopes"]))
    cache.remember_key(key_hash, found, now, read_at)
    return found


async def _from_jwt(
    pool: asyncpg.Pool, cache: PrincipalCache, verifier: TokenVerifier, token: str
) -> Principal:
    try:
        kid = key_id(token, verifier.rules)
        key = await verifier.keys.key(kid, time.monotonic())
        if key is None:
            raise TokenRejected("the token is signed by a key the identity provider does not list")
        claims = verify(token, key, verifier.rules, time.time())
    except TokenRejected as rejected:
        raise Refused(str(rejected)) from None
    except KeysUnavailable:
        raise UpstreamUnavailable("the identity provider's keys cannot be fetched") from None
    now = time.monotonic()
    if not cache.tenant_known(claims.tenant, now):
        read_at = cache.generation
        async with pool.acquire() as conn:
            tenant = await tenants.get_tenant(conn, claims.tenant)
        if tenant is None:
            raise Refused("the token's tenant is unknown")
        if tenant["suspended_at"] is not None:
            raise _suspended(claims.tenant)
        cache.remember_tenant(claims.tenant, now, read_at)
    return Principal(
        tenant=claims.tenant, key_id=None, scopes=claims.scopes, subject=claims.subject
    )
