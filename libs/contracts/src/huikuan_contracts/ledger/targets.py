"""Collection target models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from huikuan_contracts.fields import AmountIn, DecimalAmount, QueryIn

PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"

Period = Annotated[str, Field(pattern=PERIOD, examples=["2026-11"], description="YYYY-MM")]
# The month as a path parameter (a type a route table can name).
PeriodParam = Annotated[str, StringConstraints(pattern=PERIOD)]


class TargetPut(AmountIn):
    """What the owner is to collect in the month (one target per owner and month)."""


class TargetPublic(BaseModel):
    period: str
    owner: str
    currency: str
    amount: DecimalAmount
    created_at: datetime
    updated_at: datetime


class TargetsQuery(QueryIn):
    model_config = ConfigDict(extra="forbid")

    period: Period


class TargetProgress(BaseModel):
    owner: str
    currency: str
    target: DecimalAmount
    collected: DecimalAmount = Field(
        description="allocations applied in the month, not reversed, to invoices of customers "
        "the owner had when the money was applied"
    )
    share: str = Field(
        pattern=r"^[0-9]+\.[0-9]{2}$",
        examples=["62.50"],
        description="collected as a percentage of the target",
    )
    remaining: DecimalAmount = Field(description="target - collected, never below zero")
    target_updated_at: datetime


class TargetReport(BaseModel):
    period: str
    period_from: date
    period_to: date
    items: list[TargetProgress]
