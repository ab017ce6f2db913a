"""Reminders settings (`REMINDERS_*`, plus the shared unprefixed infrastructure variables)."""

from __future__ import annotations

from datetime import date, time
from functools import lru_cache
from typing import Self

from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from huikuan_contracts.webhook_secrets import secret_problem
from huikuan_runtime.settings import ServiceSettings

DEV_WEBHOOK_SECRET = "dev-webhook-secret"


class Settings(ServiceSettings):
    # hide_input_in_errors: a value refused at start (a broken secret) is not echoed to the log.
    model_config = SettingsConfigDict(
        env_prefix="REMINDERS_",
        extra="ignore",
        frozen=True,
        hide_input_in_errors=True,
        use_attribute_docstrings=True,
    )

    service_name: str = "reminders"
    port: int = 8003
    db_schema: str = "reminders"

    smtp_host: str | None = None
    """The SMTP server email reminders go through; unset: email is written to the log."""
    smtp_port: int = 25
    """The SMTP server's port."""
    smtp_username: str | None = None
    """SMTP login, when the server asks for one."""
    smtp_password: SecretStr | None = None
    """SMTP password."""
    smtp_start_tls: bool = False
    """Upgrade the SMTP connection with STARTTLS. Off (plain SMTP) refuses to start outside
    `HUIKUAN_ENV=development` when a host is set."""
    mail_from: str = "receivables@huikuan.local"
    """The deployment's sender address (a tenant may set its own)."""
    sender_domains: str | None = None
    """The domains a tenant's own sender (`PUT /dunning/settings` mail_from) may use, comma
    separated (a subdomain of one counts); unset: only the domain of `mail_from`. The
    deployment's SMTP server sends as whoever a tenant names: this stops one tenant from
    writing as a bank or as another tenant."""
    webhook_url: str | None = None
    """Where webhook reminders are POSTed (a tenant may set its own); unset: logged."""
    webhook_secret: SecretStr = SecretStr(DEV_WEBHOOK_SECRET)
    """The secret that signs them (Standard Webhooks: `whsec_<base64>`, or any other string,
    whose UTF-8 bytes are the key); the development placeholder refuses to start outside
    `HUIKUAN_ENV=development`."""
    sms_url: str | None = None
    """The HTTP SMS provider text reminders are POSTed to; unset: SMS is written to the log."""
    sms_token: SecretStr | None = None
    """The bearer token the SMS provider expects."""
    allow_private_addresses: bool = False
    """Off: a tenant's own webhook and SMS URLs must point at public addresses, refused when
    stored and the host's addresses checked before every attempt (the deployment's own URLs
    are trusted). On only for local receivers (tests). Either way, with
    `HUIKUAN_OUTBOUND_ALLOW` set, every URL, the deployment's too, must resolve inside it."""
    delivery_max_attempts: int = 5
    """Attempts at a reminder before it is failed."""
    delivery_backoff_seconds: float = 30.0
    """Attempt n waits backoff * 2^(n-1) seconds after the one before."""
    send_window_start: time = time(9, 0)
    """Reminders go out from this time of the customer's local day..."""
    send_window_end: time = time(18, 0)
    """... until this time."""
    default_timezone: str = "Asia/Shanghai"
    """The zone of a customer that has none."""
    schedule_interval_seconds: float = 60.0
    """`python -m reminders schedule`: seconds between runs."""
    schedule_as_of: date | None = None
    """Judge every customer on this date instead of now (replays, tests); no send window
    then."""
    batch_size: int = 1000
    """Customers decided per transaction in a dunning run."""
    run_workers: int = 2
    """Chunks of a run decided at once, each on its own database connection."""

    @field_validator("webhook_secret")
    @classmethod
    def _signing_secret(cls, secret: SecretStr) -> SecretStr:
        if (problem := secret_problem(secret.get_secret_value())) is not None:
            raise ValueError(problem)
        return secret

    @model_validator(mode="after")
    def _no_development_placeholders(self) -> Self:
        if self.environment == "development":
            return self
        if self.webhook_secret.get_secret_value() == DEV_WEBHOOK_SECRET:
            raise ValueError("REMINDERS_WEBHOOK_SECRET is the development placeholder; set one")
        if self.smtp_host and not self.smtp_start_tls:
            raise ValueError(
                "REMINDERS_SMTP_HOST without REMINDERS_SMTP_START_TLS=true sends mail in the "
                "clear; only HUIKUAN_ENV=development allows it"
            )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()


def sender_domains(settings: Settings) -> tuple[str, ...]:
    """The domains a tenant's sender may use (`REMINDERS_SENDER_DOMAINS`, else the
    deployment sender's own)."""
    listed = settings.sender_domains or settings.mail_from.rpartition("@")[2]
    return tuple(d.strip().lower().strip(".") for d in listed.split(",") if d.strip())
