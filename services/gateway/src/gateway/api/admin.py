"""`/v1/admin`: tenants and API keys, for the operator only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from pydantic import BaseModel, Field

from gateway.api.deps import Operator
from gateway.api.responses import errors
from gateway.domain.keys import ALL_SCOPES, Scope, generate_key
from gateway.store import tenants, webhooks
from huikuan_contracts.fields import ExternalId
from huikuan_events import uuid7
from huikuan_runtime.clock import SystemClock
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.deps import Pool
from huikuan_runtime.problems import InvalidInput, NotFound

router = APIRouter(prefix="/admin", tags=["admin"])
clock = SystemClock()


class TenantCreate(BaseModel):
    tenant_id: ExternalId
    name: str = Field(min_length=1, max_length=200)


class TenantPublic(TenantCreate):
    created_at: datetime
    active: bool = Field(
        description="false while suspended: its keys and tokens are refused (403) and its "
        "webhook deliveries are held"
    )
    suspended_at: datetime | None = Field(description="since when it is suspended")


class TenantStatus(BaseModel):
    active: bool = Field(
        description="false suspends the tenant, true makes it active again",
        examples=[False],
    )


def _tenant(row: Any) -> TenantPublic:
    return TenantPublic(
        tenant_id=row["tenant_id"],
        name=row["name"],
        created_at=row["created_at"],
        active=row["suspended_at"] is None,
        suspended_at=row["suspended_at"],
    )


class ApiKeyCreate(BaseModel):
    tenant_id: ExternalId
    name: str = Field("default", min_length=1, max_length=100)
    scopes: list[Scope] = Field(default_factory=lambda: list(ALL_SCOPES), min_length=1)


class ApiKeyPublic(BaseModel):
    key_id: uuid.UUID
    tenant_id: str
    name: str
    prefix: str
    scopes: list[str]
    created_at: datetime


class ApiKeyCreated(ApiKeyPublic):
    key: str = Field(description="the API key itself; shown this once, never again")


@router.post("/tenants", response_model=TenantPublic, status_code=201)
async def create_tenant(
    body: TenantCreate, _: Operator, pool: Pool, response: Response
) -> TenantPublic:
    async with unit_of_work(pool) as conn:
        row = await tenants.insert_tenant(conn, body.tenant_id, body.name, clock.now())
        if row is None:
            row = await tenants.get_tenant(conn, body.tenant_id)
            response.status_code = status.HTTP_200_OK
    assert row is not None
    return _tenant(row)


@router.patch("/tenants/{tenant_id}", response_model=TenantPublic, responses=errors(404))
async def set_tenant_status(
    tenant_id: Annotated[str, Path(max_length=64, description="the tenant's id")],
    body: TenantStatus,
    _: Operator,
    pool: Pool,
    request: Request,
) -> TenantPublic:
    """Suspend a tenant (`{"active": false}`) or make it active again (`true`); the same
    call twice changes nothing more. While it is suspended its API keys and bearer tokens
    are refused with 403 (`tenant-suspended`) — at once on this gateway process, within
    `GATEWAY_AUTH_CACHE_SECONDS` on the others — and its webhook deliveries are held, not
    attempted and not failed, until it is active again."""
    async with unit_of_work(pool) as conn:
        row = await tenants.set_active(conn, tenant_id, body.active, clock.now())
        if row is None:
            raise NotFound(f"no tenant {tenant_id!r}")
        await webhooks.set_held(conn, tenant_id, not body.active)
    if not body.active:
        request.app.state.principals.forget_tenant(tenant_id)
    return _tenant(row)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
async def create_api_key(body: ApiKeyCreate, _: Operator, pool: Pool) -> ApiKeyCreated:
    key = generate_key(uuid7())
    async with unit_of_work(pool) as conn:
        if await tenants.get_tenant(conn, body.tenant_id) is None:
            raise InvalidInput(
                f"tenant_id: no tenant {body.tenant_id!r}",
                errors=[{"field": "tenant_id", "message": "unknown tenant"}],
            )
        row = await tenants.insert_key(
            conn, body.tenant_id, body.name, key, sorted(set(body.scopes)), clock.now()
        )
    return ApiKeyCreated(**dict(row), key=key.secret)


@router.delete("/api-keys/{key_id}", status_code=204)
async def revoke_api_key(key_id: uuid.UUID, _: Operator, pool: Pool, request: Request) -> Response:
    async with unit_of_work(pool) as conn:
        if not await tenants.revoke_key(conn, key_id, clock.now()):
            raise NotFound(f"no active API key {key_id}")
    request.app.state.principals.forget_key(key_id)  # at once here; elsewhere within its TTL
    return Response(status_code=204)
