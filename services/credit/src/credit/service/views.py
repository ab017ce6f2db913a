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
from huikuan_runtime import pagination
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


async def credit_view(pool: asyncpg.Pool, tenant: str, customer_id: str, today: date) -> CreditView:
    """The customer's score, grade, exposure and limits per currency and holds, as of
    `today` (or the later date it was scored as of); 404 for a customer credit has not seen."""
    async with pool.acquire() as conn:
        return await _view(conn, tenant, customer_id, today)


async def _view(conn: asyncpg.Connection, tenant: str, customer_id: str, today: date) -> CreditView:
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
    pool: asyncpg.Pool, tenant: str, customer_id: str, cursor: str | None, limit: int
) -> tuple[list[asyncpg.Record], str | None]:
    """The customer's score changes, newest first, a page at a time (keyset on their
    position); the cursor of the next page."""
    key = pagination.decode(cursor, 1)
    if key is not None and not isinstance(key[0], int):
        raise pagination.invalid_cursor()
    before = key[0] if key else None
    async with pool.acquire() as conn:
        if before is None:
            await require_known(conn, tenant, customer_id)
        rows = await scores.history(conn, tenant, customer_id, limit + 1, before)
    return pagination.page(rows, limit, lambda r: [r["position"]])


async def by_grade(
    pool: asyncpg.Pool, tenant: str, grade: Grade, cursor: str | None, limit: int
) -> tuple[list[asyncpg.Record], str | None]:
    """The customers currently graded `grade`, in id order (keyset on the id); the cursor of
    the next page."""
    key = pagination.decode(cursor, 1)
    if key is not None and not isinstance(key[0], str):
        raise pagination.invalid_cursor()
    async with pool.acquire() as conn:
        rows = await scores.by_grade(conn, tenant, grade, key[0] if key else None, limit + 1)
    return pagination.page(rows, limit, lambda r: [r["customer_id"]])


async def require_known(conn: asyncpg.Connection, tenant: str, customer_id: str) -> None:
    if await scores.get(conn, tenant, customer_id) is None:
        raise NotFound(f"credit has seen no events for customer {customer_id!r}")
