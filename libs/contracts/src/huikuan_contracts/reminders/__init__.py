"""Reminders's request and response models (the gateway publishes these same models)."""

from __future__ import annotations

import datetime as dt
from datetime import date, datetime, time
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field
from pydantic.config import JsonDict

from huikuan_contracts.fields import (
    AmountIn,
    DecimalAmount,
    EmailAddress,
    ExternalId,
    QueryIn,
    StrictIn,
    TimeZoneName,
)
from huikuan_contracts.webhook_secrets import secret_problem

# --- policies -----------------------------------------------------------------------------


class StepIn(StrictIn):
    name: str = Field(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")
    offset_days: int = Field(
        ge=-365, le=3650, description="days from the due date; negative = before"
    )
    channels: list[str] = Field(
        min_length=1,
        max_length=7,
        description="email, sms, webhook, letter (messages); call, visit, legal (collector tasks)",
    )
    template: str = Field(
        min_length=1,
        max_length=64,
        description="a shipped template: friendly_reminder, overdue_notice, second_notice, "
        "warning_letter, final_notice",
    )
    action: str = Field(
        "notify", description="notify, create_task, request_credit_hold, legal_escalation"
    )
    templates: dict[str, dict[str, str]] | None = Field(
        None,
        description="this tenant's own text per language (zh, en): {subject, body} as Jinja2 "
        "using customer_name, customer_id, step, as_of, currency, total, invoices",
    )


class StepPublic(BaseModel):
    name: str
    offset_days: int
    channels: list[str]
    template: str
    action: str
    templates: dict[str, dict[str, str]]


class PolicyPut(StrictIn):
    grades: list[str] = Field(
        default_factory=list,
        max_length=5,
        description="credit grades (A to E) this policy is chosen for",
    )
    steps: list[StepIn] = Field(min_length=1, max_length=30)


class PolicyPublic(BaseModel):
    policy_id: str
    version: int = Field(description="0 is the shipped default; each PUT adds one")
    grades: list[str]
    steps: list[StepPublic]


class PolicyList(BaseModel):
    items: list[PolicyPublic]


# --- customer dunning state ---------------------------------------------------------------


class ChasedInvoice(BaseModel):
    invoice_id: str
    number: str
    due_date: date
    currency: str
    residual: DecimalAmount
    step: str | None = Field(None, description="the step the invoice has reached as of the date")
    disputed: bool = False
    promised: bool = Field(False, description="held off by an open promise to pay")


class NextAction(BaseModel):
    step: str
    on: date
    invoice_ids: list[str]


class DunningPublic(BaseModel):
    customer_id: str
    open_invoice_count: int
    next_due_date: date | None
    invoices: list[ChasedInvoice]
    as_of: date | None = None
    grade: str | None = None
    policy_id: str | None = None
    policy_version: int | None = None
    pinned_policy: str | None = None
    paused_until: date | None = None
    pause_reason: str | None = None
    next_action: NextAction | None = None


class DunningQuery(QueryIn):
    as_of: date | None = Field(None, description="defaults to today (UTC)")


class PinPut(StrictIn):
    policy_id: ExternalId | None = Field(None, description="null removes the pin")


class PauseCreate(StrictIn):
    until: date = Field(description="the last day dunning is paused; it resumes the day after")
    reason: str = Field(min_length=1, max_length=500)


class PausePublic(BaseModel):
    customer_id: str
    paused_until: date | None
    pause_reason: str | None


# --- promises -----------------------------------------------------------------------------


class PromiseCreate(AmountIn):
    promise_id: ExternalId
    promised_date: date
    invoice_ids: list[ExternalId] | None = Field(
        None,
        max_length=1000,
        description="the invoices it covers; default every open invoice in the currency",
    )
    taken_by: str = Field(min_length=1, max_length=100)
    made_on: date | None = Field(None, description="defaults to today (UTC)")
    grace_days: int = Field(3, ge=0, le=60)


class PromisePublic(BaseModel):
    promise_id: str
    customer_id: str
    currency: str
    amount: DecimalAmount
    paid: DecimalAmount
    promised_date: date
    grace_days: int
    made_on: date
    invoice_ids: list[str]
    taken_by: str
    status: Literal["open", "kept", "broken"]
    judged_on: date | None


class PromiseList(BaseModel):
    items: list[PromisePublic]


# --- reminders, tasks, runs ---------------------------------------------------------------

ReminderStatus = Literal["pending", "sent", "failed", "cancelled"]


class ReminderQuery(QueryIn):
    customer_id: str | None = Field(None, max_length=64)
    status: ReminderStatus | None = None
    limit: int = Field(100, ge=1, le=1000)
    cursor: str | None = Field(
        None, max_length=512, description="`next_cursor` of the previous page"
    )


class RemindedInvoice(BaseModel):
    invoice_id: str
    number: str
    due_date: date
    residual: DecimalAmount


class DeliveryAttempt(BaseModel):
    attempt: int
    at: datetime
    ok: bool
    error: str | None


class ReminderPublic(BaseModel):
    reminder_id: str
    customer_id: str
    policy_id: str
    policy_version: int
    step: str
    channel: str
    recipient: str | None
    language: str
    subject: str
    body: str
    text_problem: str | None = Field(
        default=None,
        description="why the text of a reminder not yet delivered cannot be rendered "
        "(its subject and body are then empty); delivery will fail it with this error",
    )
    invoices: list[RemindedInvoice]
    currency: str
    residual: DecimalAmount
    as_of: date
    status: ReminderStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    deliveries: list[DeliveryAttempt]


class ReminderPage(BaseModel):
    items: list[ReminderPublic]
    next_cursor: str | None = None


class WorklistQuery(QueryIn):
    owner: str | None = Field(
        None,
        max_length=100,
        description="the owner's tasks and the tasks escalated to this collector as manager",
    )
    date: dt.date | None = Field(None, description="defaults to today (UTC)")


TaskOutcome = Literal["reached", "no_answer", "promise_taken", "dispute_raised", "wrong_contact"]


class TaskPublic(BaseModel):
    task_id: str
    customer_id: str
    kind: str
    owner: str | None
    step: str
    due_on: date
    invoice_ids: list[str]
    currency: str
    residual: DecimalAmount
    grade: str | None
    priority: float
    status: Literal["open", "done"]
    outcome: str | None
    note: str | None
    completed_on: date | None
    escalated: bool = Field(
        False, description="left open past its grace and escalated to the owner's manager"
    )
    escalated_on: date | None = None
    escalated_to: str | None = Field(
        None, description="the manager it was escalated to; null if the owner had none recorded"
    )


class Worklist(BaseModel):
    owner: str | None
    date: dt.date
    items: list[TaskPublic]


class TaskComplete(StrictIn):
    outcome: TaskOutcome
    note: str | None = Field(None, max_length=2000)
    completed_on: date | None = Field(None, description="defaults to today (UTC)")


class RunCreate(StrictIn):
    as_of: date = Field(description="the date dunning is judged on")


class RunPublic(BaseModel):
    as_of: date
    customers: int
    skipped_not_business_day: int
    reminders_recorded: int
    tasks_created: int
    escalations: int
    promises_broken: int
    sent: int
    retrying: int
    failed: int
    cancelled: int


# --- collectors ---------------------------------------------------------------------------


class CollectorPut(StrictIn):
    name: str = Field(min_length=1, max_length=200)
    email: EmailAddress | None = None
    manager: ExternalId | None = Field(
        None,
        description="the collector id of this collector's manager (already recorded); overdue "
        "tasks of this collector are escalated to them. A chain of managers that loops is "
        "refused (422)",
    )


class CollectorPublic(BaseModel):
    collector_id: str
    name: str
    email: str | None
    manager: str | None
    updated_at: datetime


class CollectorQuery(QueryIn):
    manager: str | None = Field(None, max_length=64, description="only those under this manager")
    limit: int = Field(100, ge=1, le=500)
    cursor: str | None = Field(
        None, max_length=512, description="`next_cursor` of the previous page"
    )


class CollectorPage(BaseModel):
    items: list[CollectorPublic]
    next_cursor: str | None = None


# --- a tenant's channel settings ----------------------------------------------------------


def _http_url(url: str) -> str:
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise ValueError("not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueError("must be an http:// or https:// URL with a host")
    if any(c.isspace() for c in url):
        raise ValueError("must not contain whitespace")
    return url


HttpUrl = Annotated[
    str,
    Field(max_length=2000, examples=["https://hooks.example.com/huikuan"]),
    AfterValidator(_http_url),
]


def _webhook_secret(secret: str) -> str:
    if (problem := secret_problem(secret)) is not None:
        raise ValueError(problem)
    return secret


# Standard Webhooks' `whsec_<base64>`, or any other string used as it is (its UTF-8 bytes).
WebhookSecret = Annotated[str, AfterValidator(_webhook_secret)]

# A local time of day, no offset (JSON Schema's "time" format would demand one).
LocalTime = Annotated[
    str,
    Field(
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        examples=["09:00"],
        description="local time of day, HH:MM",
    ),
]


def hhmm(t: time | None) -> str | None:
    return None if t is None else f"{t:%H:%M}"


def parse_hhmm(text: str | None) -> time | None:
    return None if text is None else time.fromisoformat(text)


_WRITE_ONLY: JsonDict = {"writeOnly": True, "format": "password"}


class ChannelSettingsPut(StrictIn):
    """Only the fields sent change: an absent field keeps what is stored, null clears it
    (back to the process-wide setting)."""

    mail_from: EmailAddress | None = Field(
        None, description="the sender of this tenant's reminder emails"
    )
    webhook_url: HttpUrl | None = Field(
        None, description="where this tenant's webhook reminders are POSTed (needs webhook_secret)"
    )
    webhook_secret: WebhookSecret | None = Field(
        None,
        min_length=16,
        max_length=256,
        json_schema_extra=_WRITE_ONLY,
        description="signs this tenant's webhook reminders per Standard Webhooks "
        "(`webhook-signature`): a `whsec_` secret (standard base64 of 24 to 64 bytes) keys "
        "the HMAC-SHA256 with the bytes it encodes, any other string with its UTF-8 bytes; "
        "write-only",
    )
    sms_url: HttpUrl | None = Field(None, description="this tenant's SMS provider")
    sms_token: str | None = Field(
        None,
        min_length=1,
        max_length=1000,
        json_schema_extra=_WRITE_ONLY,
        description="bearer token for sms_url; write-only",
    )
    send_window_start: LocalTime | None = Field(
        None, description="the scheduler contacts customers from this local time"
    )
    send_window_end: LocalTime | None = Field(None, description="... until before this one")
    default_timezone: TimeZoneName | None = Field(
        None, description="for customers without a time zone"
    )


Transport = Literal["tenant", "deployment", "log"]


class EffectiveChannelSettings(BaseModel):
    """What deliveries and the scheduler use for this tenant now."""

    mail_from: str
    webhook: Transport = Field(
        description="where webhook reminders go: the tenant's URL, the deployment's, or the "
        "log (none configured)"
    )
    sms: Transport
    send_window_start: LocalTime
    send_window_end: LocalTime
    default_timezone: str


class ChannelSettingsPublic(BaseModel):
    """The tenant's own settings (null: the process-wide one applies); secrets only say
    whether they are set."""

    mail_from: str | None
    webhook_url: str | None
    webhook_secret_set: bool
    sms_url: str | None
    sms_token_set: bool
    send_window_start: LocalTime | None
    send_window_end: LocalTime | None
    default_timezone: str | None
    updated_at: datetime | None
    effective: EffectiveChannelSettings
