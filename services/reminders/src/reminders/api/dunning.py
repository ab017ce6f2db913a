"""`/customers/{customer_id}/dunning`: a customer's dunning as of a date, the policy pinned
to it, and pauses."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from huikuan_contracts.money import Money
from huikuan_contracts.reminders import (
    ChasedInvoice,
    DunningPublic,
    DunningQuery,
    NextAction,
    PauseCreate,
    PausePublic,
    PinPut,
)
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId
from reminders.service import dunning
from reminders.service.dunning import CustomerDunning

router = APIRouter(prefix="/customers/{customer_id}/dunning", tags=["dunning"])


def _public(found: CustomerDunning) -> DunningPublic:
    invoices = [chased.invoice for chased in found.invoices]
    nxt = found.next_action
    return DunningPublic(
        customer_id=found.customer_id,
        open_invoice_count=len(invoices),
        next_due_date=invoices[0].due_date if invoices else None,
        invoices=[
            ChasedInvoice(
                invoice_id=chased.invoice.invoice_id,
                number=chased.invoice.number,
                due_date=chased.invoice.due_date,
                currency=chased.invoice.currency,
                residual=Money(chased.invoice.residual_minor, chased.invoice.currency).format(),
                step=chased.step.name if chased.step else None,
                disputed=chased.invoice.disputed,
                promised=chased.promised,
            )
            for chased in found.invoices
        ],
        as_of=found.as_of,
        grade=found.grade,
        policy_id=found.policy.policy_id,
        policy_version=found.policy.version,
        pinned_policy=found.pinned_policy,
        paused_until=found.paused_until,
        pause_reason=found.pause_reason,
        next_action=(
            NextAction(step=nxt.step, on=nxt.on, invoice_ids=nxt.invoice_ids) if nxt else None
        ),
    )


@router.get("", response_model=DunningPublic)
async def get_dunning(
    customer_id: IdPath,
    tenant: TenantId,
    pool: Pool,
    clock: Clock,
    query: Annotated[DunningQuery, Query()],
) -> DunningPublic:
    on = query.as_of or clock.now().date()
    return _public(await dunning.customer_dunning(pool, tenant, customer_id, on))


@router.put("/policy", response_model=DunningPublic)
async def pin_policy(
    customer_id: IdPath, body: PinPut, tenant: TenantId, pool: Pool, clock: Clock
) -> DunningPublic:
    found = await dunning.pin_policy(pool, tenant, customer_id, body.policy_id, clock.now().date())
    return _public(found)


@router.post("/pause", response_model=PausePublic)
async def pause(
    customer_id: IdPath, body: PauseCreate, tenant: TenantId, pool: Pool
) -> PausePublic:
    await dunning.pause(pool, tenant, customer_id, body.until, body.reason)
    return PausePublic(customer_id=customer_id, paused_until=body.until, pause_reason=body.reason)


@router.delete("/pause", response_model=PausePublic)
async def resume(customer_id: IdPath, tenant: TenantId, pool: Pool) -> PausePublic:
    await dunning.pause(pool, tenant, customer_id, None, None)
    return PausePublic(customer_id=customer_id, paused_until=None, pause_reason=None)
