"""Query parameter models of the public API."""

from __future__ import annotations

from datetime import date

from pydantic import ConfigDict, Field

from huikuan_contracts.fields import QueryIn


class AsOfQuery(QueryIn):
    model_config = ConfigDict(extra="forbid")

    as_of: date | None = Field(None, description="the date to compute for; default today")
