"""The collector directory: a collector's manager must be a recorded collector, and the
chain of managers above anyone never loops (refused with 422, nothing written)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from huikuan_runtime.problems import InvalidInput
from reminders.store import collectors


async def save(
    conn: asyncpg.Connection,
    tenant: str,
    collector_id: str,
    name: str,
    email: str | None,
    manager: str | None,
    at: datetime,
) -> tuple[asyncpg.Record, bool]:
    """Create or replace a collector; the row and whether it was created."""
    await collectors.lock_directory(conn, tenant)
    if manager is not None:
        if manager == collector_id:
            raise _loop(collector_id, [collector_id, collector_id])
        if await collectors.get(conn, tenant, manager) is None:
            raise InvalidInput(
                f"manager: no collector {manager!r} (record the manager first)",
                errors=[{"field": "manager", "message": f"no collector {manager!r}"}],
            )
        above = await collectors.chain_from(conn, tenant, manager)
        if collector_id in above:
            loop = [collector_id, *above[: above.index(collector_id) + 1]]
            raise _loop(collector_id, loop)
    return await collectors.upsert(conn, tenant, collector_id, name, email, manager, at)


def _loop(collector_id: str, loop: list[str]) -> InvalidInput:
    chain = " -> ".join(loop)
    return InvalidInput(
        f"manager: the chain of managers would loop ({chain})",
        errors=[{"field": "manager", "message": f"managers would loop: {chain}"}],
    )
