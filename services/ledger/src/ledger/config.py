"""Ledger settings (`LEDGER_*`, plus the shared unprefixed infrastructure variables)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from huikuan_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="LEDGER_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    service_name: str = "ledger"
    port: int = 8001
    db_schema: str = "ledger"


@lru_cache
def get_settings() -> Settings:
    return Settings()
