"""`/dunning/runs`: a dunning run for the tenant, on demand."""

from __future__ import annotations

from fastapi import APIRouter

from huikuan_contracts.reminders import RunCreate, RunPublic
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import TenantId
from reminders.api.deps import Channels, Config, Texts
from reminders.service.schedule import run_and_deliver

router = APIRouter(prefix="/dunning/runs", tags=["dunning"])


@router.post("", response_model=RunPublic)
async def dunning_run(
    body: RunCreate,
    tenant: TenantId,
    pool: Pool,
    settings: Config,
    renderer: Texts,
    channels: Channels,
    clock: Clock,
) -> RunPublic:
    """Decide and record what is due for the tenant as of the date, then deliver what is
    pending. Safe to call concurrently and repeatedly: nothing is sent twice."""
    decided, delivered = await run_and_deliver(
        pool, settings, channels, renderer, clock, tenant=tenant, as_of=body.as_of
    )
    return RunPublic(
        as_of=body.as_of,
        customers=decided.customers,
        skipped_not_business_day=decided.skipped_not_business_time,
        reminders_recorded=decided.reminders,
        tasks_created=decided.tasks,
        escalations=decided.escalations,
        promises_broken=decided.promises_broken,
        sent=delivered.sent,
        retrying=delivered.retrying,
        failed=delivered.failed,
        cancelled=delivered.cancelled,
    )
