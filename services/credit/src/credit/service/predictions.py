"""Payment-date predictions for a customer's open invoices, and a weekly cash forecast."""

from __future__ import annotations

import math
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import asyncpg

from credit.domain import prediction
from credit.domain.profile import OpenInvoice, build_profile
from credit.service.views import require_known
from credit.store import customers, facts
from huikuan_runtime.problems import NotFound


@dataclass(frozen=True, slots=True)
class InvoicePrediction:
    invoice: OpenInvoice
    predicted_on: date


@dataclass(frozen=True, slots=True)
class CustomerPrediction:
    customer_id: str
    as_of: date
    habit: prediction.Habit
    invoices: list[InvoicePrediction]


Lateness = tuple[float, int] | None  # (mean days late, payments) of a population, if any


class PriorCache:
    """The priors (`facts.lateness` of a segment, or of the whole tenant when the segment is
    None, over the window before `as_of`) kept per (tenant, segment, as_of) for `ttl`
    seconds: a scan over the tenant's allocations that one invoice's prediction should not
    pay on every read (the API's cache), nor a forecast once per customer (a cache for the
    forecast, `ttl` infinite). Within `ttl` a prior does not see allocations recorded since it was
    read (the customer's own payments are always read afresh); `ttl` 0 keeps nothing. At
    most `max_entries` are kept, the oldest read first out. Concurrent misses of one key
    each read it (no coalescing)."""

    def __init__(
        self,
        ttl: float,
        *,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._clock = clock
        self._kept: OrderedDict[tuple[str, str | None, date], tuple[float, Lateness]] = (
            OrderedDict()
        )

    async def lateness(
        self, conn: asyncpg.Connection, tenant: str, segment: str | None, as_of: date
    ) -> Lateness:
        key = (tenant, segment, as_of)
        now = self._clock()
        kept = self._kept.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        found = await facts.lateness(conn, tenant, as_of - prediction.WINDOW, as_of, segment)
        if self.ttl > 0:
            self._kept.pop(key, None)
            self._kept[key] = (now + self.ttl, found)
            while len(self._kept) > self.max_entries:
                self._kept.popitem(last=False)
        return found

    async def priors(
        self, conn: asyncpg.Connection, tenant: str, segment: str | None, as_of: date
    ) -> tuple[Lateness, Lateness]:
        """The segment's (None without a segment) and the tenant's lateness."""
        seg = await self.lateness(conn, tenant, segment, as_of) if segment else None
        return seg, await self.lateness(conn, tenant, None, as_of)


async def for_customer(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    as_of: date,
    priors: PriorCache | None = None,
) -> CustomerPrediction:
    """Predictions for the customer's open invoices; the segment and tenant priors through
    `priors` (None: read now, kept for nothing)."""
    profile_row = await customers.get(conn, tenant, customer_id)
    segment = profile_row["segment"] if profile_row else None
    seg, tenant_prior = await (priors or PriorCache(0)).priors(conn, tenant, segment, as_of)
    all_facts = await facts.for_customer(conn, tenant, customer_id)
    habit = prediction.habit(
        prediction.own_payments(all_facts, as_of), prediction.choose_prior(seg, tenant_prior)
    )
    profile = build_profile(all_facts, as_of)
    return CustomerPrediction(
        customer_id,
        as_of,
        habit,
        [
            InvoicePrediction(
                i, prediction.predicted_on(i.due_date, habit.expected_days_late, as_of)
            )
            for i in profile.invoices
        ],
    )


async def of_customer(
    pool: asyncpg.Pool, tenant: str, customer_id: str, as_of: date
) -> CustomerPrediction:
    """`for_customer`, the priors read now; 404 for a customer credit has not seen."""
    async with pool.acquire() as conn:
        await require_known(conn, tenant, customer_id)
        return await for_customer(conn, tenant, customer_id, as_of)


async def for_invoice(
    pool: asyncpg.Pool,
    tenant: str,
    invoice_id: str,
    as_of: date,
    prior_cache: PriorCache | None = None,
) -> tuple[CustomerPrediction, InvoicePrediction]:
    """One open invoice's prediction, with the customer's habit it rests on (the same as
    `for_customer` gives for it); 404 when credit has not seen the invoice issued or it is
    no longer open (paid, credited, voided or written off)."""
    async with pool.acquire() as conn:
        customer_id = await facts.customer_of_invoice(conn, tenant, invoice_id)
        if customer_id is not None:
            p = await for_customer(conn, tenant, customer_id, as_of, prior_cache)
            for inv in p.invoices:
                if inv.invoice.invoice_id == invoice_id:
                    return p, inv
    raise NotFound(f"credit knows no open invoice {invoice_id!r}")


async def cash_forecast(
    pool: asyncpg.Pool, tenant: str, start: date, weeks: int
) -> dict[str, list[int]]:
    """currency -> expected receipts per week from `start` (the first week also takes what is
    predicted before it). Open residuals only: invoices not yet issued are not forecast."""
    priors = PriorCache(math.inf)  # each prior read once for the whole forecast
    out: dict[str, list[int]] = defaultdict(lambda: [0] * weeks)
    end = start + timedelta(weeks=weeks)
    async with pool.acquire() as conn:
        for customer_id in await customers.all_ids(conn, tenant):
            p = await for_customer(conn, tenant, customer_id, start, priors)
            for inv in p.invoices:
                if inv.predicted_on >= end:
                    continue
                week = max(0, (inv.predicted_on - start).days // 7)
                out[inv.invoice.currency][week] += inv.invoice.residual_minor
    return dict(sorted(out.items()))
