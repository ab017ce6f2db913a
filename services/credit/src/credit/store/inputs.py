"""SQL: everything a derivation reads besides the facts (the current score, limits, holds,
approved orders, the tenant's hold policy and the digest of the facts scored), for any
number of customers of one tenant in one round trip."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import asyncpg

from credit.domain.holds import HoldPolicy
from credit.domain.limits import Limit
from credit.domain.orders import Approval
from credit.domain.profile import Fact
from credit.domain.scorecard import Grade


@dataclass(frozen=True, slots=True)
class Scored:
    score: int
    grade: Grade
    as_of: date


@dataclass(frozen=True, slots=True)
class Hold:
    cause: str
    detail: str
    manual: bool


@dataclass(slots=True)
class Inputs:
    """One customer's standing before a derivation; a run of derivations updates it in
    memory as it goes (`credit.service.derive.advance`)."""

    scored: Scored | None
    limits: dict[str, Limit]
    holds: dict[str, Hold]  # by cause
    approvals: list[Approval]
    policy: HoldPolicy
    facts_digest: uuid.UUID | None


# What a customer `k` stands on (besides its facts), as JSON columns of one row.
_STANDING = """
             (SELECT json_build_object('score', score, 'grade', grade, 'as_of', as_of,
                                       'digest', facts_digest)
              FROM credit_state s
              WHERE s.tenant = $1 AND s.customer_id = k.customer_id) AS scored,
             (SELECT json_agg(json_build_object(
                        'currency', currency, 'recommended_minor', recommended_minor,
                        'manual_minor', manual_minor, 'manual_reason', manual_reason,
                        'manual_set_by', manual_set_by) ORDER BY currency)
              FROM credit_limit l
              WHERE l.tenant = $1 AND l.customer_id = k.customer_id) AS limits,
             (SELECT json_agg(json_build_object('cause', cause, 'detail', detail,
                                                'manual', manual) ORDER BY cause)
              FROM credit_hold h
              WHERE h.tenant = $1 AND h.customer_id = k.customer_id) AS holds,
             (SELECT json_agg(json_build_object(
                        'check_id', check_id, 'order_id', order_id, 'currency', currency,
                        'amount_minor', amount_minor, 'approved_on', approved_on,
                        'expires_on', expires_on))
              FROM credit_approval a
              WHERE a.tenant = $1 AND a.customer_id = k.customer_id) AS approvals,
             (SELECT json_build_object(
                        'max_days_overdue', max_days_overdue, 'over_limit', over_limit,
                        'grade_e', grade_e, 'broken_promise', broken_promise,
                        'dunning', dunning, 'order_validity_days', order_validity_days)
              FROM hold_policy WHERE tenant = $1) AS policy"""


async def load(conn: asyncpg.Connection, tenant: str, customer_id: str) -> Inputs:
    return (await load_many(conn, tenant, [customer_id]))[customer_id]


async def load_many(
    conn: asyncpg.Connection, tenant: str, customer_ids: list[str]
) -> dict[str, Inputs]:
    rows = await conn.fetch(
        f"""SELECT k.customer_id, {_STANDING}
           FROM unnest($2::text[]) AS k (customer_id)""",
        tenant,
        customer_ids,
    )
    return {row["customer_id"]: _inputs(row) for row in rows}


@dataclass(frozen=True, slots=True)
class ForCheck:
    """What a credit check reads: the customer's standing, its open receivables by currency
    (as last scored) and, when it has approved orders, the invoices that may consume them."""

    inputs: Inputs
    open_minor: dict[str, int]
    invoices: list[Fact]


async def for_check(
    conn: asyncpg.Connection, tenant: str, customer_id: str, order_id: str | None
) -> ForCheck:
    """`ForCheck` in one round trip, first dropping the earlier approval of `order_id` (a
    check of the same order replaces it). The caller holds the customer's lock, so nothing
    read here moves before its transaction ends."""
    row = await conn.fetchrow(
        f"""WITH dropped AS (
                DELETE FROM credit_approval
                WHERE tenant = $1 AND $3::text IS NOT NULL AND order_id = $3
            )
            SELECT k.customer_id, {_STANDING},
             (SELECT profile -> 'currencies' FROM credit_state s
              WHERE s.tenant = $1 AND s.customer_id = k.customer_id) AS lines,
             (SELECT json_agg(json_build_object(
                        'ref', ref, 'ref2', ref2, 'currency', currency,
                        'amount_minor', amount_minor, 'on', on_date))
              FROM credit_fact f
              WHERE f.tenant = $1 AND f.customer_id = k.customer_id AND f.kind = 'invoice'
                AND EXISTS (SELECT 1 FROM credit_approval a
                            WHERE a.tenant = $1 AND a.customer_id = k.customer_id
                              AND a.order_id IS DISTINCT FROM $3)) AS invoices
            FROM (VALUES ($2::text)) AS k (customer_id)""",
        tenant,
        customer_id,
        order_id,
    )
    got = _inputs(row)
    # The statement still sees the approval it dropped (one snapshot): leave it out here.
    if order_id is not None:
        got.approvals = [a for a in got.approvals if a.order_id != order_id]
    return ForCheck(
        got,
        {c: line["open_minor"] for c, line in (row["lines"] or {}).items()},
        [
            Fact(
                "invoice",
                x["ref"],
                date.fromisoformat(x["on"]),
                ref2=x["ref2"],
                currency=x["currency"],
                amount_minor=x["amount_minor"],
            )
            for x in row["invoices"] or ()
        ],
    )


def _inputs(row: asyncpg.Record) -> Inputs:
    scored = row["scored"]
    digest = scored["digest"] if scored else None
    return Inputs(
        scored=None
        if scored is None
        else Scored(scored["score"], scored["grade"], date.fromisoformat(scored["as_of"])),
        limits={
            x["currency"]: Limit(
                x["currency"],
                x["recommended_minor"],
                x["manual_minor"],
                x["manual_reason"],
                x["manual_set_by"],
            )
            for x in row["limits"] or ()
        },
        holds={x["cause"]: Hold(x["cause"], x["detail"], x["manual"]) for x in row["holds"] or ()},
        approvals=[
            Approval(
                uuid.UUID(x["check_id"]),
                x["order_id"],
                x["currency"],
                x["amount_minor"],
                date.fromisoformat(x["approved_on"]),
                date.fromisoformat(x["expires_on"]),
            )
            for x in row["approvals"] or ()
        ],
        policy=HoldPolicy() if row["policy"] is None else HoldPolicy(**row["policy"]),
        facts_digest=None if digest is None else uuid.UUID(digest),
    )
