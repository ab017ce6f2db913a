"""The deployment's webhook secret: a plain string or a Standard Webhooks secret; a broken
`whsec_` one stops the process at start, without the value in the error."""

from __future__ import annotations

import pydantic
import pytest

from huikuan_runtime.webhook_signing import generate_secret
from reminders.config import Settings


def test_the_deployments_webhook_secret_is_plain_or_standard() -> None:
    for secret in ("a plain deployment secret", generate_secret()):
        assert Settings(webhook_secret=secret).webhook_secret.get_secret_value() == secret
    broken = "whsec_not-base64-at-all"
    with pytest.raises(pydantic.ValidationError, match="standard base64") as refused:
        Settings(webhook_secret=broken)
    assert broken not in str(refused.value)
