"""An invoice as the ledger keeps it, joined with credit's predicted payment date (the rest of
the invoice calls are forwarded as they are, in `gateway.api.ledger`)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query, Response
from pydantic import Field

from gateway.api.deps import Config, Credit, Ledger, LedgerRead
from gateway.api.forward import relay
from gateway.api.params import InvoiceId
from gateway.api.parts import SummaryPart, fetch
from gateway.api.responses import errors
from huikuan_contracts.credit import InvoiceForecastPublic
from huikuan_contracts.ledger import InvoiceDetail
from huikuan_contracts.queries import AsOfQuery

router = APIRouter(tags=["invoices"])

NO_PREDICTION = (
    "credit has no prediction for this invoice: it has not seen it issued yet, "
    "or the invoice is no longer open"
)


class PredictionPart(SummaryPart):
    data: InvoiceForecastPublic | None = None


class InvoiceWithPrediction(InvoiceDetail):
    prediction: PredictionPart = Field(
        description="credit's predicted payment date (`none` when credit has no prediction "
        "for the invoice, `unavailable` when credit did not answer in time)"
    )


@router.get(
    "/invoices/{invoice_id}",
    response_model=InvoiceWithPrediction,
    responses=errors(404),
    summary="Residual, status and days overdue as of a date, allocations, history, "
    "predicted payment date",
    openapi_extra={"x-required-scope": "ledger:read"},
)
async def get_invoices_invoice_id(
    invoice_id: InvoiceId,
    query: Annotated[AsOfQuery, Query()],
    who: LedgerRead,
    settings: Config,
    ledger: Ledger,
    credit: Credit,
) -> Response:
    """The ledger's invoice and credit's prediction for it, fetched concurrently (credit finds
    the invoice's customer itself). The prediction is a part: a slow or dead credit service
    marks it `unavailable` and the invoice still answers."""
    timeout = settings.summary_part_timeout_seconds
    params = query.model_dump(mode="json", exclude_none=True) or None
    invoice, prediction = await asyncio.gather(
        ledger.request("GET", f"/invoices/{invoice_id}", who.tenant, params=params),
        fetch(
            credit,
            f"/invoices/{invoice_id}/prediction",
            who.tenant,
            timeout,
            missing=NO_PREDICTION,
            params=params,
        ),
    )
    if invoice.status != 200:
        return relay(invoice)
    # The ledger's object, its closing brace replaced by the part: bytes spliced, not parsed.
    detail = invoice.content.rstrip()
    if not detail.endswith(b"}") or detail == b"{}":
        return relay(invoice)
    body = b"".join((detail[:-1], b',"prediction":', prediction.json, b"}"))
    return Response(body, media_type="application/json")
