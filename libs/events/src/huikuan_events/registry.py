"""Event type names on the wire and the payload model each one carries.

Adding an event type is one line in `EVENT_TYPES`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from huikuan_events import credit, ledger, reminders
from huikuan_events.envelope import Envelope

EVENT_TYPES: dict[str, type[BaseModel]] = {
    "ledger.customer_upserted.v1": ledger.CustomerUpserted,
    "ledger.invoice_issued.v1": ledger.InvoiceIssued,
    "ledger.invoice_adjusted.v1": ledger.InvoiceAdjusted,
    "ledger.invoice_overdue.v1": ledger.InvoiceOverdue,
    "ledger.invoice_settled.v1": ledger.InvoiceSettled,
    "ledger.invoice_voided.v1": ledger.InvoiceVoided,
    "ledger.invoice_written_off.v1": ledger.InvoiceWrittenOff,
    "ledger.dispute_opened.v1": ledger.DisputeOpened,
    "ledger.dispute_resolved.v1": ledger.DisputeResolved,
    "ledger.payment_received.v1": ledger.PaymentReceived,
    "ledger.payment_applied.v1": ledger.PaymentApplied,
    "ledger.payment_reversed.v1": ledger.PaymentReversed,
    "ledger.statement_confirmed.v1": ledger.StatementConfirmed,
    "credit.score_changed.v1": credit.ScoreChanged,
    "credit.limit_changed.v1": credit.LimitChanged,
    "credit.hold_placed.v1": credit.HoldPlaced,
    "credit.hold_released.v1": credit.HoldReleased,
    "reminders.reminder_sent.v1": reminders.ReminderSent,
    "reminders.reminder_failed.v1": reminders.ReminderFailed,
    "reminders.dunning_escalated.v1": reminders.DunningEscalated,
    "reminders.promise_made.v1": reminders.PromiseMade,
    "reminders.promise_kept.v1": reminders.PromiseKept,
    "reminders.promise_broken.v1": reminders.PromiseBroken,
    "reminders.task_created.v1": reminders.TaskCreated,
    "reminders.task_completed.v1": reminders.TaskCompleted,
}

_TYPE_OF: dict[type[BaseModel], str] = {model: name for name, model in EVENT_TYPES.items()}


class UnknownEventType(LookupError):
    pass


def type_name(payload: BaseModel | type[BaseModel]) -> str:
    """`InvoiceIssued(...)` (or the class `InvoiceIssued`) -> `ledger.invoice_issued.v1`."""
    model = payload if isinstance(payload, type) else type(payload)
    try:
        return _TYPE_OF[model]
    except KeyError:
        raise UnknownEventType(model.__name__) from None


def parse_data(envelope: Envelope) -> BaseModel:
    """Validate an envelope's data against the model registered for its type."""
    model = EVENT_TYPES.get(envelope.type)
    if model is None:
        raise UnknownEventType(envelope.type)
    return model.model_validate(envelope.data)


def json_schemas() -> dict[str, dict[str, Any]]:
    """JSON Schema of the envelope and of every payload, keyed by name."""
    schemas: dict[str, dict[str, Any]] = {"envelope": Envelope.model_json_schema()}
    for name, model in EVENT_TYPES.items():
        schemas[name] = model.model_json_schema()
    return schemas
