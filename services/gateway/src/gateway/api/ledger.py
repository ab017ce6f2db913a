"""`/v1/customers` and `/v1/invoices`, owned by the ledger service."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from gateway.api.deps import Ledger, LedgerRead, LedgerWrite
from gateway.api.forward import relay
from gateway.api.params import CustomerId, InvoiceId
from gateway.api.responses import errors
from ledger.api.schemas import CustomerPublic, CustomerUpsert, InvoiceCreate, InvoicePublic

router = APIRouter()


@router.put(
    "/customers/{customer_id}",
    tags=["customers"],
    response_model=CustomerPublic,
    responses={201: {"model": CustomerPublic, "description": "created"}, **errors()},
)
async def put_customer(
    customer_id: CustomerId, body: CustomerUpsert, who: LedgerWrite, ledger: Ledger
) -> JSONResponse:
    """Create or update a customer under the caller's id."""
    return relay(
        await ledger.request(
            "PUT", f"/customers/{customer_id}", who.tenant, json=body.model_dump(mode="json")
        )
    )


@router.get(
    "/customers/{customer_id}",
    tags=["customers"],
    response_model=CustomerPublic,
    responses=errors(404),
)
async def get_customer(customer_id: CustomerId, who: LedgerRead, ledger: Ledger) -> JSONResponse:
    return relay(await ledger.request("GET", f"/customers/{customer_id}", who.tenant))


@router.post(
    "/invoices",
    tags=["invoices"],
    response_model=InvoicePublic,
    status_code=201,
    responses={
        200: {"model": InvoicePublic, "description": "the same invoice again"},
        **errors(409),
    },
)
async def post_invoice(body: InvoiceCreate, who: LedgerWrite, ledger: Ledger) -> JSONResponse:
    """Issue an invoice; repeating the same request returns the same invoice."""
    return relay(
        await ledger.request("POST", "/invoices", who.tenant, json=body.model_dump(mode="json"))
    )


@router.get(
    "/invoices/{invoice_id}",
    tags=["invoices"],
    response_model=InvoicePublic,
    responses=errors(404),
)
async def get_invoice(invoice_id: InvoiceId, who: LedgerRead, ledger: Ledger) -> JSONResponse:
    return relay(await ledger.request("GET", f"/invoices/{invoice_id}", who.tenant))
