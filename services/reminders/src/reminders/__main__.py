"""`python -m reminders api|relay|consume|migrate|schedule`."""

from __future__ import annotations

from pathlib import Path

from huikuan_runtime.consumer import ConsumerSpec
from huikuan_runtime.service import ServiceSpec, main
from reminders.api.app import create_app
from reminders.config import get_settings
from reminders.events.handlers import HANDLERS, TOPICS
from reminders.service.schedule import run_periodically

SPEC = ServiceSpec(
    name="reminders",
    settings=get_settings,
    app=create_app,
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    consumer=lambda settings: ConsumerSpec(TOPICS, HANDLERS),
    extra_modes={"schedule": run_periodically},
)

if __name__ == "__main__":
    main(SPEC)
