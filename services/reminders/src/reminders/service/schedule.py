"""`python -m reminders schedule`: every interval, run dunning for every tenant as of each
customer's local date (inside the send window only), then deliver what is pending. Any
number of replicas may run: claims use FOR UPDATE SKIP LOCKED (see `service.run`)."""

from __future__ import annotations

import logging
import time

import asyncpg

from huikuan_runtime.clock import Clock, SystemClock
from huikuan_runtime.service import run_every
from reminders.channels import Channel
from reminders.channels.email import EmailChannel
from reminders.channels.recording import LetterChannel, LoggingChannel
from reminders.channels.sms import SmsChannel
from reminders.channels.webhook import WebhookChannel
from reminders.config import Settings
from reminders.domain.calendar import Window
from reminders.service.deliver import RetryPolicy, deliver_due
from reminders.service.run import RunConfig, run

log = logging.getLogger(__name__)


def build_channels(settings: Settings) -> dict[str, Channel]:
    """The channels from settings; email, SMS and webhook without a configured transport
    are written to the log (so `make run` works without an SMTP server)."""
    channels: dict[str, Channel] = {"letter": LetterChannel()}
    if settings.smtp_host:
        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        channels["email"] = EmailChannel(
            settings.smtp_host, settings.smtp_port, settings.mail_from,
            username=settings.smtp_username, password=password,
            start_tls=settings.smtp_start_tls,
        )  # fmt: skip
    else:
        channels["email"] = LoggingChannel("email")
    if settings.sms_url:
        token = settings.sms_token.get_secret_value() if settings.sms_token else None
        channels["sms"] = SmsChannel(settings.sms_url, token)
    else:
        channels["sms"] = LoggingChannel("sms")
    if settings.webhook_url:
        channels["webhook"] = WebhookChannel(
            settings.webhook_url, settings.webhook_secret.get_secret_value(), clock=time.time
        )
    else:
        channels["webhook"] = LoggingChannel("webhook")
    return channels


def run_config(settings: Settings) -> RunConfig:
    return RunConfig(
        window=Window(settings.send_window_start, settings.send_window_end),
        default_timezone=settings.default_timezone,
        batch_size=settings.batch_size,
        workers=settings.run_workers,
    )


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy(settings.delivery_max_attempts, settings.delivery_backoff_seconds)


async def run_periodically(settings: Settings, *, clock: Clock | None = None) -> None:
    """`python -m reminders schedule`: decide and deliver now, then every interval."""
    clock = clock or SystemClock()
    channels = build_channels(settings)

    async def once(pool: asyncpg.Pool) -> None:
        decided = await run(
            pool, tenant=None, as_of=settings.schedule_as_of, at=clock.now(),
            config=run_config(settings),
        )  # fmt: skip
        delivered = await deliver_due(pool, channels, now=clock.now, retry=retry_policy(settings))
        log.info("dunning run", extra={
            "customers": decided.customers, "reminders": decided.reminders,
            "tasks": decided.tasks, "sent": delivered.sent, "failed": delivered.failed,
        })  # fmt: skip

    await run_every(settings, settings.schedule_interval_seconds, once, "dunning run")
