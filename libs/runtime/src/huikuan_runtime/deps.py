"""What a route gets from its app, as typed dependencies (`Annotated[…, Depends(…)]`): the
pool, the clock, and whatever else the app keeps in its state for its lifetime.

    async def put_thing(body: ThingPut, tenant: TenantId, pool: Pool, clock: Clock) -> …

A test replaces the clock with `app.dependency_overrides[get_clock] = lambda: FixedClock(…)`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import asyncpg
from fastapi import Depends, Request

from huikuan_runtime import clock

# The dependencies are `async def`: FastAPI runs a plain `def` one in a worker thread, a hop
# per request.


async def get_pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool = request.app.state.pool
    return pool


_SYSTEM_CLOCK = clock.SystemClock()


async def get_clock() -> clock.Clock:
    """The wall clock (UTC); override it in tests."""
    return _SYSTEM_CLOCK


def app_state(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency answering `app.state.<name>`, which the app factory or its lifespan set.
    Give it its type where it is used: `Renderer = Annotated[R, Depends(app_state("renderer"))]`."""

    async def get(request: Request) -> Any:
        return getattr(request.app.state, name)

    get.__name__ = f"get_{name}"
    return get


Pool = Annotated[asyncpg.Pool, Depends(get_pool)]
Clock = Annotated[clock.Clock, Depends(get_clock)]
