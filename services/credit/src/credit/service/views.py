"""Read use cases: the credit view of a customer and its score history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from credit.domain.limits import Limit
from credit.domain.scorecard import Grade
from credit.service.derive import exposures
from credit.store import customers, facts, holds, limits, scores
from huikuan_runtime.problems import NotFound


@dataclass(frozen=True, slots=True)
class CurrencyView:
    currency: str
    open_invoices: int
    open_minor: int
    overdue_minor: int
    orders_minor: int
    limit: Limit | None

    @property
    def exposure_minor(self) -> int:
        return self.open_minor + self.orders_minor


@dataclass(frozen=True, slots=True)
class CreditView:
    customer: asyncpg.Record | None
    state: asyncpg.Record
    profile: dict[str, Any]
    factors: list[dict[str, Any]]
    reasons: list[dict[str, str]]
    currencies: list[CurrencyView]
    holds: list[asyncpg.Record]


async def credit_view(
    conn: asyncpg.Connection, tenant: str, customer_id: str, today: date
) -> CreditView:
    state = await scores.get(conn, tenant, customer_id)
    if state is None:
        raise NotFound(f"credit has seen no events for customer {customer_id!r}")
    profile = state["profile"]
    lines: dict[str, dict[str, int]] = profile["currencies"]
    all_facts = await facts.for_customer(conn, tenant, customer_id, "invoice")
    open_minor = {c: v["open_minor"] for c, v in lines.items()}
    day = max(today, state["as_of"])
    amounts = await exposures(conn, tenant, customer_id, all_facts, open_minor, day)
    in_force = await limits.for_customer(conn, tenant, customer_id)
    currencies = [
        CurrencyView(
            currency=c,
            open_invoices=lines.get(c, {}).get("open_invoices", 0),
            open_minor=receivable,
            overdue_minor=lines.get(c, {}).get("overdue_minor", 0),
            orders_minor=orders,
            limit=in_force.get(c),
        )
        for c, (receivable, orders) in amounts.items()
    ]
    currencies += [
        CurrencyView(c, 0, 0, 0, 0, lim) for c, lim in in_force.items() if c not in amounts
    ]
    return CreditView(
        customer=await customers.get(conn, tenant, customer_id),
        state=state,
        profile=profile,
        factors=state["factors"],
        reasons=state["reasons"],
        currencies=sorted(currencies, key=lambda v: v.currency),
        holds=await holds.active(conn, tenant, customer_id),
    )


async def history(
    conn: asyncpg.Connection, tenant: str, customer_id: str, limit: int, before: int | None
) -> list[asyncpg.Record]:
    if before is None and await scores.get(conn, tenant, customer_id) is None:
        raise NotFound(f"credit has seen no events for customer {customer_id!r}")
    return await scores.history(conn, tenant, customer_id, limit, before)


async def by_grade(
    conn: asyncpg.Connection, tenant: str, grade: Grade, limit: int, after: str | None
) -> list[asyncpg.Record]:
    """The customers currently graded `grade`, in id order after `after`."""
    return await scores.by_grade(conn, tenant, grade, after, limit)


async def require_known(conn: asyncpg.Connection, tenant: str, customer_id: str) -> None:
    if await scores.get(conn, tenant, customer_id) is None:
        raise NotFound(f"credit has seen no events for customer {customer_id!r}")
