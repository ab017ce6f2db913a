"""What reminders tells the gateway's ops view, for one tenant."""

from __future__ import annotations

import asyncpg


async def gauges(conn: asyncpg.Connection, tenant: str) -> dict[str, float]:
    """`reminders_due_unsent`: pending reminders whose (next) attempt is due now;
    `reminders_due_oldest_seconds`: how long the oldest of them has waited;
    `deliveries_failing`: pending reminders whose last attempt failed (being retried);
    `deliveries_failed_24h`: reminders given up on (`failed`) after an attempt in 24 hours."""
    row = await conn.fetchrow(
        """SELECT
             count(*) FILTER (WHERE status = 'pending' AND next_attempt_at <= clock_timestamp())
               AS due,
             coalesce(extract(epoch FROM clock_timestamp() - min(next_attempt_at) FILTER (
               WHERE status = 'pending' AND next_attempt_at <= clock_timestamp())), 0)::float8
               AS due_age,
             count(*) FILTER (WHERE status = 'pending' AND attempts > 0) AS failing
           FROM reminder WHERE tenant = $1 AND status = 'pending'""",
        tenant,
    )
    failed = await conn.fetchval(
        """SELECT count(*) FROM reminder r
           WHERE r.tenant = $1 AND r.status = 'failed' AND EXISTS (
             SELECT 1 FROM delivery_attempt a WHERE a.reminder_id = r.reminder_id
               AND a.at > clock_timestamp() - interval '24 hours')""",
        tenant,
    )
    assert row is not None
    return {
        "reminders_due_unsent": row["due"],
        "reminders_due_oldest_seconds": row["due_age"],
        "deliveries_failing": row["failing"],
        "deliveries_failed_24h": failed,
    }
