"""Every process that is not an HTTP API — relay, consumer, dispatcher, scheduler — serves
/healthz, /readyz (database, Kafka, its loop) and /metrics on its own port when
<PREFIX>_HEALTH_PORT is set, and stops cleanly on SIGTERM (exit 0)."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from huikuan_dev.stack import free_port
from huikuan_dev.testing import delete_namespace
from huikuan_runtime.kafka import KafkaNamespace
from tests.support import scratch_database

pytestmark = pytest.mark.integration

WORKERS = [
    ("ledger", "relay"),
    ("credit", "consume"),
    ("gateway", "dispatch"),
    ("reminders", "schedule"),
]


@pytest.fixture(scope="module")
def database() -> Iterator[tuple[str, str, KafkaNamespace]]:
    """A scratch database, and a Kafka namespace of the module's own on the shared broker
    (the consumer reads no other stack's events)."""
    with scratch_database("health") as url:
        bootstrap = os.environ["KAFKA_BOOTSTRAP_SERVERS"]
        namespace = KafkaNamespace(f"health-{secrets.token_hex(3)}")
        try:
            yield url, bootstrap, namespace
        finally:
            asyncio.run(delete_namespace(bootstrap, namespace))


def _env(
    service: str, url: str, bootstrap: str, namespace: KafkaNamespace, port: int
) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_TOPIC_PREFIX": namespace.prefix,
        f"{service.upper()}_HEALTH_PORT": str(port),
        "LOG_LEVEL": "WARNING",
    }


def _get(url: str, deadline: float) -> httpx.Response:
    while True:
        try:
            return httpx.get(url, timeout=5)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize(("service", "mode"), WORKERS)
def test_a_worker_serves_its_health_and_stops_on_sigterm(
    database: tuple[str, str, KafkaNamespace], service: str, mode: str, tmp_path: Path
) -> None:
    url, bootstrap, namespace = database
    port = free_port()
    env = _env(service, url, bootstrap, namespace, port)
    migrated = subprocess.run(
        [sys.executable, "-m", service, "migrate"], env=env, capture_output=True, timeout=120
    )
    assert migrated.returncode == 0, migrated.stderr.decode()[-2000:]
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", service, mode], env=env, stdout=out, stderr=out
        )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        assert _get(f"{base}/healthz", deadline).json() == {"status": "ok"}
        while True:  # ready once the database and Kafka answered and the loop went round
            ready = _get(f"{base}/readyz", deadline)
            if ready.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert ready.status_code == 200, ready.text
        assert ready.json() == {
            "status": "ready",
            "checks": {"database": "ok", "kafka": "ok", "loop": "ok"},
        }
        metrics = _get(f"{base}/metrics", deadline)
        assert metrics.status_code == 200 and "# TYPE" in metrics.text
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0, log.read_text()[-3000:]
