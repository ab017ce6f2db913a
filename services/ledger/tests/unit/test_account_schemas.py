"""Request models of disputes, statements, targets and jobs refuse bad input."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from huikuan_contracts.ledger.disputes import DisputeCreate, DisputeResolve
from huikuan_contracts.ledger.jobs import OverdueScanRun
from huikuan_contracts.ledger.statements import ConfirmationCreate, StatementQuery
from huikuan_contracts.ledger.targets import TargetPut, TargetsQuery

CREDIT = {"credit_note_id": "CN-1", "currency": "CNY", "amount": "10.00"}


def test_a_dispute_amount_fits_its_currency() -> None:
    body = {"dispute_id": "D-1", "reason": "damp", "opened_on": "2026-11-12", "currency": "CNY"}
    assert DisputeCreate.model_validate({**body, "amount": "10.50"}).money().amount_minor == 1050
    for amount in ("10.505", "0", "-1", "ten"):
        with pytest.raises(ValidationError):
            DisputeCreate.model_validate({**body, "amount": amount})
    with pytest.raises(ValidationError):
        DisputeCreate.model_validate({**body, "amount": "1", "extra": True})


@pytest.mark.parametrize(
    ("body", "ok"),
    [
        ({"outcome": "accepted", "credit_note": CREDIT}, True),
        ({"outcome": "rejected"}, True),
        ({"outcome": "accepted"}, False),
        ({"outcome": "rejected", "credit_note": CREDIT}, False),
        ({"outcome": "withdrawn"}, False),
        ({"outcome": "accepted", "credit_note": {**CREDIT, "amount": "1.001"}}, False),
    ],
)
def test_a_credit_note_goes_with_acceptance_only(body: dict[str, Any], ok: bool) -> None:
    full = {"resolved_on": "2026-11-20", **body}
    if ok:
        assert DisputeResolve.model_validate(full).outcome == body["outcome"]
    else:
        with pytest.raises(ValidationError):
            DisputeResolve.model_validate(full)


def test_the_statement_query_speaks_from_and_to() -> None:
    query = StatementQuery.model_validate({"from": "2026-11-01", "to": "2026-11-30"})
    assert query.period_from == date(2026, 11, 1)
    assert query.model_dump(mode="json", exclude_none=True) == {
        "from": "2026-11-01",
        "to": "2026-11-30",
    }
    with pytest.raises(ValidationError):
        StatementQuery.model_validate({"from": "2026-12-01", "to": "2026-11-30"})
    with pytest.raises(ValidationError):
        StatementQuery.model_validate({"from": "2026-11-01", "to": "2026-11-30", "currency": "X"})


@pytest.mark.parametrize(
    ("balance", "ok"), [("-5.00", True), ("0", True), ("12.345", False), ("1e3", False)]
)
def test_their_balance_is_signed_and_fits_the_currency(balance: str, ok: bool) -> None:
    body = {
        "confirmation_id": "SC-1",
        "period_from": "2026-11-01",
        "period_to": "2026-11-30",
        "currency": "CNY",
        "their_balance": balance,
    }
    if ok:
        assert ConfirmationCreate.model_validate(body).their_money().currency == "CNY"
    else:
        with pytest.raises(ValidationError):
            ConfirmationCreate.model_validate(body)


def test_targets_need_a_month_and_a_positive_amount() -> None:
    assert TargetsQuery.model_validate({"period": "2026-11"}).period == "2026-11"
    with pytest.raises(ValidationError):
        TargetsQuery.model_validate({"period": "2026-13"})
    with pytest.raises(ValidationError):
        TargetPut.model_validate({"currency": "CNY", "amount": "0.00"})


def test_the_overdue_scan_is_told_when_one_way() -> None:
    assert OverdueScanRun.model_validate({}).as_of is None
    assert OverdueScanRun.model_validate({"as_of": "2026-11-15"}).batch_size == 500
    for body in (
        {"as_of": "2026-11-15", "at": "2026-11-15T00:00:00Z"},
        {"as_of": "2026-11-15", "timezone": "Asia/Shanghai"},
        {"at": "2026-11-15T00:00:00"},  # no offset: which instant?
        {"at": "2026-11-15T00:00:00Z", "timezone": "Nowhere/City"},
        {"batch_size": 0},
    ):
        with pytest.raises(ValidationError):
            OverdueScanRun.model_validate(body)
