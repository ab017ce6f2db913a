"""SQL for the current score of each customer and its history."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import asyncpg


async def get(conn: asyncpg.Connection, tenant: str, customer_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT * FROM credit_state WHERE tenant = $1 AND customer_id = $2", tenant, customer_id
    )


async def save(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    *,
    as_of: date,
    score: int,
    grade: str,
    version: str,
    factors: list[dict[str, Any]],
    reasons: list[dict[str, str]],
    profile: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO credit_state (tenant, customer_id, as_of, score, grade, scorecard_version,
                                     factors, reasons, profile)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::jsonb, $9::jsonb)
           ON CONFLICT (tenant, customer_id) DO UPDATE SET
               as_of = EXCLUDED.as_of, score = EXCLUDED.score, grade = EXCLUDED.grade,
               scorecard_version = EXCLUDED.scorecard_version, factors = EXCLUDED.factors,
               reasons = EXCLUDED.reasons, profile = EXCLUDED.profile""",
        tenant, customer_id, as_of, score, grade, version, json.dumps(factors),
        json.dumps(reasons), json.dumps(profile),
    )  # fmt: skip


async def add_history(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    *,
    as_of: date,
    old_score: int | None,
    new_score: int,
    old_grade: str | None,
    new_grade: str,
    version: str,
    reasons: list[dict[str, str]],
    at: datetime,
) -> None:
    await conn.execute(
        """INSERT INTO score_history (tenant, customer_id, as_of, old_score, new_score, old_grade,
                                      new_grade, scorecard_version, reasons, changed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)""",
        tenant, customer_id, as_of, old_score, new_score, old_grade, new_grade, version,
        json.dumps(reasons), at,
    )  # fmt: skip


async def history(
    conn: asyncpg.Connection, tenant: str, customer_id: str, limit: int, after: int | None
) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await conn.fetch(
        """SELECT * FROM score_history
           WHERE tenant = $1 AND customer_id = $2 AND ($3::bigint IS NULL OR position < $3)
           ORDER BY position DESC LIMIT $4""",
        tenant, customer_id, after, limit,
    )  # fmt: skip
    return rows
