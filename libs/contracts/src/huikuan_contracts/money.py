"""Money: integer minor units plus an ISO 4217 currency. Never a float.

The API speaks decimal strings ("1234.50"); `parse` turns them into minor units
and refuses more fraction digits than the currency has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# ISO 4217 active codes and their minor-unit exponents. Codes absent here are refused.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        (
            "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN "
            "BWP BYN BZD CAD CDF CHF CNY COP CRC CUP CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP "
            "GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW "
            "KYD KZT LAK LBP LKR LRD LSL MAD MDL MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN "
            "NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG "
            "SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH "
            "USD UYU UZS VES WST XCD YER ZAR ZMW ZWG "
        ).split(),
        2,
    ),
    **dict.fromkeys(
        ("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF ").split(),
        0,
    ),
    **dict.fromkeys(
        ("BHD IQD JOD KWD LYD OMR TND ").split(),
        3,
    ),
    "CLF": 4,
    "UYW": 4,
}

# ASCII digits only: `\d` would also accept digits of other scripts (Arabic-Indic, fullwidth).
_DECIMAL = re.compile(r"^(-?)([0-9]+)(?:\.([0-9]+))?$")


class MoneyError(ValueError):
    """Bad currency, bad amount text, or arithmetic across currencies."""


def exponent(currency: str) -> int:
    """Number of minor-unit digits of `currency` (CNY 2, JPY 0, KWD 3)."""
    try:
        return _EXPONENTS[currency]
    except KeyError:
        raise MoneyError(f"unknown currency {currency!r}: use an ISO 4217 code") from None


def is_currency(code: str) -> bool:
    return code in _EXPONENTS


def exponents() -> dict[str, int]:
    """Every known currency with its minor-unit digits (a copy), for code that formats
    amounts outside Python, e.g. in SQL."""
    return dict(_EXPONENTS)


@dataclass(frozen=True, slots=True, order=False)
class Money:
    amount_minor: int
    currency: str

    def __post_init__(self) -> None:
        if type(self.amount_minor) is not int:
            raise MoneyError("amount_minor must be an int")
        exponent(self.currency)

    @classmethod
    def parse(cls, text: str, currency: str) -> Money:
        """`Money.parse("1234.5", "CNY")` -> 123450 fen; "1.234" CNY is refused."""
        digits = exponent(currency)
        match = _DECIMAL.match(text.strip()) if isinstance(text, str) else None
        if match is None:
            raise MoneyError(f"{text!r} is not a decimal amount like '1234.50'")
        sign, whole, frac = match.group(1), match.group(2), match.group(3) or ""
        if len(frac) > digits:
            raise MoneyError(
                f"{text!r} has {len(frac)} decimal places; {currency} allows at most {digits}"
            )
        minor = int(whole) * 10**digits + (int(frac.ljust(digits, "0")) if digits else 0)
        return cls(-minor if sign else minor, currency)

    @classmethod
    def zero(cls, currency: str) -> Money:
        return cls(0, currency)

    def format(self) -> str:
        """The decimal string with exactly the currency's digits: 123450 CNY -> '1234.50'."""
        digits = exponent(self.currency)
        sign = "-" if self.amount_minor < 0 else ""
        whole, frac = divmod(abs(self.amount_minor), 10**digits)
        return f"{sign}{whole}.{frac:0{digits}d}" if digits else f"{sign}{whole}"

    def _same(self, other: Money) -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise MoneyError(f"cannot combine {self.currency} with {other.currency}")

    def __add__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor + other.amount_minor, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same(other)
        return Money(self.amount_minor - other.amount_minor, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount_minor, self.currency)

    def __lt__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor < other.amount_minor

    def __le__(self, other: Money) -> bool:
        self._same(other)
        return self.amount_minor <= other.amount_minor

    @property
    def is_zero(self) -> bool:
        return self.amount_minor == 0

    def __str__(self) -> str:
        return f"{self.format()} {self.currency}"
