"""Reminders's FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from huikuan_runtime.service import create_service_app
from reminders.api.routes import router
from reminders.config import Settings
from reminders.events.handlers import TOPICS
from reminders.store import ops


def create_app(settings: Settings) -> FastAPI:
    return create_service_app(
        settings,
        title="Huikuan reminders (internal)",
        routers=[router],
        consumes=TOPICS,
        ops_gauges=ops.gauges,
    )
