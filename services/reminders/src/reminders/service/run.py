"""A dunning run: decide and record what is due as of a date, exactly once.

Exactly once across replicas: customers are claimed in batches with `FOR UPDATE SKIP
LOCKED` on their `dunning_customer` row, one transaction per batch; a replica never waits
for another and never sees a customer another holds. Within the transaction the steps each
invoice takes are recorded (`invoice_step`, unique per invoice + cycle + step) together with
the reminders (status `pending`, unique `idempotency_key` = customer + step + cycle +
channel), tasks and events; a later run, by any replica, finds those steps taken.

Exactly once across crashes: delivery (`service.deliver`) happens only after that commit,
from the recorded `pending` rows. A crash before the commit leaves nothing; a crash after it
leaves the reminder pending, delivered later, once, with its idempotency key (the email's
Message-ID, the webhook's Idempotency-Key).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import BaseModel

from huikuan_events import uuid7
from huikuan_events.reminders import (
    SOURCE,
    DunningEscalated,
    PromiseBroken,
    TaskCreated,
)
from huikuan_events.topics import REMINDERS_EVENTS
from huikuan_runtime import outbox
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.money import Money
from reminders.channels import Message
from reminders.channels.recording import letter_html
from reminders.domain import calendar
from reminders.domain.dunning import (
    Due,
    OpenInvoice,
    Promise,
    due_steps,
    judge_promise,
    task_overdue,
)
from reminders.domain.policy import Policy, choose
from reminders.render import context, render
from reminders.service.policies import policies
from reminders.store import book, dunning


@dataclass(frozen=True, slots=True)
class RunConfig:
    window: calendar.Window = field(default_factory=calendar.Window)
    default_timezone: str = "Asia/Shanghai"
    batch_size: int = 200


@dataclass(slots=True)
class RunResult:
    customers: int = 0
    skipped_not_business_time: int = 0
    reminders: int = 0
    tasks: int = 0
    escalations: int = 0
    promises_broken: int = 0


@dataclass(slots=True)
class _Batch:
    """What a batch of customers writes, flushed in a few statements before its commit."""

    events: dict[str, list[tuple[str, BaseModel]]] = field(default_factory=dict)
    steps: dict[str, list[tuple[str, int, str, date]]] = field(default_factory=dict)
    reminders: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[tuple[dict[str, Any], TaskCreated]] = field(default_factory=list)

    def add(self, tenant: str, subject: str, payload: BaseModel) -> None:
        self.events.setdefault(tenant, []).append((subject, payload))


def idempotency_key(tenant: str, customer_id: str, due: Due, channel: str) -> str:
    raw = f"{tenant}|{customer_id}|{due.key}|{channel}"
    return hashlib.sha256(raw.encode()).hexdigest()


def promise_of(r: asyncpg.Record) -> Promise:
    return Promise(
        r["promise_id"], r["currency"], r["amount_minor"], r["promised_date"], r["grace_days"],
        r["made_on"], tuple(r["invoice_ids"]), r["paid_minor"], r["status"],
    )  # fmt: skip


async def run(
    pool: asyncpg.Pool,
    *,
    tenant: str | None,
    as_of: date | None,
    at: datetime,
    config: RunConfig = RunConfig(),
) -> RunResult:
    """Decide and record every step due, for one tenant or all.

    With `as_of`, every customer is judged on that date and only its business-day rule
    applies (no send window: the caller chose the date). Without it, each customer is judged
    on the local date of `at` in its time zone and only inside the send window."""
    result = RunResult()
    cursor = ("", "")
    cache: dict[str, dict[str, Policy]] = {}
    while True:
        batch = _Batch()
        async with unit_of_work(pool) as conn:
            claimed = await dunning.claim_customers(conn, tenant, cursor, config.batch_size)
            keys = [(c["tenant"], c["customer_id"]) for c in claimed]
            # Everything the batch needs, read in one statement per kind.
            invoices: dict[tuple[str, str], list[OpenInvoice]] = defaultdict(list)
            for r in await dunning.open_invoices_of(conn, keys):
                invoices[(r["tenant"], r["customer_id"])].append(OpenInvoice(
                    r["invoice_id"], r["number"], r["due_date"], r["currency"],
                    r["residual_minor"], r["disputed"], r["cycle"], r["escalate"],
                ))  # fmt: skip
            promises: dict[tuple[str, str], list[Promise]] = defaultdict(list)
            for r in await dunning.open_promises_of(conn, keys):
                promises[(r["tenant"], r["customer_id"])].append(promise_of(r))
            owner = {(k[0], i.invoice_id): k for k, invs in invoices.items() for i in invs}
            taken: dict[tuple[str, str], set[tuple[str, int, str]]] = defaultdict(set)
            for t, invoice_id, cycle, step in await dunning.taken_steps_of(conn, list(owner)):
                taken[owner[(t, invoice_id)]].add((invoice_id, cycle, step))
            tasks: dict[tuple[str, str], list[asyncpg.Record]] = defaultdict(list)
            latest = as_of or (at + timedelta(days=1)).date()  # no zone is a day ahead of UTC+14
            for r in await dunning.open_tasks_due_before(conn, keys, latest):
                tasks[(r["tenant"], r["customer_id"])].append(r)
            for c in claimed:
                key = (c["tenant"], c["customer_id"])
                if c["tenant"] not in cache:
                    cache[c["tenant"]] = await policies(conn, c["tenant"])
                policy = choose(cache[c["tenant"]], c["grade"], c["pinned_policy"])
                await _overdue_tasks(conn, c, policy.policy_id, tasks.get(key, []), as_of, at,
                                     config, result, batch)  # fmt: skip
                await _customer(
                    conn, c, cache[c["tenant"]], invoices.get(key, []), promises.get(key, []),
                    taken.get(key, set()), as_of, at, config, result, batch,
                )  # fmt: skip
            for t, steps in batch.steps.items():
                await dunning.take_steps(conn, t, steps)
            result.reminders += await dunning.add_reminders(conn, batch.reminders)
            created = await dunning.add_tasks(conn, [row for row, _ in batch.tasks])
            for row, event in batch.tasks:
                if row["task_id"] in created:
                    batch.add(row["tenant"], row["customer_id"], event)
            result.tasks += len(created)
            for t, events in batch.events.items():
                await outbox.record_many(
                    conn, topic=REMINDERS_EVENTS, source=SOURCE, tenant=t, events=events, at=at
                )
        if len(claimed) < config.batch_size:
            return result
        cursor = (claimed[-1]["tenant"], claimed[-1]["customer_id"])


async def _overdue_tasks(
    conn: asyncpg.Connection,
    c: asyncpg.Record,
    policy_id: str,
    tasks: list[asyncpg.Record],
    as_of: date | None,
    at: datetime,
    config: RunConfig,
    result: RunResult,
    batch: _Batch,
) -> None:
    """A collector task left open past its grace goes to the owner's manager, once."""
    on = as_of or calendar.local(at, c["timezone"], config.default_timezone).date()
    for t in tasks:
        if not task_overdue(t["due_on"], on):
            continue
        await dunning.mark_escalated(conn, t["task_id"], on)
        batch.add(t["tenant"], t["customer_id"], DunningEscalated(
            customer_id=t["customer_id"], policy_id=policy_id, step=t["step"],
            action="escalate_to_manager",
            reason=f"{t['kind']} task {t['task_id']} for owner {t['owner'] or '(none)'} due "
                   f"{t['due_on']} is still open on {on}",
            invoice_ids=list(t["invoice_ids"]), as_of=on,
        ))  # fmt: skip
        result.escalations += 1


