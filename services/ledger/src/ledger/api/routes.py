"""The ledger's internal HTTP API (the gateway is its only caller)."""

from __future__ import annotations

from typing import Any

import asyncpg
from fastapi import APIRouter, Response, status

from huikuan_runtime.clock import SystemClock
from huikuan_runtime.fields import IdPath
from huikuan_runtime.http import TenantId
from huikuan_runtime.money import Money
from huikuan_runtime.service import Pool
from ledger.api.schemas import (
    CurrencyBalance,
    CustomerBalances,
    CustomerPublic,
    CustomerUpsert,
    InvoiceCreate,
    InvoicePublic,
)
from ledger.service import customers as customer_service
from ledger.service import invoices as invoice_service

router = APIRouter()
clock = SystemClock()


def _customer(row: asyncpg.Record) -> CustomerPublic:
    return CustomerPublic.model_validate(dict(row))


def _invoice(row: asyncpg.Record) -> InvoicePublic:
    data: dict[str, Any] = dict(row)
    amount = Money(data.pop("amount_minor"), data["currency"]).format()
    return InvoicePublic.model_validate(
        {**data, "amount": amount, "residual": amount, "status": "open"}
    )


@router.put("/customers/{customer_id}", response_model=CustomerPublic, tags=["customers"])
async def put_customer(
    customer_id: IdPath,
    body: CustomerUpsert,
    tenant: TenantId,
    pool: Pool,
    response: Response,
) -> CustomerPublic:
    result = await customer_service.upsert_customer(
        pool, tenant, customer_id, body.model_dump(), clock.now()
    )
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return _customer(result.row)


@router.get("/customers/{customer_id}", response_model=CustomerPublic, tags=["customers"])
async def get_customer(customer_id: IdPath, tenant: TenantId, pool: Pool) -> CustomerPublic:
    return _customer(await customer_service.get_customer(pool, tenant, customer_id))


@router.get(
    "/customers/{customer_id}/balances", response_model=CustomerBalances, tags=["customers"]
)
async def get_balances(customer_id: IdPath, tenant: TenantId, pool: Pool) -> CustomerBalances:
    rows = await customer_service.open_balances(pool, tenant, customer_id)
    return CustomerBalances(
        customer_id=customer_id,
        balances=[
            CurrencyBalance(
                currency=r["currency"],
                open_amount=Money(r["total_minor"], r["currency"]).format(),
                open_invoices=r["invoices"],
            )
            for r in rows
        ],
    )


@router.post("/invoices", response_model=InvoicePublic, status_code=201, tags=["invoices"])
async def post_invoice(
    body: InvoiceCreate, tenant: TenantId, pool: Pool, response: Response
) -> InvoicePublic:
    result = await invoice_service.create_invoice(
        pool,
        tenant,
        invoice_id=body.invoice_id,
        customer_id=body.customer_id,
        number=body.number,
        issue_date=body.issue_date,
        due_date=body.due_date,
        amount=body.money(),
        at=clock.now(),
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return _invoice(result.row)


@router.get("/invoices/{invoice_id}", response_model=InvoicePublic, tags=["invoices"])
async def get_invoice(invoice_id: IdPath, tenant: TenantId, pool: Pool) -> InvoicePublic:
    return _invoice(await invoice_service.get_invoice(pool, tenant, invoice_id))
