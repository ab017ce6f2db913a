"""SQL for the facts credit keeps from events (one row per event, keyed by its id)."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import date

import asyncpg

from credit.domain.profile import Fact

_COLUMNS = "kind, ref, ref2, currency, amount_minor, on_date, due_date, days_late, ids, note"


def digest(event_ids: list[uuid.UUID]) -> uuid.UUID:
    """What identifies a set of facts: the XOR of their event ids (order does not matter)."""
    x = 0
    for event_id in event_ids:
        x ^= event_id.int
    return uuid.UUID(int=x)


def _fact(r: asyncpg.Record) -> Fact:
    return Fact(
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


async def add(
    conn: asyncpg.Connection, tenant: str, customer_id: str, event_id: uuid.UUID, fact: Fact
) -> bool:
    """Record a fact; False when this event was recorded before."""
    added = await conn.fetchval(
        """INSERT INTO credit_fact (tenant, event_id, customer_id, kind, ref, ref2, currency,
                                    amount_minor, on_date, due_date, days_late, ids, note)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
           ON CONFLICT DO NOTHING RETURNING true""",
        tenant,
        event_id,
        customer_id,
        fact.kind,
        fact.ref,
        fact.ref2,
        fact.currency,
        fact.amount_minor,
        fact.on,
        fact.due,
        fact.days_late,
        list(fact.ids),
        fact.note,
    )
    return bool(added)


async def add_many(
    conn: asyncpg.Connection, tenant: str, learnt: list[tuple[uuid.UUID, str, Fact]]
) -> set[uuid.UUID]:
    """Record (event id, customer id, fact) rows in one statement; the event ids recorded
    now (not before)."""
    if not learnt:
        return set()
    rows = await conn.fetch(
        """INSERT INTO credit_fact (tenant, event_id, customer_id, kind, ref, ref2, currency,
                                    amount_minor, on_date, due_date, days_late, ids, note)
           SELECT $1, e, c, k, r, r2, cur, amt, d, due, late,
                  ARRAY(SELECT jsonb_array_elements_text(i::jsonb)), n
           FROM unnest($2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                       $8::bigint[], $9::date[], $10::date[], $11::int[], $12::text[],
                       $13::text[]) AS x (e, c, k, r, r2, cur, amt, d, due, late, i, n)
           ON CONFLICT DO NOTHING RETURNING event_id""",
        tenant,
        [e for e, _, _ in learnt],
        [c for _, c, _ in learnt],
        [f.kind for *_, f in learnt],
        [f.ref for *_, f in learnt],
        [f.ref2 for *_, f in learnt],
        [f.currency for *_, f in learnt],
        [f.amount_minor for *_, f in learnt],
        [f.on for *_, f in learnt],
        [f.due for *_, f in learnt],
        [f.days_late for *_, f in learnt],
        [json.dumps(f.ids) for *_, f in learnt],
        [f.note for *_, f in learnt],
    )
    return {r["event_id"] for r in rows}


async def for_customer(
    conn: asyncpg.Connection, tenant: str, customer_id: str, kind: str | None = None
) -> list[Fact]:
    """The customer's facts (only those of `kind`, if given)."""
    rows = await conn.fetch(
        f"""SELECT {_COLUMNS} FROM credit_fact
            WHERE tenant = $1 AND customer_id = $2 AND ($3::text IS NULL OR kind = $3)""",
        tenant,
        customer_id,
        kind,
    )
    return [_fact(r) for r in rows]


async def for_customers(
    conn: asyncpg.Connection, tenant: str, customer_ids: list[str]
) -> dict[str, tuple[list[Fact], uuid.UUID]]:
    """Each customer's facts and their digest, in one query."""
    rows = await conn.fetch(
        f"""SELECT customer_id, event_id, {_COLUMNS} FROM credit_fact
            WHERE tenant = $1 AND customer_id = ANY($2::text[])""",
        tenant,
        customer_ids,
    )
    found: dict[str, list[asyncpg.Record]] = defaultdict(list)
    for r in rows:
        found[r["customer_id"]].append(r)
    return {
        c: ([_fact(r) for r in found[c]], digest([r["event_id"] for r in found[c]]))
        for c in customer_ids
    }


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
        tenant,
        since,
        until,
        segment,
    )
    if row is None or row["n"] == 0:
        return None
    return float(row["mean"]), int(row["n"])


async def customer_of_invoice(conn: asyncpg.Connection, tenant: str, invoice_id: str) -> str | None:
    """The customer an issued invoice belongs to, if credit has seen it issued."""
    customer_id: str | None = await conn.fetchval(
        """SELECT customer_id FROM credit_fact
           WHERE tenant = $1 AND kind = 'invoice' AND ref = $2 LIMIT 1""",
        tenant,
        invoice_id,
    )
    return customer_id
