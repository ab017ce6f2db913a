"""Batch jobs an operator (or a scheduler) runs for one tenant on demand."""

from __future__ import annotations

from datetime import date
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, Field, model_validator

from huikuan_contracts.fields import StrictIn, TimeZoneName

# Invoices flagged per transaction unless the caller says otherwise.
OVERDUE_SCAN_BATCH = 500


class OverdueScanRun(StrictIn):
    """Judge by a date (`as_of`) or by an instant (`at`); with neither, by now."""

    as_of: date | None = Field(
        None,
        description="the date to judge every invoice of the tenant by, as the caller computed "
        "it in the tenant's time zone: an invoice due before it is overdue",
    )
    at: AwareDatetime | None = Field(
        None,
        description="instead of as_of: an instant; each invoice is judged by its local date in "
        "the customer's time zone (else `timezone`)",
    )
    timezone: TimeZoneName | None = Field(
        None, description="with `at`: the zone of customers that have none (default UTC)"
    )
    batch_size: int = Field(OVERDUE_SCAN_BATCH, ge=1, le=5000)

    @model_validator(mode="after")
    def _one_way_to_say_when(self) -> Self:
        if self.as_of is not None and self.at is not None:
            raise ValueError("give as_of or at, not both")
        if self.as_of is not None and self.timezone is not None:
            raise ValueError("timezone: only used with at; as_of is already a local date")
        return self


class OverdueScanResult(BaseModel):
    job: Literal["overdue-scan"] = "overdue-scan"
    as_of: date | None = Field(description="the date every invoice was judged by, if given")
    at: AwareDatetime | None = Field(description="the instant judged by, when as_of was not")
    flagged: int = Field(description="invoices newly found overdue (one event each)")
    batches: int
