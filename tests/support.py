"""Helpers for end-to-end and fault tests: a running stack, HTTP clients, bounded polling."""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiosmtpd.controller import Controller
from pydantic import ValidationError

from huikuan_dev.processes import SERVICES
from huikuan_dev.stack import Stack, free_port
from huikuan_dev.testing import start_groups_at_end
from huikuan_events import Envelope
from huikuan_runtime.addresses import LOOPBACK
from huikuan_runtime.kafka import Kafka, client_options

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[1]


def infra_env() -> tuple[str, str] | None:
    url, bootstrap = os.environ.get("DATABASE_URL"), os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    return (url, bootstrap) if url and bootstrap else None


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def create_database(url: str, name: str) -> str:
    asyncio.run(_admin(url, f'CREATE DATABASE "{name}"'))
    return with_database(url, name)


def drop_database(url: str, name: str) -> None:
    asyncio.run(_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def scratch_database(prefix: str) -> Iterator[str]:
    """The URL of a new database `<prefix>_<random>` on `make test`'s server, dropped
    afterwards; the test is skipped when run without the servers."""
    env = infra_env()
    if env is None:
        pytest.skip("needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (make test sets them)")
    name = f"{prefix}_{secrets.token_hex(4)}"
    try:
        yield create_database(env[0], name)
    finally:
        drop_database(env[0], name)


def start_stack(
    database_url: str,
    bootstrap: str,
    extra_env: dict[str, str] | None = None,
    outbound_allow: str = LOOPBACK,
) -> Iterator[Stack]:
    """A fresh database and every service process on free ports, stopped afterwards;
    `extra_env` adds settings for the processes (e.g. an SMTP server for reminders).
    Outbound connections to URLs a test chose (webhooks, a tenant's channels) are confined
    to `outbound_allow` (`HUIKUAN_OUTBOUND_ALLOW`): this machine, unless a test adds the
    networks of hosts of its own, so generated URLs never lead off the machine."""
    name = f"huikuan_e2e_{secrets.token_hex(4)}"
    run_dir = Path(os.environ.get("HUIKUAN_RUN_DIR", ROOT / ".run" / "test")) / name
    stack = Stack(
        run_dir,
        database_url=create_database(database_url, name),
        kafka_bootstrap_servers=bootstrap,
        ports={svc: free_port() for svc in ("gateway", "ledger", "credit", "reminders")},
        operator_key="e2e-operator-key",
        extra_env={"LOG_LEVEL": "INFO", **(extra_env or {})},
        group_suffix=name,
        outbound_allow=outbound_allow,
    )
    try:
        stack.migrate()
        asyncio.run(start_groups_at_end(bootstrap, [f"{svc}-{name}" for svc in SERVICES]))
        stack.start()
        yield stack
    finally:
        stack.stop()
        drop_database(database_url, name)


def eventually(probe: Callable[[], T | None], *, timeout: float = 60.0, what: str = "") -> T:
    """Poll `probe` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"not true after {timeout:.0f}s: {what} (last: {last!r})")


class Api:
    """The public API as a client sees it."""

    def __init__(self, base_url: str, key: str | None) -> None:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.http = httpx.Client(base_url=f"{base_url}/v1", headers=headers, timeout=15)

    def put_customer(self, customer_id: str, **fields: Any) -> httpx.Response:
        body = {"name": f"Customer {customer_id}", "currency": "CNY", **fields}
        return self.http.put(f"/customers/{customer_id}", json=body)

    def post_invoice(
        self, invoice_id: str, customer_id: str, amount: str = "1000.00", **fields: Any
    ) -> httpx.Response:
        body = {
            "invoice_id": invoice_id,
            "customer_id": customer_id,
            "number": f"N-{invoice_id}",
            "issue_date": "2026-11-01",
            "currency": "CNY",
            "amount": amount,
            **fields,
        }
        return self.http.post("/invoices", json=body)

    def get(self, path: str) -> httpx.Response:
        return self.http.get(path)


def dead_letters(api: Api, topic: str) -> list[dict[str, Any]]:
    """Every dead letter of `topic` the caller may see, page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"topic": topic, "limit": 200}
        if cursor:
            params["cursor"] = cursor
        response = api.http.get("/ops/dead-letters", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def _records_for(kafka: Kafka, topic: str, tenant: str) -> list[ConsumerRecord[Any, Any]]:
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(kafka),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            assert time.monotonic() < deadline, f"no partitions assigned for {topic}"
            await asyncio.sleep(0.05)
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        positions = {tp: await consumer.position(tp) for tp in partitions}
        remaining = {tp for tp in partitions if positions[tp] < ends[tp]}
        found: list[ConsumerRecord[Any, Any]] = []
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    try:
                        envelope = Envelope.from_bytes(record.value)
                    except ValidationError:
                        continue  # not an event (a poison record, as consumers dead-letter)
                    if envelope.tenant == tenant:
                        found.append(record)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
        return found
    finally:
        await consumer.stop()


def records_on_topic(kafka: Kafka, topic: str, tenant: str) -> list[ConsumerRecord[Any, Any]]:
    """Every record of an event of `tenant` now on `topic`, read from the beginning of each
    partition; `kafka` is the broker's address, or a connection with TLS and SASL."""
    return asyncio.run(_records_for(kafka, topic, tenant))


def events_on_topic(kafka: Kafka, topic: str, tenant: str) -> list[Envelope]:
    """Every event of `tenant` now on `topic`, read from the beginning of each partition."""
    return [Envelope.from_bytes(r.value) for r in records_on_topic(kafka, topic, tenant)]


async def _fetch(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        rows: list[asyncpg.Record] = await conn.fetch(sql, *args)
        return rows
    finally:
        await conn.close()


def query(url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    return asyncio.run(_fetch(url, sql, *args))


class SmtpSink:
    """A real SMTP server (aiosmtpd) on a free localhost port that keeps what it receives;
    the session's stack sends reminders' email to it."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.port = free_port()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    @property
    def env(self) -> dict[str, str]:
        return {"REMINDERS_SMTP_HOST": "127.0.0.1", "REMINDERS_SMTP_PORT": str(self.port)}

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        mail = message_from_bytes(envelope.content, policy=email_policy.default)
        assert isinstance(mail, EmailMessage)
        self.messages.append(mail)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def __enter__(self) -> SmtpSink:
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()


@contextmanager
def extra_gateway(
    stack: Stack, rate_per_second: str, burst: str, env: dict[str, str] | None = None
) -> Iterator[str]:
    """A second gateway process on the stack's services with its own rate limit (and any
    other `GATEWAY_*` settings in `env`); its URL."""
    port = free_port()
    env = {
        **stack.env,
        **(env or {}),
        "GATEWAY_PORT": str(port),
        "GATEWAY_RATE_PER_SECOND": rate_per_second,
        "GATEWAY_RATE_BURST": burst,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "api"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        eventually(lambda: _ready(url), timeout=60, what="the extra gateway is ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz").status_code == 200
    except httpx.HTTPError:
        return False
