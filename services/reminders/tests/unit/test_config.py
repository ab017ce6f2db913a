"""Reminders settings: the deployment's webhook secret is a plain string or a Standard
Webhooks secret (a broken `whsec_` one stops the process at start, without the value in the
error); outside development the placeholder secret and plain SMTP refuse to start."""

from __future__ import annotations

import pydantic
import pytest
from pydantic import ValidationError

from huikuan_runtime.webhook_signing import generate_secret
from reminders.config import Settings


def test_the_deployments_webhook_secret_is_plain_or_standard() -> None:
    for secret in ("a plain deployment secret", generate_secret()):
        assert Settings(webhook_secret=secret).webhook_secret.get_secret_value() == secret
    broken = "whsec_not-base64-at-all"
    with pytest.raises(pydantic.ValidationError, match="standard base64") as refused:
        Settings(webhook_secret=broken)
    assert broken not in str(refused.value)


def test_reminders_refuse_the_placeholder_secret_and_plain_smtp(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HUIKUAN_ENV", "production")
    monkeypatch.setenv("HUIKUAN_INTERNAL_TOKEN", "a-real-internal-secret")
    with pytest.raises(ValidationError, match="REMINDERS_WEBHOOK_SECRET is the development"):
        Settings()
    monkeypatch.setenv("REMINDERS_WEBHOOK_SECRET", "a-real-webhook-secret-of-ours")
    monkeypatch.setenv("REMINDERS_SMTP_HOST", "smtp.example.com")
    with pytest.raises(ValidationError, match="in the clear"):
        Settings()
    monkeypatch.setenv("REMINDERS_SMTP_START_TLS", "true")
    assert Settings().smtp_start_tls
    monkeypatch.setenv("HUIKUAN_ENV", "development")
    monkeypatch.delenv("REMINDERS_WEBHOOK_SECRET")
    monkeypatch.delenv("REMINDERS_SMTP_START_TLS")
    assert Settings().environment == "development"  # placeholders fine here
