"""The credit check: one short transaction on credit's own tables, never a ledger call:
the customer's lock, one read (which also drops the order's earlier approval), the decision,
and the approval's row when it approves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from credit.domain.checks import CheckResult, decide
from credit.service.derive import expiry, exposure_lines
from credit.store import approvals, customers, inputs
from huikuan_events import uuid7


@dataclass(frozen=True, slots=True)
class CheckOutcome:
    check_id: str
    result: CheckResult
    grade: str | None
    score: int | None
    expires_on: date | None


async def check(
    pool: asyncpg.Pool,
    tenant: str,
    customer_id: str,
    *,
    order_id: str | None,
    currency: str,
    amount_minor: int,
    today: date,
    at: datetime,
) -> CheckOutcome:
    async with pool.acquire() as conn, conn.transaction():
        await customers.lock(conn, tenant, customer_id)
        # One read, which also drops the order's earlier approval (a check replaces it).
        got = await inputs.for_check(conn, tenant, customer_id, order_id)
        scored, limit = got.inputs.scored, got.inputs.limits.get(currency)
        exposure = 0
        if scored is not None:
            amounts = exposure_lines(got.inputs.approvals, got.invoices, got.open_minor, today)
            exposure = sum(amounts.get(currency, (0, 0)))
        result = decide(
            known=scored is not None,
            grade=scored.grade if scored else None,
            holds={cause: hold.detail for cause, hold in got.inputs.holds.items()},
            limit_minor=limit.in_force_minor if limit else None,
            exposure_minor=exposure,
            amount_minor=amount_minor,
            currency=currency,
        )
        check_id = uuid7()
        expires_on = None
        if result.decision == "approve":
            expires_on = expiry(today, got.inputs.policy.order_validity_days)
            await approvals.add(
                conn,
                tenant,
                customer_id,
                check_id,
                order_id,
                currency,
                amount_minor,
                today,
                expires_on,
                at,
            )
        return CheckOutcome(
            str(check_id),
            result,
            scored.grade if scored else None,
            scored.score if scored else None,
            expires_on,
        )