async def _customer(
    conn: asyncpg.Connection,
    c: asyncpg.Record,
    tenant_policies: dict[str, Policy],
    invoices: list[OpenInvoice],
    open_promises: list[Promise],
    taken: set[tuple[str, int, str]],
    as_of: date | None,
    at: datetime,
    config: RunConfig,
    result: RunResult,
    batch: _Batch,
) -> None:
    tenant, customer_id = c["tenant"], c["customer_id"]
    result.customers += 1
    on = as_of or calendar.local(at, c["timezone"], config.default_timezone).date()

    # Promises first: a broken one escalates its invoices at once, in this same run.
    still_open = []
    for p in open_promises:
        if judge_promise(p, on) != "broken":
            still_open.append(p)
            continue
        await dunning.judge_promise(conn, tenant, p.promise_id, "broken", on)
        await book.escalate(conn, tenant, list(p.invoice_ids))
        invoices = [
            replace(i, escalate=i.escalate + 1) if i.invoice_id in p.invoice_ids else i
            for i in invoices
        ]
        batch.add(tenant, customer_id, PromiseBroken(
            promise_id=p.promise_id, customer_id=customer_id, currency=p.currency,
            shortfall_minor=p.amount_minor - p.paid_minor, promised_date=p.promised_date,
            judged_on=on,
        ))  # fmt: skip
        result.promises_broken += 1

    if as_of is not None:
        allowed = calendar.is_business_day(on, c["country"])
    else:
        allowed = calendar.may_send(
            at, c["timezone"], c["country"], config.window, config.default_timezone
        )
    if not allowed:
        result.skipped_not_business_time += 1
        return
    if not invoices:
        return
    policy = choose(tenant_policies, c["grade"], c["pinned_policy"])
    dues = due_steps(
        policy, invoices, taken, on, paused_until=c["paused_until"], promises=still_open
    )
    for due in dues:
        batch.steps.setdefault(tenant, []).extend(
            (i.invoice_id, i.cycle, due.step.name, on) for i in due.invoices
        )
        await _record(conn, c, policy, due, on, at, result, batch)


