"""The risk profile of one customer, computed from the facts credit learnt from events.

Pure: `build_profile(facts, as_of)` depends only on the *set* of facts and the date, so the
order events arrived in, duplicates, and replays from offset 0 cannot change the result.
Per-invoice facts are keyed by invoice id; aggregates are recomputed, never incremented.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

YEAR = timedelta(days=365)
QUARTER = timedelta(days=90)
PROMISE_WINDOW = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Fact:
    """One thing credit learnt from an event (see migrations/0002_risk.sql for the kinds)."""

    kind: str
    ref: str
    on: date
    ref2: str | None = None
    currency: str | None = None
    amount_minor: int | None = None
    due: date | None = None
    days_late: int | None = None
    ids: tuple[str, ...] = ()
    note: str | None = None


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    invoice_id: str
    number: str
    currency: str
    issue_date: date
    due_date: date
    amount_minor: int
    residual_minor: int


@dataclass(frozen=True, slots=True)
class CurrencyExposure:
    currency: str
    open_invoices: int
    open_minor: int
    overdue_minor: int
    invoiced_12m_minor: int
    months_billed_12m: int  # calendar months with an invoice in the last 12 months


@dataclass(frozen=True, slots=True)
class RiskProfile:
    as_of: date
    currencies: dict[str, CurrencyExposure]
    max_days_overdue: int
    avg_days_late_12m: float | None  # amount-weighted, early payment counts as 0
    on_time_share_12m: float | None
    payments_12m: int
    avg_days_late_recent: float | None  # last 3 months
    avg_days_late_before: float | None  # the 9 months before those
    open_disputes: int
    promises_made: int
    promises_kept: int
    promises_broken: int
    broken_promises_90d: int
    unpaid_broken_promise: str | None  # a broken promise with no payment since (its id)
    tenure_days: int | None  # since the first invoice
    written_off: int
    dunning_hold: str | None  # why dunning asked for a hold, while its invoices are unpaid
    invoices: tuple[OpenInvoice, ...] = field(default=())  # open invoices (residual > 0)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "max_days_overdue": self.max_days_overdue,
            "avg_days_late_12m": _round(self.avg_days_late_12m),
            "on_time_share_12m": _round(self.on_time_share_12m, 3),
            "payments_12m": self.payments_12m,
            "avg_days_late_recent": _round(self.avg_days_late_recent),
            "avg_days_late_before": _round(self.avg_days_late_before),
            "open_disputes": self.open_disputes,
            "promises_made": self.promises_made,
            "promises_kept": self.promises_kept,
            "promises_broken": self.promises_broken,
            "broken_promises_90d": self.broken_promises_90d,
            "unpaid_broken_promise": self.unpaid_broken_promise,
            "tenure_days": self.tenure_days,
            "written_off": self.written_off,
            "dunning_hold": self.dunning_hold,
            "currencies": {
                c.currency: {
                    "open_invoices": c.open_invoices,
                    "open_minor": c.open_minor,
                    "overdue_minor": c.overdue_minor,
                    "invoiced_12m_minor": c.invoiced_12m_minor,
                    "months_billed_12m": c.months_billed_12m,
                }
                for c in sorted(self.currencies.values(), key=lambda c: c.currency)
            },
        }


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def _late_share(amount: int, late_amount: int) -> float | None:
    """Amount-weighted average days late, from the total amount and the sum of amount x
    days late (early payment counting 0)."""
    return None if amount <= 0 else late_amount / amount


def build_profile(facts: list[Fact], as_of: date) -> RiskProfile:
    # One pass sorting the facts by kind. This runs after every event a customer has, over
    # all its facts, so it is written for speed; tests/unit/test_profile.py holds the rules.
    issued: dict[str, Fact] = {}  # by invoice id: the earliest issue fact wins
    voided: set[str] = set()
    written_off: set[str] = set()
    reversed_payments: set[str] = set()
    applied_all: list[Fact] = []
    adjusted: list[Fact] = []
    opened: set[str] = set()
    resolved: set[str] = set()
    made: set[str] = set()
    kept: set[str] = set()
    broken: dict[str, Fact] = {}
    dunning_facts: list[Fact] = []
    for f in facts:
        kind = f.kind
        if kind == "applied":
            applied_all.append(f)
        elif kind == "invoice":
            first = issued.get(f.ref)
            if first is None or f.on < first.on:
                issued[f.ref] = f
        elif kind == "voided":
            voided.add(f.ref)
        elif kind == "written_off":
            written_off.add(f.ref)
        elif kind == "reversed":
            reversed_payments.add(f.ref)
        elif kind == "adjusted":
            adjusted.append(f)
        elif kind == "dispute_opened":
            opened.add(f.ref)
        elif kind == "dispute_resolved":
            resolved.add(f.ref)
        elif kind == "promise_made":
            made.add(f.ref)
        elif kind == "promise_kept":
            kept.add(f.ref)
        elif kind == "promise_broken":
            broken[f.ref] = f
        elif kind == "dunning_hold":
            dunning_facts.append(f)
    applied = (
        [f for f in applied_all if f.ref2 not in reversed_payments]
        if reversed_payments
        else applied_all
    )

    paid: dict[str, int] = defaultdict(int)
    for f in applied:
        paid[f.ref] += f.amount_minor or 0
    for f in adjusted:
        paid[f.ref] += f.amount_minor or 0

    year_ago = as_of - YEAR
    open_invoices: list[OpenInvoice] = []
    billed_minor: dict[str, int] = {}
    billed_months: dict[str, set[tuple[int, int]]] = {}
    first_issue: date | None = None
    for inv in issued.values():
        on = inv.on
        if first_issue is None or on < first_issue:
            first_issue = on
        currency = inv.currency
        if currency:
            if currency not in billed_minor:
                billed_minor[currency] = 0
                billed_months[currency] = set()
            if year_ago < on <= as_of and inv.ref not in voided:
                billed_minor[currency] += inv.amount_minor or 0
                billed_months[currency].add((on.year, on.month))
        if inv.ref in voided or inv.ref in written_off:
            continue
        residual = (inv.amount_minor or 0) - paid.get(inv.ref, 0)
        if residual > 0:
            assert currency is not None and inv.due is not None
            open_invoices.append(
                OpenInvoice(
                    inv.ref,
                    inv.ref2 or inv.ref,
                    currency,
                    on,
                    inv.due,
                    inv.amount_minor or 0,
                    residual,
                )
            )
    open_invoices.sort(key=lambda i: (i.due_date, i.invoice_id))

    currencies: dict[str, CurrencyExposure] = {}
    for currency in sorted(billed_minor):
        count = open_minor = overdue_minor = 0
        for i in open_invoices:
            if i.currency == currency:
                count += 1
                open_minor += i.residual_minor
                if i.due_date < as_of:
                    overdue_minor += i.residual_minor
        currencies[currency] = CurrencyExposure(
            currency=currency,
            open_invoices=count,
            open_minor=open_minor,
            overdue_minor=overdue_minor,
            invoiced_12m_minor=billed_minor[currency],
            months_billed_12m=len(billed_months[currency]),
        )
    max_overdue = max(((as_of - i.due_date).days for i in open_invoices), default=0)

    # Payments of the last 12 months: amount, amount x days late, split at 3 months back.
    recent_cut = as_of - QUARTER
    payments = total = late_total = on_time_total = 0
    recent = recent_late = before = before_late = 0
    last_payment: date | None = None
    for f in applied:
        on = f.on
        if last_payment is None or on > last_payment:
            last_payment = on
        if on <= year_ago:
            continue
        amount = f.amount_minor or 0
        days = f.days_late or 0
        weighted = amount * days if days > 0 else 0
        payments += 1
        total += amount
        late_total += weighted
        if days <= 0:
            on_time_total += amount
        if on > recent_cut:
            recent += amount
            recent_late += weighted
        else:
            before += amount
            before_late += weighted
    on_time = on_time_total / total if payments and total > 0 else None

    broken_90d = sum(1 for f in broken.values() if as_of - PROMISE_WINDOW < f.on <= as_of)
    unpaid_broken = sorted(
        (f for f in broken.values() if last_payment is None or f.on > last_payment),
        key=lambda f: (f.on, f.ref),
    )

    dunning = None
    if dunning_facts:
        open_ids = {i.invoice_id for i in open_invoices}
        for f in sorted(dunning_facts, key=lambda f: (f.on, f.ref)):
            still_owed = [i for i in f.ids if i in open_ids] if f.ids else sorted(open_ids)
            if still_owed and (f.ids or max_overdue > 0):
                dunning = f.note or f"dunning step {f.ref} asked for a hold"

    return RiskProfile(
        as_of=as_of,
        currencies=currencies,
        max_days_overdue=max(0, max_overdue),
        avg_days_late_12m=_late_share(total, late_total),
        on_time_share_12m=on_time,
        payments_12m=payments,
        avg_days_late_recent=_late_share(recent, recent_late),
        avg_days_late_before=_late_share(before, before_late),
        open_disputes=len(opened - resolved),
        promises_made=len(made),
        promises_kept=len(kept),
        promises_broken=len(broken),
        broken_promises_90d=broken_90d,
        unpaid_broken_promise=unpaid_broken[-1].ref if unpaid_broken else None,
        tenure_days=None if first_issue is None else max(0, (as_of - first_issue).days),
        written_off=len(written_off & set(issued)),
        dunning_hold=dunning,
        invoices=tuple(open_invoices),
    )
