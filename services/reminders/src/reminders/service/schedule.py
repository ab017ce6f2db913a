"""`python -m reminders schedule`: every interval, run dunning for every tenant as of each
customer's local date (inside the tenant's send window only), then deliver what is pending
through each tenant's channels. Any
number of replicas may run: claims use FOR UPDATE SKIP LOCKED (see `service.run`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import date, datetime
from functools import partial

import asyncpg

from huikuan_runtime.addresses import resolution_problem
from huikuan_runtime.clock import Clock, SystemClock
from huikuan_runtime.service import run_every
from reminders.channels import Channel, Guard
from reminders.channels.email import EmailChannel
from reminders.channels.recording import LetterChannel, LoggingChannel
from reminders.channels.sms import SmsChannel
from reminders.channels.webhook import WebhookChannel
from reminders.config import Settings
from reminders.domain.calendar import Window
from reminders.render import Renderer
from reminders.service.channel_settings import TenantSettings, effective
from reminders.service.deliver import ChannelSource, DeliveryResult, RetryPolicy, deliver_due
from reminders.service.run import RunConfig, RunResult, run
from reminders.store import settings as settings_store

log = logging.getLogger(__name__)


def build_channels(settings: Settings, tenant: TenantSettings | None = None) -> dict[str, Channel]:
    """The channels from settings (a tenant's own over the process-wide ones when given);
    email, SMS and webhook without a configured transport are written to the log (so
    `make run` works without an SMTP server)."""
    own = tenant or effective(settings, None)
    channels: dict[str, Channel] = {"letter": LetterChannel()}
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        channels["email"] = EmailChannel(
            settings.smtp_host,
            settings.smtp_port,
            own.mail_from,
            username=settings.smtp_username,
            password=password,
            start_tls=settings.smtp_start_tls,
        )
    else:
        channels["email"] = LoggingChannel("email")
    if own.sms_url:
        channels["sms"] = SmsChannel(
            own.sms_url, own.sms_token, guard=_guard(settings, tenants=own.sms_own)
        )
    else:
        channels["sms"] = LoggingChannel("sms")
    if own.webhook_url:
        channels["webhook"] = WebhookChannel(
            own.webhook_url,
            own.webhook_secret,
            clock=time.time,
            guard=_guard(settings, tenants=own.webhook_own),
        )
    else:
        channels["webhook"] = LoggingChannel("webhook")
    return channels


def _guard(settings: Settings, *, tenants: bool) -> Guard:
    """What a URL is checked against before every attempt: a tenant's own, public addresses
    only (unless private ones are allowed); the deployment's own, nothing; and in a
    confined deployment (`HUIKUAN_OUTBOUND_ALLOW`, every test stack) either, the allowed
    networks only."""
    private = settings.allow_private_addresses or not tenants
    return partial(resolution_problem, private=private, only=settings.outbound_allow)


class TenantChannels:
    """Each tenant's channels: its own settings over the process-wide ones, built once and
    read and built again only when the tenant's settings changed since (the claim of each
    reminder says when they last did)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[str, tuple[datetime | None, dict[str, Channel]]] = {}

    async def channels(
        self, conn: asyncpg.Connection, tenant: str, updated_at: datetime | None
    ) -> Mapping[str, Channel]:
        built = self._built.get(tenant)
        if built is None or built[0] != updated_at:
            row = await settings_store.get(conn, tenant)
            stamp = row["updated_at"] if row else None
            built = (stamp, build_channels(self.settings, effective(self.settings, row)))
            self._built[tenant] = built
        return built[1]


def run_config(settings: Settings) -> RunConfig:
    return RunConfig(
        window=Window(settings.send_window_start, settings.send_window_end),
        default_timezone=settings.default_timezone,
        batch_size=settings.batch_size,
        workers=settings.run_workers,
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.delivery_max_attempts, settings.delivery_backoff_seconds)


async def run_and_deliver(
    pool: asyncpg.Pool,
    settings: Settings,
    channels: ChannelSource,
    renderer: Renderer,
    clock: Clock,
    *,
    tenant: str | None,
    as_of: date | None,
) -> tuple[RunResult, DeliveryResult]:
    """Decide and record what is due (for one tenant, or all) as of the date (None: each
    customer's local date, in the send window), then deliver what is pending."""
    decided = await run(
        pool, tenant=tenant, as_of=as_of, at=clock.now(), config=run_config(settings)
    )
    delivered = await deliver_due(
        pool,
        channels,
        now=clock.now,
        retry=retry_policy(settings),
        renderer=renderer,
        tenant=tenant,
    )
    return decided, delivered


async def run_periodically(settings: Settings, *, clock: Clock | None = None) -> None:
    """`python -m reminders schedule`: decide and deliver now, then every interval."""
    clock = clock or SystemClock()
    channels = TenantChannels(settings)
    renderer = Renderer()

    async def once(pool: asyncpg.Pool) -> None:
        decided, delivered = await run_and_deliver(
            pool,
            settings,
            channels,
            renderer,
            clock,
            tenant=None,
            as_of=settings.schedule_as_of,
        )
        log.info(
            "dunning run",
            extra={
                "customers": decided.customers,
                "reminders": decided.reminders,
                "tasks": decided.tasks,
                "sent": delivered.sent,
                "failed": delivered.failed,
            },
        )

    try:
        await run_every(settings, settings.schedule_interval_seconds, once, "dunning run")
    finally:
        renderer.close()
