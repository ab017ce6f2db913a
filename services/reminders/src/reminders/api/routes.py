"""Reminders' internal HTTP API: policies, customers' dunning state, pauses, promises,
reminders, the worklist and tasks, the collector directory, the tenant's channel settings,
and on-demand runs."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query, Request, Response

from huikuan_contracts import reminders as s
from huikuan_contracts.money import Money
from huikuan_runtime import pagination
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.deps import Pool
from huikuan_runtime.http import IdPath, TenantId
from huikuan_runtime.problems import NotFound
from reminders.api.deps import Channels, Texts
from reminders.config import Settings
from reminders.domain.dunning import (
    OpenInvoice,
    current_step,
    next_action,
    paused_invoices,
    priority,
)
from reminders.domain.policy import Policy, Step, choose
from reminders.render import TemplateProblem
from reminders.service import channel_settings
from reminders.service import collectors as collector_service
from reminders.service import policies as policy_service
from reminders.service import promises as promise_service
from reminders.service import tasks as task_service
from reminders.service.channel_settings import effective
from reminders.service.deliver import deliver_due
from reminders.service.run import promise_of, run
from reminders.service.schedule import retry_policy, run_config
from reminders.service.texts import Composer
from reminders.store import book, collectors, dunning
from reminders.store import settings as settings_store

router = APIRouter(tags=["dunning"])


def _now() -> datetime:
    return datetime.now(UTC)


def _policy_public(p: Policy) -> s.PolicyPublic:
    return s.PolicyPublic(
        policy_id=p.policy_id,
        version=p.version,
        grades=list(p.grades),
        steps=[s.StepPublic.model_validate(policy_service.step_to_json(x)) for x in p.steps],
    )


# --- policies -----------------------------------------------------------------------------


@router.get("/dunning/policies", response_model=s.PolicyList)
async def list_policies(tenant: TenantId, pool: Pool) -> s.PolicyList:
    async with pool.acquire() as conn:
        found = await policy_service.policies(conn, tenant)
    return s.PolicyList(items=[_policy_public(p) for _, p in sorted(found.items())])


@router.get("/dunning/policies/{policy_id}", response_model=s.PolicyPublic)
async def get_policy(policy_id: IdPath, tenant: TenantId, pool: Pool) -> s.PolicyPublic:
    async with pool.acquire() as conn:
        found = await policy_service.policies(conn, tenant)
    if policy_id not in found:
        raise NotFound(f"no dunning policy {policy_id!r}")
    return _policy_public(found[policy_id])


@router.put("/dunning/policies/{policy_id}", response_model=s.PolicyPublic)
async def put_policy(
    policy_id: IdPath, body: s.PolicyPut, tenant: TenantId, pool: Pool, renderer: Texts
) -> s.PolicyPublic:
    """A new version of the policy. A step's own templates are tried on sample data first:
    one that cannot be rendered is a 422 naming the step, language, part and problem."""
    steps = [
        Step(x.name, x.offset_days, tuple(x.channels), x.template, x.action, x.templates or {})
        for x in body.steps
    ]
    saved = await policy_service.put(pool, renderer, tenant, policy_id, body.grades, steps, _now())
    return _policy_public(saved)


# --- a customer's dunning -----------------------------------------------------------------


@router.get("/customers/{customer_id}/dunning", response_model=s.DunningPublic)
async def get_dunning(
    customer_id: IdPath,
    tenant: TenantId,
    pool: Pool,
    query: Annotated[s.DunningQuery, Query()],
) -> s.DunningPublic:
    on = query.as_of or _now().date()
    async with pool.acquire() as conn:
        who = await book.contact(conn, tenant, customer_id)
        state = await book.customer(conn, tenant, customer_id)
        rows = await book.open_invoices(conn, tenant, customer_id)
        taken = await dunning.taken_steps(conn, tenant, customer_id)
        open_promises = [
            promise_of(r) for r in await dunning.promises(conn, tenant, customer_id, open_only=True)
        ]
        found = await policy_service.policies(conn, tenant)
    if who is None and state is None and not rows:
        raise NotFound(f"reminders has seen no events for customer {customer_id!r}")
    grade = state["grade"] if state else None
    pinned = state["pinned_policy"] if state else None
    policy = choose(found, grade, pinned)
    held = paused_invoices(open_promises, on)
    invoices = [
        OpenInvoice(
            r["invoice_id"],
            r["number"],
            r["due_date"],
            r["currency"],
            r["residual_minor"],
            r["disputed"],
            r["cycle"],
            r["escalate"],
        )
        for r in rows
    ]
    best: tuple[date, str] | None = None
    best_ids: list[str] = []
    for inv in invoices:
        if inv.disputed or inv.invoice_id in held:
            continue
        nxt = next_action(policy, inv, taken, on)
        if nxt is None:
            continue
        key = (nxt[1], nxt[0].name)
        if best is None or key < best:
            best, best_ids = key, [inv.invoice_id]
        elif key == best:
            best_ids.append(inv.invoice_id)
    chased = []
    for inv in invoices:
        step = current_step(policy, inv, on)
        chased.append(
            s.ChasedInvoice(
                invoice_id=inv.invoice_id,
                number=inv.number,
                due_date=inv.due_date,
                currency=inv.currency,
                residual=Money(inv.residual_minor, inv.currency).format(),
                step=step.name if step else None,
                disputed=inv.disputed,
                promised=inv.invoice_id in held,
            )
        )
    return s.DunningPublic(
        customer_id=customer_id,
        open_invoice_count=len(rows),
        next_due_date=rows[0]["due_date"] if rows else None,
        invoices=chased,
        as_of=on,
        grade=grade,
        policy_id=policy.policy_id,
        policy_version=policy.version,
        pinned_policy=pinned,
        paused_until=state["paused_until"] if state else None,
        pause_reason=state["pause_reason"] if state else None,
        next_action=(
            s.NextAction(step=best[1], on=best[0], invoice_ids=best_ids) if best else None
        ),
    )


@router.put("/customers/{customer_id}/dunning/policy", response_model=s.DunningPublic)
async def pin_policy(
    customer_id: IdPath, body: s.PinPut, tenant: TenantId, pool: Pool
) -> s.DunningPublic:
    async with unit_of_work(pool) as conn:
        if body.policy_id is not None and body.policy_id not in await policy_service.policies(
            conn, tenant
        ):
            raise NotFound(f"no dunning policy {body.policy_id!r}")
        await book.set_pin(conn, tenant, customer_id, body.policy_id)
    return await get_dunning(customer_id, tenant, pool, s.DunningQuery())


@router.post("/customers/{customer_id}/dunning/pause", response_model=s.PausePublic)
async def pause(
    customer_id: IdPath, body: s.PauseCreate, tenant: TenantId, pool: Pool
) -> s.PausePublic:
    async with unit_of_work(pool) as conn:
        await book.set_pause(conn, tenant, customer_id, body.until, body.reason)
    return s.PausePublic(customer_id=customer_id, paused_until=body.until, pause_reason=body.reason)


@router.delete("/customers/{customer_id}/dunning/pause", response_model=s.PausePublic)
async def resume(customer_id: IdPath, tenant: TenantId, pool: Pool) -> s.PausePublic:
    async with unit_of_work(pool) as conn:
        await book.set_pause(conn, tenant, customer_id, None, None)
    return s.PausePublic(customer_id=customer_id, paused_until=None, pause_reason=None)


# --- promises -----------------------------------------------------------------------------


def _promise_public(r: asyncpg.Record) -> s.PromisePublic:
    return s.PromisePublic(
        promise_id=r["promise_id"],
        customer_id=r["customer_id"],
        currency=r["currency"],
        amount=Money(r["amount_minor"], r["currency"]).format(),
        paid=Money(r["paid_minor"], r["currency"]).format(),
        promised_date=r["promised_date"],
        grace_days=r["grace_days"],
        made_on=r["made_on"],
        invoice_ids=list(r["invoice_ids"]),
        taken_by=r["taken_by"],
        status=r["status"],
        judged_on=r["judged_on"],
    )


@router.post("/customers/{customer_id}/promises", response_model=s.PromisePublic, status_code=201)
async def make_promise(
    customer_id: IdPath, body: s.PromiseCreate, tenant: TenantId, pool: Pool, response: Response
) -> s.PromisePublic:
    at = _now()
    async with unit_of_work(pool) as conn:
        row, created = await promise_service.make(
            conn,
            tenant,
            customer_id,
            promise_id=body.promise_id,
            currency=body.currency,
            amount_minor=body.money().amount_minor,
            promised_date=body.promised_date,
            invoice_ids=body.invoice_ids,
            taken_by=body.taken_by,
            made_on=body.made_on or at.date(),
            grace_days=body.grace_days,
            at=at,
        )
    if not created:
        response.status_code = 200
    return _promise_public(row)


@router.get("/customers/{customer_id}/promises", response_model=s.PromiseList)
async def list_promises(customer_id: IdPath, tenant: TenantId, pool: Pool) -> s.PromiseList:
    async with pool.acquire() as conn:
        rows = await dunning.promises(conn, tenant, customer_id)
    return s.PromiseList(items=[_promise_public(r) for r in rows])


# --- reminders ----------------------------------------------------------------------------


@router.get("/reminders", response_model=s.ReminderPage)
async def list_reminders(
    query: Annotated[s.ReminderQuery, Query()], tenant: TenantId, pool: Pool, renderer: Texts
) -> s.ReminderPage:
    """Oldest first, in pages: `next_cursor` continues after the last item returned
    (keyset on created_at + reminder_id, so reminders recorded meanwhile never shift a page)."""
    after = _reminder_cursor(query.cursor)
    async with pool.acquire() as conn:
        rows = await dunning.list_reminders(
            conn, tenant, query.customer_id, query.status, after, query.limit + 1
        )
        more = len(rows) > query.limit
        rows = rows[: query.limit]
        attempts = await dunning.attempts_of(conn, [r["reminder_id"] for r in rows])
        # Not yet delivered: no text stored yet; show what delivery will render.
        composer = Composer(renderer)
        texts = [await _preview(composer, conn, r) for r in rows]
    by_reminder: dict[UUID, list[s.DeliveryAttempt]] = {}
    for a in attempts:
        by_reminder.setdefault(a["reminder_id"], []).append(
            s.DeliveryAttempt(attempt=a["attempt"], at=a["at"], ok=a["ok"], error=a["error"])
        )
    items = []
    for r, (subject, body, problem) in zip(rows, texts, strict=True):
        fields: dict[str, Any] = {
            k: r[k]
            for k in (
                "customer_id",
                "policy_id",
                "policy_version",
                "step",
                "channel",
                "recipient",
                "language",
                "invoices",
                "currency",
                "as_of",
                "status",
                "attempts",
                "last_error",
                "created_at",
                "sent_at",
            )
        }
        items.append(
            s.ReminderPublic(
                reminder_id=str(r["reminder_id"]),
                subject=subject,
                body=body,
                text_problem=problem,
                residual=Money(r["residual_minor"], r["currency"]).format(),
                deliveries=by_reminder.get(r["reminder_id"], []),
                **fields,
            )
        )
    last = rows[-1] if rows and more else None
    cursor = (
        pagination.encode([last["created_at"].isoformat(), str(last["reminder_id"])])
        if last
        else None
    )
    return s.ReminderPage(items=items, next_cursor=cursor)


async def _preview(
    composer: Composer, conn: asyncpg.Connection, r: asyncpg.Record
) -> tuple[str, str, str | None]:
    """(subject, body, problem): the text, or empty text and why it cannot be rendered."""
    try:
        return (*await composer.text(conn, r), None)
    except TemplateProblem as exc:
        return "", "", f"template {exc}"


def _reminder_cursor(cursor: str | None) -> tuple[datetime, UUID] | None:
    key = pagination.decode(cursor, 2)
    if key is None:
        return None
    try:
        return datetime.fromisoformat(str(key[0])), UUID(str(key[1]))
    except ValueError:
        raise pagination.invalid_cursor() from None


# --- worklist and tasks -------------------------------------------------------------------


def _task_public(r: asyncpg.Record, on: date) -> s.TaskPublic:
    return s.TaskPublic(
        task_id=str(r["task_id"]),
        customer_id=r["customer_id"],
        kind=r["kind"],
        owner=r["owner"],
        step=r["step"],
        due_on=r["due_on"],
        invoice_ids=list(r["invoice_ids"]),
        currency=r["currency"],
        residual=Money(r["residual_minor"], r["currency"]).format(),
        grade=r["grade"],
        priority=priority(r["residual_minor"], r["grade"], (on - r["due_on"]).days),
        status=r["status"],
        outcome=r["outcome"],
        note=r["note"],
        completed_on=r["completed_on"],
        escalated=r["escalated_on"] is not None,
        escalated_on=r["escalated_on"],
        escalated_to=r["escalated_to"],
    )


@router.get("/worklist", response_model=s.Worklist)
async def worklist(
    query: Annotated[s.WorklistQuery, Query()], tenant: TenantId, pool: Pool
) -> s.Worklist:
    """Open tasks due by the date, highest priority first (residual x grade risk x age):
    the owner's own and those escalated to the owner as manager (`escalated_to`)."""
    on = query.date or _now().date()
    async with pool.acquire() as conn:
        rows = await dunning.worklist(conn, tenant, query.owner, on)
    items = sorted((_task_public(r, on) for r in rows), key=lambda t: (-t.priority, t.task_id))
    return s.Worklist(owner=query.owner, date=on, items=items)


