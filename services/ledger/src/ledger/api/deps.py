"""Dependencies shared by the ledger's routers."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from huikuan_runtime.deps import Clock


async def as_of_date(
    clock: Clock,
    as_of: Annotated[date | None, Query(description="defaults to today (UTC)")] = None,
) -> date:
    return as_of if as_of is not None else clock.now().date()


AsOf = Annotated[date, Depends(as_of_date)]
