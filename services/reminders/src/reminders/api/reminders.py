"""`/reminders`: the reminders recorded for the tenant, with their text and deliveries."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from huikuan_contracts.money import Money
from huikuan_contracts.reminders import (
    DeliveryAttempt,
    ReminderPage,
    ReminderPublic,
    ReminderQuery,
)
from huikuan_runtime.deps import Pool
from huikuan_runtime.http import TenantId
from reminders.api.deps import Texts
from reminders.domain.dunning import reminded_invoices
from reminders.service import recorded

router = APIRouter(prefix="/reminders", tags=["dunning"])

# The columns of a reminder that the API shows as they are stored.
_AS_STORED = (
    "customer_id",
    "policy_id",
    "policy_version",
    "step",
    "channel",
    "recipient",
    "language",
    "currency",
    "as_of",
    "status",
    "attempts",
    "last_error",
    "created_at",
    "sent_at",
)


def _public(listed: recorded.Listed) -> ReminderPublic:
    r = listed.row
    fields: dict[str, Any] = {k: r[k] for k in _AS_STORED}
    return ReminderPublic(
        reminder_id=str(r["reminder_id"]),
        subject=listed.subject,
        body=listed.body,
        text_problem=listed.text_problem,
        invoices=reminded_invoices(r["invoices"], r["currency"]),
        residual=Money(r["residual_minor"], r["currency"]).format(),
        deliveries=[
            DeliveryAttempt(attempt=a["attempt"], at=a["at"], ok=a["ok"], error=a["error"])
            for a in listed.attempts
        ],
        **fields,
    )


@router.get("", response_model=ReminderPage)
async def list_reminders(
    query: Annotated[ReminderQuery, Query()], tenant: TenantId, pool: Pool, renderer: Texts
) -> ReminderPage:
    """Oldest first, in pages: `next_cursor` continues after the last item returned
    (keyset on created_at + reminder_id, so reminders recorded meanwhile never shift a page)."""
    listed, next_cursor = await recorded.page(
        pool,
        renderer,
        tenant,
        customer_id=query.customer_id,
        status=query.status,
        cursor=query.cursor,
        limit=query.limit,
    )
    return ReminderPage(items=[_public(x) for x in listed], next_cursor=next_cursor)