@router.post("/tasks/{task_id}/complete", response_model=s.TaskPublic)
async def complete_task(
    task_id: UUID, body: s.TaskComplete, tenant: TenantId, pool: Pool
) -> s.TaskPublic:
    at = _now()
    on = body.completed_on or at.date()
    async with unit_of_work(pool) as conn:
        row = await task_service.complete(conn, tenant, task_id, body.outcome, body.note, on, at)
    return _task_public(row, on)


# --- collectors ---------------------------------------------------------------------------


def _collector_public(r: asyncpg.Record) -> s.CollectorPublic:
    return s.CollectorPublic(
        collector_id=r["collector_id"],
        name=r["name"],
        email=r["email"],
        manager=r["manager"],
        updated_at=r["updated_at"],
    )


@router.put("/collectors/{owner}", response_model=s.CollectorPublic)
async def put_collector(
    owner: IdPath, body: s.CollectorPut, tenant: TenantId, pool: Pool, response: Response
) -> s.CollectorPublic:
    """Create (201) or replace (200) a collector: name, email and manager."""
    async with unit_of_work(pool) as conn:
        row, created = await collector_service.save(
            conn, tenant, owner, body.name, body.email, body.manager, _now()
        )
    response.status_code = 201 if created else 200
    return _collector_public(row)


