"""`/jobs`: batch jobs an operator (or a scheduler) runs for one tenant on demand."""

from __future__ import annotations

from fastapi import APIRouter

from huikuan_contracts.ledger.jobs import OverdueScanResult, OverdueScanRun
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import TenantId
from ledger.service import overdue

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.post("/overdue-scan", response_model=OverdueScanResult)
async def run_overdue_scan(
    body: OverdueScanRun, tenant: TenantId, pool: Pool, clock: Clock
) -> OverdueScanResult:
    """Emit `ledger.invoice_overdue.v1` once for each of the tenant's invoices that became
    overdue; running it again flags nothing twice."""
    now = clock.now()
    when = body.at if body.at is not None else now
    result = await overdue.scan(
        pool,
        tenant=tenant,
        as_of=body.as_of,
        when=when,
        at=now,
        fallback_zone=body.timezone or "UTC",
        batch_size=body.batch_size,
    )
    return OverdueScanResult(
        as_of=body.as_of,
        at=when if body.as_of is None else None,
        flagged=result.flagged,
        batches=result.batches,
    )
