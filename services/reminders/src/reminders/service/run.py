"""A dunning run: decide and record what is due as of a date, exactly once, set-based.

The run goes through the customers in chunks of `batch_size`, one transaction per chunk:

1. claim the chunk's customers (`FOR UPDATE SKIP LOCKED` on `dunning_customer`);
2. judge their open promises (rare rows, in Python with the domain rules) and mark the
   broken ones, moving their invoices a step forward, in one statement;
3. escalate collector tasks left open past their grace to the owner's manager (from the
   collector directory, read with the tasks), in one statement;
4. give each customer its policy (pin, else grade; chosen once per tenant + grade + pin) and
   its date and calendar (business day and the tenant's send window and default time zone,
   computed once per tenant + time zone + country group, not per customer), and drop the
   customers paused or outside the calendar;
5. one statement places every open invoice of the chunk at its step and records the steps
   taken, the consolidated reminders (no text yet: delivery renders it from the record) and
   the tasks, and returns the tasks it created and the dues it escalated
   (`store.runs.decide_and_record`);
6. the chunk's events — promises broken, tasks escalated to a manager, tasks created,
   dunning escalated to credit or legal — are built from the `huikuan_events` models and
   written with `outbox.record_many`, one call per tenant: each customer's events numbered
   in that order.

Exactly once across replicas: a replica never waits for another and never sees a customer
another holds; the steps taken (`step_taken`, one row per customer and run listing each
invoice with its cycle and step; a run skips an invoice's step already listed there, with
the customer locked) and the reminders (unique `idempotency_key` = customer + step + the
invoices and their cycles + channel) are written in the chunk's transaction, so a later
run, by any replica, finds them taken.

Exactly once across crashes: delivery (`service.deliver`) happens only after that commit,
from the recorded `pending` rows. A crash before the commit leaves nothing; a crash after it
leaves the reminder pending, delivered later, once, with its idempotency key (the email's
Message-ID, the webhook's Idempotency-Key).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg
from pydantic import BaseModel

from huikuan_contracts.money import Money
from huikuan_events.bulk import Columns
from huikuan_events.reminders import (
    SOURCE,
    DunningEscalated,
    PromiseBroken,
    TaskCreated,
)
from huikuan_events.topics import REMINDERS_EVENTS
from huikuan_runtime import outbox
from huikuan_runtime.db import unit_of_work
from reminders.domain import calendar
from reminders.domain.dunning import (
    Due,
    Promise,
    customer_paused,
    escalation_reason,
    judge_promise,
    task_overdue,
)
from reminders.domain.policy import Policy, choose
from reminders.service.channel_settings import calendar_of
from reminders.service.policies import policies
from reminders.store import runs
from reminders.store import settings as settings_store

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunConfig:
    window: calendar.Window = field(default_factory=calendar.Window)
    default_timezone: str = "Asia/Shanghai"
    batch_size: int = 200
    workers: int = 2  # chunks decided at once, each on its own connection


@dataclass(slots=True)
class RunResult:
    customers: int = 0
    skipped_not_business_time: int = 0
    reminders: int = 0
    tasks: int = 0
    escalations: int = 0
    promises_broken: int = 0
    chunks: int = 0


def idempotency_key(tenant: str, customer_id: str, due: Due, channel: str) -> str:
    """The key the run's statement computes in SQL (kept here for tests and tools)."""
    raw = f"{tenant}|{customer_id}|{due.key}|{channel}"
    return hashlib.sha256(raw.encode()).hexdigest()


def promise_of(r: asyncpg.Record) -> Promise:
    return Promise(
        r["promise_id"],
        r["currency"],
        r["amount_minor"],
        r["promised_date"],
        r["grace_days"],
        r["made_on"],
        tuple(r["invoice_ids"]),
        r["paid_minor"],
        r["status"],
    )


