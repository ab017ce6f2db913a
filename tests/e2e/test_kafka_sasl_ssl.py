"""Managed Kafka, end to end: a real broker that speaks only SASL_SSL (certificates made by
the test, SCRAM users made by Kafka's own storage tool — `huikuan_dev.secure_kafka`), and
the services configured for it through the `KAFKA_*` environment variables alone.

One broker for the module. `migrate` creates the topics with the `KAFKA_TOPIC_*` layout; the
ledger's API writes its outbox, its relay publishes over SASL_SSL, credit's consumer reads
it into credit's tables and credit's relay publishes its own events back; the gateway's ops
view reads consumer lag and dead-letter counts from the same broker. Clients with a
wrong password or without the CA cannot connect, and the processes say so — an API's
`/readyz` turns 503 on Kafka, a worker exits with the reason in its log — instead of
hanging silently."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.errors import KafkaConnectionError

from huikuan_dev.processes import PROCESS_TYPES
from huikuan_dev.secure_kafka import SaslSslBroker, kafka_libs
from huikuan_dev.stack import Stack, free_port
from huikuan_events import Envelope
from huikuan_events.topics import CREDIT_EVENTS, LEDGER_EVENTS, all_topics, is_dead_letter
from huikuan_runtime.http import INTERNAL_TOKEN_HEADER, TENANT_HEADER
from huikuan_runtime.kafka import KafkaConnection, make_admin
from huikuan_runtime.settings import DEV_INTERNAL_TOKEN
from tests.support import (
    ROOT,
    Api,
    events_on_topic,
    eventually,
    query,
    scratch_database,
)

pytestmark = pytest.mark.e2e

SERVICE_USER = "huikuan"
READER = "auditor"  # reads topics with the other SCRAM mechanism
PARTITIONS = 3
RETENTION_MS = 3 * 24 * 3600 * 1000
DEAD_LETTER_RETENTION_MS = 30 * 24 * 3600 * 1000
TOPIC_LAYOUT = {
    "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS),
    "KAFKA_TOPIC_REPLICATION_FACTOR": "1",
    "KAFKA_TOPIC_MIN_INSYNC_REPLICAS": "1",
    "KAFKA_TOPIC_RETENTION_MS": str(RETENTION_MS),
    "KAFKA_DEAD_LETTER_RETENTION_MS": str(DEAD_LETTER_RETENTION_MS),
}
# The gateway's API for its ops view, a Kafka client too.
RUN = {"ledger-api", "ledger-relay", "credit-api", "credit-consume", "credit-relay", "gateway-api"}
PROCESSES = tuple(p for p in PROCESS_TYPES if p.name in RUN)


def _run_dir() -> Path:
    return Path(os.environ.get("HUIKUAN_RUN_DIR", ROOT / ".run" / "test"))


@pytest.fixture(scope="module")
def database() -> Iterator[str]:
    with scratch_database("huikuan_sasl") as url:
        yield url


@pytest.fixture(scope="module")
def broker(database: str) -> Iterator[SaslSslBroker]:
    data_dir = _run_dir() / f"kafka-sasl-{secrets.token_hex(4)}"
    users = {SERVICE_USER: secrets.token_hex(16), READER: secrets.token_hex(16)}
    with SaslSslBroker(data_dir, kafka_libs(ROOT), users=users) as running:
        yield running
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def stack(broker: SaslSslBroker, database: str) -> Iterator[Stack]:
    """ledger's API and relay, credit's consumer and relay, on the SASL_SSL broker; `migrate`
    of every service creates the topics first."""
    name = f"sasl-{secrets.token_hex(4)}"
    stack = Stack(
        _run_dir() / name,
        database_url=database,
        kafka_bootstrap_servers=broker.bootstrap_servers,
        ports={svc: free_port() for svc in ("gateway", "ledger", "credit", "reminders")},
        extra_env={
            **broker.client_env(SERVICE_USER, "SCRAM-SHA-512"),
            **TOPIC_LAYOUT,
            "LEDGER_HEALTH_PORT": str(free_port()),  # the relay's (the API has its own port)
            "LOG_LEVEL": "INFO",
        },
        processes=PROCESSES,
    )
    try:
        stack.migrate()
        stack.start()
        yield stack
    finally:
        stack.stop()


def _ledger(stack: Stack, tenant: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"http://127.0.0.1:{stack.ports['ledger']}",
        headers={INTERNAL_TOKEN_HEADER: DEV_INTERNAL_TOKEN, TENANT_HEADER: tenant},
        timeout=15,
    )


async def _describe(connection: KafkaConnection) -> tuple[dict[str, Any], dict[str, Any]]:
    """Every topic's metadata, and its `min.insync.replicas` and `retention.ms`."""
    admin = make_admin(connection, "it-sasl-describe")
    await admin.start()
    try:
        topics = {t["topic"]: t for t in await admin.describe_topics(list(all_topics()))}
        wanted = {"min.insync.replicas": None, "retention.ms": None}
        responses = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t, configs=wanted) for t in all_topics()]
        )
        configs: dict[str, Any] = {}
        for response in responses:
            for resource in response.to_object()["resources"]:
                assert resource["error_code"] == 0, resource
                configs[resource["resource_name"]] = {
                    entry["config_names"]: entry["config_value"]
                    for entry in resource["config_entries"]
                }
        return topics, configs
    finally:
        await admin.close()


