"""Payment-date predictions: a customer's open invoices, one invoice, and the tenant's
weekly cash forecast."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from credit.api.deps import Priors
from credit.domain import prediction
from credit.service import predictions
from huikuan_contracts.credit import (
    CashForecastPublic,
    CashForecastQuery,
    CurrencyForecast,
    ForecastWeek,
    InvoiceForecastPublic,
    InvoicePredictionPublic,
    PaymentHabitPublic,
    PaymentPredictionPublic,
    PredictionQuery,
)
from huikuan_contracts.money import Money
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId

router = APIRouter(tags=["credit"])


def _habit(h: prediction.Habit) -> PaymentHabitPublic:
    return PaymentHabitPublic(
        payments_12m=h.payments,
        own_mean_days_late=None if h.own_mean is None else round(h.own_mean, 1),
        prior_mean_days_late=round(h.prior.mean_days_late, 1),
        prior_source=h.prior.source,
        expected_days_late=round(h.expected_days_late, 1),
    )


def _invoice(i: predictions.InvoicePrediction) -> dict[str, object]:
    return {
        "invoice_id": i.invoice.invoice_id,
        "currency": i.invoice.currency,
        "residual": Money(i.invoice.residual_minor, i.invoice.currency).format(),
        "due_date": i.invoice.due_date,
        "predicted_on": i.predicted_on,
    }


@router.get("/customers/{customer_id}/credit/predictions", response_model=PaymentPredictionPublic)
async def get_predictions(
    customer_id: IdPath,
    tenant: TenantId,
    pool: Pool,
    clock: Clock,
    query: Annotated[PredictionQuery, Query()],
) -> PaymentPredictionPublic:
    as_of = query.as_of or clock.now().date()
    p = await predictions.of_customer(pool, tenant, customer_id, as_of)
    return PaymentPredictionPublic(
        customer_id=customer_id,
        as_of=as_of,
        model_version=prediction.VERSION,
        habit=_habit(p.habit),
        invoices=[InvoicePredictionPublic.model_validate(_invoice(i)) for i in p.invoices],
    )


@router.get("/invoices/{invoice_id}/prediction", response_model=InvoiceForecastPublic)
async def get_invoice_prediction(
    invoice_id: IdPath,
    tenant: TenantId,
    pool: Pool,
    priors: Priors,
    clock: Clock,
    query: Annotated[PredictionQuery, Query()],
) -> InvoiceForecastPublic:
    """One open invoice's expected payment date; credit finds its customer itself. The
    segment and tenant priors may be up to `CREDIT_PRIOR_CACHE_SECONDS` old."""
    as_of = query.as_of or clock.now().date()
    p, inv = await predictions.for_invoice(pool, tenant, invoice_id, as_of, priors)
    return InvoiceForecastPublic.model_validate(
        {
            **_invoice(inv),
            "customer_id": p.customer_id,
            "as_of": as_of,
            "model_version": prediction.VERSION,
            "habit": _habit(p.habit),
        }
    )


@router.get("/credit/cash-forecast", response_model=CashForecastPublic)
async def get_cash_forecast(
    tenant: TenantId, pool: Pool, clock: Clock, query: Annotated[CashForecastQuery, Query()]
) -> CashForecastPublic:
    start = query.from_ or clock.now().date()
    forecast = await predictions.cash_forecast(pool, tenant, start, query.weeks)
    return CashForecastPublic(
        start=start,
        weeks=query.weeks,
        model_version=prediction.VERSION,
        currencies=[
            CurrencyForecast(
                currency=currency,
                weeks=[
                    ForecastWeek(
                        week_start=start + timedelta(weeks=n),
                        expected=Money(minor, currency).format(),
                    )
                    for n, minor in enumerate(amounts)
                ],
            )
            for currency, amounts in forecast.items()
        ],
    )
