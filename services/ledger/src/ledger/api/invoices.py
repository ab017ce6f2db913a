"""`/invoices`: issue, read, void, credit notes, write-offs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from huikuan_contracts.ledger import (
    CreditNoteCreate,
    CreditNotePublic,
    InvoiceBatch,
    InvoiceBatchItem,
    InvoiceBatchResult,
    InvoiceCreate,
    InvoiceDetail,
    InvoicePage,
    InvoicePublic,
    InvoiceQuery,
    InvoiceVoid,
    WriteOffCreate,
    WriteOffPublic,
)
from huikuan_contracts.problems import ProblemDetails
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId
from ledger.api import mapping
from ledger.api.deps import AsOf
from ledger.service import batches
from ledger.service import invoices as service

router = APIRouter(prefix="/invoices", tags=["invoices"])


@router.post("", response_model=InvoicePublic, status_code=201)
async def post_invoice(
    body: InvoiceCreate, tenant: TenantId, pool: Pool, clock: Clock, response: Response, as_of: AsOf
) -> InvoicePublic:
    result = await service.create_invoice(
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
    return mapping.invoice(result.row, as_of)


@router.get("", response_model=InvoicePage)
async def list_invoices(
    query: Annotated[InvoiceQuery, Query()], tenant: TenantId, pool: Pool, clock: Clock
) -> InvoicePage:
    """Invoices in issue order, filtered by customer and status as of a date."""
    as_of = query.as_of or clock.now().date()
    rows, next_cursor = await service.list_invoices(
        pool,
        tenant,
        as_of=as_of,
        customer_id=query.customer_id,
        statuses=[s.value for s in query.status] if query.status else None,
        cursor=query.cursor,
        limit=query.limit,
    )
    return InvoicePage(
        items=[mapping.invoice(r, as_of, disputed=r["status_as_of"] == "disputed") for r in rows],
        next_cursor=next_cursor,
    )


@router.post("/batch", response_model=InvoiceBatchResult)
async def post_invoice_batch(
    body: InvoiceBatch, tenant: TenantId, pool: Pool, clock: Clock
) -> JSONResponse:
    """Issue up to 1,000 invoices at once; each item gets its own result."""
    results = await batches.issue_batch(
        pool,
        tenant,
        [
            batches.InvoiceRequest(
                i.invoice_id, i.customer_id, i.number, i.issue_date, i.due_date, i.money()
            )
            for i in body.items
        ],
        clock.now(),
    )
    items = [
        InvoiceBatchItem.model_construct(
            index=r.index,
            invoice_id=r.invoice_id,
            outcome=r.outcome,
            due_date=r.row["due_date"] if r.row is not None else None,
            problem=ProblemDetails.model_validate(r.problem.body()) if r.problem else None,
        )
        for r in results
    ]
    result = InvoiceBatchResult.model_construct(
        created=sum(r.outcome == "created" for r in results),
        existing=sum(r.outcome == "existing" for r in results),
        rejected=sum(r.outcome == "rejected" for r in results),
        items=items,
    )
    # Built from our own values: serialise once, without validating 1,000 items again.
    return JSONResponse(result.model_dump(mode="json"))


@router.get("/{invoice_id}", response_model=InvoiceDetail)
async def get_invoice(
    invoice_id: IdPath, tenant: TenantId, pool: Pool, as_of: AsOf
) -> InvoiceDetail:
    """Residual, status and days overdue as of a date, allocations and full history."""
    return mapping.invoice_detail(await service.invoice_detail(pool, tenant, invoice_id), as_of)


@router.post("/{invoice_id}/void", response_model=InvoicePublic)
async def void_invoice(
    invoice_id: IdPath, body: InvoiceVoid, tenant: TenantId, pool: Pool, clock: Clock, as_of: AsOf
) -> InvoicePublic:
    row = await service.void_invoice(
        pool, tenant, invoice_id, voided_on=body.voided_on, reason=body.reason, at=clock.now()
    )
    return mapping.invoice(row, as_of)


@router.post("/{invoice_id}/credit-notes", response_model=CreditNotePublic, status_code=201)
async def post_credit_note(
    invoice_id: IdPath,
    body: CreditNoteCreate,
    tenant: TenantId,
    pool: Pool,
    clock: Clock,
    response: Response,
) -> CreditNotePublic:
    row, created = await service.add_credit_note(
        pool,
        tenant,
        invoice_id,
        credit_note_id=body.credit_note_id,
        amount=body.money(),
        reason=body.reason,
        note=body.note,
        issued_on=body.issued_on,
        at=clock.now(),
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return mapping.credit_note(row, body.currency)


@router.post("/{invoice_id}/write-off", response_model=WriteOffPublic, status_code=201)
async def post_write_off(
    invoice_id: IdPath,
    body: WriteOffCreate,
    tenant: TenantId,
    pool: Pool,
    clock: Clock,
    response: Response,
) -> WriteOffPublic:
    written = await service.write_off_invoice(
        pool,
        tenant,
        invoice_id,
        reason=body.reason,
        approver=body.approver,
        written_off_on=body.written_off_on,
        at=clock.now(),
    )
    if not written.created:
        response.status_code = status.HTTP_200_OK
    return mapping.write_off(written.row, written.currency)
