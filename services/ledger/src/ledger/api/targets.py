"""`/targets`: collection targets per month and owner, and progress against them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from huikuan_contracts.ledger.targets import (
    PERIOD,
    TargetProgress,
    TargetPublic,
    TargetPut,
    TargetReport,
    TargetsQuery,
)
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId
from ledger.api.mapping import text
from ledger.service import targets as service

router = APIRouter(prefix="/targets", tags=["targets"])

PeriodPath = Annotated[str, Path(pattern=PERIOD, examples=["2026-11"], description="YYYY-MM")]


@router.put("/{period}/{owner}", response_model=TargetPublic)
async def put_target(
    period: PeriodPath,
    owner: IdPath,
    body: TargetPut,
    tenant: TenantId,
    pool: Pool,
    clock: Clock,
    response: Response,
) -> TargetPublic:
    """Set what `owner` is to collect in the month; 201 when new, 200 when replaced or
    unchanged."""
    result = await service.put_target(pool, tenant, period, owner, body.money(), clock.now())
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    row = result.row
    return TargetPublic(
        period=row["period"],
        owner=row["owner"],
        currency=row["currency"],
        amount=text(row["amount_minor"], row["currency"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


@router.get("", response_model=TargetReport)
async def get_targets(
    query: Annotated[TargetsQuery, Query()], tenant: TenantId, pool: Pool
) -> TargetReport:
    """Per owner with a target in the month: target, collected, share, remaining."""
    first, last = service.period_bounds(query.period)
    items = await service.progress(pool, tenant, query.period)
    return TargetReport(
        period=query.period,
        period_from=first,
        period_to=last,
        items=[
            TargetProgress(
                owner=p.owner,
                currency=p.currency,
                target=text(p.target, p.currency),
                collected=text(p.collected, p.currency),
                share=p.share,
                remaining=text(p.remaining, p.currency),
                target_updated_at=p.updated_at,
            )
            for p in items
        ],
    )
