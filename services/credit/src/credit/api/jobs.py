"""`/jobs`: batch jobs an operator (or a scheduler) runs for one tenant on demand."""

from __future__ import annotations

from fastapi import APIRouter

from credit.service import jobs
from huikuan_contracts.credit import RescoreResult, RescoreRun
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import TenantId

router = APIRouter(prefix="/jobs", tags=["credit"])


@router.post("/rescore", response_model=RescoreResult, tags=["jobs"])
async def run_rescore(
    body: RescoreRun, tenant: TenantId, pool: Pool, clock: Clock
) -> RescoreResult:
    """Re-derive every customer as of `as_of`: overdue grows without any event."""
    now = clock.now()
    as_of = body.as_of or now.date()
    done = await jobs.rescore(pool, tenant, as_of=as_of, at=now)
    return RescoreResult(as_of=as_of, customers=done.customers, changed=done.changed)
