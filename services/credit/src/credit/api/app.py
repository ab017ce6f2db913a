"""Credit's FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from credit.api.routes import router
from credit.config import Settings
from huikuan_runtime.service import create_service_app


def create_app(settings: Settings) -> FastAPI:
    return create_service_app(
        settings,
        title="Huikuan credit (internal)",
        routers=[router],
        consumes=settings.consumed_topics,
    )
