"""`/customers/{customer_id}/promises`: promises to pay, which pause dunning on their
invoices."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Response

from huikuan_contracts.money import Money
from huikuan_contracts.reminders import PromiseCreate, PromiseList, PromisePublic
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId
from reminders.service import promises

router = APIRouter(prefix="/customers/{customer_id}/promises", tags=["dunning"])


def _public(r: asyncpg.Record) -> PromisePublic:
    return PromisePublic(
        promise_id=r["promise_id"],
        customer_id=r["customer_id"],
        currency=r["currency"],
        amount=Money(r["amount_minor"], r["currency"]).format(),
        paid=Money(r["paid_minor"], r["currency"]).format(),
        promised_date=r["promised_date"],
        grace_days=r["grace_days"],
        made_on=r["made_on"],
        invoice_ids=list(r["invoice_ids"]),
        taken_by=r["taken_by"],
        status=r["status"],
        judged_on=r["judged_on"],
    )


@router.post("", response_model=PromisePublic, status_code=201)
async def make_promise(
    customer_id: IdPath,
    body: PromiseCreate,
    tenant: TenantId,
    pool: Pool,
    clock: Clock,
    response: Response,
) -> PromisePublic:
    at = clock.now()
    row, created = await promises.make(
        pool,
        tenant,
        customer_id,
        promise_id=body.promise_id,
        currency=body.currency,
        amount_minor=body.money().amount_minor,
        promised_date=body.promised_date,
        invoice_ids=body.invoice_ids,
        taken_by=body.taken_by,
        made_on=body.made_on or at.date(),
        grace_days=body.grace_days,
        at=at,
    )
    if not created:
        response.status_code = 200
    return _public(row)


@router.get("", response_model=PromiseList)
async def list_promises(customer_id: IdPath, tenant: TenantId, pool: Pool) -> PromiseList:
    return PromiseList(
        items=[_public(r) for r in await promises.of_customer(pool, tenant, customer_id)]
    )
