"""SQL for the facts credit keeps from events (one row per event, keyed by its id)."""

from __future__ import annotations

import uuid
from datetime import date

import asyncpg

from credit.domain.profile import Fact


async def add(
    conn: asyncpg.Connection, tenant: str, customer_id: str, event_id: uuid.UUID, fact: Fact
) -> bool:
    """Record a fact; False when this event was recorded before."""
    added = await conn.fetchval(
        """INSERT INTO credit_fact (tenant, event_id, customer_id, kind, ref, ref2, currency,
                                    amount_minor, on_date, due_date, days_late, ids, note)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT DO NOTHING RETURNING true""",
        tenant, event_id, customer_id, fact.kind, fact.ref, fact.ref2, fact.currency,
        fact.amount_minor, fact.on, fact.due, fact.days_late, list(fact.ids), fact.note,
    )  # fmt: skip
    return bool(added)


async def for_customer(
    conn: asyncpg.Connection, tenant: str, customer_id: str, kind: str | None = None
) -> list[Fact]:
    """The customer's facts (only those of `kind`, if given)."""
    rows = await conn.fetch(
        """SELECT kind, ref, ref2, currency, amount_minor, on_date, due_date, days_late, ids,
                  note
           FROM credit_fact
           WHERE tenant = $1 AND customer_id = $2 AND ($3::text IS NULL OR kind = $3)""",
        tenant, customer_id, kind,
    )  # fmt: skip
    return [
        Fact(
            kind=r["kind"],
            ref=r["ref"],
            on=r["on_date"],
            ref2=r["ref2"],
            currency=r["currency"],
            amount_minor=r["amount_minor"],
            due=r["due_date"],
            days_late=r["days_late"],
            ids=tuple(r["ids"]),
            note=r["note"],
        )
        for r in rows
    ]


async def lateness(
    conn: asyncpg.Connection, tenant: str, since: date, until: date, segment: str | None
) -> tuple[float, int] | None:
    """(mean days late, payments) of the tenant's allocations in (since, until], optionally
    only of customers in `segment`."""
    row = await conn.fetchrow(
        """SELECT avg(f.days_late)::float8 AS mean, count(*) AS n
           FROM credit_fact f
           LEFT JOIN customer_profile p USING (tenant, customer_id)
           WHERE f.tenant = $1 AND f.kind = 'applied' AND f.on_date > $2 AND f.on_date <= $3
             AND ($4::text IS NULL OR p.segment = $4)""",
        tenant, since, until, segment,
    )  # fmt: skip
    if row is None or row["n"] == 0:
        return None
    return float(row["mean"]), int(row["n"])
