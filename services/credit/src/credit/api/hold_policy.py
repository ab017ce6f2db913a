"""`/credit/hold-policy`: when the tenant's customers are put on hold automatically."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from credit.domain.holds import HoldPolicy
from credit.service import manual
from huikuan_contracts.credit import HoldPolicyPublic
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import TenantId

router = APIRouter(prefix="/credit/hold-policy", tags=["credit"])


@router.get("", response_model=HoldPolicyPublic)
async def get_hold_policy(tenant: TenantId, pool: Pool) -> HoldPolicyPublic:
    return HoldPolicyPublic.model_validate(asdict(await manual.get_policy(pool, tenant)))


@router.put("", response_model=HoldPolicyPublic)
async def put_hold_policy(
    body: HoldPolicyPublic, tenant: TenantId, pool: Pool, clock: Clock
) -> HoldPolicyPublic:
    await manual.put_policy(pool, tenant, HoldPolicy(**body.model_dump()), clock.now())
    return body
