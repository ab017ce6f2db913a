"""Use cases of the reports: aging, DSO / CEI / ADD and bad-debt provision.

Each report reads in one repeatable-read, read-only transaction, so its figures come from
one snapshot of the journal. The rules are in `ledger.domain.aging`, the SQL in
`ledger.store.reports`. Owners and regions are the customers' current master data (an
invoice of a customer reassigned last week is reported under the new owner, whatever the
`as_of` date).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import date, timedelta
from decimal import Decimal

import asyncpg

from huikuan_contracts.ledger.kinds import GroupBy
from ledger.domain.aging import (
    AgingCell,
    Buckets,
    CurrencyAging,
    CurrencyDso,
    CurrencyProvision,
    PeriodFigures,
    ReportInputError,
    Unapplied,
    countback_months,
    dso_report,
    provision,
    tabulate,
)
from ledger.store import reports as store
from ledger.store.reports import Grouping

EARLIEST = date(1900, 1, 1)


@asynccontextmanager
async def _snapshot(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    async with (
        pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        await store.tune(conn)
        yield conn


def _check_date(field: str, day: date) -> None:
    if day < EARLIEST:
        raise ReportInputError(field, f"must be on or after {EARLIEST}")


async def _aging(
    conn: asyncpg.Connection, tenant: str, as_of: date, group_by: Grouping, buckets: Buckets
) -> list[AgingCell]:
    return [
        AgingCell(r["currency"], r["key"], r["name"], r["bucket"], r["amount_minor"], r["invoices"])
        for r in await store.aging_cells(conn, tenant, as_of, buckets.thresholds, group_by)
    ]


async def aging(
    pool: asyncpg.Pool, tenant: str, *, as_of: date, group_by: GroupBy, buckets: Buckets
) -> list[CurrencyAging]:
    """Open receivables as of the end of `as_of` per currency, group and bucket, with each
    group's unapplied cash beside them (not netted)."""
    _check_date("as_of", as_of)
    async with _snapshot(pool) as conn:
        cells = await _aging(conn, tenant, as_of, group_by, buckets)
        held = [
            Unapplied(r["currency"], r["key"], r["name"], r["amount_minor"])
            for r in await store.unapplied_cash(conn, tenant, as_of, group_by)
        ]
    return tabulate(cells, buckets, held)


async def provision_report(
    pool: asyncpg.Pool, tenant: str, *, as_of: date, buckets: Buckets, rates: Sequence[Decimal]
) -> list[CurrencyProvision]:
    """Bad-debt provision as of `as_of`: each currency's aging buckets times their rates."""
    _check_date("as_of", as_of)
    async with _snapshot(pool) as conn:
        cells = await _aging(conn, tenant, as_of, "total", buckets)
    return provision(tabulate(cells, buckets), rates)


async def dso(pool: asyncpg.Pool, tenant: str, *, first: date, last: date) -> list[CurrencyDso]:
    """DSO (countback), best possible DSO, ADD and CEI per currency for `first`..`last`;
    a currency with nothing owed around the period and no sales in it is left out."""
    _check_date("from", first)
    if last < first:
        raise ReportInputError("to", "the period ends before it starts")
    lookback = countback_months(last)[-1][0]
    current_or_not = Buckets(())
    async with _snapshot(pool) as conn:
        opening = {
            r["currency"]: r["receivable_minor"]
            for r in await store.receivable(conn, tenant, first - timedelta(days=1))
        }
        closing: dict[str, list[int]] = {}
        for cell in await _aging(conn, tenant, last, "total", current_or_not):
            closing.setdefault(cell.currency, [0, 0])[cell.bucket] += cell.amount_minor
        sold = {
            r["currency"]: r["sales_minor"] for r in await store.sales(conn, tenant, first, last)
        }
        monthly: dict[str, dict[date, int]] = {}
        for r in await store.monthly_sales(conn, tenant, lookback, last):
            monthly.setdefault(r["currency"], {})[r["month"]] = r["sales_minor"]
    result = []
    for currency in sorted(set(opening) | set(closing) | set(sold)):
        current, overdue = closing.get(currency, [0, 0])
        figures = PeriodFigures(
            currency=currency,
            opening_minor=opening.get(currency, 0),
            sales_minor=sold.get(currency, 0),
            closing_minor=current + overdue,
            closing_current_minor=current,
        )
        if figures.opening_minor or figures.sales_minor or figures.closing_minor:
            result.append(dso_report(figures, first, last, monthly.get(currency, {})))
    return result
