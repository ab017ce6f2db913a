"""What reminders tells the gateway's ops view (`GET /ops/status`) about one tenant: its
deliveries due and failing (the figures are read by `reminders.store.ops`)."""

from __future__ import annotations

import asyncpg

from reminders.store import ops


async def gauges(conn: asyncpg.Connection, tenant: str) -> dict[str, float]:
    """`reminders_due_unsent`, `reminders_due_oldest_seconds`, `deliveries_failing` and
    `deliveries_failed_24h` (see `reminders.store.ops.gauges`)."""
    return await ops.gauges(conn, tenant)