@router.get("/collectors/{owner}", response_model=s.CollectorPublic)
async def get_collector(owner: IdPath, tenant: TenantId, pool: Pool) -> s.CollectorPublic:
    async with pool.acquire() as conn:
        row = await collectors.get(conn, tenant, owner)
    if row is None:
        raise NotFound(f"no collector {owner!r}")
    return _collector_public(row)


@router.get("/collectors", response_model=s.CollectorPage)
async def list_collectors(
    query: Annotated[s.CollectorQuery, Query()], tenant: TenantId, pool: Pool
) -> s.CollectorPage:
    """Collectors in id order, in pages (`next_cursor`; keyset on the collector id)."""
    key = pagination.decode(query.cursor, 1)
    if key is not None and not isinstance(key[0], str):
        raise pagination.invalid_cursor()
    async with pool.acquire() as conn:
        rows = await collectors.page(
            conn, tenant, key[0] if key else None, query.manager, query.limit + 1
        )
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    cursor = pagination.encode([rows[-1]["collector_id"]]) if rows and more else None
    return s.CollectorPage(items=[_collector_public(r) for r in rows], next_cursor=cursor)


# --- a tenant's channel settings ----------------------------------------------------------


def _settings_public(row: asyncpg.Record | None, settings: Settings) -> s.ChannelSettingsPublic:
    own = effective(settings, row)
    r: dict[str, Any] = dict(row) if row else {}

    def transport(is_own: bool, url: str | None) -> s.Transport:
        return "tenant" if is_own else "deployment" if url else "log"

    return s.ChannelSettingsPublic(
        mail_from=r.get("mail_from"),
        webhook_url=r.get("webhook_url"),
        webhook_secret_set=bool(r.get("webhook_secret")),
        sms_url=r.get("sms_url"),
        sms_token_set=bool(r.get("sms_token")),
        send_window_start=s.hhmm(r.get("send_window_start")),
        send_window_end=s.hhmm(r.get("send_window_end")),
        default_timezone=r.get("default_timezone"),
        updated_at=r.get("updated_at"),
        effective=s.EffectiveChannelSettings(
            mail_from=own.mail_from,
            webhook=transport(own.webhook_own, own.webhook_url),
            sms=transport(own.sms_own, own.sms_url),
            send_window_start=s.hhmm(own.window.start),
            send_window_end=s.hhmm(own.window.end),
            default_timezone=own.default_timezone,
        ),
    )


