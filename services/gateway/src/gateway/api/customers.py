"""The customer list with credit's grade filter, and the aggregated customer summary (the
rest of the customer calls are forwarded as they are, in `gateway.api.ledger`; credit's own
routes are in `gateway.api.credit`, reminders' in `gateway.api.dunning`)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from gateway.api.deps import Config, Credit, Ledger, LedgerRead, Reminders
from gateway.api.forward import relay
from gateway.api.params import CustomerId
from gateway.api.parts import SummaryPart, fetch
from gateway.api.responses import errors
from huikuan_contracts.credit import CreditPublic, Grade
from huikuan_contracts.ledger import CustomerBalances, CustomerPage, CustomerPublic, CustomerQuery
from huikuan_contracts.reminders import DunningPublic
from huikuan_runtime.problems import NotFound, UpstreamUnavailable

router = APIRouter(tags=["customers"])


class CustomerGradeQuery(CustomerQuery):
    """The ledger's filters of `GET /customers`, and credit's current grade."""

    grade: Grade | None = Field(
        None,
        description="only customers credit currently grades so; the cursor is then credit's "
        "and a page may hold fewer than `limit` customers when the other filters drop some "
        "(keep following `next_cursor` until it is null)",
    )


@router.get(
    "/customers",
    response_model=CustomerPage,
    responses=errors(),
    summary="Customers, filtered by owner, region, segment, overdue or credit grade",
    description="Customers in id order. With `grade`, a page of that grade's customers is "
    "taken from credit (`limit`, `cursor`) and the ledger's filters are applied to it, so a "
    "page may be short or empty while `next_cursor` is not null; a 503 when credit does not "
    "answer. Without `grade`, the ledger's list as it is.",
    openapi_extra={"x-required-scope": "ledger:read"},
)
async def get_customers(
    query: Annotated[CustomerGradeQuery, Query()],
    who: LedgerRead,
    ledger: Ledger,
    credit: Credit,
) -> Response:
    params = query.model_dump(mode="json", exclude_none=True, exclude={"grade"})
    if query.grade is None:
        return relay(await ledger.request("GET", "/customers", who.tenant, params=params))
    asked: dict[str, Any] = {"grade": query.grade, "limit": query.limit}
    if query.cursor is not None:
        asked["cursor"] = query.cursor
    listed = await credit.request("GET", "/customers", who.tenant, params=asked)
    if listed.status == 422:  # the caller's cursor is not one credit returned
        return relay(listed)
    if listed.status != 200:
        raise UpstreamUnavailable(f"the credit service answered {listed.status} for the grade")
    graded: dict[str, Any] = listed.body
    ids = [item["customer_id"] for item in graded["items"]]
    items: list[Any] = []
    if ids:
        filters = {k: v for k, v in params.items() if k not in ("limit", "cursor")}
        found = await ledger.request(
            "GET", "/customers", who.tenant, params={**filters, "ids": ids, "limit": len(ids)}
        )
        if found.status != 200:
            return relay(found)
        items = found.body["items"]
    page = {"items": items, "next_cursor": graded["next_cursor"]}
    body = json.dumps(page, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(body, media_type="application/json")


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
    settings: Config,
    ledger: Ledger,
    credit: Credit,
    reminders: Reminders,
) -> Response:
    """Balances, credit and dunning in one answer, fetched concurrently. A part whose service
    is slow or down is marked `unavailable` and the rest is still returned."""
    timeout = settings.summary_part_timeout_seconds
    customer, balances, credit_part, dunning = await asyncio.gather(
        ledger.request("GET", f"/customers/{customer_id}", who.tenant),
        fetch(ledger, f"/customers/{customer_id}/balances", who.tenant, timeout),
        fetch(credit, f"/customers/{customer_id}/credit", who.tenant, timeout),
        fetch(reminders, f"/customers/{customer_id}/dunning", who.tenant, timeout),
    )
    if customer.status == 404:
        raise NotFound(f"no customer {customer_id!r}")
    if customer.status != 200:
        raise UpstreamUnavailable(f"the ledger answered {customer.status} for the customer")
    parts = (balances, credit_part, dunning)
    complete = b"true" if all(p.status != "unavailable" for p in parts) else b"false"
    body = b"".join(
        (
            b'{"customer":',
            customer.content,
            b',"complete":',
            complete,
            b',"balances":',
            balances.json,
            b',"credit":',
            credit_part.json,
            b',"dunning":',
            dunning.json,
            b"}",
        )
    )
    return Response(body, media_type="application/json")
