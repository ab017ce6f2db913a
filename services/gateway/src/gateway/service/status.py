"""The gateway's own status for its ops view, read in-process: its consumer group, outbox and
gauges (the caller's tenant's webhook deliveries failing and failed)."""

from __future__ import annotations

from datetime import datetime

import asyncpg

from gateway.store import webhooks
from huikuan_runtime.ops import ServiceStatus, service_status
from huikuan_runtime.settings import ServiceSettings


async def own_status(
    pool: asyncpg.Pool,
    settings: ServiceSettings,
    tenant: str,
    consumes: tuple[str, ...],
    at: datetime,
) -> ServiceStatus:
    async def gauges(conn: asyncpg.Connection, tenant: str) -> dict[str, float]:
        return await webhooks.gauges(conn, tenant, at)

    return await service_status(pool, settings, tenant, consumes=consumes, gauges=gauges)
