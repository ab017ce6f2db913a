"""What credit learns from each event it consumes: event type -> what to keep.

Every event becomes a fact keyed by its event id (a duplicate adds nothing) and a
derivation of the customer's score, limits and holds from all its facts, as of the later of
the event's time and its business date (never "now"), so a replay gives the same
projection. Events that carry no new fact (settled, overdue) only re-derive: the passing of
a due date matters even when nothing was paid. The consumer hands over whole runs of events
(`run_handler`); `credit.service.derive.learn` applies them in order.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import asyncpg
from pydantic import BaseModel

from credit.domain.profile import Fact
from credit.service.derive import FactCache, Learnt, learn
from credit.store import customers
from huikuan_events import Envelope
from huikuan_events import ledger as ledger_events
from huikuan_events import reminders as reminders_events
from huikuan_runtime.consumer import RunHandler

# How to read each event type: its payload model and what it says (a fact, or None, and
# the business date it happened on).
Reading = tuple[type[BaseModel], Callable[[BaseModel], tuple[Fact | None, date]]]


def _issued(d: ledger_events.InvoiceIssued) -> tuple[Fact, date]:
    return Fact(
        "invoice",
        d.invoice_id,
        d.issue_date,
        ref2=d.number,
        currency=d.currency,
        amount_minor=d.amount_minor,
        due=d.due_date,
    ), d.issue_date


def _applied(d: ledger_events.PaymentApplied) -> tuple[Fact, date]:
    return Fact(
        "applied",
        d.invoice_id,
        d.applied_on,
        ref2=d.payment_id,
        currency=d.currency,
        amount_minor=d.amount_minor,
        due=d.due_date,
        days_late=d.days_late,
    ), d.applied_on


def _adjusted(d: ledger_events.InvoiceAdjusted) -> tuple[Fact, date]:
    return Fact(
        "adjusted",
        d.invoice_id,
        d.issued_on,
        ref2=d.credit_note_id,
        currency=d.currency,
        amount_minor=d.amount_minor,
    ), d.issued_on


def _voided(d: ledger_events.InvoiceVoided) -> tuple[Fact, date]:
    return Fact("voided", d.invoice_id, d.voided_on, currency=d.currency), d.voided_on


def _written_off(d: ledger_events.InvoiceWrittenOff) -> tuple[Fact, date]:
    return Fact(
        "written_off",
        d.invoice_id,
        d.written_off_on,
        currency=d.currency,
        amount_minor=d.amount_minor,
    ), d.written_off_on


def _reversed(d: ledger_events.PaymentReversed) -> tuple[Fact, date]:
    return Fact(
        "reversed",
        d.payment_id,
        d.reversed_on,
        currency=d.currency,
        amount_minor=d.amount_minor,
        ids=tuple(d.reopened_invoice_ids),
    ), d.reversed_on


def _settled(d: ledger_events.InvoiceSettled) -> tuple[None, date]:
    return None, d.settled_on


def _overdue(d: ledger_events.InvoiceOverdue) -> tuple[None, date]:
    return None, d.as_of


def _dispute_opened(d: ledger_events.DisputeOpened) -> tuple[Fact, date]:
    return Fact(
        "dispute_opened",
        d.dispute_id,
        d.opened_on,
        ref2=d.invoice_id,
        currency=d.currency,
        amount_minor=d.amount_minor,
    ), d.opened_on


def _dispute_resolved(d: ledger_events.DisputeResolved) -> tuple[Fact, date]:
    return Fact(
        "dispute_resolved", d.dispute_id, d.resolved_on, ref2=d.invoice_id, note=d.outcome
    ), d.resolved_on


def _promise_made(d: reminders_events.PromiseMade) -> tuple[Fact, date]:
    return Fact(
        "promise_made",
        d.promise_id,
        d.promised_date,
        currency=d.currency,
        amount_minor=d.amount_minor,
        ids=tuple(d.invoice_ids),
    ), d.promised_date


def _promise_kept(d: reminders_events.PromiseKept) -> tuple[Fact, date]:
    return Fact("promise_kept", d.promise_id, d.kept_on), d.kept_on


def _promise_broken(d: reminders_events.PromiseBroken) -> tuple[Fact, date]:
    return Fact(
        "promise_broken",
        d.promise_id,
        d.judged_on,
        currency=d.currency,
        amount_minor=d.shortfall_minor,
        due=d.promised_date,
    ), d.judged_on


def _escalated(d: reminders_events.DunningEscalated) -> tuple[Fact | None, date]:
    if d.action != "request_credit_hold":
        return None, d.as_of
    return Fact(
        "dunning_hold",
        f"{d.policy_id}:{d.step}",
        d.as_of,
        ids=tuple(d.invoice_ids),
        note=f"dunning step {d.step} of {d.policy_id}: {d.reason}",
    ), d.as_of


def _upserted(d: ledger_events.CustomerUpserted) -> tuple[None, date]:
    return None, date.min  # derived as of the event's time


def _reading(model: type[BaseModel], to_fact: Callable[..., tuple[Fact | None, date]]) -> Reading:
    return model, to_fact


READINGS: dict[str, Reading] = {
    "ledger.customer_upserted.v1": _reading(ledger_events.CustomerUpserted, _upserted),
    "ledger.invoice_issued.v1": _reading(ledger_events.InvoiceIssued, _issued),
    "ledger.payment_applied.v1": _reading(ledger_events.PaymentApplied, _applied),
    "ledger.invoice_adjusted.v1": _reading(ledger_events.InvoiceAdjusted, _adjusted),
    "ledger.invoice_voided.v1": _reading(ledger_events.InvoiceVoided, _voided),
    "ledger.invoice_written_off.v1": _reading(ledger_events.InvoiceWrittenOff, _written_off),
    "ledger.payment_reversed.v1": _reading(ledger_events.PaymentReversed, _reversed),
    "ledger.invoice_settled.v1": _reading(ledger_events.InvoiceSettled, _settled),
    "ledger.invoice_overdue.v1": _reading(ledger_events.InvoiceOverdue, _overdue),
    "ledger.dispute_opened.v1": _reading(ledger_events.DisputeOpened, _dispute_opened),
    "ledger.dispute_resolved.v1": _reading(ledger_events.DisputeResolved, _dispute_resolved),
    "reminders.promise_made.v1": _reading(reminders_events.PromiseMade, _promise_made),
    "reminders.promise_kept.v1": _reading(reminders_events.PromiseKept, _promise_kept),
    "reminders.promise_broken.v1": _reading(reminders_events.PromiseBroken, _promise_broken),
    "reminders.dunning_escalated.v1": _reading(reminders_events.DunningEscalated, _escalated),
}


def run_handler(cache: FactCache) -> RunHandler:
    """The consumer's handler of a run of events, keeping facts in `cache` between runs."""

    async def handle(conn: asyncpg.Connection, events: list[Envelope]) -> None:
        run: list[Learnt] = []
        for event in events:
            reading = READINGS.get(event.type)
            if reading is None:
                continue
            model, to_fact = reading
            data = event.read_data(model)
            fact, on = to_fact(data)
            customer_id = str(event.data["customer_id"])
            if isinstance(data, ledger_events.CustomerUpserted):
                await customers.upsert(
                    conn,
                    event.tenant,
                    customer_id,
                    data.name,
                    data.payment_terms_days,
                    data.segment,
                    event.time,
                )
            run.append(
                Learnt(
                    event.tenant,
                    customer_id,
                    event.id,
                    fact,
                    max(on, event.time.date()),
                    event.time,
                )
            )
        if run:
            await learn(conn, run, cache)

    return handle
