"""Credit settings (`CREDIT_*`, plus the shared unprefixed infrastructure variables)."""

from __future__ import annotations

from functools import lru_cache

from pydantic_settings import SettingsConfigDict

from huikuan_runtime.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CREDIT_", extra="ignore", frozen=True)

    service_name: str = "credit"
    port: int = 8002
    db_schema: str = "credit"


@lru_cache
def get_settings() -> Settings:
    return Settings()
