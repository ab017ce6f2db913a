"""The credit check: one short transaction on credit's own tables, never a ledger call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from credit.domain.checks import CheckResult, decide
from credit.service.derive import expiry, exposures
from credit.store import approvals, customers, facts, holds, limits, policies, scores
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
        if order_id is not None:  # checking an order again replaces its earlier approval
            await approvals.drop_order(conn, tenant, order_id)
        state = await scores.get(conn, tenant, customer_id)
        held = {r["cause"]: r["detail"] for r in await holds.active(conn, tenant, customer_id)}
        limit = (await limits.for_customer(conn, tenant, customer_id)).get(currency)
        exposure = 0
        if state is not None:
            lines = state["profile"]["currencies"]
            open_minor = {c: v["open_minor"] for c, v in lines.items()}
            all_facts = await facts.for_customer(conn, tenant, customer_id, "invoice")
            amounts = await exposures(conn, tenant, customer_id, all_facts, open_minor, today)
            exposure = sum(amounts.get(currency, (0, 0)))
        result = decide(
            known=state is not None,
            grade=state["grade"] if state else None,
            holds=held,
            limit_minor=limit.in_force_minor if limit else None,
            exposure_minor=exposure,
            amount_minor=amount_minor,
            currency=currency,
        )
        check_id = uuid7()
        expires_on = None
        if result.decision == "approve":
            policy = await policies.get(conn, tenant)
            expires_on = expiry(today, policy.order_validity_days)
            await approvals.add(
                conn, tenant, customer_id, check_id, order_id, currency, amount_minor, today,
                expires_on, at,
            )  # fmt: skip
        return CheckOutcome(
            str(check_id),
            result,
            state["grade"] if state else None,
            state["score"] if state else None,
            expires_on,
        )
