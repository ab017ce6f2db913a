"""Reminders's FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from huikuan_runtime.service import create_service_app
from reminders.api import (
    channel_settings,
    collectors,
    dunning,
    policies,
    promises,
    reminders,
    runs,
    tasks,
)
from reminders.config import Settings
from reminders.events.handlers import TOPICS
from reminders.render import Renderer
from reminders.service import ops
from reminders.service.schedule import TenantChannels


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def resources(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            app.state.renderer.close()

    app = create_service_app(
        settings,
        title="Huikuan reminders (internal)",
        routers=[
            policies.router,
            dunning.router,
            promises.router,
            reminders.router,
            tasks.router,
            collectors.router,
            channel_settings.router,
            runs.router,
        ],
        consumes=TOPICS,
        ops_gauges=ops.gauges,
        resources=resources,
    )
    # Tenant templates render in a worker process, started on first use (api.deps).
    app.state.renderer = Renderer()
    app.state.channels = TenantChannels(settings)
    return app
