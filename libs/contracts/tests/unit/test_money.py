"""Money: integer minor units plus an ISO 4217 currency, decimal strings at the edge."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huikuan_contracts import money
from huikuan_contracts.money import Money, MoneyError, exponent, is_currency

# One currency per exponent the API has to get right: 0, 2 and 3 digits (and the odd 4).
CURRENCIES = {"JPY": 0, "CNY": 2, "KWD": 3, "CLF": 4}
currencies = st.sampled_from(sorted(CURRENCIES))
amounts = st.integers(min_value=-(10**30), max_value=10**30)
small_amounts = st.integers(min_value=-(10**12), max_value=10**12)

_CANONICAL = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def test_exponents_of_representative_currencies() -> None:
    for code, digits in CURRENCIES.items():
        assert exponent(code) == digits
        assert is_currency(code)


@given(amounts, currencies)
def test_format_then_parse_is_the_identity(amount: int, currency: str) -> None:
    value = Money(amount, currency)
    text = value.format()
    assert _CANONICAL.fullmatch(text), text
    digits = CURRENCIES[currency]
    if digits:
        assert len(text.split(".")[1]) == digits
    else:
        assert "." not in text
    parsed = Money.parse(text, currency)
    assert parsed == value
    assert type(parsed.amount_minor) is int


@given(
    st.booleans(),
    st.integers(min_value=0, max_value=10**20),
    currencies,
    st.data(),
)
def test_parse_accepts_up_to_the_currency_digits(
    negative: bool, whole: int, currency: str, data: st.DataObject
) -> None:
    digits = CURRENCIES[currency]
    width = data.draw(st.integers(min_value=0, max_value=digits), label="fraction digits")
    frac = data.draw(st.text(alphabet="0123456789", min_size=width, max_size=width))
    text = ("-" if negative else "") + str(whole) + (f".{frac}" if frac else "")
    expected = whole * 10**digits + (int(frac.ljust(digits, "0")) if digits else 0)
    assert Money.parse(text, currency) == Money(-expected if negative else expected, currency)


@given(
    st.integers(min_value=0, max_value=10**12),
    currencies,
    st.integers(min_value=1, max_value=6),
    st.data(),
)
def test_parse_refuses_more_fraction_digits_than_the_currency_has(
    whole: int, currency: str, extra: int, data: st.DataObject
) -> None:
    width = CURRENCIES[currency] + extra
    frac = data.draw(st.text(alphabet="0123456789", min_size=width, max_size=width))
    with pytest.raises(MoneyError, match="decimal places"):
        Money.parse(f"{whole}.{frac}", currency)


@pytest.mark.parametrize(
    ("text", "currency"),
    [("1.234", "CNY"), ("1.5", "JPY"), ("1.0", "JPY"), ("0.001", "CNY"), ("1.2345", "KWD")],
)
def test_parse_refuses_too_many_digits_examples(text: str, currency: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(text, currency)


def test_parse_examples() -> None:
    assert Money.parse("1234.5", "CNY") == Money(123450, "CNY")
    assert Money.parse("1234.50", "CNY") == Money(123450, "CNY")
    assert Money.parse("1234", "JPY") == Money(1234, "JPY")
    assert Money.parse("1.234", "KWD") == Money(1234, "KWD")
    assert Money.parse("-0.05", "CNY") == Money(-5, "CNY")
    assert Money(123450, "CNY").format() == "1234.50"
    assert Money(-5, "CNY").format() == "-0.05"
    assert Money(7, "KWD").format() == "0.007"
    assert Money(-1234, "JPY").format() == "-1234"
    assert str(Money(123450, "CNY")) == "1234.50 CNY"


@pytest.mark.parametrize(
    "text",
    [
        "1,000",
        "1e3",
        "",
        " . ",
        ".",
        "1.",
        ".5",
        "+1",
        "--1",
        "- 1",
        "1.2.3",
        "0x10",
        "NaN",
        "inf",
        "1 000",
        "1_000",
        "one",
        "\u0661\u0662",  # Arabic-Indic digits: not the ASCII decimal string the API speaks
        "\uff11",  # a fullwidth digit
    ],
)
def test_parse_refuses_junk(text: str) -> None:
    with pytest.raises(MoneyError):
        Money.parse(text, "CNY")


# Text shaped like an amount, with digits from any script, or any text at all.
_digit = st.one_of(st.sampled_from("0123456789"), st.characters(categories=["Nd"]))
amount_like_text = st.one_of(
    st.builds(
        lambda sign, whole, frac: sign + whole + frac,
        st.sampled_from(["", "-", "+", " ", "--"]),
        st.text(_digit, max_size=6),
        st.one_of(st.just(""), st.text(_digit, max_size=5).map(lambda f: "." + f)),
    ),
    st.text(max_size=12),
)


@given(amount_like_text, currencies)
def test_parse_of_any_text_is_refused_or_canonical(text: str, currency: str) -> None:
    try:
        value = Money.parse(text, currency)
    except MoneyError:
        return
    # Whatever is accepted is plain ASCII decimal text that means what it says.
    assert _CANONICAL.fullmatch(text.strip()), repr(text)
    assert Money.parse(value.format(), currency) == value


@pytest.mark.parametrize("currency", ["XXX", "usd", "US", "", "EURO", "CN¥"])
def test_unknown_currency_is_refused(currency: str) -> None:
    with pytest.raises(MoneyError, match="unknown currency"):
        Money.parse("1.00", currency)
    with pytest.raises(MoneyError, match="unknown currency"):
        Money(100, currency)
    with pytest.raises(MoneyError):
        exponent(currency)
    assert not is_currency(currency)


@given(small_amounts, small_amounts, small_amounts, currencies)
def test_addition_is_associative_and_commutative(a: int, b: int, c: int, currency: str) -> None:
    x, y, z = Money(a, currency), Money(b, currency), Money(c, currency)
    assert (x + y) + z == x + (y + z)
    assert x + y == y + x
    assert x + Money.zero(currency) == x
    assert (x + y) - y == x
    assert x + (-x) == Money.zero(currency)
    assert (x + y).amount_minor == a + b


@given(small_amounts, small_amounts, st.permutations(sorted(CURRENCIES)))
def test_arithmetic_across_currencies_is_refused(a: int, b: int, codes: list[str]) -> None:
    x, y = Money(a, codes[0]), Money(b, codes[1])
    with pytest.raises(MoneyError, match="cannot combine"):
        _ = x + y
    with pytest.raises(MoneyError, match="cannot combine"):
        _ = x - y
    with pytest.raises(MoneyError, match="cannot combine"):
        _ = x < y
    with pytest.raises(MoneyError, match="cannot combine"):
        _ = x <= y
    assert x != y


def test_comparisons_within_a_currency() -> None:
    assert Money(1, "CNY") < Money(2, "CNY")
    assert Money(2, "CNY") <= Money(2, "CNY")
    assert Money(3, "CNY") > Money(2, "CNY")
    assert Money(0, "CNY").is_zero
    assert not Money(-1, "CNY").is_zero


def test_combining_with_a_plain_number_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        _ = Money(1, "CNY") + 1  # type: ignore[operator]


@pytest.mark.parametrize("amount", [1.0, 0.5, True, "100", None])
def test_amount_must_be_an_int_never_a_float(amount: object) -> None:
    with pytest.raises(MoneyError, match="must be an int"):
        Money(amount, "CNY")  # type: ignore[arg-type]


def test_parse_refuses_non_text() -> None:
    with pytest.raises(MoneyError):
        Money.parse(1.5, "CNY")  # type: ignore[arg-type]


def test_money_module_never_uses_float() -> None:
    tree = ast.parse(Path(money.__file__).read_text(encoding="utf-8"))
    floats = [
        node.lineno
        for node in ast.walk(tree)
        if (isinstance(node, ast.Constant) and isinstance(node.value, float))
        or (isinstance(node, ast.Name) and node.id == "float")
    ]
    assert floats == [], f"float arithmetic in money.py at lines {floats}"