async def _record(
    conn: asyncpg.Connection,
    c: asyncpg.Record,
    policy: Policy,
    due: Due,
    on: date,
    at: datetime,
    result: RunResult,
    batch: _Batch,
) -> None:
    tenant, customer_id = c["tenant"], c["customer_id"]
    invoice_ids = [i.invoice_id for i in due.invoices]
    values = context(due, customer_id=customer_id, customer_name=c["name"] or customer_id, as_of=on)
    text = render(due.step, c["language"], values)
    listed: list[dict[str, Any]] = [
        {"invoice_id": i.invoice_id, "number": i.number, "due_date": i.due_date.isoformat(),
         "residual": Money(i.residual_minor, i.currency).format()}
        for i in due.invoices
    ]  # fmt: skip
    for channel in due.step.message_channels:
        recipient = {"email": c["email"], "sms": c["phone"]}.get(channel)
        key = idempotency_key(tenant, customer_id, due, channel)
        body = text.body
        if channel == "letter":
            body = letter_html(Message(
                "", key, tenant, customer_id, channel, None, text.language, text.subject, body
            ))  # fmt: skip
        batch.reminders.append(dict(
            reminder_id=uuid7(), tenant=tenant, customer_id=customer_id,
            idempotency_key=key, policy_id=policy.policy_id, policy_version=policy.version,
            step=due.step.name, channel=channel, recipient=recipient, language=text.language,
            subject=text.subject, body=body, invoices=listed, currency=due.currency,
            residual_minor=due.residual_minor, as_of=on, next_attempt_at=at, created_at=at,
        ))  # fmt: skip
    for kind in due.step.task_kinds:
        task_id = uuid7()
        batch.tasks.append((dict(
            task_id=task_id, tenant=tenant, customer_id=customer_id,
            idempotency_key=idempotency_key(tenant, customer_id, due, kind), kind=kind,
            owner=c["owner"], step=due.step.name, due_on=on, invoice_ids=invoice_ids,
            currency=due.currency, residual_minor=due.residual_minor, grade=c["grade"],
        ), TaskCreated(
            task_id=str(task_id), customer_id=customer_id, kind=kind,
            owner=c["owner"], due_on=on, invoice_ids=invoice_ids,
        )))  # fmt: skip
    if due.step.action in ("request_credit_hold", "legal_escalation"):
        overdue = max((on - i.due_date).days for i in due.invoices)
        total = Money(due.residual_minor, due.currency).format()
        batch.add(tenant, customer_id, DunningEscalated(
            customer_id=customer_id, policy_id=policy.policy_id, step=due.step.name,
            action=due.step.action,
            reason=f"{len(invoice_ids)} invoice(s), {total} {due.currency} outstanding, "
                   f"up to {overdue} days overdue (dunning step {due.step.name!r})",
            invoice_ids=invoice_ids, as_of=on,
        ))  # fmt: skip
        result.escalations += 1
