"""Credit's internal HTTP API (the gateway publishes it under `/v1`)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from credit.domain import prediction
from credit.domain.holds import HoldPolicy
from credit.service import checks, jobs, manual, predictions, views
from credit.service.predictions import PriorCache
from huikuan_contracts.credit import (
    CashForecastPublic,
    CashForecastQuery,
    CreditCheckCreate,
    CreditCheckPublic,
    CreditPublic,
    CurrencyForecast,
    ExposureLine,
    FactorPublic,
    ForecastWeek,
    GradedCustomer,
    GradedCustomerPage,
    GradeQuery,
    HistoryQuery,
    HoldPolicyPublic,
    HoldPost,
    HoldPublic,
    InvoiceForecastPublic,
    InvoicePredictionPublic,
    LimitPut,
    PaymentHabitPublic,
    PaymentPredictionPublic,
    PredictionQuery,
    ReasonPublic,
    RescoreResult,
    RescoreRun,
    RiskFigures,
    ScoreChangePublic,
    ScoreHistoryPage,
)
from huikuan_contracts.money import Money
from huikuan_runtime import pagination
from huikuan_runtime.clock import SystemClock
from huikuan_runtime.deps import Pool
from huikuan_runtime.http import IdPath, TenantId
from huikuan_runtime.problems import NotFound

router = APIRouter(tags=["credit"])
clock = SystemClock()


def get_prior_cache(request: Request) -> PriorCache:
    cache: PriorCache = request.app.state.prior_cache
    return cache


Priors = Annotated[PriorCache, Depends(get_prior_cache)]


def _fmt(minor: int | None, currency: str) -> str | None:
    return None if minor is None else Money(minor, currency).format()


async def _view(pool: Pool, tenant: str, customer_id: str) -> CreditPublic:
    async with pool.acquire() as conn:
        v = await views.credit_view(conn, tenant, customer_id, clock.now().date())
    figures = {k: v.profile.get(k) for k in RiskFigures.model_fields}
    return CreditPublic(
        customer_id=customer_id,
        known_since=v.customer["first_seen_at"] if v.customer else None,
        as_of=v.state["as_of"],
        score=v.state["score"],
        grade=v.state["grade"],
        scorecard_version=v.state["scorecard_version"],
        factors=[FactorPublic.model_validate(f) for f in v.factors],
        reasons=[ReasonPublic.model_validate(r) for r in v.reasons],
        exposure=[
            ExposureLine(
                currency=c.currency,
                open_invoices=c.open_invoices,
                open_amount=Money(c.open_minor, c.currency).format(),
                overdue_amount=Money(c.overdue_minor, c.currency).format(),
                approved_orders=Money(c.orders_minor, c.currency).format(),
                exposure=Money(c.exposure_minor, c.currency).format(),
                limit=_fmt(c.limit.in_force_minor if c.limit else None, c.currency),
                limit_source=c.limit.source
                if c.limit and c.limit.in_force_minor is not None
                else None,
                recommended_limit=_fmt(c.limit.recommended_minor if c.limit else None, c.currency),
                available=(
                    _fmt(max(0, c.limit.in_force_minor - c.exposure_minor), c.currency)
                    if c.limit and c.limit.in_force_minor is not None
                    else None
                ),
            )
            for c in v.currencies
        ],
        on_hold=bool(v.holds),
        holds=[
            HoldPublic(
                cause=h["cause"],
                manual=h["manual"],
                detail=h["detail"],
                placed_on=h["placed_on"],
                placed_by=h["placed_by"],
            )
            for h in v.holds
        ],
        figures=RiskFigures.model_validate(figures),
    )


@router.get("/customers/{customer_id}/credit", response_model=CreditPublic)
async def get_credit(customer_id: IdPath, tenant: TenantId, pool: Pool) -> CreditPublic:
    return await _view(pool, tenant, customer_id)


@router.get("/customers/{customer_id}/credit/history", response_model=ScoreHistoryPage)
async def get_history(
    customer_id: IdPath,
    tenant: TenantId,
    pool: Pool,
    query: Annotated[HistoryQuery, Query()],
) -> ScoreHistoryPage:
    key = pagination.decode(query.cursor, 1)
    if key is not None and not isinstance(key[0], int):
        raise pagination.invalid_cursor()
    before = key[0] if key else None
    async with pool.acquire() as conn:
        rows = await views.history(conn, tenant, customer_id, query.limit + 1, before)
    page = rows[: query.limit]
    return ScoreHistoryPage(
        items=[
            ScoreChangePublic(
                as_of=r["as_of"],
                old_score=r["old_score"],
                new_score=r["new_score"],
                old_grade=r["old_grade"],
                new_grade=r["new_grade"],
                scorecard_version=r["scorecard_version"],
                reasons=[ReasonPublic.model_validate(x) for x in r["reasons"]],
                changed_at=r["changed_at"],
            )
            for r in page
        ],
        next_cursor=pagination.encode([page[-1]["position"]]) if len(rows) > query.limit else None,
    )


@router.get("/customers", response_model=GradedCustomerPage)
async def list_by_grade(
    tenant: TenantId, pool: Pool, query: Annotated[GradeQuery, Query()]
) -> GradedCustomerPage:
    """The customers credit currently grades `grade`, in id order (internal: the gateway's
    `GET /v1/customers?grade=` takes a page of these and asks the ledger for them)."""
    key = pagination.decode(query.cursor, 1)
    if key is not None and not isinstance(key[0], str):
        raise pagination.invalid_cursor()
    async with pool.acquire() as conn:
        rows = await views.by_grade(
            conn, tenant, query.grade, query.limit + 1, key[0] if key else None
        )
    page = rows[: query.limit]
    return GradedCustomerPage(
        items=[GradedCustomer.model_validate(dict(r)) for r in page],
        next_cursor=pagination.encode([page[-1]["customer_id"]])
        if len(rows) > query.limit
        else None,
    )


@router.put("/customers/{customer_id}/credit/limit", response_model=CreditPublic)
async def put_limit(
    customer_id: IdPath, body: LimitPut, tenant: TenantId, pool: Pool
) -> CreditPublic:
    now = clock.now()
    minor = None if body.limit is None else Money.parse(body.limit, body.currency).amount_minor
    await manual.set_limit(
        pool,
        tenant,
        customer_id,
        currency=body.currency,
        minor=minor,
        reason=body.reason,
        set_by=body.set_by,
        today=now.date(),
        at=now,
    )
    return await _view(pool, tenant, customer_id)


@router.post("/customers/{customer_id}/credit/hold", response_model=CreditPublic)
async def post_hold(
    customer_id: IdPath, body: HoldPost, tenant: TenantId, pool: Pool
) -> CreditPublic:
    now = clock.now()
    await manual.place_hold(
        pool,
        tenant,
        customer_id,
        reason=body.reason,
        placed_by=body.placed_by,
        today=now.date(),
        at=now,
    )
    return await _view(pool, tenant, customer_id)


@router.delete("/customers/{customer_id}/credit/hold", response_model=CreditPublic)
async def delete_hold(customer_id: IdPath, tenant: TenantId, pool: Pool) -> CreditPublic:
    now = clock.now()
    await manual.release_hold(pool, tenant, customer_id, today=now.date(), at=now)
    return await _view(pool, tenant, customer_id)


@router.get("/credit/hold-policy", response_model=HoldPolicyPublic)
async def get_hold_policy(tenant: TenantId, pool: Pool) -> HoldPolicyPublic:
    return HoldPolicyPublic.model_validate(asdict(await manual.get_policy(pool, tenant)))


@router.put("/credit/hold-policy", response_model=HoldPolicyPublic)
async def put_hold_policy(body: HoldPolicyPublic, tenant: TenantId, pool: Pool) -> HoldPolicyPublic:
    await manual.put_policy(pool, tenant, HoldPolicy(**body.model_dump()), clock.now())
    return body


@router.post("/credit-checks", response_model=CreditCheckPublic)
async def post_credit_check(
    body: CreditCheckCreate, tenant: TenantId, pool: Pool, response: Response
) -> CreditCheckPublic:
    now = clock.now()
    money = body.money()
    out = await checks.check(
        pool,
        tenant,
        body.customer_id,
        order_id=body.order_id,
        currency=body.currency,
        amount_minor=money.amount_minor,
        today=body.as_of or now.date(),
        at=now,
    )
    return CreditCheckPublic(
        check_id=out.check_id,
        customer_id=body.customer_id,
        order_id=body.order_id,
        decision=out.result.decision,
        reasons=list(out.result.reasons),
        currency=body.currency,
        amount=money.format(),
        available=Money(out.result.available_minor, body.currency).format(),
        grade=out.grade,
        score=out.score,
        expires_on=out.expires_on,
    )


@router.post("/jobs/rescore", response_model=RescoreResult, tags=["jobs"])
async def run_rescore(body: RescoreRun, tenant: TenantId, pool: Pool) -> RescoreResult:
    """Re-derive every customer as of `as_of`: overdue grows without any event."""
    now = clock.now()
    as_of = body.as_of or now.date()
    done = await jobs.rescore(pool, tenant, as_of=as_of, at=now)
    return RescoreResult(as_of=as_of, customers=done.customers, changed=done.changed)


@router.get("/customers/{customer_id}/credit/predictions", response_model=PaymentPredictionPublic)
async def get_predictions(
    customer_id: IdPath,
    tenant: TenantId,
    pool: Pool,
    query: Annotated[PredictionQuery, Query()],
) -> PaymentPredictionPublic:
    as_of = query.as_of or clock.now().date()
    async with pool.acquire() as conn:
        await views.require_known(conn, tenant, customer_id)
        p = await predictions.for_customer(conn, tenant, customer_id, as_of)
    return PaymentPredictionPublic(
        customer_id=customer_id,
        as_of=as_of,
        model_version=prediction.VERSION,
        habit=_habit(p.habit),
        invoices=[InvoicePredictionPublic.model_validate(_invoice(i)) for i in p.invoices],
    )


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


@router.get("/invoices/{invoice_id}/prediction", response_model=InvoiceForecastPublic)
async def get_invoice_prediction(
    invoice_id: IdPath,
    tenant: TenantId,
    pool: Pool,
    priors: Priors,
    query: Annotated[PredictionQuery, Query()],
) -> InvoiceForecastPublic:
    """One open invoice's expected payment date; credit finds its customer itself. The
    segment and tenant priors may be up to `CREDIT_PRIOR_CACHE_SECONDS` old."""
    as_of = query.as_of or clock.now().date()
    async with pool.acquire() as conn:
        found = await predictions.for_invoice(conn, tenant, invoice_id, as_of, priors)
    if found is None:
        raise NotFound(f"credit knows no open invoice {invoice_id!r}")
    p, inv = found
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
    tenant: TenantId, pool: Pool, query: Annotated[CashForecastQuery, Query()]
) -> CashForecastPublic:
    start = query.from_ or clock.now().date()
    async with pool.acquire() as conn:
        forecast = await predictions.cash_forecast(conn, tenant, start, query.weeks)
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
