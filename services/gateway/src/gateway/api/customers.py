"""The aggregated customer summary (credit's own routes are in `gateway.api.credit`,
reminders' in `gateway.api.dunning`)."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel

from credit.api.schemas import CreditPublic
from gateway.api.deps import Credit, Ledger, LedgerRead, Reminders
from gateway.api.params import CustomerId
from gateway.api.responses import errors
from gateway.clients import Downstream
from huikuan_runtime.problems import NotFound, Problem, UpstreamUnavailable
from ledger.api.schemas import CustomerBalances, CustomerPublic
from reminders.api.schemas import DunningPublic

router = APIRouter(tags=["customers"])


PartStatus = Literal["ok", "none", "unavailable"]


class SummaryPart(BaseModel):
    status: PartStatus
    detail: str | None = None


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


@dataclass(frozen=True, slots=True)
class _Part:
    status: PartStatus
    json: bytes  # the part as the answer carries it


async def _part(client: Downstream, path: str, tenant: str, timeout: float) -> _Part:
    """One downstream's part of the summary; failure is reported in the part, not raised.
    The service's answer is passed on as it is: it was built from the same model the
    document declares, so it is neither parsed nor validated again here."""
    try:
        reply = await client.request("GET", path, tenant, deadline=timeout)
    except Problem as exc:
        return _failed("unavailable", exc.detail)
    if reply.status == 404:
        return _failed("none", f"{client.name} has nothing on this customer yet")
    if reply.status != 200:
        return _failed("unavailable", f"{client.name} answered {reply.status}")
    return _Part("ok", b'{"status":"ok","detail":null,"data":' + reply.content + b"}")


def _failed(status: PartStatus, detail: str) -> _Part:
    return _Part(status, json.dumps({"status": status, "detail": detail, "data": None}).encode())


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
    customer, balances, credit_part, dunning = await asyncio.gather(
        ledger.request("GET", f"/customers/{customer_id}", who.tenant),
        _part(ledger, f"/customers/{customer_id}/balances", who.tenant, timeout),
        _part(credit, f"/customers/{customer_id}/credit", who.tenant, timeout),
        _part(reminders, f"/customers/{customer_id}/dunning", who.tenant, timeout),
    )
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
