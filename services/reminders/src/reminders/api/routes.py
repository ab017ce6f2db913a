"""Reminders' internal HTTP API."""

from __future__ import annotations

from fastapi import APIRouter

from huikuan_runtime.fields import IdPath
from huikuan_runtime.http import TenantId
from huikuan_runtime.money import Money
from huikuan_runtime.problems import NotFound
from huikuan_runtime.service import Pool
from reminders.api.schemas import ChasedInvoice, DunningPublic
from reminders.store import book

router = APIRouter(tags=["dunning"])


@router.get("/customers/{customer_id}/dunning", response_model=DunningPublic)
async def get_dunning(customer_id: IdPath, tenant: TenantId, pool: Pool) -> DunningPublic:
    async with pool.acquire() as conn:
        who = await book.contact(conn, tenant, customer_id)
        rows = await book.open_invoices(conn, tenant, customer_id)
    if who is None and not rows:
        raise NotFound(f"reminders has seen no events for customer {customer_id!r}")
    return DunningPublic(
        customer_id=customer_id,
        open_invoice_count=len(rows),
        next_due_date=rows[0]["due_date"] if rows else None,
        invoices=[
            ChasedInvoice(
                invoice_id=r["invoice_id"],
                number=r["number"],
                due_date=r["due_date"],
                currency=r["currency"],
                residual=Money(r["residual_minor"], r["currency"]).format(),
            )
            for r in rows
        ],
    )
