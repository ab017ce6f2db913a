"""SQL: everything a derivation of one customer reads besides its facts, in one round trip
(the current score, limits, holds, approved orders and the tenant's hold policy)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from credit.domain.holds import HoldPolicy
from credit.domain.limits import Limit
from credit.domain.orders import Approval


@dataclass(frozen=True, slots=True)
class Scored:
    score: int
    grade: str
    as_of: date


@dataclass(frozen=True, slots=True)
class Inputs:
    scored: Scored | None
    limits: dict[str, Limit]
    holds: list[dict[str, Any]]  # cause, detail, manual; by cause
    approvals: list[Approval]
    policy: HoldPolicy


async def load(conn: asyncpg.Connection, tenant: str, customer_id: str) -> Inputs:
    row = await conn.fetchrow(
        """SELECT
             (SELECT json_build_object('score', score, 'grade', grade, 'as_of', as_of)
              FROM credit_state WHERE tenant = $1 AND customer_id = $2) AS scored,
             (SELECT json_agg(json_build_object(
                        'currency', currency, 'recommended_minor', recommended_minor,
                        'manual_minor', manual_minor, 'manual_reason', manual_reason,
                        'manual_set_by', manual_set_by) ORDER BY currency)
              FROM credit_limit WHERE tenant = $1 AND customer_id = $2) AS limits,
             (SELECT json_agg(json_build_object('cause', cause, 'detail', detail,
                                                'manual', manual) ORDER BY cause)
              FROM credit_hold WHERE tenant = $1 AND customer_id = $2) AS holds,
             (SELECT json_agg(json_build_object(
                        'check_id', check_id, 'order_id', order_id, 'currency', currency,
                        'amount_minor', amount_minor, 'approved_on', approved_on,
                        'expires_on', expires_on))
              FROM credit_approval WHERE tenant = $1 AND customer_id = $2) AS approvals,
             (SELECT json_build_object(
                        'max_days_overdue', max_days_overdue, 'over_limit', over_limit,
                        'grade_e', grade_e, 'broken_promise', broken_promise,
                        'dunning', dunning, 'order_validity_days', order_validity_days)
              FROM hold_policy WHERE tenant = $1) AS policy""",
        tenant, customer_id,
    )  # fmt: skip
    assert row is not None
    scored = row["scored"]
    return Inputs(
        scored=None if scored is None else Scored(
            scored["score"], scored["grade"], date.fromisoformat(scored["as_of"])
        ),
        limits={
            x["currency"]: Limit(x["currency"], x["recommended_minor"], x["manual_minor"],
                                 x["manual_reason"], x["manual_set_by"])
            for x in row["limits"] or ()
        },
        holds=list(row["holds"] or ()),
        approvals=[
            Approval(uuid.UUID(x["check_id"]), x["order_id"], x["currency"], x["amount_minor"],
                     date.fromisoformat(x["approved_on"]), date.fromisoformat(x["expires_on"]))
            for x in row["approvals"] or ()
        ],
        policy=HoldPolicy() if row["policy"] is None else HoldPolicy(**row["policy"]),
    )  # fmt: skip
