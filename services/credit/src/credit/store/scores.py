"""SQL for the current score of each customer and its history."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import asyncpg

from credit.domain.scorecard import Grade


async def get(conn: asyncpg.Connection, tenant: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM credit_state WHERE tenant = $1 AND customer_id = $2", tenant, customer_id
    )


@dataclass(frozen=True, slots=True)
class State:
    """A customer's current score row."""

    customer_id: str
    as_of: date
    score: int
    grade: Grade
    version: str
    factors: list[dict[str, Any]]
    reasons: list[dict[str, str]]
    profile: dict[str, Any]
    facts_digest: uuid.UUID | None  # None: the facts did not change, keep the stored one


@dataclass(frozen=True, slots=True)
class Change:
    """One row of a customer's score history."""

    customer_id: str
    as_of: date
    old_score: int | None
    new_score: int
    old_grade: Grade | None
    new_grade: Grade
    version: str
    reasons: list[dict[str, str]]
    at: datetime


async def save_many(conn: asyncpg.Connection, tenant: str, states: list[State]) -> None:
    """Upsert the states (one per customer) in one statement."""
    if not states:
        return
    await conn.execute(
        """INSERT INTO credit_state (tenant, customer_id, as_of, score, grade, scorecard_version,
                                     factors, reasons, profile, facts_digest)
           SELECT $1, c, d, s, g, v, f::jsonb, r::jsonb, p::jsonb, digest
           FROM unnest($2::text[], $3::date[], $4::int[], $5::text[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::uuid[]) AS x (c, d, s, g, v, f, r, p, digest)
           ON CONFLICT (tenant, customer_id) DO UPDATE SET
               as_of = EXCLUDED.as_of, score = EXCLUDED.score, grade = EXCLUDED.grade,
               scorecard_version = EXCLUDED.scorecard_version, factors = EXCLUDED.factors,
               reasons = EXCLUDED.reasons, profile = EXCLUDED.profile,
               facts_digest = COALESCE(EXCLUDED.facts_digest, credit_state.facts_digest)""",
        tenant,
        [s.customer_id for s in states],
        [s.as_of for s in states],
        [s.score for s in states],
        [s.grade for s in states],
        [s.version for s in states],
        [json.dumps(s.factors) for s in states],
        [json.dumps(s.reasons) for s in states],
        [json.dumps(s.profile) for s in states],
        [s.facts_digest for s in states],
    )


async def add_history(conn: asyncpg.Connection, tenant: str, changes: list[Change]) -> None:
    """Append score changes, in the given order, in one statement."""
    if not changes:
        return
    await conn.execute(
        """INSERT INTO score_history (tenant, customer_id, as_of, old_score, new_score, old_grade,
                                      new_grade, scorecard_version, reasons, changed_at)
           SELECT $1, c, d, os, ns, og, ng, v, r::jsonb, at
           FROM unnest($2::text[], $3::date[], $4::int[], $5::int[], $6::text[], $7::text[],
                       $8::text[], $9::text[], $10::timestamptz[])
                WITH ORDINALITY AS x (c, d, os, ns, og, ng, v, r, at, n)
           ORDER BY n""",
        tenant,
        [c.customer_id for c in changes],
        [c.as_of for c in changes],
        [c.old_score for c in changes],
        [c.new_score for c in changes],
        [c.old_grade for c in changes],
        [c.new_grade for c in changes],
        [c.version for c in changes],
        [json.dumps(c.reasons) for c in changes],
        [c.at for c in changes],
    )


async def history(
    conn: asyncpg.Connection, tenant: str, customer_id: str, limit: int, after: int | None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM score_history
           WHERE tenant = $1 AND customer_id = $2 AND ($3::bigint IS NULL OR position < $3)
           ORDER BY position DESC LIMIT $4""",
        tenant,
        customer_id,
        after,
        limit,
    )
    return rows


async def by_grade(
    conn: asyncpg.Connection, tenant: str, grade: Grade, after: str | None, limit: int
) -> list[asyncpg.Record]:
    """The customers whose current grade is `grade`, in id order after `after`."""
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT customer_id, grade, score, as_of FROM credit_state
           WHERE tenant = $1 AND grade = $2 AND ($3::text IS NULL OR customer_id > $3)
           ORDER BY customer_id LIMIT $4""",
        tenant,
        grade,
        after,
        limit,
    )
    return rows
