"""Payloads of events produced by reminders (`reminders.events.v1`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "huikuan/reminders"

Channel = Literal["email", "sms", "webhook", "letter", "call", "visit", "legal"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReminderSent(_Payload):
    """One consolidated reminder went out to a customer for the invoices at a step."""

    reminder_id: str
    customer_id: str
    policy_id: str
    step: str
    channel: Channel
    invoice_ids: list[str]
    currency: str
    residual_minor: int = Field(ge=0, description="what was chased: the residuals, summed")
    sent_at: datetime


class ReminderFailed(_Payload):
    """A reminder could not be delivered after its retries."""

    reminder_id: str
    customer_id: str
    channel: Channel
    attempts: int = Field(ge=1)
    error: str


class DunningEscalated(_Payload):
    """Dunning reached a step whose action is for another service or a person."""

    customer_id: str
    policy_id: str
    step: str
    action: Literal["request_credit_hold", "legal_escalation", "escalate_to_manager"]
    reason: str
    invoice_ids: list[str]
    as_of: date
    escalated_to: str | None = Field(
        None,
        description="escalate_to_manager: the collector id of the task owner's manager; "
        "null when no manager is recorded for the owner",
    )


class PromiseMade(_Payload):
    """The customer promised to pay an amount by a date."""

    promise_id: str
    customer_id: str
    currency: str
    amount_minor: int = Field(gt=0)
    promised_date: date
    invoice_ids: list[str]
    taken_by: str


class PromiseKept(_Payload):
    """Payments covered a promise by its date."""

    promise_id: str
    customer_id: str
    kept_on: date


class PromiseBroken(_Payload):
    """A promise's date (plus grace) passed without payments covering it."""

    promise_id: str
    customer_id: str
    currency: str
    shortfall_minor: int = Field(gt=0)
    promised_date: date
    judged_on: date


class TaskCreated(_Payload):
    """A collector task (call, visit, legal) was created for a person to do."""

    task_id: str
    customer_id: str
    kind: Literal["call", "visit", "legal"]
    owner: str | None
    due_on: date
    invoice_ids: list[str]


class TaskCompleted(_Payload):
    """A collector recorded the outcome of a task."""

    task_id: str
    customer_id: str
    outcome: Literal["reached", "no_answer", "promise_taken", "dispute_raised", "wrong_contact"]
    note: str | None = None
    completed_on: date
