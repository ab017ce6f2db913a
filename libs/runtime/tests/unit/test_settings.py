"""Production defaults fail closed: outside HUIKUAN_ENV=development (unset included) the
development placeholders refuse to start, naming the variable to set."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from huikuan_runtime.settings import ServiceSettings


def test_an_unset_environment_is_not_development(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUIKUAN_ENV", raising=False)
    monkeypatch.delenv("HUIKUAN_INTERNAL_TOKEN", raising=False)
    with pytest.raises(ValidationError, match="HUIKUAN_INTERNAL_TOKEN is the development"):
        ServiceSettings()
    monkeypatch.setenv("HUIKUAN_INTERNAL_TOKEN", "a-real-internal-secret")
    assert ServiceSettings().environment == "production"
