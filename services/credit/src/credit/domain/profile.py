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


def _weighted_late(rows: list[tuple[int, int]]) -> float | None:
    total = sum(amount for amount, _ in rows)
    if total <= 0:
        return None
    return sum(amount * max(0, late) for amount, late in rows) / total


def build_profile(facts: list[Fact], as_of: date) -> RiskProfile:
    by_kind: dict[str, list[Fact]] = defaultdict(list)
    for f in facts:
        by_kind[f.kind].append(f)

    # Invoices by id: the first issue fact wins (a duplicate under another event id is ignored).
    issued: dict[str, Fact] = {}
    for f in sorted(by_kind["invoice"], key=lambda f: (f.on, f.ref)):
        issued.setdefault(f.ref, f)
    voided = {f.ref for f in by_kind["voided"]}
    written_off = {f.ref for f in by_kind["written_off"]}
    reversed_payments = {f.ref for f in by_kind["reversed"]}
    applied = [f for f in by_kind["applied"] if f.ref2 not in reversed_payments]

    paid: dict[str, int] = defaultdict(int)
    for f in applied:
        paid[f.ref] += f.amount_minor or 0
    for f in by_kind["adjusted"]:
        paid[f.ref] += f.amount_minor or 0

    open_invoices: list[OpenInvoice] = []
    for inv in issued.values():
        if inv.ref in voided or inv.ref in written_off:
            continue
        residual = max(0, (inv.amount_minor or 0) - paid[inv.ref])
        if residual > 0:
            assert inv.currency is not None and inv.due is not None
            open_invoices.append(OpenInvoice(
                inv.ref, inv.ref2 or inv.ref, inv.currency, inv.on, inv.due,
                inv.amount_minor or 0, residual,
            ))  # fmt: skip
    open_invoices.sort(key=lambda i: (i.due_date, i.invoice_id))

    currencies: dict[str, CurrencyExposure] = {}
    year_ago = as_of - YEAR
    for currency in sorted({i.currency for i in issued.values() if i.currency}):
        mine = [i for i in open_invoices if i.currency == currency]
        billed = [
            i for i in issued.values()
            if i.currency == currency and i.ref not in voided and year_ago < i.on <= as_of
        ]  # fmt: skip
        currencies[currency] = CurrencyExposure(
            currency=currency,
            open_invoices=len(mine),
            open_minor=sum(i.residual_minor for i in mine),
            overdue_minor=sum(i.residual_minor for i in mine if i.due_date < as_of),
            invoiced_12m_minor=sum(i.amount_minor or 0 for i in billed),
            months_billed_12m=len({(i.on.year, i.on.month) for i in billed}),
        )
    max_overdue = max(((as_of - i.due_date).days for i in open_invoices), default=0)

    recent_cut = as_of - QUARTER
    window = [(f.amount_minor or 0, f.days_late or 0, f.on) for f in applied if f.on > year_ago]
    late_12m = _weighted_late([(a, d) for a, d, _ in window])
    on_time = None
    if window and sum(a for a, _, _ in window) > 0:
        on_time = sum(a for a, d, _ in window if d <= 0) / sum(a for a, _, _ in window)
    late_recent = _weighted_late([(a, d) for a, d, on in window if on > recent_cut])
    late_before = _weighted_late([(a, d) for a, d, on in window if on <= recent_cut])

    opened = {f.ref for f in by_kind["dispute_opened"]}
    resolved = {f.ref for f in by_kind["dispute_resolved"]}

    made = {f.ref for f in by_kind["promise_made"]}
    kept = {f.ref for f in by_kind["promise_kept"]}
    broken = {f.ref: f for f in by_kind["promise_broken"]}
    broken_90d = sum(1 for f in broken.values() if as_of - PROMISE_WINDOW < f.on <= as_of)
    last_payment = max((f.on for f in applied), default=None)
    unpaid_broken = sorted(
        (f for f in broken.values() if last_payment is None or f.on > last_payment),
        key=lambda f: (f.on, f.ref),
    )

    open_ids = {i.invoice_id for i in open_invoices}
    dunning = None
    for f in sorted(by_kind["dunning_hold"], key=lambda f: (f.on, f.ref)):
        still_owed = [i for i in f.ids if i in open_ids] if f.ids else sorted(open_ids)
        if still_owed and (f.ids or max_overdue > 0):
            dunning = f.note or f"dunning step {f.ref} asked for a hold"

    first_issue = min((i.on for i in issued.values()), default=None)
    return RiskProfile(
        as_of=as_of,
        currencies=currencies,
        max_days_overdue=max(0, max_overdue),
        avg_days_late_12m=late_12m,
        on_time_share_12m=on_time,
        payments_12m=len(window),
        avg_days_late_recent=late_recent,
        avg_days_late_before=late_before,
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
