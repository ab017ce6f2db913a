"""Reminders's FastAPI application."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from huikuan_runtime.service import create_service_app
from reminders.api.routes import router
from reminders.config import Settings
from reminders.events.handlers import TOPICS
from reminders.render import Renderer
from reminders.service.schedule import TenantChannels
from reminders.store import ops


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
        routers=[router],
        consumes=TOPICS,
        ops_gauges=ops.gauges,
        resources=resources,
    )
    # Tenant templates render in a worker process, started on first use (api.deps).
    app.state.renderer = Renderer()
    app.state.channels = TenantChannels(settings)
    return app
