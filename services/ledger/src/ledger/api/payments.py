"""`/payments`: receive (with allocation), allocate held cash, reverse, read."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Response, status

from huikuan_contracts.ledger import (
    AllocationIn,
    PaymentAllocate,
    PaymentBatch,
    PaymentBatchItem,
    PaymentBatchResult,
    PaymentCreate,
    PaymentPublic,
    PaymentReverse,
)
from huikuan_contracts.money import Money
from huikuan_contracts.problems import ProblemDetails
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId
from huikuan_runtime.problems import Problem
from ledger.api import mapping
from ledger.service import payments as service

router = APIRouter(prefix="/payments", tags=["payments"])


def _pairs(items: list[AllocationIn] | None, currency: str) -> list[tuple[str, int]] | None:
    if items is None:
        return None
    return [(i.invoice_id, Money.parse(i.amount, currency).amount_minor) for i in items]


async def _receive(
    body: PaymentCreate, tenant: str, pool: asyncpg.Pool, clock: Clock
) -> service.Received:
    return await service.receive_payment(
        pool,
        tenant,
        payment_id=body.payment_id,
        customer_id=body.customer_id,
        amount=body.money(),
        received_on=body.received_on,
        method=body.method,
        reference=body.reference,
        allocations=_pairs(body.allocations, body.currency),
        at=clock.now(),
    )


@router.post("", response_model=PaymentPublic, status_code=201)
async def post_payment(
    body: PaymentCreate, tenant: TenantId, pool: Pool, clock: Clock, response: Response
) -> PaymentPublic:
    """Record a payment; allocate it as listed, or to the oldest due invoices first."""
    result = await _receive(body, tenant, pool, clock)
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return mapping.payment(result)


@router.post("/batch", response_model=PaymentBatchResult)
async def post_payment_batch(
    body: PaymentBatch, tenant: TenantId, pool: Pool, clock: Clock
) -> PaymentBatchResult:
    """Record up to 1,000 payments, each in its own transaction, in the order given."""
    items: list[PaymentBatchItem] = []
    for index, item in enumerate(body.items):
        try:
            result = await _receive(item, tenant, pool, clock)
        except Problem as problem:
            items.append(
                PaymentBatchItem(
                    index=index,
                    payment_id=item.payment_id,
                    outcome="rejected",
                    problem=ProblemDetails.model_validate(problem.body()),
                )
            )
            continue
        items.append(
            PaymentBatchItem(
                index=index,
                payment_id=item.payment_id,
                outcome="created" if result.created else "existing",
                payment=mapping.payment(result),
            )
        )
    return PaymentBatchResult(
        created=sum(i.outcome == "created" for i in items),
        existing=sum(i.outcome == "existing" for i in items),
        rejected=sum(i.outcome == "rejected" for i in items),
        items=items,
    )


@router.get("/{payment_id}", response_model=PaymentPublic)
async def get_payment(payment_id: IdPath, tenant: TenantId, pool: Pool) -> PaymentPublic:
    return mapping.payment(await service.get_payment(pool, tenant, payment_id))


@router.post("/{payment_id}/allocations", response_model=PaymentPublic)
async def allocate_payment(
    payment_id: IdPath, body: PaymentAllocate, tenant: TenantId, pool: Pool, clock: Clock
) -> PaymentPublic:
    """Match the payment's unapplied cash now: as listed, or oldest due first."""
    result = await service.allocate_held(
        pool,
        tenant,
        payment_id,
        currency=body.currency,
        allocations=_pairs(body.allocations, body.currency),
        at=clock.now(),
    )
    return mapping.payment(result)


@router.post("/{payment_id}/reverse", response_model=PaymentPublic)
async def reverse_payment(
    payment_id: IdPath, body: PaymentReverse, tenant: TenantId, pool: Pool, clock: Clock
) -> PaymentPublic:
    """Undo a payment (a bounced cheque): what it paid is owed again."""
    result = await service.reverse_payment(
        pool, tenant, payment_id, reversed_on=body.reversed_on, reason=body.reason, at=clock.now()
    )
    return mapping.payment(result)
