"""`/customers/{customer_id}/credit`: a customer's score, grade, exposure, limits and holds,
its score history, and what people decide about it (the manual limit, a manual hold)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from credit.service import manual, views
from credit.service.views import CreditView
from huikuan_contracts.credit import (
    CreditPublic,
    ExposureLine,
    FactorPublic,
    HistoryQuery,
    HoldPost,
    HoldPublic,
    LimitPut,
    ReasonPublic,
    RiskFigures,
    ScoreChangePublic,
    ScoreHistoryPage,
)
from huikuan_contracts.money import Money
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId

router = APIRouter(prefix="/customers/{customer_id}/credit", tags=["credit"])


def _fmt(minor: int | None, currency: str) -> str | None:
    return None if minor is None else Money(minor, currency).format()


def _public(customer_id: str, v: CreditView) -> CreditPublic:
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


@router.get("", response_model=CreditPublic)
async def get_credit(
    customer_id: IdPath, tenant: TenantId, pool: Pool, clock: Clock
) -> CreditPublic:
    found = await views.credit_view(pool, tenant, customer_id, clock.now().date())
    return _public(customer_id, found)


@router.get("/history", response_model=ScoreHistoryPage)
async def get_history(
    customer_id: IdPath,
    tenant: TenantId,
    pool: Pool,
    query: Annotated[HistoryQuery, Query()],
) -> ScoreHistoryPage:
    rows, next_cursor = await views.history(pool, tenant, customer_id, query.cursor, query.limit)
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
            for r in rows
        ],
        next_cursor=next_cursor,
    )


@router.put("/limit", response_model=CreditPublic)
async def put_limit(
    customer_id: IdPath, body: LimitPut, tenant: TenantId, pool: Pool, clock: Clock
) -> CreditPublic:
    now = clock.now()
    minor = None if body.limit is None else Money.parse(body.limit, body.currency).amount_minor
    changed = await manual.set_limit(
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
    return _public(customer_id, changed)


@router.post("/hold", response_model=CreditPublic)
async def post_hold(
    customer_id: IdPath, body: HoldPost, tenant: TenantId, pool: Pool, clock: Clock
) -> CreditPublic:
    now = clock.now()
    held = await manual.place_hold(
        pool,
        tenant,
        customer_id,
        reason=body.reason,
        placed_by=body.placed_by,
        today=now.date(),
        at=now,
    )
    return _public(customer_id, held)


@router.delete("/hold", response_model=CreditPublic)
async def delete_hold(
    customer_id: IdPath, tenant: TenantId, pool: Pool, clock: Clock
) -> CreditPublic:
    now = clock.now()
    released = await manual.release_hold(pool, tenant, customer_id, today=now.date(), at=now)
    return _public(customer_id, released)