@dataclass(slots=True)
class _Plan:
    """What a run knows across chunks: policies per tenant, each policy's key and steps,
    the policy chosen per (tenant, grade, pin), the calendar per (time zone, country)."""

    as_of: date | None
    at: datetime
    config: RunConfig
    tenant_policies: dict[str, dict[str, Policy]] = field(default_factory=dict)
    keys: dict[tuple[str, str, int], int] = field(default_factory=dict)
    chosen: dict[tuple[str, str | None, str | None], tuple[int, Policy]] = field(
        default_factory=dict
    )
    days: dict[tuple[str, str | None, str | None], tuple[date, bool]] = field(default_factory=dict)
    calendars: dict[str, tuple[calendar.Window, str]] = field(default_factory=dict)
    steps: runs.StepTable = field(default_factory=runs.StepTable)

    async def load_calendars(self, conn: asyncpg.Connection, tenants: set[str]) -> None:
        """Each tenant's send window and default time zone (its own settings over the
        run's), read once per run; not needed with `as_of` (no window then)."""
        missing = sorted(t for t in tenants if t not in self.calendars)
        if self.as_of is not None or not missing:
            return
        rows = {r["tenant"]: r for r in await settings_store.of_tenants(conn, missing)}
        for t in missing:
            window, zone = calendar_of(
                rows.get(t), self.config.window, self.config.default_timezone
            )
            self.calendars[t] = (window, zone)
            if not window.start < window.end:  # its own half over a changed deployment value
                log.warning(
                    "the tenant's send window is empty: nobody of it is contacted until its "
                    "settings or REMINDERS_SEND_WINDOW_* change",
                    extra={
                        "tenant": t,
                        "window_start": f"{window.start:%H:%M}",
                        "window_end": f"{window.end:%H:%M}",
                    },
                )

    async def policy(
        self, conn: asyncpg.Connection, tenant: str, grade: str | None, pinned: str | None
    ) -> tuple[int, Policy]:
        k = (tenant, grade, pinned)
        if k not in self.chosen:
            if tenant not in self.tenant_policies:
                self.tenant_policies[tenant] = await policies(conn, tenant)
            p = choose(self.tenant_policies[tenant], grade, pinned)
            pk = (tenant, p.policy_id, p.version)
            if pk not in self.keys:
                self.keys[pk] = key = len(self.keys) + 1
                self._add_steps(key, p)
            self.chosen[k] = (self.keys[pk], p)
        return self.chosen[k]

    def _add_steps(self, key: int, p: Policy) -> None:
        t = self.steps
        for i, s in enumerate(sorted(p.steps, key=lambda s: s.offset_days), start=1):
            t.pkey.append(key)
            t.idx.append(i)
            t.name.append(s.name)
            t.offset_days.append(s.offset_days)
            # Each channel once: a step naming one twice still sends one reminder.
            t.messages.append(",".join(dict.fromkeys(s.message_channels)))
            t.tasks.append(",".join(dict.fromkeys(s.task_kinds)))
            t.action.append(s.action)
            t.policy_id.append(p.policy_id)
            t.version.append(p.version)

    def day(self, tenant: str, timezone: str | None, country: str | None) -> tuple[date, bool]:
        """The date a customer is judged on and whether it may be contacted then, once per
        (tenant, time zone, country) group: with `as_of`, that date if it is a business day
        of the country; without, the local date of `at` (in the customer's zone, else the
        tenant's default), inside the tenant's send window (`load_calendars` first)."""
        k = ("" if self.as_of is not None else tenant, timezone, country)
        if k not in self.days:
            if self.as_of is not None:
                on = self.as_of
                allowed = calendar.is_business_day(on, country)
            else:
                window, default_zone = self.calendars[tenant]
                on = calendar.local(self.at, timezone, default_zone).date()
                allowed = calendar.may_send(self.at, timezone, country, window, default_zone)
            self.days[k] = (on, allowed)
        return self.days[k]


