"""Event type names on the wire and the payload model each one carries."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from pydantic import BaseModel, ValidationError

from huikuan_events import EVENT_TYPES, Envelope, UnknownEventType, parse_data, type_name
from huikuan_events.ledger import CustomerUpserted, InvoiceIssued
from huikuan_events.registry import json_schemas
from huikuan_events.topics import CONSUMERS, EVENT_TOPICS, all_topics, dead_letter_topic

INVOICE = InvoiceIssued(
    invoice_id="inv-1",
    customer_id="cust-1",
    number="2025-0001",
    issue_date=date(2025, 3, 1),
    due_date=date(2025, 3, 31),
    currency="CNY",
    amount_minor=123450,
)
CUSTOMER = CustomerUpserted(
    customer_id="cust-1", name="Acme Trading", currency="CNY", payment_terms_days=30
)


def _envelope(type_: str, data: dict[str, object]) -> Envelope:
    return Envelope(
        source="huikuan/ledger",
        type=type_,
        subject="cust-1",
        time=datetime(2025, 3, 1, tzinfo=UTC),
        tenant="acme",
        subjectseq=1,
        data=data,
    )


def test_type_name_of_registered_payloads() -> None:
    assert type_name(INVOICE) == "ledger.invoice_issued.v1"
    assert type_name(CUSTOMER) == "ledger.customer_upserted.v1"


def test_type_name_of_an_unregistered_model_is_refused() -> None:
    class Stranger(BaseModel):
        x: int

    with pytest.raises(UnknownEventType, match="Stranger"):
        type_name(Stranger(x=1))
    assert issubclass(UnknownEventType, LookupError)


@pytest.mark.parametrize("payload", [INVOICE, CUSTOMER])
def test_parse_data_gives_back_the_payload(payload: BaseModel) -> None:
    envelope = _envelope(type_name(payload), payload.model_dump(mode="json"))
    again = Envelope.from_bytes(envelope.to_bytes())
    parsed = parse_data(again)
    assert type(parsed) is type(payload)
    assert parsed == payload


def test_parse_data_of_an_unknown_type_is_refused() -> None:
    with pytest.raises(UnknownEventType, match=r"ledger\.invoice_eaten\.v1"):
        parse_data(_envelope("ledger.invoice_eaten.v1", {}))


def test_parse_data_validates_against_the_model() -> None:
    data = INVOICE.model_dump(mode="json")
    with pytest.raises(ValidationError):
        parse_data(_envelope("ledger.invoice_issued.v1", {**data, "amount_minor": 0}))
    with pytest.raises(ValidationError):
        parse_data(_envelope("ledger.invoice_issued.v1", {**data, "currency": "cny"}))
    with pytest.raises(ValidationError):
        parse_data(_envelope("ledger.invoice_issued.v1", {**data, "unexpected": 1}))


def test_every_type_name_is_versioned_and_unique() -> None:
    for name, model in EVENT_TYPES.items():
        assert re.fullmatch(r"(ledger|credit|reminders)\.[a-z_]+\.v[0-9]+", name), name
        assert model.model_config.get("extra") == "forbid", name
    assert len(set(EVENT_TYPES.values())) == len(EVENT_TYPES)


def test_json_schemas_cover_envelope_and_every_payload() -> None:
    schemas = json_schemas()
    assert set(schemas) == {"envelope", *EVENT_TYPES}
    assert "subjectseq" in schemas["envelope"]["properties"]


def test_topic_names() -> None:
    assert dead_letter_topic("credit") == "credit.dlq.v1"
    assert EVENT_TOPICS == ("ledger.events.v1", "credit.events.v1", "reminders.events.v1")
    assert set(all_topics()) == {*EVENT_TOPICS, *(f"{c}.dlq.v1" for c in CONSUMERS)}
