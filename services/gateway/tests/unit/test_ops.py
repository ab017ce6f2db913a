"""The ops view's pure parts: statuses by thresholds, dead-letter ids and tenancy, CORS."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from gateway.api.app import create_app
from gateway.config import Settings
from gateway.ops.dead_letters import Raw, describe, parse_id, replay_headers
from gateway.ops.status import DEFAULT_THRESHOLDS, judge, merged, worst
from huikuan_events import Envelope
from huikuan_runtime.kafka import KafkaNamespace

NONE = KafkaNamespace()


def test_a_figure_is_ok_below_warn_warn_from_warn_critical_from_critical() -> None:
    limits = (10.0, 100.0)
    assert judge(0, limits) == "ok"
    assert judge(9.99, limits) == "ok"
    assert judge(10, limits) == "warn"
    assert judge(99, limits) == "warn"
    assert judge(100, limits) == "critical"
    assert judge(None, limits) == "ok"  # nothing to judge (e.g. an empty outbox's age)
    assert judge(10**9, None) == "ok"  # a figure without thresholds


def test_the_worst_status_wins() -> None:
    assert worst([]) == "ok"
    assert worst(["ok", "warn", "ok"]) == "warn"
    assert worst(["warn", "critical", "ok"]) == "critical"


def test_thresholds_override_the_defaults_and_refuse_nonsense() -> None:
    limits = merged({"consumer_lag": (5, 50)})
    assert limits["consumer_lag"] == (5.0, 50.0)
    assert limits["outbox_age_seconds"] == DEFAULT_THRESHOLDS["outbox_age_seconds"]
    with pytest.raises(ValueError, match="unknown"):
        merged({"consumer_lagg": (1, 2)})
    with pytest.raises(ValueError, match="warn <= critical"):
        merged({"dead_letters": (10, 1)})


def test_settings_take_thresholds_and_origins_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GATEWAY_OPS_THRESHOLDS", json.dumps({"dead_letters": [2, 20]}))
    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", "https://app.example.com, https://m.example.com")
    settings = Settings()
    assert settings.ops_thresholds == {"dead_letters": (2.0, 20.0)}
    assert settings.cors_origins == ["https://app.example.com", "https://m.example.com"]
    monkeypatch.setenv("GATEWAY_CORS_ORIGINS", '["https://app.example.com"]')
    assert Settings().cors_origins == ["https://app.example.com"]
    monkeypatch.setenv("GATEWAY_OPS_THRESHOLDS", json.dumps({"nope": [1, 2]}))
    with pytest.raises(ValidationError):
        Settings()


def test_dead_letter_ids_name_a_record_on_a_dead_letter_topic_only() -> None:
    at = parse_id("credit.dlq.v1:3:17")
    assert at is not None and (at.topic, at.partition, at.offset) == ("credit.dlq.v1", 3, 17)
    assert at.id == "credit.dlq.v1:3:17"
    for bad in ("ledger.events.v1:0:1", "credit.dlq.v1:x:1", "credit.dlq.v1:1", "X-1", ""):
        assert parse_id(bad) is None, bad


def _raw(value: bytes, key: bytes | None = None, origin: bytes = b"ledger.events.v1") -> Raw:
    headers = (
        ("traceparent", b"00-abc-def-01"),
        ("x-dlq-consumer", b"credit"),
        ("x-dlq-error-type", b"ValidationError"),
        ("x-dlq-error", b"boom"),
        ("x-dlq-attempts", b"3"),
        ("x-dlq-original-topic", origin),
        ("x-dlq-original-partition", b"2"),
        ("x-dlq-original-offset", b"41"),
    )
    return Raw("credit.dlq.v1", 1, 7, 1_764_000_000_000, key, value, headers)


def _envelope(tenant: str) -> Envelope:
    return Envelope.model_validate(
        {
            "source": "huikuan/ledger",
            "type": "ledger.statement_confirmed.v1",
            "subject": "C-1",
            "time": "2026-11-27T00:00:00Z",
            "tenant": tenant,
            "subjectseq": 1,
            "data": {},
        }
    )


def test_a_dead_letter_is_shown_to_its_tenant_only() -> None:
    event = _envelope("acme")
    raw = _raw(event.to_bytes(), event.partition_key)
    mine = describe(raw, "acme", NONE)
    assert mine is not None
    assert mine.id == "credit.dlq.v1:1:7" and mine.replayable
    assert mine.event is not None and mine.event.id == str(event.id)
    assert (mine.consumer, mine.error, mine.attempts) == ("credit", "boom", 3)
    assert (mine.original_topic, mine.original_partition, mine.original_offset) == (
        "ledger.events.v1",
        2,
        41,
    )
    assert describe(raw, "other", NONE) is None


def test_a_dead_letter_names_its_original_topic_by_its_logical_name() -> None:
    """The consumer records the cluster's name (`staging.ledger.events.v1`); the ops view
    shows and replays the logical one, and only from its own namespace."""
    event = _envelope("acme")
    staging = KafkaNamespace("staging")
    prefixed = _raw(event.to_bytes(), event.partition_key, b"staging.ledger.events.v1")
    shown = describe(prefixed, "acme", staging)
    assert shown is not None and shown.replayable
    assert shown.original_topic == "ledger.events.v1"
    assert shown.id == "credit.dlq.v1:1:7"
    elsewhere = describe(prefixed, "acme", KafkaNamespace("prod"))
    assert elsewhere is not None and not elsewhere.replayable
    assert elsewhere.original_topic == "staging.ledger.events.v1"
    unprefixed = describe(_raw(event.to_bytes(), event.partition_key), "acme", staging)
    assert unprefixed is not None and not unprefixed.replayable


def test_an_unparseable_record_belongs_to_its_keys_tenant_or_to_nobody() -> None:
    keyed = _raw(b"not json", b"acme/C-1")
    assert describe(keyed, "other", NONE) is None
    shown = describe(keyed, "acme", NONE)
    assert shown is not None and shown.tenant == "acme" and shown.error == "boom"
    assert not shown.replayable and shown.event is None
    nobody = describe(_raw(b"not json"), "anyone", NONE)
    assert nobody is not None and nobody.tenant is None
    assert nobody.error is None  # could carry someone's data
    assert nobody.error_type == "ValidationError" and not nobody.replayable


def test_a_replay_keeps_the_records_headers_but_ours() -> None:
    headers = dict(replay_headers(_raw(b"{}")))
    assert headers == {"traceparent": b"00-abc-def-01", "x-replayed-from": b"credit.dlq.v1:1:7"}


def test_cors_is_off_by_default_and_answers_configured_origins() -> None:
    plain = TestClient(create_app(Settings()))
    response = plain.get("/healthz", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers

    client = TestClient(create_app(Settings(cors_origins=["https://app.example.com"])))
    preflight = client.options(
        "/v1/customers/C-1",
        headers={
            "Origin": "https://app.example.com",
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
        },
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "PUT" in preflight.headers["access-control-allow-methods"]
    response = client.get("/healthz", headers={"Origin": "https://app.example.com"})
    assert response.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "X-Request-ID" in response.headers["access-control-expose-headers"]
    evil = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in evil.headers