def test_migrate_creates_the_topics_with_the_layout_over_sasl_ssl(
    broker: SaslSslBroker, stack: Stack
) -> None:
    # Read back as another user, with the other SCRAM mechanism.
    topics, configs = asyncio.run(_describe(broker.connection(READER, "SCRAM-SHA-256")))
    assert set(topics) == set(all_topics())
    for name, topic in topics.items():
        assert topic["error_code"] == 0, topic
        assert len(topic["partitions"]) == PARTITIONS, name
        assert all(len(p["replicas"]) == 1 for p in topic["partitions"]), topic
        retention = DEAD_LETTER_RETENTION_MS if is_dead_letter(name) else RETENTION_MS
        assert configs[name] == {"min.insync.replicas": "1", "retention.ms": str(retention)}


def test_outbox_relay_consumer_path_runs_over_sasl_ssl(
    broker: SaslSslBroker, stack: Stack, database: str
) -> None:
    tenant = f"t-{secrets.token_hex(4)}"
    with _ledger(stack, tenant) as ledger:
        put = ledger.put("/customers/C-1", json={"name": "华东贸易", "currency": "CNY"})
        assert put.status_code == 201, put.text
        posted = ledger.post(
            "/invoices",
            json={
                "invoice_id": "INV-1",
                "customer_id": "C-1",
                "number": "N-1",
                "issue_date": "2026-11-01",
                "currency": "CNY",
                "amount": "1234.50",
            },
        )
        assert posted.status_code == 201, posted.text

    # The relay published both events; read back over SASL_SSL by another user.
    reader = broker.connection(READER, "SCRAM-SHA-256")

    def published() -> list[Envelope]:
        found = events_on_topic(reader, LEDGER_EVENTS, tenant)
        return found if len(found) == 2 else []

    events = eventually(published, what="the ledger's two events on its topic")
    assert [e.type for e in events] == ["ledger.customer_upserted.v1", "ledger.invoice_issued.v1"]

    # Credit's consumer applied them: its processed-event rows and its fact of the invoice.
    def processed() -> set[str]:
        rows = query(
            database,
            "SELECT event_id FROM credit.processed_event WHERE consumer = 'credit'"
            " AND event_id = ANY($1::uuid[])",
            [e.id for e in events],
        )
        return {str(r["event_id"]) for r in rows}

    eventually(lambda: processed() == {str(e.id) for e in events}, what="credit applied both")
    [fact] = query(
        database,
        "SELECT kind, ref, currency, amount_minor FROM credit.credit_fact"
        " WHERE tenant = $1 AND customer_id = 'C-1'",
        tenant,
    )
    assert dict(fact) == {
        "kind": "invoice",
        "ref": "INV-1",
        "currency": "CNY",
        "amount_minor": 123450,
    }

    # And credit's relay published what credit derived, over SASL_SSL too.
    scored = eventually(
        lambda: [
            e
            for e in events_on_topic(reader, CREDIT_EVENTS, tenant)
            if e.type == "credit.score_changed.v1"
        ],
        what="credit's score_changed on credit.events.v1",
    )
    assert scored[0].subject == "C-1"


def test_the_relay_reports_ready_over_sasl_ssl(stack: Stack) -> None:
    port = stack.env["LEDGER_HEALTH_PORT"]

    def ready() -> dict[str, Any] | None:
        answer = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
        return answer.json() if answer.status_code == 200 else None

    body = eventually(ready, what="the ledger relay is ready")
    assert body["checks"] == {"database": "ok", "kafka": "ok", "loop": "ok"}


