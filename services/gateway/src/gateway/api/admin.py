"""`/v1/admin`: tenants and API keys, for the operator only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status
from pydantic import BaseModel, Field

from gateway.api.deps import Operator, Principals
from gateway.api.responses import errors
from gateway.domain.keys import ALL_SCOPES, Scope
from gateway.service import tenants
from huikuan_contracts.fields import ExternalId
from huikuan_runtime.deps import Clock, Pool

router = APIRouter(prefix="/admin", tags=["admin"])


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
    body: TenantCreate, _: Operator, pool: Pool, clock: Clock, response: Response
) -> TenantPublic:
    row, created = await tenants.create_tenant(pool, body.tenant_id, body.name, clock.now())
    if not created:
        response.status_code = status.HTTP_200_OK
    return _tenant(row)


@router.patch("/tenants/{tenant_id}", response_model=TenantPublic, responses=errors(404))
async def set_tenant_status(
    tenant_id: Annotated[str, Path(max_length=64, description="the tenant's id")],
    body: TenantStatus,
    _: Operator,
    pool: Pool,
    clock: Clock,
    principals: Principals,
) -> TenantPublic:
    """Suspend a tenant (`{"active": false}`) or make it active again (`true`); the same
    call twice changes nothing more. While it is suspended its API keys and bearer tokens
    are refused with 403 (`tenant-suspended`) — at once on this gateway process, within
    `GATEWAY_AUTH_CACHE_SECONDS` on the others — and its webhook deliveries are held, not
    attempted and not failed, until it is active again."""
    row = await tenants.set_active(pool, principals, tenant_id, body.active, clock.now())
    return _tenant(row)


@router.post("/api-keys", response_model=ApiKeyCreated, status_code=201)
async def create_api_key(
    body: ApiKeyCreate, _: Operator, pool: Pool, clock: Clock
) -> ApiKeyCreated:
    row, secret = await tenants.create_key(
        pool, body.tenant_id, body.name, body.scopes, clock.now()
    )
    return ApiKeyCreated(**dict(row), key=secret)


@router.delete("/api-keys/{key_id}", status_code=204)
async def revoke_api_key(
    key_id: uuid.UUID, _: Operator, pool: Pool, clock: Clock, principals: Principals
) -> Response:
    await tenants.revoke_key(pool, principals, key_id, clock.now())
    return Response(status_code=204)