async def run(
    pool: asyncpg.Pool,
    *,
    tenant: str | None,
    as_of: date | None,
    at: datetime,
    config: RunConfig = RunConfig(),
    progress: Callable[[RunResult], None] | None = None,
) -> RunResult:
    """Decide and record every step due, for one tenant or all.

    With `as_of`, every customer is judged on that date and only its business-day rule
    applies (no send window: the caller chose the date). Without it, each customer is judged
    on the local date of `at` in its time zone and only inside the send window. `progress`
    is called after each chunk's commit with the totals so far."""
    result = RunResult()
    plan = _Plan(as_of, at, config)
    cursor = ("", "")
    finished = False
    claiming = asyncio.Lock()

    async def worker() -> None:
        # Chunks are claimed one after another (the claim is quick) and decided in parallel,
        # each on its own connection and transaction: a run uses `workers` database
        # backends, as `workers` replicas would.
        nonlocal cursor, finished
        while True:
            async with unit_of_work(pool) as conn:
                async with claiming:
                    if finished:
                        return
                    claimed = await runs.claim_customers(conn, tenant, cursor, config.batch_size)
                    if len(claimed) < config.batch_size:
                        finished = True
                    if claimed:
                        cursor = (claimed[-1]["tenant"], claimed[-1]["customer_id"])
                if claimed:
                    await _chunk(conn, plan, claimed, result)
            if claimed:
                result.chunks += 1
                log.debug(
                    "dunning run chunk",
                    extra={
                        "chunk": result.chunks,
                        "customers": result.customers,
                        "reminders": result.reminders,
                        "tasks": result.tasks,
                    },
                )
                if progress is not None:
                    progress(result)

    workers = [asyncio.create_task(worker()) for _ in range(max(config.workers, 1))]
    try:
        await asyncio.gather(*workers)
    except BaseException:  # one failed (or the run was cancelled): stop the others too
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        raise
    return result


async def _chunk(
    conn: asyncpg.Connection, plan: _Plan, claimed: list[asyncpg.Record], result: RunResult
) -> None:
    events = _Events()
    result.customers += len(claimed)
    tenants = [c["tenant"] for c in claimed]
    ids = [c["customer_id"] for c in claimed]
    await plan.load_calendars(conn, set(tenants))
    day = {
        (c["tenant"], c["customer_id"]): plan.day(c["tenant"], c["timezone"], c["country"])
        for c in claimed
    }
    chosen = {
        (c["tenant"], c["customer_id"]): await plan.policy(
            conn, c["tenant"], c["grade"], c["pinned_policy"]
        )
        for c in claimed
    }

    # Promises first: a broken one moves its invoices a step forward, in this same run.
    broken: list[tuple[str, Promise, date]] = []
    for r in await runs.open_promises_of(conn, tenants, ids):
        on = day[(r["tenant"], r["customer_id"])][0]
        p = promise_of(r)
        if judge_promise(p, on) == "broken":
            broken.append((r["tenant"], p, on))
            events.add(
                r["tenant"],
                r["customer_id"],
                PromiseBroken(
                    promise_id=p.promise_id,
                    customer_id=r["customer_id"],
                    currency=p.currency,
                    shortfall_minor=p.amount_minor - p.paid_minor,
                    promised_date=p.promised_date,
                    judged_on=on,
                ),
            )
    if broken:
        await runs.break_promises(
            conn,
            [t for t, _, _ in broken],
            [p.promise_id for _, p, _ in broken],
            [on for _, _, on in broken],
        )
        result.promises_broken += len(broken)

    # A collector task left open past its grace goes to the owner's manager (from the
    # collector directory), once: the task names the manager (`escalated_to`) and so
    # appears on the manager's worklist. No manager recorded: escalated_to stays null.
    latest = plan.as_of or (plan.at + timedelta(days=1)).date()  # no zone is a day ahead
    overdue: list[tuple[Any, date, str | None]] = []
    for t in await runs.open_tasks_due_before(conn, tenants, ids, latest):
        key = (t["tenant"], t["customer_id"])
        on = day[key][0]
        if not task_overdue(t["due_on"], on):
            continue
        manager = t["manager"]
        overdue.append((t["task_id"], on, manager))
        whom = f"escalated to manager {manager}" if manager else "no manager recorded for the owner"
        events.add(
            t["tenant"],
            t["customer_id"],
            DunningEscalated(
                customer_id=t["customer_id"],
                policy_id=chosen[key][1].policy_id,
                step=t["step"],
                action="escalate_to_manager",
                reason=f"{t['kind']} task {t['task_id']} for owner {t['owner'] or '(none)'} due "
                f"{t['due_on']} is still open on {on}; {whom}",
                invoice_ids=list(t["invoice_ids"]),
                as_of=on,
                escalated_to=manager,
            ),
        )
    if overdue:
        await runs.mark_escalated(
            conn,
            [i for i, _, _ in overdue],
            [on for _, on, _ in overdue],
            [m for _, _, m in overdue],
        )
        result.escalations += len(overdue)

    # Who is decided for: not paused by hand, on a business day (inside the window).
    chunk = runs.Chunk(
        first=(claimed[0]["tenant"], claimed[0]["customer_id"]),
        last=(claimed[-1]["tenant"], claimed[-1]["customer_id"]),
    )
    for c in claimed:
        key = (c["tenant"], c["customer_id"])
        on, allowed = day[key]
        if not allowed:
            result.skipped_not_business_time += 1
            continue
        if customer_paused(c["paused_until"], on):
            continue
        chunk.tenant.append(key[0])
        chunk.customer_id.append(key[1])
        chunk.pkey.append(chosen[key][0])
        chunk.on.append(on)
        chunk.email.append(c["email"])
        chunk.phone.append(c["phone"])
        chunk.owner.append(c["owner"])
        chunk.grade.append(c["grade"])
        chunk.language.append(c["language"])
    if chunk.tenant:
        done = await runs.decide_and_record(conn, chunk, plan.steps, plan.at)
        result.reminders += done.reminders
        result.tasks += len(done.tasks.task_id)
        result.escalations += len(done.escalations.step)
        events.decided(done)
    await events.write(conn, plan.at)


