"""Typed settings read once from the environment and passed in; never read at import time.

Shared infrastructure variables are unprefixed (`DATABASE_URL`, `KAFKA_BOOTSTRAP_SERVERS`,
`HUIKUAN_INTERNAL_TOKEN`, `HUIKUAN_ENV`, `HUIKUAN_OUTBOUND_ALLOW`, `LOG_LEVEL`); a service's
own variables carry its prefix (`LEDGER_PORT`, `CREDIT_DB_SCHEMA`, ...), set by the
subclass's `env_prefix`.
"""

from __future__ import annotations

from typing import Annotated, Any, Self

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from huikuan_runtime.addresses import Network, networks

DEV_INTERNAL_TOKEN = "dev-internal-token"


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: str = Field("development", validation_alias=AliasChoices("HUIKUAN_ENV"))
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:54329/huikuan",
        validation_alias=AliasChoices("DATABASE_URL"),
    )
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:19092", validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS")
    )
    internal_token: SecretStr = Field(
        SecretStr(DEV_INTERNAL_TOKEN),
        validation_alias=AliasChoices("HUIKUAN_INTERNAL_TOKEN"),
        description="credential the gateway presents to the services",
    )
    log_level: str = Field("INFO", validation_alias=AliasChoices("LOG_LEVEL"))
    # Empty: outbound connections to URLs someone chose (webhooks, a tenant's channels) are
    # guarded as each service says (public addresses only, unless private ones are allowed).
    # Set, e.g. HUIKUAN_OUTBOUND_ALLOW=127.0.0.0/8,::1/128 (every test stack): they may go
    # only to addresses inside these networks, checked before each attempt
    # (huikuan_runtime.addresses.resolution_problem).
    outbound_allow: Annotated[tuple[Network, ...], NoDecode] = Field(
        (), validation_alias=AliasChoices("HUIKUAN_OUTBOUND_ALLOW", "outbound_allow")
    )

    service_name: str = "service"
    host: str = "127.0.0.1"
    port: int = 8000
    db_schema: str = "public"
    db_pool_min: int = 1
    db_pool_max: int = 10
    relay_batch_size: int = 500
    relay_poll_seconds: float = 1.0
    consumer_max_retries: int = 3
    consumer_retry_backoff_seconds: float = 0.2
    group_suffix: str = ""

    @field_validator("outbound_allow", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        return networks(value) if isinstance(value, str) else value

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Self:
        if (
            self.environment != "development"
            and self.internal_token.get_secret_value() == DEV_INTERNAL_TOKEN
        ):
            raise ValueError(
                "HUIKUAN_INTERNAL_TOKEN is the development placeholder; set a real secret"
            )
        return self

    @property
    def consumer_group(self) -> str:
        """The Kafka consumer group: the service's name unless `<PREFIX>_GROUP_SUFFIX` sets
        one apart (separate stacks sharing one broker, e.g. test sessions, must not split
        each other's partitions)."""
        return (
            f"{self.service_name}-{self.group_suffix}" if self.group_suffix else self.service_name
        )
