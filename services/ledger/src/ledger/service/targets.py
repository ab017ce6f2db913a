"""Collection targets per calendar month and owner (salesperson), and progress against them.

Collected = the allocations applied in the month (money matched to invoices, by its
`applied_on` date) that were not reversed, in the target's currency, credited to the owner
of the invoice's customer at the time the money was applied, from the owner history
(`customer_owner`; a day's owner is the one assigned by the end of that day, UTC).
Money received but not yet matched to an invoice counts when it is matched.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from huikuan_contracts.money import Money
from huikuan_runtime.db import unit_of_work
from ledger.service.invoices import invalid
from ledger.store import targets as store

PERIOD_PATTERN = r"^[0-9]{4}-(0[1-9]|1[0-2])$"


def period_bounds(period: str) -> tuple[date, date]:
    """The first and last day of a `YYYY-MM` month."""
    if not re.fullmatch(PERIOD_PATTERN, period) or period.startswith("0000"):
        raise invalid("period", f"{period!r} is not a month like '2026-11'")
    year, month = int(period[:4]), int(period[5:])
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def share(collected: int, target: int) -> str:
    """Collected as a percentage of the target, two decimals, rounded half up ("62.50")."""
    if target <= 0:
        raise ValueError("a target is greater than zero")
    hundredths = (collected * 20_000 + target) // (2 * target)
    return f"{hundredths // 100}.{hundredths % 100:02d}"


def remaining(collected: int, target: int) -> int:
    """What is left to collect; nothing once the target is reached."""
    return max(0, target - collected)


@dataclass(frozen=True, slots=True)
class Put:
    row: asyncpg.Record
    created: bool


async def put_target(
    pool: asyncpg.Pool, tenant: str, period: str, owner: str, amount: Money, at: datetime
) -> Put:
    """Set an owner's target for a month: created, replaced, or unchanged if the same."""
    period_bounds(period)
    async with unit_of_work(pool) as conn:
        row = await store.insert(
            conn, tenant, period, owner, amount.currency, amount.amount_minor, at
        )
        if row is not None:
            return Put(row, created=True)
        current = await store.lock(conn, tenant, period, owner)
        assert current is not None
        if (current["currency"], current["amount_minor"]) == (
            amount.currency,
            amount.amount_minor,
        ):
            return Put(current, created=False)
        updated = await store.update(
            conn, tenant, period, owner, amount.currency, amount.amount_minor, at
        )
        return Put(updated, created=False)


@dataclass(frozen=True, slots=True)
class Progress:
    owner: str
    currency: str
    target: int
    collected: int
    updated_at: datetime

    @property
    def share(self) -> str:
        return share(self.collected, self.target)

    @property
    def remaining(self) -> int:
        return remaining(self.collected, self.target)


async def progress(pool: asyncpg.Pool, tenant: str, period: str) -> list[Progress]:
    """Every owner with a target in the month: the target and what was collected."""
    first, last = period_bounds(period)
    async with pool.acquire() as conn:
        rows = await store.progress(conn, tenant, period, first, last)
    return [
        Progress(
            r["owner"], r["currency"], r["amount_minor"], r["collected_minor"], r["updated_at"]
        )
        for r in rows
    ]
