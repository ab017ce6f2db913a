"""Credit's FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from credit.api import checks, credit, customers, hold_policy, jobs, predictions
from credit.config import CONSUMED_TOPICS, Settings
from credit.service.predictions import PriorCache
from huikuan_runtime.service import create_service_app


def create_app(settings: Settings) -> FastAPI:
    app = create_service_app(
        settings,
        title="Huikuan credit (internal)",
        routers=[
            credit.router,
            customers.router,
            hold_policy.router,
            checks.router,
            jobs.router,
            predictions.router,
        ],
        consumes=CONSUMED_TOPICS,
    )
    app.state.prior_cache = PriorCache(settings.prior_cache_seconds)
    return app
