"""`/customers`: the customers credit currently grades so."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from credit.service import views
from huikuan_contracts.credit import GradedCustomer, GradedCustomerPage, GradeQuery
from huikuan_runtime.deps import Pool
from huikuan_runtime.http import TenantId

router = APIRouter(prefix="/customers", tags=["credit"])


@router.get("", response_model=GradedCustomerPage)
async def list_by_grade(
    tenant: TenantId, pool: Pool, query: Annotated[GradeQuery, Query()]
) -> GradedCustomerPage:
    """The customers credit currently grades `grade`, in id order (internal: the gateway's
    `GET /v1/customers?grade=` takes a page of these and asks the ledger for them)."""
    rows, next_cursor = await views.by_grade(pool, tenant, query.grade, query.cursor, query.limit)
    return GradedCustomerPage(
        items=[GradedCustomer.model_validate(dict(r)) for r in rows], next_cursor=next_cursor
    )