def test_the_ops_view_reads_lag_and_dead_letters_over_sasl_ssl(stack: Stack) -> None:
    key = stack.create_tenant_key(f"t-{secrets.token_hex(4)}", "Ops", scopes=["ops:read"])
    api = Api(stack.gateway_url, key)

    def caught_up() -> dict[str, Any] | None:
        response = api.get("/ops/pipeline")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        groups = {c["service"]: c for c in body["consumers"]}
        return body if "credit" in groups and groups["credit"]["lag"] == 0 else None

    body = eventually(caught_up, what="credit's consumer lag, read from Kafka, at 0")
    [credit] = [c for c in body["consumers"] if c["service"] == "credit"]
    assert len(credit["partitions"]) == 2 * PARTITIONS  # ledger's and reminders' topics
    assert {d["topic"]: d["count"] for d in body["dead_letters"]} == {
        t: 0 for t in all_topics() if is_dead_letter(t)
    }
    assert [u["service"] for u in body["unavailable"]] == ["reminders"]  # not started here


async def _connects(connection: KafkaConnection) -> bool:
    admin = make_admin(connection, "it-sasl-probe")
    try:
        await admin.start()
    except KafkaConnectionError:
        return False
    finally:
        await admin.close()
    return True


def test_a_wrong_password_or_a_missing_ca_cannot_connect(broker: SaslSslBroker) -> None:
    good = broker.connection(SERVICE_USER)
    assert asyncio.run(_connects(good))  # so the refusals below are the broker's doing
    assert not asyncio.run(_connects(dataclasses.replace(good, sasl_password="wrong")))
    assert not asyncio.run(_connects(dataclasses.replace(good, ssl_cafile=None)))
    assert not asyncio.run(
        _connects(dataclasses.replace(good, sasl_mechanism="SCRAM-SHA-256", sasl_username="nobody"))
    )


def _process_env(
    broker: SaslSslBroker, database: str, changes: dict[str, str | None]
) -> dict[str, str]:
    """A process's environment for the broker as the service user, with `changes` (None
    removes a variable)."""
    env = {
        **os.environ,
        **broker.client_env(SERVICE_USER),
        "DATABASE_URL": database,
        "LOG_LEVEL": "INFO",
    }
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def test_an_api_with_a_wrong_password_is_not_ready(
    broker: SaslSslBroker, stack: Stack, database: str, tmp_path: Path
) -> None:
    port = free_port()
    env = _process_env(broker, database, {"KAFKA_SASL_PASSWORD": "wrong", "LEDGER_PORT": str(port)})
    with (tmp_path / "ledger-api.log").open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ledger", "api"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        base = f"http://127.0.0.1:{port}"

        def answered() -> httpx.Response | None:
            try:
                return httpx.get(f"{base}/readyz", timeout=10)
            except httpx.TransportError:
                return None

        ready = eventually(answered, what="the API answers /readyz")
        assert ready.status_code == 503, ready.text
        checks = ready.json()["checks"]
        assert checks["database"] == "ok"
        assert checks["kafka"].startswith("failing: KafkaConnectionError"), checks
        assert httpx.get(f"{base}/healthz", timeout=10).status_code == 200  # alive, not ready
    finally:
        proc.terminate()
        proc.wait(30)
    assert "SaslAuthenticationFailed" in (tmp_path / "ledger-api.log").read_text()


@pytest.mark.parametrize(
    ("service", "mode", "changes", "reason"),
    [
        ("ledger", "relay", {"KAFKA_SASL_PASSWORD": "wrong"}, "SaslAuthenticationFailed"),
        # Without the CA the system's CAs are used: none of them signed the broker's cert.
        ("credit", "consume", {"KAFKA_SSL_CAFILE": None}, "CERTIFICATE_VERIFY_FAILED"),
    ],
)
def test_a_worker_that_cannot_connect_exits_with_the_reason(
    broker: SaslSslBroker,
    stack: Stack,
    database: str,
    tmp_path: Path,
    service: str,
    mode: str,
    changes: dict[str, str | None],
    reason: str,
) -> None:
    env = _process_env(broker, database, changes)
    log = tmp_path / f"{service}-{mode}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", service, mode], env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        code = proc.wait(90)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"{service} {mode} hung: {log.read_text()[-2000:]}") from None
    assert code != 0
    assert reason in log.read_text(), log.read_text()[-3000:]
