"""The CloudEvents envelope: what goes on the wire comes back equal; bad envelopes are refused;
consumers read what they know of a newer producer's events and ignore the rest."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from huikuan_events import CONTENT_TYPE, KAFKA_HEADERS, Envelope
from huikuan_events.ledger import InvoiceIssued
from huikuan_events.topics import partition_key, tenant_of_key

AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)
INVOICE = InvoiceIssued(
    invoice_id="inv-1",
    customer_id="cust-1",
    number="2025-0001",
    issue_date=date(2025, 3, 1),
    due_date=date(2025, 3, 31),
    currency="CNY",
    amount_minor=123450,
)

# Aware datetimes with whole-minute UTC offsets, as they appear in ISO 8601 text.
offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
aware_times = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(), inner, max_size=4)
    ),
    max_leaves=12,
)
envelopes = st.builds(
    Envelope,
    source=st.text(min_size=1),
    type=st.text(min_size=1),
    subject=st.text(min_size=1),
    time=aware_times,
    tenant=st.text(min_size=1),
    subjectseq=st.integers(min_value=1, max_value=2**63 - 1),
    data=st.dictionaries(st.text(), json_values, max_size=5),
)


def _fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "source": "huikuan/ledger",
        "type": "ledger.invoice_issued.v1",
        "subject": "cust-1",
        "time": AT,
        "tenant": "acme",
        "subjectseq": 1,
        "data": {"invoice_id": "inv-1"},
    }
    fields.update(overrides)
    return fields


@given(envelopes)
def test_to_bytes_then_from_bytes_is_the_identity(envelope: Envelope) -> None:
    raw = envelope.to_bytes()
    assert isinstance(raw, bytes)
    again = Envelope.from_bytes(raw)
    assert again == envelope
    assert again.id == envelope.id
    assert again.time == envelope.time
    assert again.to_bytes() == raw


def test_wire_form_is_structured_cloudevents_json() -> None:
    envelope = Envelope(**_fields(data=INVOICE.model_dump(mode="json")))
    wire = json.loads(envelope.to_bytes())
    assert wire["specversion"] == "1.0"
    assert wire["datacontenttype"] == "application/json"
    assert wire["id"] == str(envelope.id)
    assert wire["time"].startswith("2025-03-01T09:30:00")
    assert wire["subjectseq"] == 1
    assert wire["data"]["amount_minor"] == 123450
    assert set(wire) == {
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "tenant",
        "subjectseq",
        "datacontenttype",
        "data",
    }
    assert CONTENT_TYPE == "application/cloudevents+json"


def test_default_id_is_a_fresh_uuid7() -> None:
    first, second = Envelope(**_fields()), Envelope(**_fields())
    assert first.id.version == 7
    assert first.id != second.id


def test_extra_fields_are_refused() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Envelope(**_fields(priority="high"))
    wire = json.loads(Envelope(**_fields()).to_bytes())
    wire["priority"] = "high"
    with pytest.raises(ValidationError, match="extra"):
        Envelope.from_bytes(json.dumps(wire).encode())


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValidationError, match="timezone"):
        Envelope(**_fields(time=datetime(2025, 3, 1, 9, 30)))
    wire = json.loads(Envelope(**_fields()).to_bytes())
    wire["time"] = "2025-03-01T09:30:00"
    with pytest.raises(ValidationError, match="timezone"):
        Envelope.from_bytes(json.dumps(wire).encode())


@pytest.mark.parametrize("sequence", [0, -1, -(2**40)])
def test_sequence_starts_at_one(sequence: int) -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 1"):
        Envelope(**_fields(subjectseq=sequence))
    assert Envelope(**_fields(subjectseq=1)).subjectseq == 1


@pytest.mark.parametrize("field", ["source", "type", "subject", "tenant"])
def test_required_text_attributes_are_not_empty(field: str) -> None:
    with pytest.raises(ValidationError):
        Envelope(**_fields(**{field: ""}))
    without = _fields()
    del without[field]
    with pytest.raises(ValidationError, match="Field required"):
        Envelope(**without)


def test_only_cloudevents_1_0_and_json_data() -> None:
    with pytest.raises(ValidationError):
        Envelope(**_fields(specversion="0.3"))
    with pytest.raises(ValidationError):
        Envelope(**_fields(datacontenttype="application/xml"))


def test_envelope_is_immutable() -> None:
    envelope = Envelope(**_fields())
    with pytest.raises(ValidationError):
        envelope.subjectseq = 2  # type: ignore[misc]


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b"{}", b"null", b"\xff\xfe"])
def test_from_bytes_refuses_what_is_not_an_envelope(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        Envelope.from_bytes(raw)


def test_partition_key_is_tenant_and_subject() -> None:
    envelope = Envelope(**_fields(tenant="acme", subject="cust-9"))
    assert envelope.partition_key == b"acme/cust-9"
    assert envelope.partition_key == partition_key("acme", "cust-9")
    assert tenant_of_key(envelope.partition_key) == "acme"
    assert tenant_of_key(partition_key("acme", "a/b")) == "acme"
    assert [tenant_of_key(k) for k in (None, b"", b"acme", b"/cust-9")] == [None] * 4


def test_explicit_id_is_kept() -> None:
    fixed = uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")
    assert Envelope(**_fields(id=fixed)).id == fixed


# The core attributes of CloudEvents 1.0; every other attribute is an extension.
CORE_ATTRIBUTES = {
    "specversion",
    "id",
    "source",
    "type",
    "subject",
    "time",
    "datacontenttype",
    "dataschema",
    "data",
}


def test_attribute_names_follow_the_cloudevents_naming_rules() -> None:
    names = set(Envelope.model_fields)
    for name in names:
        assert re.fullmatch(r"[a-z0-9]+", name), name
    extensions = names - CORE_ATTRIBUTES
    assert extensions == {"tenant", "subjectseq"}
    for name in extensions:
        assert len(name) <= 20, name


def test_kafka_records_say_they_are_structured_cloudevents() -> None:
    assert KAFKA_HEADERS == (("content-type", b"application/cloudevents+json"),)


def test_read_ignores_attributes_it_does_not_know() -> None:
    envelope = Envelope(**_fields())
    wire = json.loads(envelope.to_bytes())
    newer = {
        **wire,
        "priority": "high",  # an extension of a newer producer
        "dataschema": "https://example.com/schemas/invoice_issued",  # an optional core one
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }
    raw = json.dumps(newer).encode()
    assert Envelope.read(raw) == envelope
    assert Envelope.read(raw).to_bytes() == envelope.to_bytes()
    with pytest.raises(ValidationError, match="extra"):
        Envelope.from_bytes(raw)


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("time", "2025-03-01T09:30:00"),
        ("subjectseq", 0),
        ("tenant", ""),
        ("specversion", "0.3"),
        ("datacontenttype", "application/xml"),
        ("id", "not-a-uuid"),
    ],
)
def test_read_validates_what_it_knows(attribute: str, value: object) -> None:
    wire = {**json.loads(Envelope(**_fields()).to_bytes()), attribute: value, "extra1": 1}
    with pytest.raises(ValidationError):
        Envelope.read(json.dumps(wire).encode())


@pytest.mark.parametrize("missing", ["source", "type", "subject", "time", "tenant", "subjectseq"])
def test_read_refuses_an_envelope_without_a_required_attribute(missing: str) -> None:
    wire = json.loads(Envelope(**_fields()).to_bytes())
    del wire[missing]
    with pytest.raises(ValidationError, match="Field required"):
        Envelope.read(json.dumps(wire).encode())


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b"{}", b"null", b"\xff\xfe"])
def test_read_refuses_what_is_not_an_envelope(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        Envelope.read(raw)


def test_read_takes_subjectseq_by_its_old_name() -> None:
    envelope = Envelope(**_fields(subjectseq=7))
    wire = json.loads(envelope.to_bytes())
    wire["sequence"] = wire.pop("subjectseq")
    old = json.dumps(wire).encode()
    assert Envelope.read(old) == envelope
    with pytest.raises(ValidationError):
        Envelope.from_bytes(old)
    # The spec's own `sequence` (a String) is just an unknown extension beside ours ...
    both = {**json.loads(envelope.to_bytes()), "sequence": "0000000003"}
    assert Envelope.read(json.dumps(both).encode()).subjectseq == 7
    # ... and never stands in for it.
    del both["subjectseq"]
    with pytest.raises(ValidationError, match="subjectseq"):
        Envelope.read(json.dumps(both).encode())


def test_read_data_ignores_fields_it_does_not_know() -> None:
    data = {**INVOICE.model_dump(mode="json"), "purchase_order": "PO-7"}
    envelope = Envelope(**_fields(data=data))
    assert envelope.read_data(InvoiceIssued) == INVOICE
    assert envelope.data["purchase_order"] == "PO-7"  # the envelope keeps what it carried
    with pytest.raises(ValidationError, match="extra"):
        InvoiceIssued.model_validate(data)


def test_read_data_validates_what_it_knows() -> None:
    data = {**INVOICE.model_dump(mode="json"), "amount_minor": 0, "purchase_order": "PO-7"}
    with pytest.raises(ValidationError, match="amount_minor"):
        Envelope(**_fields(data=data)).read_data(InvoiceIssued)
    del data["currency"]
    with pytest.raises(ValidationError, match="currency"):
        Envelope(**_fields(data=data)).read_data(InvoiceIssued)
