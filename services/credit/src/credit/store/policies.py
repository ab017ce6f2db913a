"""SQL for each tenant's automatic hold policy."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from credit.domain.holds import HoldPolicy


async def get(conn: asyncpg.Connection, tenant: str) -> HoldPolicy:
    row = await conn.fetchrow("SELECT * FROM hold_policy WHERE tenant = $1", tenant)
    if row is None:
        return HoldPolicy()
    return HoldPolicy(
        max_days_overdue=row["max_days_overdue"],
        over_limit=row["over_limit"],
        grade_e=row["grade_e"],
        broken_promise=row["broken_promise"],
        dunning=row["dunning"],
        order_validity_days=row["order_validity_days"],
    )


async def put(conn: asyncpg.Connection, tenant: str, policy: HoldPolicy, at: datetime) -> None:
    await conn.execute(
        """INSERT INTO hold_policy (tenant, max_days_overdue, over_limit, grade_e, broken_promise,
                                    dunning, order_validity_days, updated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           ON CONFLICT (tenant) DO UPDATE SET
               max_days_overdue = EXCLUDED.max_days_overdue, over_limit = EXCLUDED.over_limit,
               grade_e = EXCLUDED.grade_e, broken_promise = EXCLUDED.broken_promise,
               dunning = EXCLUDED.dunning, order_validity_days = EXCLUDED.order_validity_days,
               updated_at = EXCLUDED.updated_at""",
        tenant,
        policy.max_days_overdue,
        policy.over_limit,
        policy.grade_e,
        policy.broken_promise,
        policy.dunning,
        policy.order_validity_days,
        at,
    )
