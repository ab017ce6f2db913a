"""`/worklist` and `/tasks`: collectors' open tasks, highest priority first, and completing
one."""

from __future__ import annotations

from datetime import date
from typing import Annotated
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query

from huikuan_contracts.money import Money
from huikuan_contracts.reminders import TaskComplete, TaskPublic, Worklist, WorklistQuery
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import TenantId
from reminders.domain.dunning import priority
from reminders.service import tasks

router = APIRouter(tags=["dunning"])


def _public(r: asyncpg.Record, on: date) -> TaskPublic:
    return TaskPublic(
        task_id=str(r["task_id"]),
        customer_id=r["customer_id"],
        kind=r["kind"],
        owner=r["owner"],
        step=r["step"],
        due_on=r["due_on"],
        invoice_ids=list(r["invoice_ids"]),
        currency=r["currency"],
        residual=Money(r["residual_minor"], r["currency"]).format(),
        grade=r["grade"],
        priority=priority(r["residual_minor"], r["grade"], (on - r["due_on"]).days),
        status=r["status"],
        outcome=r["outcome"],
        note=r["note"],
        completed_on=r["completed_on"],
        escalated=r["escalated_on"] is not None,
        escalated_on=r["escalated_on"],
        escalated_to=r["escalated_to"],
    )


@router.get("/worklist", response_model=Worklist)
async def worklist(
    query: Annotated[WorklistQuery, Query()], tenant: TenantId, pool: Pool, clock: Clock
) -> Worklist:
    """Open tasks due by the date, highest priority first (residual x grade risk x age):
    the owner's own and those escalated to the owner as manager (`escalated_to`)."""
    on = query.date or clock.now().date()
    rows = await tasks.worklist(pool, tenant, query.owner, on)
    items = sorted((_public(r, on) for r in rows), key=lambda t: (-t.priority, t.task_id))
    return Worklist(owner=query.owner, date=on, items=items)


@router.post("/tasks/{task_id}/complete", response_model=TaskPublic)
async def complete_task(
    task_id: UUID, body: TaskComplete, tenant: TenantId, pool: Pool, clock: Clock
) -> TaskPublic:
    at = clock.now()
    on = body.completed_on or at.date()
    row = await tasks.complete_task(pool, tenant, task_id, body.outcome, body.note, on, at)
    return _public(row, on)
