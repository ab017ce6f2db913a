"""`/invoices/{invoice_id}/disputes` and `/disputes`: open, resolve, read."""

from __future__ import annotations

import asyncpg
from fastapi import APIRouter, Response, status

from huikuan_contracts.ledger.disputes import (
    DisputeCreate,
    DisputeCreditPublic,
    DisputePublic,
    DisputeResolve,
)
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId
from ledger.api.mapping import text
from ledger.service import disputes as service

router = APIRouter(tags=["disputes"])


def _public(row: asyncpg.Record) -> DisputePublic:
    currency = row["currency"]
    credit = (
        DisputeCreditPublic(
            credit_note_id=row["credit_note_id"], amount=text(row["credit_minor"], currency)
        )
        if row["credit_note_id"] is not None
        else None
    )
    return DisputePublic(
        dispute_id=row["dispute_id"],
        invoice_id=row["invoice_id"],
        customer_id=row["customer_id"],
        currency=currency,
        amount=text(row["amount_minor"], currency),
        reason=row["reason"],
        opened_on=row["opened_on"],
        status=row["status"],
        resolved_on=row["resolved_on"],
        resolution_note=row["resolution_note"],
        credit_note=credit,
        created_at=row["created_at"],
    )


@router.post("/invoices/{invoice_id}/disputes", response_model=DisputePublic, status_code=201)
async def post_dispute(
    invoice_id: IdPath,
    body: DisputeCreate,
    tenant: TenantId,
    pool: Pool,
    clock: Clock,
    response: Response,
) -> DisputePublic:
    """Dispute (part of) an invoice: it leaves automatic allocation until resolved."""
    result = await service.open_dispute(
        pool,
        tenant,
        invoice_id,
        dispute_id=body.dispute_id,
        reason=body.reason,
        amount=body.money(),
        opened_on=body.opened_on,
        at=clock.now(),
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return _public(result.row)


@router.get("/disputes/{dispute_id}", response_model=DisputePublic)
async def get_dispute(dispute_id: IdPath, tenant: TenantId, pool: Pool) -> DisputePublic:
    return _public(await service.get_dispute(pool, tenant, dispute_id))


@router.post("/disputes/{dispute_id}/resolve", response_model=DisputePublic)
async def resolve_dispute(
    dispute_id: IdPath, body: DisputeResolve, tenant: TenantId, pool: Pool, clock: Clock
) -> DisputePublic:
    """Accept (with a credit note, posted at once) or reject an open dispute."""
    given = (
        service.CreditGiven(body.credit_note.credit_note_id, body.credit_note.money())
        if body.credit_note is not None
        else None
    )
    result = await service.resolve_dispute(
        pool,
        tenant,
        dispute_id,
        outcome=body.outcome,
        resolved_on=body.resolved_on,
        note=body.note,
        given=given,
        at=clock.now(),
    )
    return _public(result.row)
