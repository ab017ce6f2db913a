"""Reminders settings (`REMINDERS_*`, plus the shared unprefixed infrastructure variables)."""

from __future__ import annotations

from datetime import date, time
from functools import lru_cache

from pydantic import SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from huikuan_contracts.webhook_secrets import secret_problem
from huikuan_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    # hide_input_in_errors: a value refused at start (a broken secret) is not echoed to the log.
    model_config = SettingsConfigDict(
        env_prefix="REMINDERS_", extra="ignore", frozen=True, hide_input_in_errors=True
    )

    service_name: str = "reminders"
    port: int = 8003
    db_schema: str = "reminders"

    # Email: without a host, email is written to the log instead (documented for `make run`).
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool = False
    mail_from: str = "receivables@huikuan.local"
    # The domains a tenant's own sender (`PUT /dunning/settings` mail_from) may use, comma
    # separated (a subdomain of one counts); unset: only the domain of mail_from above. The
    # deployment's SMTP server sends as whoever a tenant names, so this is what stops one
    # tenant from writing as a bank or as another tenant.
    sender_domains: str | None = None
    # Webhook channel: where reminders are POSTed and the secret that signs them (Standard
    # Webhooks: `whsec_<base64>`, or any other string, whose UTF-8 bytes are the key).
    webhook_url: str | None = None
    webhook_secret: SecretStr = SecretStr("dev-webhook-secret")
    # SMS through an HTTP provider; without a URL, SMS is written to the log.
    sms_url: str | None = None
    sms_token: SecretStr | None = None
    # A tenant's own webhook and SMS URLs (`PUT /dunning/settings`) must point at public
    # addresses: refused when stored, and the host's addresses checked before every attempt
    # (the deployment's own URLs above are trusted). On only for local receivers (tests).
    # Either way, with HUIKUAN_OUTBOUND_ALLOW set (test stacks) every URL, the deployment's
    # too, must resolve inside the networks it lists.
    allow_private_addresses: bool = False
    # Delivery retries: attempt n waits backoff * 2^(n-1) seconds; after the last, failed.
    delivery_max_attempts: int = 5
    delivery_backoff_seconds: float = 30.0
    # The send window (customer's local time) and the zone when the customer has none.
    send_window_start: time = time(9, 0)
    send_window_end: time = time(18, 0)
    default_timezone: str = "Asia/Shanghai"
    # `python -m reminders schedule`: seconds between runs, customers per transaction.
    schedule_interval_seconds: float = 60.0
    # Judge every customer on this date instead of "now" (replays, tests); no send window then.
    schedule_as_of: date | None = None
    batch_size: int = 1000
    # Chunks of a run decided at once, each on its own database connection.
    run_workers: int = 2

    @field_validator("webhook_secret")
    @classmethod
    def _signing_secret(cls, secret: SecretStr) -> SecretStr:
        if (problem := secret_problem(secret.get_secret_value())) is not None:
            raise ValueError(problem)
        return secret


@lru_cache
def get_settings() -> Settings:
    return Settings()


def sender_domains(settings: Settings) -> tuple[str, ...]:
    """The domains a tenant's sender may use (`REMINDERS_SENDER_DOMAINS`, else the
    deployment sender's own)."""
    listed = settings.sender_domains or settings.mail_from.rpartition("@")[2]
    return tuple(d.strip().lower().strip(".") for d in listed.split(",") if d.strip())
