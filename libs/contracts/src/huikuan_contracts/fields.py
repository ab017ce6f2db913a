"""Field types every API shares: caller ids, currencies, decimal amounts, countries, zones."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Self
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, model_validator

from huikuan_contracts.money import Money, MoneyError, is_currency

_ZONES: frozenset[str] | None = None


def _currency(code: str) -> str:
    if not is_currency(code):
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


def _timezone(name: str) -> str:
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    if name not in _ZONES:
        raise ValueError(f"{name!r} is not an IANA time zone such as 'Asia/Shanghai'")
    return name


ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:\-]*$"

ExternalId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=64,
        pattern=ID_PATTERN,
        description="the caller's id: letters, digits and . _ : - ; at most 64 characters",
        examples=["C-1001"],
    ),
]
EmailAddress = Annotated[str, Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]
CurrencyCode = Annotated[
    str,
    Field(pattern=r"^[A-Z]{3}$", examples=["CNY"], description="ISO 4217 code"),
    AfterValidator(_currency),
]
DecimalAmount = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{1,15}(\.[0-9]{1,4})?$",
        examples=["1234.50"],
        description="a decimal string with no more fraction digits than the currency has",
    ),
]
SignedAmount = Annotated[
    str,
    Field(
        pattern=r"^-?[0-9]{1,15}(\.[0-9]{1,4})?$",
        examples=["-200.00"],
        description="a signed decimal string (responses only: changes and balances)",
    ),
]
CountryCode = Annotated[
    str, Field(pattern=r"^[A-Z]{2}$", examples=["CN"], description="ISO 3166-1 alpha-2")
]
TimeZoneName = Annotated[str, Field(examples=["Asia/Shanghai"]), AfterValidator(_timezone)]
LanguageTag = Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$", examples=["zh"])]

# The caller's id as a path parameter (`/customers/{customer_id}`).


def parse_positive(amount: str, currency: str) -> Money:
    """A strictly positive amount in `currency`; ValueError says what is wrong."""
    try:
        money = Money.parse(amount, currency)
    except MoneyError as exc:
        raise ValueError(str(exc)) from exc
    if money.amount_minor <= 0:
        raise ValueError("must be greater than zero")
    return money


def _against_currency(parse: Callable[[str, str], Money]) -> AfterValidator:
    def check(amount: str, info: ValidationInfo) -> str:
        currency = info.data.get("currency")
        if currency is not None:  # else the currency failed and is reported already
            parse(amount, currency)  # its ValueError is the field's 422, saying what is wrong
        return amount

    return AfterValidator(check)


# The one check of an amount in a request body against the body's `currency`, which must be
# declared before the amount (fields are validated in order): `Annotated[DecimalAmount,
# FitsCurrency]`. An amount with more fraction digits than the currency has is a 422 that
# says so, before anything is written; `PositiveInCurrency` also refuses zero.
FitsCurrency = _against_currency(Money.parse)
PositiveInCurrency = _against_currency(parse_positive)


# The dates a request may carry: a year's history before the earliest, or terms and weeks
# after the latest, are still dates (9999-12-31 plus 30 days' terms is not).
EARLIEST_DATE = date(1900, 1, 1)
LATEST_DATE = date(9000, 12, 31)


class DatesInRange(BaseModel):
    """Every date (and time) field of the request lies from `EARLIEST_DATE` to
    `LATEST_DATE`: a date the arithmetic on it would carry out of the calendar is a 422
    naming the field, not a 500 later."""

    @model_validator(mode="after")
    def _dates_in_range(self) -> Self:
        for name, value in self:
            day = value.date() if isinstance(value, datetime) else value
            if isinstance(day, date) and not EARLIEST_DATE <= day <= LATEST_DATE:
                raise ValueError(f"{name}: {value} is outside {EARLIEST_DATE} to {LATEST_DATE}")
        return self


class QueryIn(DatesInRange):
    """Query parameters: dates in range."""


class StrictIn(DatesInRange):
    """Request bodies refuse unknown fields, trim strings and keep dates in range."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AmountIn(StrictIn):
    """A body carrying `currency` and a positive `amount` that fits the currency."""

    currency: CurrencyCode
    amount: Annotated[DecimalAmount, PositiveInCurrency]

    def money(self) -> Money:
        return Money.parse(self.amount, self.currency)
