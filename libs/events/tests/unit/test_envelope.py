"""The CloudEvents envelope: what goes on the wire comes back equal; bad envelopes are refused."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from huikuan_events import CONTENT_TYPE, Envelope
from huikuan_events.ledger import InvoiceIssued
from huikuan_events.topics import partition_key

AT = datetime(2025, 3, 1, 9, 30, tzinfo=UTC)

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
    sequence=st.integers(min_value=1, max_value=2**63 - 1),
    data=st.dictionaries(st.text(), json_values, max_size=5),
)


def _fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "source": "huikuan/ledger",
        "type": "ledger.invoice_issued.v1",
        "subject": "cust-1",
        "time": AT,
        "tenant": "acme",
        "sequence": 1,
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
    payload = InvoiceIssued(
        invoice_id="inv-1",
        customer_id="cust-1",
        number="2025-0001",
        issue_date=date(2025, 3, 1),
        due_date=date(2025, 3, 31),
        currency="CNY",
        amount_minor=123450,
    )
    envelope = Envelope(**_fields(data=payload.model_dump(mode="json")))
    wire = json.loads(envelope.to_bytes())
    assert wire["specversion"] == "1.0"
    assert wire["datacontenttype"] == "application/json"
    assert wire["id"] == str(envelope.id)
    assert wire["time"].startswith("2025-03-01T09:30:00")
    assert wire["sequence"] == 1
    assert wire["data"]["amount_minor"] == 123450
    assert set(wire) == {
        "specversion",
        "id",
        "source",
        "type",
        "subject",
        "time",
        "tenant",
        "sequence",
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
        Envelope(**_fields(sequence=sequence))
    assert Envelope(**_fields(sequence=1)).sequence == 1


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
        envelope.sequence = 2  # type: ignore[misc]


@pytest.mark.parametrize("raw", [b"", b"not json", b"[]", b"{}", b"null", b"\xff\xfe"])
def test_from_bytes_refuses_what_is_not_an_envelope(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        Envelope.from_bytes(raw)


def test_partition_key_is_tenant_and_subject() -> None:
    envelope = Envelope(**_fields(tenant="acme", subject="cust-9"))
    assert envelope.partition_key == b"acme/cust-9"
    assert envelope.partition_key == partition_key("acme", "cust-9")


def test_explicit_id_is_kept() -> None:
    fixed = uuid.UUID("01890a5d-ac96-774b-bcce-b302099a8057")
    assert Envelope(**_fields(id=fixed)).id == fixed
