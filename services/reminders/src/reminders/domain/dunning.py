"""Which step each invoice is at on a date, what is paused, and what a run must do for one
customer. Pure: values in, decisions out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from huikuan_contracts.money import Money
from reminders.domain.policy import Policy, Step

PROMISE_GRACE_DAYS = 3
TASK_GRACE_DAYS = 3  # an open task this many days past its date goes to the owner's manager


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    invoice_id: str
    number: str
    due_date: date
    currency: str
    residual_minor: int
    disputed: bool = False
    cycle: int = 1
    escalate: int = 0  # extra steps forward (a broken promise escalates at once)


@dataclass(frozen=True, slots=True)
class Promise:
    promise_id: str
    currency: str
    amount_minor: int
    promised_date: date
    grace_days: int
    made_on: date
    invoice_ids: tuple[str, ...]
    paid_minor: int = 0
    status: str = "open"

    @property
    def pauses_until(self) -> date:
        """The last day the promise holds dunning off its invoices."""
        return self.promised_date + timedelta(days=self.grace_days)


@dataclass(frozen=True, slots=True)
class Due:
    """One step to take for a customer: the invoices that reached it, in one currency."""

    step: Step
    currency: str
    invoices: tuple[OpenInvoice, ...]

    @property
    def residual_minor(self) -> int:
        return sum(i.residual_minor for i in self.invoices)

    @property
    def key(self) -> str:
        """The step + cycle part of the idempotency key: the same invoices at the same step
        in the same cycle always give the same key."""
        parts = ",".join(f"{i.invoice_id}@{i.cycle}" for i in self.invoices)
        return f"{self.step.name}:{self.currency}:{parts}"


def step_index(policy: Policy, due_date: date, on: date, escalate: int = 0) -> int | None:
    """Index of the latest step whose offset has been reached on `on` (plus `escalate`
    steps, capped at the last), or None before the first step."""
    days = (on - due_date).days
    reached = None
    for i, s in enumerate(policy.steps):
        if s.offset_days <= days:
            reached = i
    if reached is None:
        return None
    return min(reached + escalate, len(policy.steps) - 1)


def current_step(policy: Policy, invoice: OpenInvoice, on: date) -> Step | None:
    i = step_index(policy, invoice.due_date, on, invoice.escalate)
    return None if i is None else policy.steps[i]


def promise_pauses(promise: Promise, on: date) -> bool:
    return promise.status == "open" and on <= promise.pauses_until


def paused_invoices(promises: Iterable[Promise], on: date) -> set[str]:
    """Invoices held off by an open promise whose date (plus grace) has not passed."""
    return {i for p in promises if promise_pauses(p, on) for i in p.invoice_ids}


def customer_paused(paused_until: date | None, on: date) -> bool:
    """A manual pause holds everything through its end date; it resumes the day after."""
    return paused_until is not None and on <= paused_until


def judge_promise(promise: Promise, on: date) -> str:
    """`kept` once payments cover the amount, `broken` once the date plus grace has passed
    without that, else `open`."""
    if promise.status != "open":
        return promise.status
    if promise.paid_minor >= promise.amount_minor:
        return "kept"
    if on > promise.pauses_until:
        return "broken"
    return "open"


def due_steps(
    policy: Policy,
    invoices: Sequence[OpenInvoice],
    taken: set[tuple[str, int, str]],
    on: date,
    *,
    paused_until: date | None = None,
    promises: Iterable[Promise] = (),
) -> list[Due]:
    """The consolidated steps to take for one customer on `on`: every open, undisputed,
    unpaused invoice at a step it has not yet taken in its cycle, grouped by step and
    currency, in the policy's step order. `taken` holds (invoice_id, cycle, step name)."""
    if customer_paused(paused_until, on):
        return []
    held = paused_invoices(promises, on)
    groups: dict[tuple[int, str], list[OpenInvoice]] = defaultdict(list)
    for inv in invoices:
        if inv.residual_minor <= 0 or inv.disputed or inv.invoice_id in held:
            continue
        i = step_index(policy, inv.due_date, on, inv.escalate)
        if i is None:
            continue
        if (inv.invoice_id, inv.cycle, policy.steps[i].name) in taken:
            continue
        groups[(i, inv.currency)].append(inv)
    return [
        Due(policy.steps[i], currency, tuple(sorted(g, key=lambda v: (v.due_date, v.invoice_id))))
        for (i, currency), g in sorted(groups.items())
    ]


def priority(residual_minor: int, grade: str | None, days_overdue: int) -> float:
    """Worklist order: overdue residual x risk from the credit grade x age."""
    risk = {"A": 1.0, "B": 1.5, "C": 2.0, "D": 3.0, "E": 4.0}.get(grade or "", 1.5)
    return residual_minor * risk * (1 + max(days_overdue, 0) / 30)


def next_action(
    policy: Policy,
    invoice: OpenInvoice,
    taken: set[tuple[str, int, str]],
    on: date,
) -> tuple[Step, date] | None:
    """The invoice's next step not yet taken in its cycle and the date it falls due
    (`on` when already reached), or None when every step is behind it."""
    current = step_index(policy, invoice.due_date, on, invoice.escalate)
    start = 0 if current is None else current
    for s in policy.steps[start:]:
        if (invoice.invoice_id, invoice.cycle, s.name) in taken:
            continue
        return s, max(on, invoice.due_date + timedelta(days=s.offset_days))
    return None


def escalation_reason(invoices: int, residual: Money, days_overdue: int, step: str) -> str:
    """Why a due escalates to credit or legal (`dunning_escalated`'s reason): how many
    invoices, what they still owe, the most days any of them is overdue, and the step."""
    return (
        f"{invoices} invoice(s), {residual} outstanding, up to {days_overdue} days overdue "
        f"(dunning step {step!r})"
    )


def task_overdue(due_on: date, on: date, grace_days: int = TASK_GRACE_DAYS) -> bool:
    """A collector task still open more than `grace_days` after its date is overdue."""
    return (on - due_on).days > grace_days


def reminded_invoices(recorded: Iterable[Mapping[str, Any]], currency: str) -> list[dict[str, Any]]:
    """A reminder's invoices as recorded (`residual_minor`, an integer) as the API, the
    templates and the webhooks show them: `residual` a decimal string of the currency."""
    return [
        {
            "invoice_id": i["invoice_id"],
            "number": i["number"],
            "due_date": i["due_date"],
            "residual": Money(i["residual_minor"], currency).format(),
        }
        for i in recorded
    ]
