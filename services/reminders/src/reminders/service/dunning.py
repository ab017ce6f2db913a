"""A customer's dunning as of a date (the policy it is under, where each open invoice stands,
what comes next), and what a collector changes about it: the policy pinned, a pause."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import asyncpg

from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import NotFound
from reminders.domain.dunning import OpenInvoice, current_step, next_action, paused_invoices
from reminders.domain.policy import Policy, Step, choose
from reminders.service.policies import policies
from reminders.service.run import promise_of
from reminders.store import book, dunning


@dataclass(frozen=True, slots=True)
class ChasedInvoice:
    invoice: OpenInvoice
    step: Step | None  # the step it is at on the date, None before the first
    promised: bool  # an open promise holds dunning off it


@dataclass(frozen=True, slots=True)
class NextAction:
    """The earliest step due for the customer's invoices, and those it is due for."""

    on: date
    step: str
    invoice_ids: list[str]


@dataclass(frozen=True, slots=True)
class CustomerDunning:
    customer_id: str
    as_of: date
    policy: Policy
    grade: str | None
    pinned_policy: str | None
    paused_until: date | None
    pause_reason: str | None
    invoices: list[ChasedInvoice]  # open ones, by due date
    next_action: NextAction | None


async def customer_dunning(
    pool: asyncpg.Pool, tenant: str, customer_id: str, on: date
) -> CustomerDunning:
    """The customer's dunning as of `on`; 404 for a customer reminders has seen no event of."""
    async with pool.acquire() as conn:
        who = await book.contact(conn, tenant, customer_id)
        state = await book.customer(conn, tenant, customer_id)
        rows = await book.open_invoices(conn, tenant, customer_id)
        taken = await dunning.taken_steps(conn, tenant, customer_id)
        open_promises = [
            promise_of(r) for r in await dunning.promises(conn, tenant, customer_id, open_only=True)
        ]
        found = await policies(conn, tenant)
    if who is None and state is None and not rows:
        raise NotFound(f"reminders has seen no events for customer {customer_id!r}")
    grade = state["grade"] if state else None
    pinned = state["pinned_policy"] if state else None
    policy = choose(found, grade, pinned)
    held = paused_invoices(open_promises, on)
    invoices = [
        OpenInvoice(
            r["invoice_id"],
            r["number"],
            r["due_date"],
            r["currency"],
            r["residual_minor"],
            r["disputed"],
            r["cycle"],
            r["escalate"],
        )
        for r in rows
    ]
    best: tuple[date, str] | None = None
    best_ids: list[str] = []
    for inv in invoices:
        if inv.disputed or inv.invoice_id in held:
            continue
        nxt = next_action(policy, inv, taken, on)
        if nxt is None:
            continue
        key = (nxt[1], nxt[0].name)
        if best is None or key < best:
            best, best_ids = key, [inv.invoice_id]
        elif key == best:
            best_ids.append(inv.invoice_id)
    return CustomerDunning(
        customer_id=customer_id,
        as_of=on,
        policy=policy,
        grade=grade,
        pinned_policy=pinned,
        paused_until=state["paused_until"] if state else None,
        pause_reason=state["pause_reason"] if state else None,
        invoices=[
            ChasedInvoice(inv, current_step(policy, inv, on), inv.invoice_id in held)
            for inv in invoices
        ],
        next_action=NextAction(best[0], best[1], best_ids) if best else None,
    )


async def pin_policy(
    pool: asyncpg.Pool, tenant: str, customer_id: str, policy_id: str | None, on: date
) -> CustomerDunning:
    """Put the customer under `policy_id` whatever its grade (None: by its grade again);
    its dunning as of `on` afterwards. 404 for a policy the tenant does not have."""
    async with unit_of_work(pool) as conn:
        if policy_id is not None and policy_id not in await policies(conn, tenant):
            raise NotFound(f"no dunning policy {policy_id!r}")
        await book.set_pin(conn, tenant, customer_id, policy_id)
    return await customer_dunning(pool, tenant, customer_id, on)


async def pause(
    pool: asyncpg.Pool, tenant: str, customer_id: str, until: date | None, reason: str | None
) -> None:
    """Hold the customer's dunning off until `until` (None: resume now)."""
    async with unit_of_work(pool) as conn:
        await book.set_pause(conn, tenant, customer_id, until, reason)
