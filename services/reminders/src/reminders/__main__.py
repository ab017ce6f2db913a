"""`python -m reminders api|relay|consume|migrate|schedule|rebuild`."""

from __future__ import annotations

from huikuan_runtime.consumer import ConsumerSpec
from huikuan_runtime.migrations import package_migrations
from huikuan_runtime.service import ServiceSpec, main
from reminders.api.app import create_app
from reminders.config import get_settings
from reminders.events.handlers import HANDLERS, TOPICS
from reminders.events.projection import PROJECTION
from reminders.service.schedule import run_periodically

SPEC = ServiceSpec(
    name="reminders",
    settings=get_settings,
    app=create_app,
    migrations=package_migrations("reminders"),
    consumer=lambda settings: ConsumerSpec(TOPICS, HANDLERS),
    extra_modes={"schedule": run_periodically},
    projection=PROJECTION,
)

if __name__ == "__main__":
    main(SPEC)
