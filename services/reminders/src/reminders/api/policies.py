"""`/dunning/policies`: the tenant's dunning policies, the shipped ones overlaid by its own
versions."""

from __future__ import annotations

from fastapi import APIRouter

from huikuan_contracts.reminders import PolicyList, PolicyPublic, PolicyPut, StepPublic
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId
from reminders.api.deps import Texts
from reminders.domain.policy import Policy, Step
from reminders.service import policies

router = APIRouter(prefix="/dunning/policies", tags=["dunning"])


def policy_public(policy: Policy) -> PolicyPublic:
    return PolicyPublic(
        policy_id=policy.policy_id,
        version=policy.version,
        grades=list(policy.grades),
        steps=[StepPublic.model_validate(policies.step_to_json(x)) for x in policy.steps],
    )


@router.get("", response_model=PolicyList)
async def list_policies(tenant: TenantId, pool: Pool) -> PolicyList:
    found = await policies.list_policies(pool, tenant)
    return PolicyList(items=[policy_public(p) for p in found])


@router.get("/{policy_id}", response_model=PolicyPublic)
async def get_policy(policy_id: IdPath, tenant: TenantId, pool: Pool) -> PolicyPublic:
    return policy_public(await policies.get_policy(pool, tenant, policy_id))


@router.put("/{policy_id}", response_model=PolicyPublic)
async def put_policy(
    policy_id: IdPath,
    body: PolicyPut,
    tenant: TenantId,
    pool: Pool,
    renderer: Texts,
    clock: Clock,
) -> PolicyPublic:
    """A new version of the policy. A step's own templates are tried on sample data first:
    one that cannot be rendered is a 422 naming the step, language, part and problem."""
    steps = [
        Step(x.name, x.offset_days, tuple(x.channels), x.template, x.action, x.templates or {})
        for x in body.steps
    ]
    saved = await policies.put(pool, renderer, tenant, policy_id, body.grades, steps, clock.now())
    return policy_public(saved)
