"""SQL for orders approved by credit checks."""

from __future__ import annotations

import uuid
from datetime import date, datetime

import asyncpg

from credit.domain.orders import Approval


async def for_customer(conn: asyncpg.Connection, tenant: str, customer_id: str) -> list[Approval]:
    rows = await conn.fetch(
        "SELECT * FROM credit_approval WHERE tenant = $1 AND customer_id = $2",
        tenant,
        customer_id,
    )
    return [
        Approval(
            r["check_id"],
            r["order_id"],
            r["currency"],
            r["amount_minor"],
            r["approved_on"],
            r["expires_on"],
        )
        for r in rows
    ]


async def add(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    check_id: uuid.UUID,
    order_id: str | None,
    currency: str,
    amount_minor: int,
    approved_on: date,
    expires_on: date,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO credit_approval (tenant, check_id, customer_id, order_id, currency,
                                        amount_minor, approved_on, expires_on, created_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
        tenant,
        check_id,
        customer_id,
        order_id,
        currency,
        amount_minor,
        approved_on,
        expires_on,
        at,
    )
