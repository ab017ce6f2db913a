"""Real `python -m reminders schedule` processes on one due set: two replicas share the
work, one is killed with SIGKILL mid-run and started again, and every reminder reaches the
SMTP server once. The only message that may arrive twice is the one the killed process had
on the wire (accepted by the server, not yet recorded as sent); it carries the same
Message-ID, which is how a receiver drops it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiosmtpd.controller import Controller

from huikuan_events.ledger import CustomerUpserted, InvoiceIssued
from reminders.domain.policy import Step
from reminders.service import policies as policy_service
from reminders.store import book
from services.reminders.tests.integration.support import TENANT, Sink, feed

pytestmark = pytest.mark.integration

DUE = date(2026, 3, 16)
CUSTOMERS = 120


class SlowSink(Sink):
    """Takes a little while per message, so a kill lands mid-run."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_smtp() -> Iterator[SlowSink]:
    sink = SlowSink()
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def _scheduler(schema: tuple[str, str], smtp: Sink, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": schema[0],
        "REMINDERS_DB_SCHEMA": schema[1],
        "REMINDERS_SMTP_HOST": "127.0.0.1",
        "REMINDERS_SMTP_PORT": str(smtp.port),
        "REMINDERS_SCHEDULE_AS_OF": str(DUE + timedelta(days=1)),
        "REMINDERS_SCHEDULE_INTERVAL_SECONDS": "0.2",
        "REMINDERS_BATCH_SIZE": "10",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "reminders", "schedule"], env=env, stdout=out, stderr=out
        )


def _wait(probe: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if probe():
            return
        time.sleep(0.05)
    raise AssertionError(f"not true after {timeout}s: {what}")


async def test_two_scheduler_processes_and_a_kill_send_each_reminder_once(
    pool: asyncpg.Pool, schema: tuple[str, str], slow_smtp: SlowSink, tmp_path: Path
) -> None:
    for k in range(CUSTOMERS):
        cid = f"C-{k:03d}"
        await feed(
            pool,
            cid,
            CustomerUpserted(
                customer_id=cid,
                name=cid,
                email=f"{cid.lower()}@example.com",
                country="CN",
                currency="CNY",
                payment_terms_days=30,
            ),
        )
        await feed(
            pool,
            cid,
            InvoiceIssued(
                invoice_id=f"I-{k}",
                customer_id=cid,
                number=f"N-{k}",
                issue_date=DUE,
                due_date=DUE,
                currency="CNY",
                amount_minor=1_000 + k,
            ),
        )
    log = tmp_path / "schedule.log"
    a = _scheduler(schema, slow_smtp, log)
    b = _scheduler(schema, slow_smtp, log)
    procs = [a, b]
    try:
        await asyncio.to_thread(_wait, lambda: len(slow_smtp.messages) >= 20, 60, "sending began")
        a.send_signal(signal.SIGKILL)
        a.wait(10)
        procs.append(_scheduler(schema, slow_smtp, log))

        async def all_sent() -> bool:
            n = await pool.fetchval("SELECT count(*) FROM reminder WHERE status = 'sent'")
            return bool(n == CUSTOMERS)

        deadline = time.monotonic() + 90
        while not await all_sent():
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.1)
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
    assert a.returncode == -signal.SIGKILL
    assert await pool.fetchval("SELECT count(*) FROM reminder") == CUSTOMERS
    ids = [m["Message-ID"] for m in slow_smtp.messages]
    assert len(set(ids)) == CUSTOMERS
    assert len(ids) <= CUSTOMERS + 1, "more than the one in-flight message arrived twice"
    assert {m["To"] for m in slow_smtp.messages} == {
        f"c-{k:03d}@example.com" for k in range(CUSTOMERS)
    }


async def test_a_tenants_broken_template_fails_its_reminder_and_the_scheduler_goes_on(
    pool: asyncpg.Pool, schema: tuple[str, str], smtp: Sink, tmp_path: Path
) -> None:
    """A template stored before templates were tried on save (`{{ 1/0 }}`) used to crash
    the scheduler on every start, for every tenant."""
    for tenant, cid in (("t-hostile", "C-BAD"), (TENANT, "C-GOOD")):
        await feed(
            pool,
            cid,
            CustomerUpserted(
                customer_id=cid,
                name=cid,
                email=f"{cid.lower()}@example.com",
                country="CN",
                currency="CNY",
                payment_terms_days=30,
                language="en",
            ),
            tenant=tenant,
        )
        await feed(
            pool,
            cid,
            InvoiceIssued(
                invoice_id=f"I-{cid}",
                customer_id=cid,
                number=f"N-{cid}",
                issue_date=DUE,
                due_date=DUE,
                currency="CNY",
                amount_minor=1_000,
            ),
            tenant=tenant,
        )
    broken = Step(
        "overdue_notice",
        1,
        ("email",),
        "overdue_notice",
        overrides={"en": {"subject": "Overdue", "body": "{{ 1/0 }}"}},
    )
    async with pool.acquire() as conn, conn.transaction():
        # Stored as an older version would have stored it: only its variables checked.
        await policy_service.save(conn, "t-hostile", "house", [], [broken], datetime.now(UTC))
        await book.set_pin(conn, "t-hostile", "C-BAD", "house")
    log = tmp_path / "schedule.log"
    proc = _scheduler(schema, smtp, log)
    try:

        async def settled() -> bool:
            rows = await pool.fetch("SELECT tenant, status, last_error FROM reminder")
            return {(r["tenant"], r["status"], r["last_error"]) for r in rows} == {
                ("t-hostile", "failed", "template body: division by zero"),
                (TENANT, "sent", None),
            }

        deadline = time.monotonic() + 60
        while not await settled():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            await asyncio.sleep(0.1)
        # Still running, and its next rounds leave the failed reminder alone.
        rounds = log.read_text().count('"dunning run"')
        await asyncio.to_thread(
            _wait, lambda: log.read_text().count('"dunning run"') >= rounds + 2, 30, "two rounds"
        )
        assert proc.poll() is None, log.read_text()[-3000:]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(15)
    assert [m["To"] for m in smtp.messages] == ["c-good@example.com"]
    assert await pool.fetchval("SELECT attempts FROM reminder WHERE tenant = 't-hostile'") == 1
