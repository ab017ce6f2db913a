"""SQL for credit limits per customer and currency."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from credit.domain.limits import Limit


async def for_customer(conn: asyncpg.Connection, tenant: str, customer_id: str) -> dict[str, Limit]:
    rows = await conn.fetch(
        """SELECT * FROM credit_limit WHERE tenant = $1 AND customer_id = $2
           ORDER BY currency""",
        tenant,
        customer_id,
    )
    return {
        r["currency"]: Limit(
            r["currency"],
            r["recommended_minor"],
            r["manual_minor"],
            r["manual_reason"],
            r["manual_set_by"],
        )
        for r in rows
    }


async def set_recommended(
    conn: asyncpg.Connection, tenant: str, rows: list[tuple[str, str, int]]
) -> None:
    """Set (customer id, currency, minor) recommended limits in one statement."""
    if not rows:
        return
    await conn.execute(
        """INSERT INTO credit_limit (tenant, customer_id, currency, recommended_minor)
           SELECT $1, * FROM unnest($2::text[], $3::text[], $4::bigint[])
           ON CONFLICT (tenant, customer_id, currency)
           DO UPDATE SET recommended_minor = EXCLUDED.recommended_minor""",
        tenant,
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )


async def set_manual(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    currency: str,
    minor: int | None,
    reason: str | None,
    set_by: str | None,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO credit_limit (tenant, customer_id, currency, manual_minor, manual_reason,
                                     manual_set_by, manual_set_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (tenant, customer_id, currency) DO UPDATE SET
               manual_minor = EXCLUDED.manual_minor, manual_reason = EXCLUDED.manual_reason,
               manual_set_by = EXCLUDED.manual_set_by, manual_set_at = EXCLUDED.manual_set_at""",
        tenant,
        customer_id,
        currency,
        minor,
        reason,
        set_by,
        at,
    )
