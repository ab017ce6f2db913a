"""Payment-date predictions for a customer's open invoices, and a weekly cash forecast."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

import asyncpg

from credit.domain import prediction
from credit.domain.profile import OpenInvoice, build_profile
from credit.store import customers, facts


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


async def _tenant_prior(
    conn: asyncpg.Connection, tenant: str, as_of: date
) -> tuple[float, int] | None:
    return await facts.lateness(conn, tenant, as_of - prediction.WINDOW, as_of, None)


async def for_customer(
    conn: asyncpg.Connection,
    tenant: str,
    customer_id: str,
    as_of: date,
    tenant_prior: tuple[float, int] | None = None,
    segment_priors: dict[str | None, tuple[float, int] | None] | None = None,
) -> CustomerPrediction:
    profile_row = await customers.get(conn, tenant, customer_id)
    segment = profile_row["segment"] if profile_row else None
    since = as_of - prediction.WINDOW
    if segment_priors is not None and segment in segment_priors:
        seg = segment_priors[segment]
    else:
        seg = await facts.lateness(conn, tenant, since, as_of, segment) if segment else None
        if segment_priors is not None:
            segment_priors[segment] = seg
    if tenant_prior is None:
        tenant_prior = await _tenant_prior(conn, tenant, as_of)
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


async def cash_forecast(
    conn: asyncpg.Connection, tenant: str, start: date, weeks: int
) -> dict[str, list[int]]:
    """currency -> expected receipts per week from `start` (the first week also takes what is
    predicted before it). Open residuals only: invoices not yet issued are not forecast."""
    tenant_prior = await _tenant_prior(conn, tenant, start)
    segment_priors: dict[str | None, tuple[float, int] | None] = {}
    out: dict[str, list[int]] = defaultdict(lambda: [0] * weeks)
    end = start + timedelta(weeks=weeks)
    for customer_id in await customers.all_ids(conn, tenant):
        p = await for_customer(conn, tenant, customer_id, start, tenant_prior, segment_priors)
        for inv in p.invoices:
            if inv.predicted_on >= end:
                continue
            week = max(0, (inv.predicted_on - start).days // 7)
            out[inv.invoice.currency][week] += inv.invoice.residual_minor
    return dict(sorted(out.items()))
