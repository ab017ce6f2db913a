"""`python -m credit api|relay|consume|migrate|rescore|rebuild`."""

from __future__ import annotations

from credit.api.app import create_app
from credit.config import CONSUMED_TOPICS, Settings, get_settings
from credit.events.handlers import run_handler
from credit.events.projection import PROJECTION
from credit.service.derive import FactCache
from credit.service.jobs import run_periodically
from huikuan_runtime.consumer import ConsumerSpec
from huikuan_runtime.migrations import package_migrations
from huikuan_runtime.service import ServiceSpec, main


def consumer(settings: Settings) -> ConsumerSpec:
    """Read the ledger and reminders topics into the projection, runs of up to
    `consumer_batch_size` events at once."""
    return ConsumerSpec(
        CONSUMED_TOPICS,
        batch_size=settings.consumer_batch_size,
        run_handler=run_handler(FactCache(settings.fact_cache_facts)),
    )


SPEC = ServiceSpec(
    name="credit",
    settings=get_settings,
    app=create_app,
    migrations=package_migrations("credit"),
    consumer=consumer,
    extra_modes={"rescore": run_periodically},
    projection=PROJECTION,
)

if __name__ == "__main__":
    main(SPEC)
