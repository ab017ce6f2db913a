"""`/collectors`: the collector directory (name, email, manager)."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query, Response

from huikuan_contracts.reminders import (
    CollectorPage,
    CollectorPublic,
    CollectorPut,
    CollectorQuery,
)
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId
from reminders.service import collectors

router = APIRouter(prefix="/collectors", tags=["dunning"])


def _public(r: asyncpg.Record) -> CollectorPublic:
    return CollectorPublic(
        collector_id=r["collector_id"],
        name=r["name"],
        email=r["email"],
        manager=r["manager"],
        updated_at=r["updated_at"],
    )


@router.put("/{owner}", response_model=CollectorPublic)
async def put_collector(
    owner: IdPath,
    body: CollectorPut,
    tenant: TenantId,
    pool: Pool,
    clock: Clock,
    response: Response,
) -> CollectorPublic:
    """Create (201) or replace (200) a collector: name, email and manager."""
    row, created = await collectors.save(
        pool, tenant, owner, body.name, body.email, body.manager, clock.now()
    )
    response.status_code = 201 if created else 200
    return _public(row)


@router.get("/{owner}", response_model=CollectorPublic)
async def get_collector(owner: IdPath, tenant: TenantId, pool: Pool) -> CollectorPublic:
    return _public(await collectors.get(pool, tenant, owner))


@router.get("", response_model=CollectorPage)
async def list_collectors(
    query: Annotated[CollectorQuery, Query()], tenant: TenantId, pool: Pool
) -> CollectorPage:
    """Collectors in id order, in pages (`next_cursor`; keyset on the collector id)."""
    rows, next_cursor = await collectors.page(
        pool, tenant, query.manager, query.cursor, query.limit
    )
    return CollectorPage(items=[_public(r) for r in rows], next_cursor=next_cursor)
