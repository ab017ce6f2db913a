"""`/customers`: master data and balances."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from huikuan_contracts.ledger import (
    CurrencyBalance,
    CustomerBalances,
    CustomerListQuery,
    CustomerPage,
    CustomerPublic,
    CustomerUpsert,
)
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId
from ledger.api import mapping
from ledger.api.deps import AsOf
from ledger.service import customers as service

router = APIRouter(prefix="/customers", tags=["customers"])


@router.get("", response_model=CustomerPage)
async def list_customers(
    query: Annotated[CustomerListQuery, Query()], tenant: TenantId, pool: Pool, clock: Clock
) -> CustomerPage:
    """Customers in id order, filtered by owner, region, segment, having overdue invoices, or
    being among `ids`."""
    as_of = query.as_of or clock.now().date()
    rows, next_cursor = await service.list_customers(
        pool,
        tenant,
        owner=query.owner,
        region=query.region,
        segment=query.segment,
        overdue_as_of=as_of if query.overdue else None,
        ids=query.ids,
        cursor=query.cursor,
        limit=query.limit,
    )
    return CustomerPage(items=[mapping.customer(r) for r in rows], next_cursor=next_cursor)


@router.put("/{customer_id}", response_model=CustomerPublic)
async def put_customer(
    customer_id: IdPath,
    body: CustomerUpsert,
    tenant: TenantId,
    pool: Pool,
    clock: Clock,
    response: Response,
) -> CustomerPublic:
    result = await service.upsert_customer(
        pool, tenant, customer_id, body.model_dump(), clock.now()
    )
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return mapping.customer(result.row)


@router.get("/{customer_id}", response_model=CustomerPublic)
async def get_customer(customer_id: IdPath, tenant: TenantId, pool: Pool) -> CustomerPublic:
    return mapping.customer(await service.get_customer(pool, tenant, customer_id))


@router.get("/{customer_id}/balances", response_model=CustomerBalances)
async def get_balances(
    customer_id: IdPath, tenant: TenantId, pool: Pool, as_of: AsOf
) -> CustomerBalances:
    """What the customer owes and what we hold for it, per currency, from the journal."""
    balances = await service.balances(pool, tenant, customer_id, as_of)
    return CustomerBalances(
        customer_id=customer_id,
        as_of=as_of,
        balances=[
            CurrencyBalance(
                currency=b.currency,
                open_amount=mapping.text(b.receivable_minor, b.currency),
                open_invoices=b.open_invoices,
                unapplied_cash=mapping.text(b.unapplied_minor, b.currency),
            )
            for b in balances
        ],
    )
