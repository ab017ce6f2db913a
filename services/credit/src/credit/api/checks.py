"""`/credit-checks`: may this order be taken on credit now?"""

from __future__ import annotations

from fastapi import APIRouter

from credit.service import checks
from huikuan_contracts.credit import CreditCheckCreate, CreditCheckPublic
from huikuan_contracts.money import Money
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import TenantId

router = APIRouter(prefix="/credit-checks", tags=["credit"])


@router.post("", response_model=CreditCheckPublic)
async def post_credit_check(
    body: CreditCheckCreate, tenant: TenantId, pool: Pool, clock: Clock
) -> CreditCheckPublic:
    now = clock.now()
    money = body.money()
    out = await checks.check(
        pool,
        tenant,
        body.customer_id,
        order_id=body.order_id,
        currency=body.currency,
        amount_minor=money.amount_minor,
        today=body.as_of or now.date(),
        at=now,
    )
    return CreditCheckPublic(
        check_id=out.check_id,
        customer_id=body.customer_id,
        order_id=body.order_id,
        decision=out.result.decision,
        reasons=list(out.result.reasons),
        currency=body.currency,
        amount=money.format(),
        available=Money(out.result.available_minor, body.currency).format(),
        grade=out.grade,
        score=out.score,
        expires_on=out.expires_on,
    )
