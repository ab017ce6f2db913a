"""SQL for credit's per-customer projection."""

from __future__ import annotations

from datetime import datetime

import asyncpg


async def upsert_profile(
    conn: asyncpg.Connection, tenant: str, customer_id: str, name: str, terms: int, at: datetime
) -> None:
    await conn.execute(
        """INSERT INTO customer_profile (tenant, customer_id, name, payment_terms_days,
                                         first_seen_at)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (tenant, customer_id) DO UPDATE
           SET name = EXCLUDED.name, payment_terms_days = EXCLUDED.payment_terms_days,
               first_seen_at = LEAST(customer_profile.first_seen_at, EXCLUDED.first_seen_at)""",
        tenant, customer_id, name, terms, at,
    )  # fmt: skip


async def add_open_invoice(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    currency: str,
    amount_minor: int,
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO exposure (tenant, customer_id, currency, open_invoices,
                                 open_amount_minor, updated_at)
           VALUES ($1, $2, $3, 1, $4, $5)
           ON CONFLICT (tenant, customer_id, currency) DO UPDATE
           SET open_invoices = exposure.open_invoices + 1,
               open_amount_minor = exposure.open_amount_minor + EXCLUDED.open_amount_minor,
               updated_at = GREATEST(exposure.updated_at, EXCLUDED.updated_at)""",
        tenant, customer_id, currency, amount_minor, at,
    )  # fmt: skip


async def for_customer(
    conn: asyncpg.Connection, tenant: str, customer_id: str
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT currency, open_invoices, open_amount_minor, updated_at FROM exposure
           WHERE tenant = $1 AND customer_id = $2 ORDER BY currency""",
        tenant, customer_id,
    )  # fmt: skip
    return rows


async def profile(conn: asyncpg.Connection, tenant: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM customer_profile WHERE tenant = $1 AND customer_id = $2",
        tenant, customer_id,
    )  # fmt: skip
