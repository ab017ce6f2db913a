"""Public report routes owned by the ledger: aging, DSO / CEI / ADD, bad-debt provision."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.proxy import Route, mount
from ledger.api.schemas import reports as r

router = APIRouter()

ROUTES = (
    Route(
        "GET",
        "/reports/aging",
        "ledger",
        "ledger:read",
        r.AgingReport,
        query=r.AgingQuery,
        problems=(),
        summary="Open receivables as of a date in buckets of days past due, per currency, "
        "by customer, owner or region",
        tags=("reports",),
    ),
    Route(
        "GET",
        "/reports/dso",
        "ledger",
        "ledger:read",
        r.DsoReport,
        query=r.DsoQuery,
        problems=(),
        summary="DSO (countback), best possible DSO, average days delinquent and CEI for a "
        "period, per currency",
        tags=("reports",),
    ),
    Route(
        "GET",
        "/reports/provision",
        "ledger",
        "ledger:read",
        r.ProvisionReport,
        query=r.ProvisionQuery,
        problems=(),
        summary="Bad-debt provision as of a date: aging buckets times their rates",
        tags=("reports",),
    ),
)

mount(router, ROUTES)
