"""Payloads of events produced by credit (`credit.events.v1`)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SOURCE = "huikuan/credit"

Grade = Literal["A", "B", "C", "D", "E"]


class _Payload(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ScoreChanged(_Payload):
    """A customer's score or grade changed; the reasons explain the new score."""

    customer_id: str
    old_score: int | None = Field(None, ge=0, le=1000)
    new_score: int = Field(ge=0, le=1000)
    old_grade: Grade | None = None
    new_grade: Grade
    scorecard_version: str
    reasons: list[str]
    as_of: date


class LimitChanged(_Payload):
    """The credit limit in force changed (recommended, or set by hand)."""

    customer_id: str
    currency: str
    old_limit_minor: int | None = Field(None, ge=0)
    new_limit_minor: int | None = Field(None, ge=0)
    source: Literal["recommended", "manual"]
    reason: str
    set_by: str | None = None


class HoldPlaced(_Payload):
    """The customer is on credit hold: no new credit until released."""

    customer_id: str
    cause: str = Field(
        description="e.g. overdue_days, over_limit, grade_e, broken_promise, manual, dunning"
    )
    detail: str
    manual: bool
    placed_on: date


class HoldReleased(_Payload):
    """A hold ended: its cause went away, or it was lifted by hand."""

    customer_id: str
    cause: str
    detail: str
    manual: bool
    released_on: date
