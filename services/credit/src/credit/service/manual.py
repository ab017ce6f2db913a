"""Use cases for what people decide: manual limits, manual holds, the tenant's hold policy.
Each runs in one unit of work and writes its events to the outbox in the same transaction;
a change to one customer answers the customer's credit view afterwards."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from credit.domain.holds import MANUAL, HoldPolicy
from credit.domain.limits import Limit
from credit.events.outbox import emit
from credit.service.derive import refresh
from credit.service.views import CreditView, credit_view, require_known
from credit.store import customers, holds, limits, policies
from huikuan_events.credit import HoldPlaced, HoldReleased, LimitChanged
from huikuan_runtime.db import unit_of_work


async def set_limit(
    pool: asyncpg.Pool,
    tenant: str,
    customer_id: str,
    *,
    currency: str,
    minor: int | None,
    reason: str,
    set_by: str,
    today: date,
    at: datetime,
) -> CreditView:
    """Set (or with None clear) the manual limit; then holds are re-judged against it."""
    async with unit_of_work(pool) as conn:
        await customers.lock(conn, tenant, customer_id)
        await require_known(conn, tenant, customer_id)
        old = (await limits.for_customer(conn, tenant, customer_id)).get(currency)
        old_force = old.in_force_minor if old else None
        await limits.set_manual(
            conn,
            tenant,
            customer_id,
            currency,
            minor,
            reason if minor is not None else None,
            set_by if minor is not None else None,
            at,
        )
        new = Limit(currency, old.recommended_minor if old else None, minor)
        if new.in_force_minor != old_force or minor is not None:
            await emit(
                conn,
                tenant,
                customer_id,
                LimitChanged(
                    customer_id=customer_id,
                    currency=currency,
                    old_limit_minor=old_force,
                    new_limit_minor=new.in_force_minor,
                    source="manual" if minor is not None else "recommended",
                    reason=reason if minor is not None else f"manual limit cleared: {reason}",
                    set_by=set_by,
                ),
                at,
            )
        await refresh(conn, tenant, customer_id, as_of=today, at=at)
    return await credit_view(pool, tenant, customer_id, today)


async def place_hold(
    pool: asyncpg.Pool,
    tenant: str,
    customer_id: str,
    *,
    reason: str,
    placed_by: str,
    today: date,
    at: datetime,
) -> CreditView:
    async with unit_of_work(pool) as conn:
        await customers.lock(conn, tenant, customer_id)
        await require_known(conn, tenant, customer_id)
        detail = f"{reason} (by {placed_by})"
        placed = await holds.place(
            conn, tenant, customer_id, MANUAL, manual=True, detail=detail, on=today, by=placed_by
        )
        if placed:
            await emit(
                conn,
                tenant,
                customer_id,
                HoldPlaced(
                    customer_id=customer_id,
                    cause=MANUAL,
                    detail=detail,
                    manual=True,
                    placed_on=today,
                ),
                at,
            )
    return await credit_view(pool, tenant, customer_id, today)


async def release_hold(
    pool: asyncpg.Pool, tenant: str, customer_id: str, *, today: date, at: datetime
) -> CreditView:
    """Lift the manual hold; automatic holds stay until their causes are gone."""
    async with unit_of_work(pool) as conn:
        await customers.lock(conn, tenant, customer_id)
        await require_known(conn, tenant, customer_id)
        if await holds.release(conn, tenant, customer_id, MANUAL):
            await emit(
                conn,
                tenant,
                customer_id,
                HoldReleased(
                    customer_id=customer_id,
                    cause=MANUAL,
                    detail="lifted by hand",
                    manual=True,
                    released_on=today,
                ),
                at,
            )
    return await credit_view(pool, tenant, customer_id, today)


async def get_policy(pool: asyncpg.Pool, tenant: str) -> HoldPolicy:
    async with pool.acquire() as conn:
        return await policies.get(conn, tenant)


async def put_policy(pool: asyncpg.Pool, tenant: str, policy: HoldPolicy, at: datetime) -> None:
    """Store the policy; it applies from each customer's next refresh (event or rescore)."""
    async with unit_of_work(pool) as conn:
        await policies.put(conn, tenant, policy, at)
