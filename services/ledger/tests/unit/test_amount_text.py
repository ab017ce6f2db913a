"""Amounts as decimal strings: the report writer's shortcut writes what `Money` writes."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from huikuan_contracts.money import Money
from ledger.api.mapping import text, texts

# one currency for each number of minor-unit digits: 0, 2, 3 and 4
CURRENCIES = ("JPY", "CNY", "KWD", "CLF")


@given(st.sampled_from(CURRENCIES), st.integers(min_value=-(10**19), max_value=10**19))
def test_texts_writes_amounts_as_money_does(currency: str, minor: int) -> None:
    assert texts(currency)(minor) == text(minor, currency) == Money(minor, currency).format()


def test_texts_by_hand() -> None:
    cny, jpy, kwd = texts("CNY"), texts("JPY"), texts("KWD")
    assert [cny(0), cny(5), cny(-5), cny(123450), cny(-100)] == [
        "0.00",
        "0.05",
        "-0.05",
        "1234.50",
        "-1.00",
    ]
    assert [jpy(0), jpy(-7), jpy(1200)] == ["0", "-7", "1200"]
    assert [kwd(1), kwd(-1234567)] == ["0.001", "-1234.567"]
