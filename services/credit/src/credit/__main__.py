"""`python -m credit api|relay|consume|migrate|rescore`."""

from __future__ import annotations

from pathlib import Path

from credit.api.app import create_app
from credit.config import get_settings
from credit.events.handlers import HANDLERS, TOPICS
from credit.service.jobs import run_periodically
from huikuan_runtime.service import ServiceSpec, main

SPEC = ServiceSpec(
    name="credit",
    settings=get_settings,
    app=create_app,
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    consumes=TOPICS,
    handlers=HANDLERS,
    extra_modes={"rescore": run_periodically},
)

if __name__ == "__main__":
    main(SPEC)
