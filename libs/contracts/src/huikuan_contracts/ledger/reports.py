"""Report query and response models: aging, DSO / CEI / ADD, bad-debt provision.

The gateway publishes these same models. Amounts are decimal strings in the currency's
minor unit and may be negative (a report shows the journal as it is); ratios (days,
percentages) are decimal strings with two places.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from huikuan_contracts.fields import QueryIn
from huikuan_contracts.ledger.kinds import GroupBy

SignedAmount = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]{1,19}(\.[0-9]{1,4})?$",
        examples=["1234.50"],
        description="a decimal string with exactly the currency's digits",
    ),
]
Ratio = Annotated[
    str,
    Field(pattern=r"^-?[0-9]+\.[0-9]{2}$", examples=["45.33"], description="two decimals"),
]

BUCKETS_HELP = (
    "upper bounds, in days past due, of the past-due buckets: positive whole days, strictly "
    "increasing, comma separated. Default 30,60,90,180,365,730: current, 1-30, 31-60, "
    "61-90, 91-180, 181-365, 366-730, >730"
)
AS_OF_HELP = "the day to report at (its end); default today (UTC)"


class _Query(QueryIn):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AgingQuery(_Query):
    as_of: date | None = Field(None, description=AS_OF_HELP)
    group_by: GroupBy = Field("customer", description="one row per customer, owner or region")
    buckets: str | None = Field(
        None, max_length=200, description=BUCKETS_HELP, examples=["30,60,90"]
    )


class ProvisionQuery(_Query):
    as_of: date | None = Field(None, description=AS_OF_HELP)
    buckets: str | None = Field(
        None, max_length=200, description=BUCKETS_HELP, examples=["30,60,90"]
    )
    rates: str | None = Field(
        None,
        max_length=400,
        description=(
            "provision rates in percent (0-100), one per bucket in bucket order, comma "
            "separated; required with `buckets`. Default, for the default buckets: "
            "0,1,5,10,25,50,80,100"
        ),
        examples=["0,2,10,50,100"],
    )


class DsoQuery(_Query):
    model_config = ConfigDict(serialize_by_alias=True)

    from_: date = Field(alias="from", description="first day of the period")
    to: date = Field(description="last day of the period")


class BucketPublic(BaseModel):
    key: str = Field(examples=["1-30"])
    min_days_past_due: int | None = Field(description="null: no lower limit (current)")
    max_days_past_due: int | None = Field(description="null: no upper limit (the last)")


UNAPPLIED_HELP = "received and not yet matched to invoices; not deducted from the buckets"
BUCKETS_OUT = "amount owed per bucket, keyed and ordered as `buckets` of the report"
COUNTS_OUT = "invoices with something owed per bucket, keyed as `buckets`"


class AgingTotal(BaseModel):
    total: SignedAmount
    invoices: int = Field(description="invoices with something owed")
    buckets: dict[str, SignedAmount] = Field(
        description=BUCKETS_OUT, examples=[{"current": "500.00", "1-30": "700.00"}]
    )
    bucket_invoices: dict[str, int] = Field(description=COUNTS_OUT)
    unapplied_cash: SignedAmount = Field(description=UNAPPLIED_HELP)


class AgingGroup(BaseModel):
    key: str | None = Field(description="customer id, owner or region; null when not set")
    name: str | None = Field(description="the customer's name when grouped by customer")
    total: SignedAmount
    invoices: int = Field(description="invoices with something owed")
    buckets: dict[str, SignedAmount] = Field(
        description=BUCKETS_OUT, examples=[{"current": "500.00", "1-30": "700.00"}]
    )
    bucket_invoices: dict[str, int] = Field(description=COUNTS_OUT)
    unapplied_cash: SignedAmount = Field(description=UNAPPLIED_HELP)


class CurrencyAging(BaseModel):
    currency: str
    total: AgingTotal
    groups: list[AgingGroup]


class AgingReport(BaseModel):
    as_of: date
    group_by: GroupBy
    buckets: list[BucketPublic]
    currencies: list[CurrencyAging] = Field(description="one table per currency, never mixed")


class ProvisionBucket(BaseModel):
    bucket: str
    amount: SignedAmount
    rate: str = Field(description="percent", examples=["25"])
    provision: SignedAmount


class CurrencyProvision(BaseModel):
    currency: str
    receivable: SignedAmount
    provision: SignedAmount = Field(description="the sum of the buckets' rounded provisions")
    buckets: list[ProvisionBucket]


class ProvisionReport(BaseModel):
    as_of: date
    buckets: list[BucketPublic]
    currencies: list[CurrencyProvision]


class CountbackMonth(BaseModel):
    first: date
    last: date
    sales: SignedAmount
    consumed: SignedAmount = Field(description="the part of the receivable these sales explain")
    days: Ratio = Field(description="days this month adds to DSO")


class CurrencyDso(BaseModel):
    currency: str
    opening_receivable: SignedAmount = Field(description="at the end of the day before `from`")
    sales: SignedAmount = Field(description="invoiced in the period, net of voids")
    closing_receivable: SignedAmount = Field(description="at the end of `to`")
    closing_current: SignedAmount = Field(description="the part of closing not yet due on `to`")
    dso: Ratio = Field(description="days sales outstanding, countback method")
    best_possible_dso: Ratio | None = Field(description="closing current / sales * days")
    average_days_delinquent: Ratio | None = Field(description="DSO - best possible DSO")
    cei: Ratio | None = Field(description="collection effectiveness index, percent")
    countback_complete: bool = Field(
        description="false when the receivable outlasted the 120 months walked back"
    )
    countback: list[CountbackMonth] = Field(description="the months walked back, newest first")


class DsoReport(BaseModel):
    model_config = ConfigDict(
        validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
    )

    from_: date = Field(alias="from")
    to: date
    days: int = Field(description="days in the period")
    currencies: list[CurrencyDso]
