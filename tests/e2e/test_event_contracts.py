"""The events on the real topics as other readers see them: the ledger's records decode with
the CloudEvents SDK (Kafka protocol binding, structured content mode), and an event of a
newer producer, with an extension attribute and a data field this version does not know,
is applied by the running consumers instead of being dead-lettered."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

import pytest
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.kafka import KafkaMessage, from_structured_event

from huikuan_dev.stack import Stack
from huikuan_events import KAFKA_HEADERS, Envelope, type_name
from huikuan_events.ledger import SOURCE, CustomerUpserted, InvoiceIssued
from huikuan_events.topics import CONSUMERS, LEDGER_EVENTS, dead_letter_topic
from huikuan_runtime.kafka import make_producer
from tests.conftest import Tenant
from tests.support import dead_letters, events_on_topic, eventually, query, records_on_topic

pytestmark = pytest.mark.e2e


def _decode(record: Any) -> BaseCloudEvent:
    """A record as a CloudEvents SDK reader takes it (the SDK ignores headers in structured
    mode, so the test checks the one that says the mode)."""
    headers = dict(record.headers)
    assert headers["content-type"] == b"application/cloudevents+json"
    return from_structured_event(KafkaMessage(headers=headers, key=record.key, value=record.value))


def test_the_ledgers_records_are_cloudevents_the_sdk_decodes(stack: Stack, tenant: Tenant) -> None:
    api = tenant.api
    assert api.put_customer("C-CE", payment_terms_days=30).status_code == 201
    posted = api.post_invoice("INV-CE", "C-CE", amount="1234.50")
    assert posted.status_code == 201, posted.text
    bootstrap, topic = stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.namespace.topic(LEDGER_EVENTS)

    def both() -> list[Any] | None:
        found = records_on_topic(bootstrap, topic, tenant.id)
        return found if len(found) >= 2 else None

    records = eventually(both, what="customer_upserted and invoice_issued on the ledger topic")
    assert len(records) == 2
    upserted, issued = sorted(
        ((_decode(r), Envelope.from_bytes(r.value)) for r in records),
        key=lambda pair: pair[1].subjectseq,
    )
    for event, ours in (upserted, issued):
        assert event.get_specversion() == "1.0"
        assert event.get_id() == str(ours.id) and uuid.UUID(event.get_id()).version == 7
        assert event.get_source() == "huikuan/ledger"
        assert event.get_subject() == "C-CE"
        time = event.get_time()
        assert time is not None and time.tzinfo is not None and time == ours.time
        assert event.get_datacontenttype() == "application/json"
        assert event.get_extension("tenant") == tenant.id
        assert event.get_extension("partitionkey") == f"{tenant.id}/C-CE"  # the record's key
        assert event.get_data() == ours.data
    assert [e.get_type() for e, _ in (upserted, issued)] == [
        "ledger.customer_upserted.v1",
        "ledger.invoice_issued.v1",
    ]
    assert [e.get_extension("subjectseq") for e, _ in (upserted, issued)] == [1, 2]
    customer = CustomerUpserted.model_validate(upserted[0].get_data())
    assert (customer.customer_id, customer.payment_terms_days) == ("C-CE", 30)
    invoice = InvoiceIssued.model_validate(issued[0].get_data())
    assert invoice == InvoiceIssued(
        invoice_id="INV-CE",
        customer_id="C-CE",
        number="N-INV-CE",
        issue_date=date(2026, 11, 1),
        due_date=date.fromisoformat(posted.json()["due_date"]),
        currency="CNY",
        amount_minor=123450,
    )


def _publish(bootstrap: str, topic: str, value: bytes, key: bytes) -> None:
    async def send() -> None:
        producer = make_producer(bootstrap, "e2e-newer-ledger")
        await producer.start()
        try:
            await producer.send_and_wait(topic, value=value, key=key, headers=list(KAFKA_HEADERS))
        finally:
            await producer.stop()

    asyncio.run(send())


def _processed(url: str, consumer: str, event_id: uuid.UUID) -> list[Any]:
    return query(
        url,
        f"SELECT event_type, topic FROM {consumer}.processed_event "
        "WHERE consumer = $1 AND event_id = $2",
        consumer,
        event_id,
    )


def test_an_event_with_what_this_version_does_not_know_is_applied(
    stack: Stack, tenant: Tenant
) -> None:
    api = tenant.api
    bootstrap, url = stack.env["KAFKA_BOOTSTRAP_SERVERS"], stack.env["DATABASE_URL"]
    topic = stack.namespace.topic(LEDGER_EVENTS)
    assert api.put_customer("C-NEW").status_code == 201  # its event is subjectseq 1
    eventually(
        lambda: events_on_topic(bootstrap, topic, tenant.id),
        what="customer_upserted on the ledger topic",
    )

    # The invoice_issued of a newer ledger: one more extension attribute, one more field.
    payload = InvoiceIssued(
        invoice_id="INV-NEW",
        customer_id="C-NEW",
        number="N-NEW",
        issue_date=date(2026, 11, 1),
        due_date=date(2026, 12, 1),
        currency="CNY",
        amount_minor=50000,
    )
    event = Envelope(
        source=SOURCE,
        type=type_name(payload),
        subject="C-NEW",
        time=datetime(2026, 11, 1, 9, 0, tzinfo=UTC),
        tenant=tenant.id,
        subjectseq=2,
        data=payload.model_dump(mode="json"),
    )
    newer = json.loads(event.to_bytes())
    newer["channel"] = "edi"
    newer["data"]["purchase_order"] = "PO-7"
    _publish(bootstrap, topic, json.dumps(newer).encode(), event.partition_key)

    for consumer in ("credit", "reminders"):
        rows = eventually(
            partial(_processed, url, consumer, event.id), what=f"{consumer} applied the event"
        )
        assert [(r["event_type"], r["topic"]) for r in rows] == [
            ("ledger.invoice_issued.v1", topic)
        ]
        [cursor] = query(
            url,
            f"SELECT last_sequence, gaps, out_of_order FROM {consumer}.subject_cursor "
            "WHERE consumer = $1 AND source = $2 AND tenant = $3 AND subject = 'C-NEW'",
            consumer,
            SOURCE,
            tenant.id,
        )
        assert dict(cursor) == {"last_sequence": 2, "gaps": 0, "out_of_order": 0}

    # Both applied it in the same transaction as recording it: their state has it.
    credit = api.get("/customers/C-NEW/credit").json()
    [line] = credit["exposure"]
    assert (line["currency"], line["open_invoices"], line["open_amount"]) == ("CNY", 1, "500.00")
    dunning = api.get("/customers/C-NEW/dunning").json()
    assert dunning["open_invoice_count"] == 1
    assert [i["residual"] for i in dunning["invoices"]] == ["500.00"]

    for consumer in CONSUMERS:
        mine = [
            d
            for d in dead_letters(api, dead_letter_topic(consumer))
            if d["tenant"] == tenant.id or (d["event"] or {}).get("id") == str(event.id)
        ]
        assert mine == [], consumer
