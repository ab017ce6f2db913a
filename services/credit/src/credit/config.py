"""Credit settings (`CREDIT_*`, plus the shared unprefixed infrastructure variables)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from huikuan_events.topics import LEDGER_EVENTS, REMINDERS_EVENTS
from huikuan_runtime.settings import ServiceSettings

# What credit's consumer reads (logical names: `KAFKA_TOPIC_PREFIX` places them).
CONSUMED_TOPICS = (LEDGER_EVENTS, REMINDERS_EVENTS)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(
        env_prefix="CREDIT_", extra="ignore", frozen=True, use_attribute_docstrings=True
    )

    service_name: str = "credit"
    port: int = 8002
    db_schema: str = "credit"
    consumer_batch_size: int = Field(
        500,
        ge=1,
        description="records of a poll applied per transaction (`CREDIT_CONSUMER_BATCH_SIZE`);"
        " a run reads and writes its customers once, but holds their locks until it commits"
        " (a credit check of one of them waits), so keep it modest",
    )
    fact_cache_facts: int = Field(
        2_000_000,
        ge=0,
        description="facts the consumer keeps in memory between runs, over all customers "
        "(`CREDIT_FACT_CACHE_FACTS`; roughly 200 bytes each); the least recently used "
        "customers are read from the database again",
    )

    prior_cache_seconds: float = Field(
        60.0,
        ge=0,
        description="seconds the API keeps the payment-date priors (the lateness of a "
        "segment's and of the tenant's allocations over 12 months) per tenant, segment and "
        "as_of for one invoice's prediction (`CREDIT_PRIOR_CACHE_SECONDS`); within it a "
        "prediction does not see other customers' allocations recorded since; 0 disables",
    )


@lru_cache
def get_settings() -> Settings:
    return Settings()
