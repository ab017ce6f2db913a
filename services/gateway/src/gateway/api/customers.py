"""The aggregated customer summary (credit's own routes are in `gateway.api.credit`,
reminders' in `gateway.api.dunning`)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from credit.api.schemas import CreditPublic
from gateway.api.deps import Credit, Ledger, LedgerRead, Reminders
from gateway.api.params import CustomerId
from gateway.api.parts import SummaryPart, fetch
from gateway.api.responses import errors
from huikuan_runtime.problems import NotFound, UpstreamUnavailable
from ledger.api.schemas import CustomerBalances, CustomerPublic
from reminders.api.schemas import DunningPublic

router = APIRouter(tags=["customers"])


class BalancesPart(SummaryPart):
    data: CustomerBalances | None = None


class CreditPart(SummaryPart):
    data: CreditPublic | None = None


class DunningPart(SummaryPart):
    data: DunningPublic | None = None


class CustomerSummary(BaseModel):
    customer: CustomerPublic
    complete: bool
    balances: BalancesPart
    credit: CreditPart
    dunning: DunningPart


@router.get(
    "/customers/{customer_id}/summary",
    response_model=CustomerSummary,
    responses=errors(404),
    openapi_extra={"x-required-scope": "ledger:read"},
)
async def get_summary(
    customer_id: CustomerId,
    who: LedgerRead,
    request: Request,
    ledger: Ledger,
    credit: Credit,
    reminders: Reminders,
) -> Response:
    """Balances, credit and dunning in one answer, fetched concurrently. A part whose service
    is slow or down is marked `unavailable` and the rest is still returned."""
    timeout = request.app.state.settings.summary_part_timeout_seconds
    missing = "{} has nothing on this customer yet".format
    customer, balances, credit_part, dunning = await asyncio.gather(
        ledger.request("GET", f"/customers/{customer_id}", who.tenant),
        fetch(ledger, f"/customers/{customer_id}/balances", who.tenant, timeout,
              missing=missing("ledger")),
        fetch(credit, f"/customers/{customer_id}/credit", who.tenant, timeout,
              missing=missing("credit")),
        fetch(reminders, f"/customers/{customer_id}/dunning", who.tenant, timeout,
              missing=missing("reminders")),
    )  # fmt: skip
    if customer.status == 404:
        raise NotFound(f"no customer {customer_id!r}")
    if customer.status != 200:
        raise UpstreamUnavailable(f"the ledger answered {customer.status} for the customer")
    parts = (balances, credit_part, dunning)
    complete = b"true" if all(p.status != "unavailable" for p in parts) else b"false"
    body = b"".join((
        b'{"customer":', customer.content, b',"complete":', complete,
        b',"balances":', balances.json, b',"credit":', credit_part.json,
        b',"dunning":', dunning.json, b"}",
    ))  # fmt: skip
    return Response(body, media_type="application/json")