def _tenant_ranges(tenants: list[str]) -> list[tuple[str, int, int]]:
    """(tenant, start, stop) of each run of one tenant in `tenants` (grouped by tenant)."""
    ranges: list[tuple[str, int, int]] = []
    start = 0
    for tenant, group in itertools.groupby(tenants):
        stop = start + sum(1 for _ in group)
        ranges.append((tenant, start, stop))
        start = stop
    return ranges


@dataclass(slots=True)
class _Events:
    """A chunk's events per tenant, each customer's in the order they are added: its
    promises broken, its tasks escalated to a manager, then what the statement decided
    (its tasks created, its dues escalated to credit or legal). The decided ones, by the
    hundred thousand in a large run, go as columns (`huikuan_events.bulk.Columns`),
    validated by the same payload models when written, in bulk."""

    per_tenant: dict[str, list[tuple[str, BaseModel] | Columns]] = field(default_factory=dict)

    def add(self, tenant: str, subject: str, payload: BaseModel) -> None:
        self.per_tenant.setdefault(tenant, []).append((subject, payload))

    def decided(self, done: runs.Decided) -> None:
        t = done.tasks
        self._columns(
            TaskCreated,
            t.tenant,
            {
                "task_id": t.task_id,
                "customer_id": t.customer_id,
                "kind": t.kind,
                "owner": t.owner,
                "due_on": t.due_on,
                "invoice_ids": t.invoice_ids,
            },
        )
        e = done.escalations
        self._columns(
            DunningEscalated,
            e.tenant,
            {
                "customer_id": e.customer_id,
                "policy_id": e.policy_id,
                "step": e.step,
                "action": e.action,
                "reason": [
                    escalation_reason(n, Money(minor, currency), days, step)
                    for n, minor, currency, days, step in zip(
                        e.invoice_ids.lengths(),
                        e.residual_minor,
                        e.currency,
                        e.overdue,
                        e.step,
                        strict=True,
                    )
                ],
                "invoice_ids": e.invoice_ids,
                "as_of": e.as_of,
            },
        )

    def _columns(
        self, model: type[BaseModel], tenants: list[str], values: dict[str, Sequence[Any]]
    ) -> None:
        """Events of `model` given as columns (their subjects the `customer_id` column),
        one block per tenant."""
        for tenant, a, b in _tenant_ranges(tenants):
            block = {
                name: column.window(a, b) if isinstance(column, runs.Slices) else column[a:b]
                for name, column in values.items()
            }
            subjects = values["customer_id"][a:b]
            self.per_tenant.setdefault(tenant, []).append(Columns(model, subjects, block))

    async def write(self, conn: asyncpg.Connection, at: datetime) -> None:
        for tenant, events in self.per_tenant.items():
            await outbox.record_many(
                conn, topic=REMINDERS_EVENTS, source=SOURCE, tenant=tenant, events=events, at=at
            )
