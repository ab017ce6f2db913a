"""The one check of a request's amounts against its currency (`FitsCurrency`,
`PositiveInCurrency` through `AmountIn`): what it refuses, and that it says why."""

from __future__ import annotations

from typing import Annotated, Any

import pytest
from pydantic import ValidationError

from huikuan_contracts.fields import (
    AmountIn,
    CurrencyCode,
    DecimalAmount,
    FitsCurrency,
    SignedAmount,
    StrictIn,
)


class Limits(StrictIn):
    currency: CurrencyCode
    limit: Annotated[DecimalAmount, FitsCurrency] | None
    balance: Annotated[SignedAmount, FitsCurrency] = "0"


def _errors(model: type[StrictIn], **body: Any) -> dict[str, str]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(body)
    return {str(e["loc"][0]): e["msg"] for e in raised.value.errors()}


@pytest.mark.parametrize(
    ("currency", "limit", "digits"),
    [("USD", "100.005", 2), ("JPY", "1.5", 0), ("KWD", "0.0001", 3)],
)
def test_an_amount_with_more_decimals_than_its_currency_is_refused_saying_so(
    currency: str, limit: str, digits: int
) -> None:
    wanted = f"{currency} allows at most {digits}"
    assert wanted in _errors(Limits, currency=currency, limit=limit)["limit"]
    assert wanted in _errors(Limits, currency=currency, limit=None, balance=f"-{limit}")["balance"]
    assert wanted in _errors(AmountIn, currency=currency, amount=limit)["amount"]


def test_amounts_that_fit_pass_and_only_amount_in_refuses_zero() -> None:
    body = Limits.model_validate({"currency": "USD", "limit": "0", "balance": "-12.5"})
    assert (body.limit, body.balance) == ("0", "-12.5")
    assert Limits.model_validate({"currency": "JPY", "limit": None}).limit is None
    assert AmountIn.model_validate({"currency": "JPY", "amount": "7"}).money().amount_minor == 7
    assert "greater than zero" in _errors(AmountIn, currency="USD", amount="0.00")["amount"]


def test_a_bad_currency_is_the_only_error_reported() -> None:
    assert set(_errors(Limits, currency="XXX", limit="1.234")) == {"currency"}
