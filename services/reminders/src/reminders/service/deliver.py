"""Delivering recorded reminders: one pending reminder at a time, claimed with
`FOR UPDATE SKIP LOCKED` and held while its channel is tried, so replicas never deliver the
same reminder concurrently. Each attempt is logged; a failure is retried after
`backoff * 2^(attempt-1)` seconds; after `max_attempts` (or a permanent error) the reminder
is `failed` and `reminder_failed` is emitted. A reminder whose invoices were all paid,
closed or disputed meanwhile is `cancelled` (payment in full cancels what is pending)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import asyncpg

from huikuan_events.reminders import SOURCE, ReminderFailed, ReminderSent
from huikuan_events.topics import REMINDERS_EVENTS
from huikuan_runtime import outbox
from huikuan_runtime.db import TRANSIENT_ERRORS, unit_of_work
from reminders.channels import Channel, DeliveryError, Message
from reminders.domain.dunning import reminded_invoices
from reminders.render import Renderer, TemplateProblem
from reminders.service.texts import Composer
from reminders.store import book, dunning

log = logging.getLogger(__name__)


class ChannelSource(Protocol):
    """Where each tenant's reminders go (`service.schedule.TenantChannels`)."""

    async def channels(
        self, conn: asyncpg.Connection, tenant: str, updated_at: datetime | None
    ) -> Mapping[str, Channel]:
        """The tenant's channels as of its settings changed at `updated_at` (None: none)."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_seconds: float = 30.0

    def delay(self, attempt: int) -> timedelta:
        return timedelta(seconds=self.backoff_seconds * 2 ** (attempt - 1))


@dataclass(slots=True)
class DeliveryResult:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    cancelled: int = 0


async def deliver_due(
    pool: asyncpg.Pool,
    channels: Mapping[str, Channel] | ChannelSource,
    *,
    now: Callable[[], datetime],
    retry: RetryPolicy = RetryPolicy(),
    renderer: Renderer | None = None,
    tenant: str | None = None,
    limit: int = 10_000,
) -> DeliveryResult:
    """Try every pending reminder (of one tenant, or all) whose next attempt is due now,
    through its tenant's channels (`channels` as a source), or these same ones for all.

    A reminder fails alone: one whose template cannot be rendered is `failed` at once with
    the template's problem as its error; any other unexpected error is recorded as a failed
    attempt of that reminder (retried with backoff like a channel's error) and delivery goes
    on with the next one. Only an outage of the database itself stops the round.
    Without a `renderer` the round uses one of its own."""
    own_renderer = renderer is None
    composer = Composer(renderer or Renderer())
    result = DeliveryResult()
    try:
        for _ in range(limit):
            claimed = await _deliver_next(pool, channels, now, retry, tenant, result, composer)
            if not claimed:
                break
    finally:
        if own_renderer:
            composer.renderer.close()
    return result


async def _deliver_next(
    pool: asyncpg.Pool,
    channels: Mapping[str, Channel] | ChannelSource,
    now: Callable[[], datetime],
    retry: RetryPolicy,
    tenant: str | None,
    result: DeliveryResult,
    composer: Composer,
) -> bool:
    """Claim and try the next due reminder; false when none is due."""
    claimed: asyncpg.Record | None = None
    try:
        async with unit_of_work(pool) as conn:
            claimed = await dunning.claim_pending(conn, now(), tenant)
            if claimed is None:
                return False
            await _one(conn, claimed, channels, now(), retry, result, composer)
    except (asyncpg.PostgresError, *TRANSIENT_ERRORS):
        raise
    except Exception as exc:
        if claimed is None:
            raise
        log.exception(
            "delivering a reminder failed unexpectedly",
            extra={"reminder_id": str(claimed["reminder_id"]), "tenant": claimed["tenant"]},
        )
        async with unit_of_work(pool) as conn:
            if await dunning.relock(conn, claimed["reminder_id"], claimed["attempts"]):
                error = f"internal error while delivering ({type(exc).__name__})"
                outcome = Outcome(error=error, permanent=False, text=None)
                await _record(conn, claimed, outcome, now(), retry, result)
    return True


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to: no error (sent), or an error, permanent or not."""

    error: str | None
    permanent: bool
    text: tuple[str, str] | None


async def _one(
    conn: asyncpg.Connection,
    r: asyncpg.Record,
    channels: Mapping[str, Channel] | ChannelSource,
    at: datetime,
    retry: RetryPolicy,
    result: DeliveryResult,
    composer: Composer,
) -> None:
    invoice_ids = [i["invoice_id"] for i in r["invoices"]]
    still = [
        x
        for x in await book.residuals(conn, r["tenant"], invoice_ids)
        if x["residual_minor"] > 0 and not x["closed"] and not x["disputed"]
    ]
    if not still:
        await dunning.finish_reminder(
            conn,
            r["reminder_id"],
            status="cancelled",
            attempts=r["attempts"],
            next_attempt_at=r["next_attempt_at"],
            error="paid, closed or disputed",
            sent_at=None,
        )
        result.cancelled += 1
        return
    # The text is rendered once, before the first attempt, and kept: every attempt sends
    # the same words, and what was sent is what is stored.
    try:
        subject, body = await composer.text(conn, r)
    except TemplateProblem as exc:
        outcome = Outcome(error=f"template {exc}", permanent=True, text=None)
        await _record(conn, r, outcome, at, retry, result)
        return
    if not isinstance(channels, Mapping):
        channels = await channels.channels(conn, r["tenant"], r["settings_updated_at"])
    channel = channels.get(r["channel"])
    error: str | None = None
    permanent = False
    try:
        if channel is None:
            raise DeliveryError(f"no {r['channel']} channel is configured", permanent=True)
        await channel.deliver(
            Message(
                reminder_id=str(r["reminder_id"]),
                idempotency_key=r["idempotency_key"],
                tenant=r["tenant"],
                customer_id=r["customer_id"],
                channel=r["channel"],
                recipient=r["recipient"],
                language=r["language"],
                subject=subject,
                body=body,
                data={
                    "step": r["step"],
                    "policy_id": r["policy_id"],
                    "currency": r["currency"],
                    "residual_minor": r["residual_minor"],
                    "invoices": reminded_invoices(r["invoices"], r["currency"]),
                },
            )
        )
    except DeliveryError as exc:
        error, permanent = str(exc), exc.permanent
    await _record(conn, r, Outcome(error, permanent, (subject, body)), at, retry, result)


async def _record(
    conn: asyncpg.Connection,
    r: asyncpg.Record,
    outcome: Outcome,
    at: datetime,
    retry: RetryPolicy,
    result: DeliveryResult,
) -> None:
    """Log the attempt and move the reminder on: sent, failed (with `reminder_failed`),
    or pending again after the backoff."""
    attempt = r["attempts"] + 1
    error = outcome.error
    await dunning.log_attempt(conn, r["reminder_id"], attempt, at, error)
    if error is None:
        await dunning.finish_reminder(
            conn,
            r["reminder_id"],
            status="sent",
            attempts=attempt,
            next_attempt_at=at,
            error=None,
            sent_at=at,
            text=outcome.text,
        )
        await outbox.record(
            conn,
            topic=REMINDERS_EVENTS,
            source=SOURCE,
            tenant=r["tenant"],
            subject=r["customer_id"],
            at=at,
            payload=ReminderSent(
                reminder_id=str(r["reminder_id"]),
                customer_id=r["customer_id"],
                policy_id=r["policy_id"],
                step=r["step"],
                channel=r["channel"],
                invoice_ids=[i["invoice_id"] for i in r["invoices"]],
                currency=r["currency"],
                residual_minor=r["residual_minor"],
                sent_at=at,
            ),
        )
        result.sent += 1
    elif outcome.permanent or attempt >= retry.max_attempts:
        await dunning.finish_reminder(
            conn,
            r["reminder_id"],
            status="failed",
            attempts=attempt,
            next_attempt_at=at,
            error=error,
            sent_at=None,
            text=outcome.text,
        )
        await outbox.record(
            conn,
            topic=REMINDERS_EVENTS,
            source=SOURCE,
            tenant=r["tenant"],
            subject=r["customer_id"],
            at=at,
            payload=ReminderFailed(
                reminder_id=str(r["reminder_id"]),
                customer_id=r["customer_id"],
                channel=r["channel"],
                attempts=attempt,
                error=error,
            ),
        )
        result.failed += 1
    else:
        await dunning.finish_reminder(
            conn,
            r["reminder_id"],
            status="pending",
            attempts=attempt,
            next_attempt_at=at + retry.delay(attempt),
            error=error,
            sent_at=None,
            text=outcome.text,
        )
        result.retrying += 1
