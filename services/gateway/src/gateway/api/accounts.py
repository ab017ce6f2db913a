"""Public routes owned by the ledger for working the accounts: disputes, statements of
account and their confirmations, collection targets, and the overdue-scan job."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.proxy import Route, mount
from ledger.api.jobs import OverdueScanResult, OverdueScanRun
from ledger.api.schemas import disputes as d
from ledger.api.schemas import statements as st
from ledger.api.schemas import targets as t

router = APIRouter()

SAME_AGAIN = {200: "the same request again: the existing resource, unchanged"}

ROUTES = (
    Route(
        "POST",
        "/invoices/{invoice_id}/disputes",
        "ledger",
        "ledger:write",
        d.DisputePublic,
        body=d.DisputeCreate,
        status=201,
        also=SAME_AGAIN,
        problems=(404, 409),
        summary="Dispute (part of) an invoice; it leaves automatic allocation until resolved",
        tags=("disputes",),
    ),
    Route(
        "GET",
        "/disputes/{dispute_id}",
        "ledger",
        "ledger:read",
        d.DisputePublic,
        summary="A dispute and how it ended",
        tags=("disputes",),
    ),
    Route(
        "POST",
        "/disputes/{dispute_id}/resolve",
        "ledger",
        "ledger:write",
        d.DisputePublic,
        body=d.DisputeResolve,
        problems=(404, 409),
        summary="Accept a dispute with a credit note, or reject it",
        tags=("disputes",),
    ),
    Route(
        "GET",
        "/customers/{customer_id}/statement",
        "ledger",
        "ledger:read",
        st.StatementPublic,
        query=st.StatementQuery,
        summary="Statement of account for a period: opening, lines, running and closing "
        "balance per currency",
        tags=("statements",),
    ),
    Route(
        "POST",
        "/customers/{customer_id}/statement-confirmations",
        "ledger",
        "ledger:write",
        st.ConfirmationPublic,
        body=st.ConfirmationCreate,
        status=201,
        also=SAME_AGAIN,
        problems=(404, 409),
        summary="Record the balance the customer confirms (or disputes) for a period",
        tags=("statements",),
    ),
    Route(
        "GET",
        "/customers/{customer_id}/statement-confirmations",
        "ledger",
        "ledger:read",
        st.ConfirmationPage,
        query=st.ConfirmationsQuery,
        summary="The customer's statement confirmations, newest period first",
        tags=("statements",),
    ),
    Route(
        "PUT",
        "/targets/{period}/{owner}",
        "ledger",
        "ledger:write",
        t.TargetPublic,
        body=t.TargetPut,
        also={201: "created"},
        problems=(),
        summary="Set what an owner is to collect in a month (YYYY-MM)",
        tags=("targets",),
    ),
    Route(
        "GET",
        "/targets",
        "ledger",
        "ledger:read",
        t.TargetReport,
        query=t.TargetsQuery,
        problems=(),
        summary="Per owner: target, collected, share of target and remaining for a month",
        tags=("targets",),
    ),
)

mount(router, ROUTES)


mount(
    router,
    (
        Route(
            "POST",
            "/ops/jobs/overdue-scan",
            "ledger",
            "ops:write",
            OverdueScanResult,
            body=OverdueScanRun,
            upstream="/jobs/overdue-scan",
            problems=(),
            tags=("ops",),
            summary="Run the overdue scan now: `ledger.invoice_overdue.v1` once per invoice that "
            "became overdue, judged by `as_of` (a date in the tenant's time zone) or by "
            "the instant `at` (default now) in each customer's time zone",
        ),
    ),
)
