"""Field types every API shares: caller ids, currencies, decimal amounts, countries, zones."""

from __future__ import annotations

from typing import Annotated
from zoneinfo import available_timezones

from fastapi import Path
from pydantic import AfterValidator, Field

from huikuan_runtime.money import is_currency

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
CountryCode = Annotated[
    str, Field(pattern=r"^[A-Z]{2}$", examples=["CN"], description="ISO 3166-1 alpha-2")
]
TimeZoneName = Annotated[str, Field(examples=["Asia/Shanghai"]), AfterValidator(_timezone)]
LanguageTag = Annotated[str, Field(pattern=r"^[a-z]{2}(-[A-Za-z]{2,4})?$", examples=["zh"])]

# The caller's id as a path parameter (`/customers/{customer_id}`).
IdPath = Annotated[str, Path(min_length=1, max_length=64, pattern=ID_PATTERN, examples=["C-1001"])]
