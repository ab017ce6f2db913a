"""What credit does with each event it consumes: event type -> handler.

Every handler records what it learnt as a fact keyed by the event id (a duplicate adds
nothing), then re-derives the customer's score, limits and holds from all its facts, as of
the later of the event's time and its business date (never "now"), so a replay gives the
same projection. Events that carry no new fact (settled, overdue) only re-derive: the
passing of a due date matters even when nothing was paid.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TypeVar

import asyncpg
from pydantic import BaseModel

from credit.domain.profile import Fact
from credit.service.derive import refresh
from credit.store import customers, facts
from huikuan_events import Envelope
from huikuan_events import ledger as L
from huikuan_events import reminders as R
from huikuan_runtime.consumer import Handler


async def _learn(
    conn: asyncpg.Connection, event: Envelope, customer_id: str, fact: Fact | None, on: date
) -> None:
    if fact is not None:
        await facts.add(conn, event.tenant, customer_id, event.id, fact)
    await refresh(conn, event.tenant, customer_id, as_of=max(on, event.time.date()), at=event.time)


P = TypeVar("P", bound=BaseModel)


def _handler(model: type[P], to_fact: Callable[[P], tuple[Fact | None, date]]) -> Handler:
    """A handler that parses the payload, records its fact and re-derives the customer."""

    async def handle(conn: asyncpg.Connection, event: Envelope) -> None:
        data = model.model_validate(event.data)
        fact, on = to_fact(data)
        customer_id = str(data.model_dump(include={"customer_id"})["customer_id"])
        await _learn(conn, event, customer_id, fact, on)

    return handle


async def on_customer_upserted(conn: asyncpg.Connection, event: Envelope) -> None:
    data = L.CustomerUpserted.model_validate(event.data)
    await customers.upsert(
        conn, event.tenant, data.customer_id, data.name, data.payment_terms_days, data.segment,
        event.time,
    )  # fmt: skip
    await refresh(conn, event.tenant, data.customer_id, as_of=event.time.date(), at=event.time)


def _issued(d: L.InvoiceIssued) -> tuple[Fact, date]:
    return Fact("invoice", d.invoice_id, d.issue_date, ref2=d.number, currency=d.currency,
                amount_minor=d.amount_minor, due=d.due_date), d.issue_date  # fmt: skip


def _applied(d: L.PaymentApplied) -> tuple[Fact, date]:
    return Fact("applied", d.invoice_id, d.applied_on, ref2=d.payment_id, currency=d.currency,
                amount_minor=d.amount_minor, due=d.due_date, days_late=d.days_late,
                ), d.applied_on  # fmt: skip


def _adjusted(d: L.InvoiceAdjusted) -> tuple[Fact, date]:
    return Fact("adjusted", d.invoice_id, d.issued_on, ref2=d.credit_note_id,
                currency=d.currency, amount_minor=d.amount_minor), d.issued_on  # fmt: skip


def _voided(d: L.InvoiceVoided) -> tuple[Fact, date]:
    return Fact("voided", d.invoice_id, d.voided_on, currency=d.currency), d.voided_on


def _written_off(d: L.InvoiceWrittenOff) -> tuple[Fact, date]:
    return Fact("written_off", d.invoice_id, d.written_off_on, currency=d.currency,
                amount_minor=d.amount_minor), d.written_off_on  # fmt: skip


def _reversed(d: L.PaymentReversed) -> tuple[Fact, date]:
    return Fact("reversed", d.payment_id, d.reversed_on, currency=d.currency,
                amount_minor=d.amount_minor, ids=tuple(d.reopened_invoice_ids),
                ), d.reversed_on  # fmt: skip


def _settled(d: L.InvoiceSettled) -> tuple[None, date]:
    return None, d.settled_on


def _overdue(d: L.InvoiceOverdue) -> tuple[None, date]:
    return None, d.as_of


def _dispute_opened(d: L.DisputeOpened) -> tuple[Fact, date]:
    return Fact("dispute_opened", d.dispute_id, d.opened_on, ref2=d.invoice_id,
                currency=d.currency, amount_minor=d.amount_minor), d.opened_on  # fmt: skip


def _dispute_resolved(d: L.DisputeResolved) -> tuple[Fact, date]:
    return Fact("dispute_resolved", d.dispute_id, d.resolved_on, ref2=d.invoice_id,
                note=d.outcome), d.resolved_on  # fmt: skip


def _promise_made(d: R.PromiseMade) -> tuple[Fact, date]:
    return Fact("promise_made", d.promise_id, d.promised_date, currency=d.currency,
                amount_minor=d.amount_minor, ids=tuple(d.invoice_ids)), d.promised_date  # fmt: skip


def _promise_kept(d: R.PromiseKept) -> tuple[Fact, date]:
    return Fact("promise_kept", d.promise_id, d.kept_on), d.kept_on


def _promise_broken(d: R.PromiseBroken) -> tuple[Fact, date]:
    return Fact("promise_broken", d.promise_id, d.judged_on, currency=d.currency,
                amount_minor=d.shortfall_minor, due=d.promised_date), d.judged_on  # fmt: skip


def _escalated(d: R.DunningEscalated) -> tuple[Fact | None, date]:
    if d.action != "request_credit_hold":
        return None, d.as_of
    return Fact("dunning_hold", f"{d.policy_id}:{d.step}", d.as_of, ids=tuple(d.invoice_ids),
                note=f"dunning step {d.step} of {d.policy_id}: {d.reason}"), d.as_of  # fmt: skip


HANDLERS: dict[str, Handler] = {
    "ledger.customer_upserted.v1": on_customer_upserted,
    "ledger.invoice_issued.v1": _handler(L.InvoiceIssued, _issued),
    "ledger.payment_applied.v1": _handler(L.PaymentApplied, _applied),
    "ledger.invoice_adjusted.v1": _handler(L.InvoiceAdjusted, _adjusted),
    "ledger.invoice_voided.v1": _handler(L.InvoiceVoided, _voided),
    "ledger.invoice_written_off.v1": _handler(L.InvoiceWrittenOff, _written_off),
    "ledger.payment_reversed.v1": _handler(L.PaymentReversed, _reversed),
    "ledger.invoice_settled.v1": _handler(L.InvoiceSettled, _settled),
    "ledger.invoice_overdue.v1": _handler(L.InvoiceOverdue, _overdue),
    "ledger.dispute_opened.v1": _handler(L.DisputeOpened, _dispute_opened),
    "ledger.dispute_resolved.v1": _handler(L.DisputeResolved, _dispute_resolved),
    "reminders.promise_made.v1": _handler(R.PromiseMade, _promise_made),
    "reminders.promise_kept.v1": _handler(R.PromiseKept, _promise_kept),
    "reminders.promise_broken.v1": _handler(R.PromiseBroken, _promise_broken),
    "reminders.dunning_escalated.v1": _handler(R.DunningEscalated, _escalated),
}
