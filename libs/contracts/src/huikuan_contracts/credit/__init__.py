"""Credit's request and response models (the gateway publishes these same models)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from huikuan_contracts.fields import (
    EARLIEST_DATE,
    LATEST_DATE,
    AmountIn,
    CurrencyCode,
    DecimalAmount,
    ExternalId,
    FitsCurrency,
    QueryIn,
    StrictIn,
)

Grade = Literal["A", "B", "C", "D", "E"]
# A date a request asks about (also checked by the request models' base, `DatesInRange`;
# here as well so the field's own error names it).
AskedDate = Annotated[date, Field(ge=EARLIEST_DATE, le=LATEST_DATE)]


class FactorPublic(BaseModel):
    code: str = Field(examples=["days_late"])
    value: str = Field(description="what was measured", examples=["34 days"])
    points: int
    max_points: int
    reason: str = Field(description="what costs points on this factor")


class ReasonPublic(BaseModel):
    code: str = Field(examples=["days_late"])
    text: str = Field(examples=["paid 34 days late on average"])


class ExposureLine(BaseModel):
    currency: str
    open_invoices: int
    open_amount: DecimalAmount = Field(description="open receivables (residuals)")
    overdue_amount: DecimalAmount
    approved_orders: DecimalAmount = Field(
        description="orders approved by credit checks, not yet invoiced or expired"
    )
    exposure: DecimalAmount = Field(description="open_amount + approved_orders")
    limit: DecimalAmount | None = Field(description="the limit in force, if any")
    limit_source: Literal["recommended", "manual"] | None
    recommended_limit: DecimalAmount | None
    available: DecimalAmount | None = Field(description="limit - exposure, never below zero")


class HoldPublic(BaseModel):
    cause: str = Field(examples=["overdue_days", "over_limit", "grade_e", "manual"])
    manual: bool
    detail: str
    placed_on: date
    placed_by: str | None


class RiskFigures(BaseModel):
    """The projection the score is computed from (as of `as_of`)."""

    max_days_overdue: int
    avg_days_late_12m: float | None
    on_time_share_12m: float | None
    payments_12m: int
    avg_days_late_recent: float | None = Field(description="last 3 months")
    avg_days_late_before: float | None = Field(description="the 9 months before")
    open_disputes: int
    promises_made: int
    promises_kept: int
    promises_broken: int
    broken_promises_90d: int
    tenure_days: int | None
    written_off: int


class CreditPublic(BaseModel):
    customer_id: str
    known_since: datetime | None
    as_of: date = Field(description="the date the score was computed for")
    score: int = Field(ge=0, le=1000)
    grade: Grade
    scorecard_version: str
    factors: list[FactorPublic]
    reasons: list[ReasonPublic]
    exposure: list[ExposureLine]
    on_hold: bool
    holds: list[HoldPublic]
    figures: RiskFigures


class ScoreChangePublic(BaseModel):
    as_of: date
    old_score: int | None
    new_score: int
    old_grade: Grade | None
    new_grade: Grade
    scorecard_version: str
    reasons: list[ReasonPublic]
    changed_at: datetime


class HistoryQuery(QueryIn):
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=512)


class ScoreHistoryPage(BaseModel):
    items: list[ScoreChangePublic] = Field(description="newest first")
    next_cursor: str | None


class GradeQuery(QueryIn):
    """`GET /customers?grade=`: the customers credit currently grades `grade`."""

    model_config = ConfigDict(extra="forbid")

    grade: Grade
    limit: int = Field(50, ge=1, le=500)
    cursor: str | None = Field(None, max_length=512)


class GradedCustomer(BaseModel):
    customer_id: str
    grade: Grade
    score: int = Field(ge=0, le=1000)
    as_of: date = Field(description="the date the score was computed for")


class GradedCustomerPage(BaseModel):
    items: list[GradedCustomer] = Field(description="in customer id order")
    next_cursor: str | None


class LimitPut(StrictIn):
    """Set a manual limit in one currency (it wins over the recommended one), or clear it
    with `limit: null`."""

    currency: CurrencyCode
    limit: Annotated[DecimalAmount, FitsCurrency] | None
    reason: str = Field(min_length=1, max_length=500)
    set_by: str = Field(min_length=1, max_length=100)


class HoldPost(StrictIn):
    reason: str = Field(min_length=1, max_length=500)
    placed_by: str = Field(min_length=1, max_length=100)


class HoldPolicyPublic(StrictIn):
    max_days_overdue: int | None = Field(
        30,
        ge=0,
        le=36500,
        description="hold when an invoice is more than this many days overdue; null: never",
    )
    over_limit: bool = True
    grade_e: bool = True
    broken_promise: bool = True
    dunning: bool = Field(True, description="hold when dunning asks for it")
    order_validity_days: int = Field(
        30, ge=1, le=365, description="how long an approved order counts in exposure"
    )


class CreditCheckCreate(AmountIn):
    customer_id: ExternalId
    order_id: ExternalId | None = Field(
        None,
        description="an approved order counts in exposure until invoiced (an invoice "
        "whose id or number is the order id) or expired; checking it again replaces it",
    )
    as_of: AskedDate | None = Field(None, description="defaults to today (UTC)")


class CreditCheckPublic(BaseModel):
    check_id: str
    customer_id: str
    order_id: str | None
    decision: Literal["approve", "review", "reject"]
    reasons: list[str]
    currency: str
    amount: DecimalAmount
    available: DecimalAmount = Field(description="available credit before this order")
    grade: Grade | None
    score: int | None
    expires_on: date | None = Field(description="when an approval stops counting in exposure")


class RescoreRun(StrictIn):
    as_of: AskedDate | None = Field(None, description="defaults to today (UTC)")


class RescoreResult(BaseModel):
    job: Literal["rescore"] = "rescore"
    as_of: date
    customers: int
    changed: int = Field(description="customers whose score or grade changed")


class PredictionQuery(QueryIn):
    as_of: AskedDate | None = Field(None, description="defaults to today (UTC)")


class InvoicePredictionPublic(BaseModel):
    invoice_id: str
    currency: str
    residual: DecimalAmount
    due_date: date
    predicted_on: date


class PaymentHabitPublic(BaseModel):
    payments_12m: int = Field(description="the customer's own allocations in the window")
    own_mean_days_late: float | None
    prior_mean_days_late: float
    prior_source: Literal["segment", "tenant", "none"]
    expected_days_late: float = Field(description="own mean shrunk toward the prior")


class PaymentPredictionPublic(BaseModel):
    customer_id: str
    as_of: date
    model_version: str
    habit: PaymentHabitPublic
    invoices: list[InvoicePredictionPublic]


class InvoiceForecastPublic(InvoicePredictionPublic):
    """One open invoice's expected payment date and what it rests on."""

    customer_id: str
    as_of: date
    model_version: str
    habit: PaymentHabitPublic = Field(
        description="the customer's payment habit the date rests on: its own payments in the "
        "12 months to `as_of` and the prior (segment, tenant or none) they are shrunk toward"
    )


class CashForecastQuery(QueryIn):
    model_config = ConfigDict(serialize_by_alias=True)

    from_: AskedDate | None = Field(None, alias="from", description="defaults to today (UTC)")
    weeks: int = Field(13, ge=1, le=52)


class ForecastWeek(BaseModel):
    week_start: date
    expected: DecimalAmount


class CurrencyForecast(BaseModel):
    currency: str
    weeks: list[ForecastWeek]


class CashForecastPublic(BaseModel):
    start: date
    weeks: int
    model_version: str
    currencies: list[CurrencyForecast] = Field(
        description="expected receipts of today's open receivables per week, by predicted "
        "payment date (what is predicted before `from` falls in the first week)"
    )