@router.get("/dunning/settings", response_model=s.ChannelSettingsPublic)
async def get_settings(tenant: TenantId, pool: Pool, request: Request) -> s.ChannelSettingsPublic:
    async with pool.acquire() as conn:
        row = await settings_store.get(conn, tenant)
    return _settings_public(row, request.app.state.settings)


@router.put("/dunning/settings", response_model=s.ChannelSettingsPublic)
async def put_settings(
    body: s.ChannelSettingsPut, tenant: TenantId, pool: Pool, request: Request
) -> s.ChannelSettingsPublic:
    """Change the fields sent (null clears one); the secrets are write-only."""
    settings: Settings = request.app.state.settings
    changes: dict[str, Any] = {f: getattr(body, f) for f in body.model_fields_set}
    for f in ("send_window_start", "send_window_end"):
        if f in changes:
            changes[f] = s.parse_hhmm(changes[f])
    async with unit_of_work(pool) as conn:
        row = await channel_settings.save(conn, tenant, changes, settings, _now())
    return _settings_public(row, settings)


# --- runs ---------------------------------------------------------------------------------


@router.post("/dunning/runs", response_model=s.RunPublic)
async def dunning_run(
    body: s.RunCreate,
    tenant: TenantId,
    pool: Pool,
    request: Request,
    renderer: Texts,
    channels: Channels,
) -> s.RunPublic:
    """Decide and record what is due for the tenant as of the date, then deliver what is
    pending. Safe to call concurrently and repeatedly: nothing is sent twice."""
    settings = request.app.state.settings
    decided = await run(
        pool, tenant=tenant, as_of=body.as_of, at=_now(), config=run_config(settings)
    )
    delivered = await deliver_due(
        pool, channels, now=_now, renderer=renderer, retry=retry_policy(settings), tenant=tenant
    )
    return s.RunPublic(
        as_of=body.as_of,
        customers=decided.customers,
        skipped_not_business_day=decided.skipped_not_business_time,
        reminders_recorded=decided.reminders,
        tasks_created=decided.tasks,
        escalations=decided.escalations,
        promises_broken=decided.promises_broken,
        sent=delivered.sent,
        retrying=delivered.retrying,
        failed=delivered.failed,
        cancelled=delivered.cancelled,
    )
