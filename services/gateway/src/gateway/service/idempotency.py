"""`Idempotency-Key` on every POST: the first response under a key is stored and replayed.

The same key with the same request (method, path and body) returns the stored response,
marked `Idempotent-Replayed: true`, without calling the service again — also after a
gateway restart, since keys live in the database. The same key with a different request
is a 422. While the first request is still running, a second one with its key gets a 409.
A request that fails on our side (5xx, a dead service) gives its key back so the caller
can retry with it. Keys are per tenant.

Keys do not last for ever (`Lifetimes`): one first used longer ago than its time to live
(24 hours by default) starts afresh, as a new request; and a claim never completed — the
gateway stopped between taking the key and storing the response — is taken over by the
next request with the key once it is older than the longest a request can run, instead of
answering 409 for ever.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import asyncpg
from fastapi import Response

from gateway.store import idempotency as store
from huikuan_runtime.clock import Clock
from huikuan_runtime.problems import Conflict, Problem

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"


class KeyReused(Problem):
    status = 422
    slug = "idempotency-key-reused"
    title = "The Idempotency-Key was used for a different request"


@dataclass(frozen=True, slots=True)
class Lifetimes:
    ttl: timedelta  # a key replays its response this long after its first use
    claim_timeout: timedelta  # an unfinished claim older than this was abandoned


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps({"method": method, "path": path, "body": body}, sort_keys=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def once(
    pool: asyncpg.Pool,
    clock: Clock,
    lifetimes: Lifetimes,
    tenant: str,
    key: str,
    request_print: str,
    call: Callable[[], Awaitable[Response]],
) -> Response:
    """Run `call` at most once per (tenant, key); replay its response afterwards."""
    now = clock.now()
    async with pool.acquire() as conn:
        if not await store.claim(
            conn,
            tenant,
            key,
            request_print,
            now,
            expired_before=now - lifetimes.ttl,
            abandoned_before=now - lifetimes.claim_timeout,
        ):
            row = await store.get(conn, tenant, key)
            if row is None:  # released in between: the caller may simply retry
                raise Conflict(f"the request with {HEADER} {key!r} just failed; retry")
            if row["fingerprint"] != request_print:
                raise KeyReused(f"{HEADER} {key!r} was first used with a different request")
            if row["completed_at"] is None:
                raise Conflict(f"a request with {HEADER} {key!r} is still in progress")
            return Response(
                row["body"],
                status_code=row["status"],
                media_type=row["content_type"],
                headers={REPLAYED: "true"},
            )
    try:
        response = await call()
    except BaseException:
        async with pool.acquire() as conn:
            await store.release(conn, tenant, key)
        raise
    async with pool.acquire() as conn:
        if response.status_code >= 500:
            await store.release(conn, tenant, key)
        else:
            await store.complete(
                conn,
                tenant,
                key,
                response.status_code,
                response.media_type or "application/json",
                bytes(response.body),
                clock.now(),
            )
    return response
