"""The ops view through the gateway: consumer lag and outbox backlog read from the running
system, dead letters listed per tenant, counted and replayed."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import pytest

from huikuan_dev.stack import Stack
from huikuan_events import Envelope
from huikuan_events.topics import LEDGER_EVENTS
from huikuan_runtime.kafka import make_producer
from tests.conftest import Tenant
from tests.support import Api, dead_letters, eventually, query

pytestmark = pytest.mark.e2e

CREDIT_DLQ = "credit.dlq.v1"


def _send(
    bootstrap: str, topic: str, value: bytes, key: bytes, headers: list[tuple[str, bytes]]
) -> tuple[int, int]:
    async def send() -> tuple[int, int]:
        producer = make_producer(bootstrap, "e2e-ops")
        await producer.start()
        try:
            meta = await producer.send_and_wait(topic, value=value, key=key, headers=headers)
        finally:
            await producer.stop()
        return meta.partition, meta.offset

    return asyncio.run(send())


def _pipeline(api: Api) -> dict[str, Any]:
    response = api.get("/ops/pipeline")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _dlq_count(api: Api, topic: str = CREDIT_DLQ) -> int:
    [found] = [d for d in _pipeline(api)["dead_letters"] if d["topic"] == topic]
    count: int = found["count"]
    return count


def test_the_pipeline_shows_each_group_catching_up_and_the_outboxes_draining(
    stack: Stack, tenant: Tenant
) -> None:
    api = tenant.api
    assert api.put_customer("C-OPS").status_code == 201
    for n in range(3):
        assert api.post_invoice(f"I-OPS-{n}", "C-OPS").status_code == 201

    seen: list[dict[str, Any]] = []

    def settled() -> dict[str, Any] | None:
        body = _pipeline(api)
        seen[:] = [body]
        groups = {c["service"]: c for c in body["consumers"]}
        outboxes = {o["service"]: o for o in body["outboxes"]}
        # Earlier tests of the session may have left reminders with credit events still to
        # read: judge the topic our invoices went to, and credit as a whole.
        caught_up = groups["credit"]["lag"] == 0 and all(
            p["lag"] == 0
            for s in ("credit", "reminders")
            for p in groups[s]["partitions"]
            if p["topic"] == LEDGER_EVENTS
        )
        drained = all(outboxes[s]["backlog"] == 0 for s in ("ledger", "credit", "reminders"))
        return body if caught_up and drained else None

    try:
        body = eventually(settled, timeout=120, what="consumer lag and outbox backlog at 0")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; the pipeline said {seen}") from None
    groups = {c["service"]: c for c in body["consumers"]}
    # The stack's groups are in its namespace; topics are shown by their logical names.
    assert stack.namespace.prefix
    assert groups["credit"]["group"] == f"{stack.namespace.prefix}.credit"
    assert groups["reminders"]["group"] == f"{stack.namespace.prefix}.reminders"
    credit_topics = {p["topic"] for p in groups["credit"]["partitions"]}
    assert credit_topics == {"ledger.events.v1", "reminders.events.v1"}
    assert all(
        p["lag"] == 0 and p["committed"] is not None
        for p in groups["credit"]["partitions"]
        if p["end_offset"] > 0
    )
    assert groups["credit"]["status"] == "ok"
    for part in groups["reminders"]["partitions"]:
        if part["committed"] is not None:
            assert part["lag"] == part["end_offset"] - part["committed"] >= 0
    assert {o["service"] for o in body["outboxes"]} >= {"ledger", "credit", "reminders"}
    assert all(o["status"] == "ok" for o in body["outboxes"])
    names = {(g["service"], g["name"]) for g in body["gauges"]}
    assert ("reminders", "reminders_due_unsent") in names
    assert ("reminders", "deliveries_failing") in names
    assert {d["topic"] for d in body["dead_letters"]} >= {"credit.dlq.v1", "reminders.dlq.v1"}
    assert body["unavailable"] == []
    assert "system-wide" in body["tenancy"]
    assert body["thresholds"]["consumer_lag"]["warn"] > 0
    assert body["status"] in ("ok", "warn", "critical")


def test_a_poison_record_is_dead_lettered_counted_and_listed_to_its_tenant(
    stack: Stack, tenant: Tenant
) -> None:
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    before = _dlq_count(tenant.api)
    poison = f"not json {secrets.token_hex(4)}".encode()
    partition, offset = _send(
        bootstrap,
        stack.namespace.topic(LEDGER_EVENTS),
        poison,
        f"{tenant.id}/C-POISON".encode(),
        [],
    )

    def listed() -> list[dict[str, Any]]:
        return [
            d
            for d in dead_letters(tenant.api, CREDIT_DLQ)
            if (d["original_topic"], d["original_partition"], d["original_offset"])
            == (LEDGER_EVENTS, partition, offset)
        ]

    [mine, *_] = eventually(listed, what="the poison record on credit.dlq.v1")
    assert mine["tenant"] == tenant.id
    assert mine["event"] is None and not mine["replayable"]
    assert mine["error_type"] == "ValidationError" and mine["attempts"] == 1
    assert mine["consumer"] == "credit"
    assert _dlq_count(tenant.api) > before
    assert any(
        d["topic"] == CREDIT_DLQ and d["status"] in ("warn", "critical")
        for d in _pipeline(tenant.api)["dead_letters"]
    )

    # not an event: replaying it would only dead-letter it again
    refused = tenant.api.http.post(f"/ops/dead-letters/{mine['id']}/replay")
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == "application/problem+json"

    other = Api(stack.gateway_url, stack.create_tenant_key(f"{tenant.id}-o", "Other"))
    assert mine["id"] not in {d["id"] for d in dead_letters(other, CREDIT_DLQ)}
    hidden = other.http.post(f"/ops/dead-letters/{mine['id']}/replay")
    assert hidden.status_code == 404, hidden.text


def test_a_dead_letter_is_replayed_to_its_original_topic_and_applied(
    stack: Stack, tenant: Tenant
) -> None:
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    event = Envelope.model_validate(
        {
            "source": "huikuan/ledger",
            "type": "ledger.statement_confirmed.v1",
            "subject": "C-REPLAY",
            "time": "2026-11-27T00:00:00Z",
            "tenant": tenant.id,
            "subjectseq": 1,
            "data": {},
        }
    )
    headers = [
        ("x-dlq-consumer", b"credit"),
        ("x-dlq-error-type", b"RuntimeError"),
        ("x-dlq-error", b"database said no"),
        ("x-dlq-attempts", b"3"),
        # as the consumer writes it: the cluster's name, in the stack's namespace
        ("x-dlq-original-topic", stack.namespace.topic(LEDGER_EVENTS).encode()),
        ("x-dlq-original-partition", b"0"),
        ("x-dlq-original-offset", b"0"),
    ]
    partition, offset = _send(
        bootstrap, stack.namespace.topic(CREDIT_DLQ), event.to_bytes(), event.partition_key, headers
    )
    dead_letter_id = f"{CREDIT_DLQ}:{partition}:{offset}"

    [listed] = [d for d in dead_letters(tenant.api, CREDIT_DLQ) if d["id"] == dead_letter_id]
    assert listed["event"]["id"] == str(event.id)
    assert listed["event"]["type"] == "ledger.statement_confirmed.v1"
    assert listed["error"] == "database said no" and listed["replayable"]

    replayed = tenant.api.http.post(
        f"/ops/dead-letters/{dead_letter_id}/replay", headers={"Idempotency-Key": "replay-1"}
    )
    assert replayed.status_code == 200, replayed.text
    result = replayed.json()
    assert result["topic"] == LEDGER_EVENTS and result["event_id"] == str(event.id)
    again = tenant.api.http.post(
        f"/ops/dead-letters/{dead_letter_id}/replay", headers={"Idempotency-Key": "replay-1"}
    )
    assert again.json() == result and again.headers.get("Idempotent-Replayed") == "true"

    url = stack.env["DATABASE_URL"]
    rows = eventually(
        lambda: query(
            url,
            "SELECT topic FROM credit.processed_event WHERE consumer = 'credit' AND event_id = $1",
            event.id,
        ),
        what="credit applied the replayed event",
    )
    assert rows[0]["topic"] == stack.namespace.topic(LEDGER_EVENTS)


def test_bad_dead_letter_requests_are_problems(tenant: Tenant) -> None:
    http = tenant.api.http
    for path, status in [
        ("/ops/dead-letters/X-1/replay", 404),  # not a dead-letter id
        ("/ops/dead-letters/ledger.events.v1:0:0/replay", 404),  # not a dead-letter topic
        ("/ops/dead-letters/credit.dlq.v1:999:0/replay", 404),  # no such partition
        ("/ops/dead-letters/credit.dlq.v1:0:999999999999/replay", 404),  # beyond the end
        ("/ops/dead-letters/credit.dlq.v1%2F0/replay", 404),
    ]:
        response = http.post(path)
        assert response.status_code == status, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    queries: list[tuple[dict[str, str | int], int]] = [
        ({"cursor": "garbage"}, 422),
        ({"limit": 0}, 422),
        ({"topic": "Ledger Events"}, 422),
        ({"topic": "nope.dlq.v1"}, 404),
    ]
    for params, status in queries:
        response = http.get("/ops/dead-letters", params=params)
        assert response.status_code == status, (params, response.text)
        assert response.headers["content-type"] == "application/problem+json"
