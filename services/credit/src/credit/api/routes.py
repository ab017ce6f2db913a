"""Credit's internal HTTP API."""

from __future__ import annotations

from fastapi import APIRouter

from credit.api.schemas import CreditPublic, ExposureLine
from credit.store import exposure
from huikuan_runtime.fields import IdPath
from huikuan_runtime.http import TenantId
from huikuan_runtime.money import Money
from huikuan_runtime.problems import NotFound
from huikuan_runtime.service import Pool

router = APIRouter(tags=["credit"])


@router.get("/customers/{customer_id}/credit", response_model=CreditPublic)
async def get_credit(customer_id: IdPath, tenant: TenantId, pool: Pool) -> CreditPublic:
    async with pool.acquire() as conn:
        profile = await exposure.profile(conn, tenant, customer_id)
        lines = await exposure.for_customer(conn, tenant, customer_id)
    if profile is None and not lines:
        raise NotFound(f"credit has seen no events for customer {customer_id!r}")
    return CreditPublic(
        customer_id=customer_id,
        known_since=profile["first_seen_at"] if profile else None,
        exposure=[
            ExposureLine(
                currency=r["currency"],
                open_invoices=r["open_invoices"],
                open_amount=Money(r["open_amount_minor"], r["currency"]).format(),
            )
            for r in lines
        ],
    )
