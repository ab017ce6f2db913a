"""The ledger's FastAPI application."""

from __future__ import annotations

from fastapi import FastAPI

from huikuan_runtime.service import create_service_app
from ledger.api import customers, disputes, invoices, jobs, payments, reports, statements, targets
from ledger.config import Settings


def create_app(settings: Settings) -> FastAPI:
    return create_service_app(
        settings,
        title="Huikuan ledger (internal)",
        routers=[
            customers.router,
            invoices.router,
            payments.router,
            reports.router,
            disputes.router,
            statements.router,
            targets.router,
            jobs.router,
        ],
    )
