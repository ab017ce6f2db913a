"""Public routes owned by credit: the credit view, score history, limits, holds, the hold
policy, credit checks and the rescore job."""

from __future__ import annotations

from huikuan_contracts import credit
from huikuan_contracts.routes import Route

ROUTES = (
    Route(
        "GET",
        "/customers/{customer_id}/credit",
        "credit",
        "credit:read",
        credit.CreditPublic,
        summary="Score, grade, factors with points, reasons, limits, exposure, available "
        "credit and holds",
        tags=("credit",),
    ),
    Route(
        "GET",
        "/customers/{customer_id}/credit/history",
        "credit",
        "credit:read",
        credit.ScoreHistoryPage,
        query=credit.HistoryQuery,
        summary="Every change of the customer's score, newest first",
        tags=("credit",),
    ),
    Route(
        "PUT",
        "/customers/{customer_id}/credit/limit",
        "credit",
        "credit:write",
        credit.CreditPublic,
        body=credit.LimitPut,
        summary="Set a manual limit in a currency (it wins over the recommended one), or "
        "clear it with `limit: null`",
        tags=("credit",),
    ),
    Route(
        "POST",
        "/customers/{customer_id}/credit/hold",
        "credit",
        "credit:write",
        credit.CreditPublic,
        body=credit.HoldPost,
        summary="Put the customer on a manual credit hold",
        tags=("credit",),
    ),
    Route(
        "DELETE",
        "/customers/{customer_id}/credit/hold",
        "credit",
        "credit:write",
        credit.CreditPublic,
        summary="Lift the manual hold (automatic holds end when their cause is gone)",
        tags=("credit",),
    ),
    Route(
        "GET",
        "/credit/hold-policy",
        "credit",
        "credit:read",
        credit.HoldPolicyPublic,
        problems=(),
        summary="The tenant's automatic hold policy",
        tags=("credit",),
    ),
    Route(
        "PUT",
        "/credit/hold-policy",
        "credit",
        "credit:write",
        credit.HoldPolicyPublic,
        body=credit.HoldPolicyPublic,
        problems=(),
        summary="Set the tenant's automatic hold policy (applies from each customer's next "
        "event or rescore)",
        tags=("credit",),
    ),
    Route(
        "POST",
        "/credit-checks",
        "credit",
        "credit:check",
        credit.CreditCheckPublic,
        body=credit.CreditCheckCreate,
        problems=(),
        example={
            "customer_id": "C-1001",
            "order_id": "SO-2026-0310",
            "currency": "CNY",
            "amount": "30000.00",
            "as_of": "2026-11-20",
        },
        summary="Approve, review or reject an order on credit, with reasons and the "
        "available credit; an approved order counts in exposure until invoiced or "
        "expired",
        tags=("credit",),
    ),
    Route(
        "GET",
        "/customers/{customer_id}/credit/predictions",
        "credit",
        "credit:read",
        credit.PaymentPredictionPublic,
        query=credit.PredictionQuery,
        summary="Predicted payment date of each open invoice, from the customer's own "
        "lateness shrunk toward its segment or the tenant",
        tags=("credit",),
    ),
    Route(
        "GET",
        "/reports/cash-forecast",
        "credit",
        "credit:read",
        credit.CashForecastPublic,
        query=credit.CashForecastQuery,
        upstream="/credit/cash-forecast",
        problems=(),
        summary="Expected receipts of open receivables per week by predicted payment date, "
        "per currency",
        tags=("reports",),
    ),
    Route(
        "POST",
        "/ops/jobs/rescore",
        "credit",
        "ops:write",
        credit.RescoreResult,
        body=credit.RescoreRun,
        upstream="/jobs/rescore",
        problems=(),
        tags=("ops",),
        summary="Rescore every customer of the tenant as of `as_of` (overdue grows with "
        "time without any event)",
    ),
)
