"""A failing webhook endpoint (a real local HTTP server) is retried with exponential backoff
then marked failed; promises pause, are kept or broken from ledger events, and a broken one
escalates; the credit-hold step emits `dunning_escalated`; policies are versioned."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import asyncpg
import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from huikuan_events.credit import ScoreChanged
from huikuan_events.ledger import (
    CustomerUpserted,
    DisputeOpened,
    InvoiceIssued,
    PaymentApplied,
    PaymentReversed,
)
from huikuan_runtime.clock import FixedClock
from huikuan_runtime.problems import InvalidInput
from huikuan_runtime.webhook_signing import generate_secret
from reminders.channels import Channel
from reminders.channels.recording import LetterChannel
from reminders.channels.sms import SmsChannel
from reminders.channels.webhook import WebhookChannel
from reminders.domain.policy import SHIPPED, Step
from reminders.service import policies as policy_service
from reminders.service import promises as promise_service
from reminders.service.deliver import RetryPolicy, deliver_due
from reminders.service.run import run
from reminders.store import book
from services.reminders.tests.integration.support import TENANT, feed, outbox

pytestmark = pytest.mark.integration

DUE = date(2026, 3, 16)
AT = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)


class Endpoint:
    def __init__(self, status: int) -> None:
        self.status = status
        self.hits: list[tuple[dict[str, str], bytes]] = []


@pytest.fixture
def failing_endpoint() -> Iterator[tuple[str, Endpoint]]:
    endpoint = Endpoint(503)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            endpoint.hits.append((dict(self.headers.items()), body))
            self.send_response(endpoint.status)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", endpoint
    finally:
        server.shutdown()
        server.server_close()


async def customer(pool: asyncpg.Pool, cid: str) -> None:
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
            owner="li",
            language="en",
        ),
    )


async def invoice(pool: asyncpg.Pool, cid: str, iid: str, due: date, amount: int) -> None:
    await feed(
        pool,
        cid,
        InvoiceIssued(
            invoice_id=iid,
            customer_id=cid,
            number=f"N-{iid}",
            issue_date=due - timedelta(days=30),
            due_date=due,
            currency="CNY",
            amount_minor=amount,
        ),
    )


async def pin_webhook_policy(pool: asyncpg.Pool, cid: str) -> None:
    async with pool.acquire() as conn, conn.transaction():
        await policy_service.save(
            conn,
            TENANT,
            "hooks",
            [],
            [
                Step("overdue_notice", 1, ("webhook",), "overdue_notice"),
            ],
            AT,
        )
        await book.set_pin(conn, TENANT, cid, "hooks")


async def test_failing_webhook_is_retried_with_backoff_then_failed(
    pool: asyncpg.Pool, failing_endpoint: tuple[str, Endpoint]
) -> None:
    url, endpoint = failing_endpoint
    await customer(pool, "C-1")
    await invoice(pool, "C-1", "I-1", DUE, 1_000)
    await pin_webhook_policy(pool, "C-1")
    clock = FixedClock(AT)
    # Signed at the real time: the receiver's library checks the timestamp against its clock.
    secret = generate_secret()
    channels = {"webhook": WebhookChannel(url, secret, clock=time.time)}
    retry = RetryPolicy(max_attempts=4, backoff_seconds=10)
    assert (await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=1), at=AT)).reminders == 1

    waits = []
    for _ in range(10):
        result = await deliver_due(pool, channels, now=clock.now, retry=retry)
        # Not due again until the backoff has passed.
        assert (await deliver_due(pool, channels, now=clock.now, retry=retry)).retrying == 0
        row = await pool.fetchrow("SELECT status, next_attempt_at FROM reminder")
        if row["status"] == "failed":
            assert result.failed == 1
            break
        waits.append((row["next_attempt_at"] - clock.now()).total_seconds())
        clock.advance(row["next_attempt_at"] - clock.now())
    assert waits == [10, 20, 40]
    assert len(endpoint.hits) == 4
    attempts = await pool.fetch("SELECT attempt, ok, error FROM delivery_attempt ORDER BY attempt")
    assert [(a["attempt"], a["ok"]) for a in attempts] == [(n, False) for n in (1, 2, 3, 4)]
    assert attempts[0]["error"] == "webhook answered 503"
    [failed] = await outbox(pool, "reminders.reminder_failed.v1")
    assert failed.data["attempts"] == 4 and failed.data["channel"] == "webhook"
    headers, body = endpoint.hits[0]
    # What a receiver does: a Standard Webhooks library verifies it with the secret.
    assert Webhook(secret).verify(body, headers)["residual_minor"] == 1_000
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(body, headers)
    key = headers["Idempotency-Key"]
    assert key == key.lower()
    # Every retry is the same message: its webhook-id is the reminder's idempotency key.
    assert {(h["webhook-id"], h["Idempotency-Key"]) for h, _ in endpoint.hits} == {(key, key)}


async def test_webhook_delivered_when_the_endpoint_answers(
    pool: asyncpg.Pool, failing_endpoint: tuple[str, Endpoint]
) -> None:
    url, endpoint = failing_endpoint
    endpoint.status = 204
    await customer(pool, "C-1")
    await invoice(pool, "C-1", "I-1", DUE, 1_000)
    await pin_webhook_policy(pool, "C-1")
    await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=1), at=AT)
    channels = {"webhook": WebhookChannel(url, "k", clock=lambda: AT.timestamp())}
    assert (await deliver_due(pool, channels, now=FixedClock(AT).now)).sent == 1
    assert len(endpoint.hits) == 1
    assert b'"residual_minor": 1000' in endpoint.hits[0][1]


async def _promise(pool: asyncpg.Pool, amount: int, promised: date, made: date) -> None:
    await promise_service.make(
        pool,
        TENANT,
        "C-1",
        promise_id="PR-1",
        currency="CNY",
        amount_minor=amount,
        promised_date=promised,
        invoice_ids=None,
        taken_by="li",
        made_on=made,
        grace_days=3,
        at=AT,
    )


async def test_a_kept_promise(pool: asyncpg.Pool) -> None:
    await customer(pool, "C-1")
    await invoice(pool, "C-1", "I-1", DUE, 10_000)
    await _promise(pool, 10_000, DUE + timedelta(days=10), DUE + timedelta(days=2))
    # Paused: no overdue notice while the promise holds.
    assert (await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=3), at=AT)).reminders == 0
    await feed(
        pool,
        "C-1",
        PaymentApplied(
            payment_id="P-1",
            invoice_id="I-1",
            customer_id="C-1",
            currency="CNY",
            amount_minor=10_000,
            applied_on=DUE + timedelta(days=9),
            due_date=DUE,
            days_late=9,
            invoice_residual_minor=0,
        ),
    )
    [kept] = await outbox(pool, "reminders.promise_kept.v1")
    assert kept.data["kept_on"] == str(DUE + timedelta(days=9))
    assert await pool.fetchval("SELECT status FROM promise") == "kept"
    assert await outbox(pool, "reminders.promise_made.v1")


async def test_a_broken_promise_escalates_at_once(pool: asyncpg.Pool) -> None:
    await customer(pool, "C-1")
    await invoice(pool, "C-1", "I-1", DUE, 10_000)
    assert (await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=1), at=AT)).reminders == 1
    await _promise(pool, 10_000, DUE + timedelta(days=5), DUE + timedelta(days=2))
    await feed(
        pool,
        "C-1",
        PaymentApplied(
            payment_id="P-1",
            invoice_id="I-1",
            customer_id="C-1",
            currency="CNY",
            amount_minor=4_000,
            applied_on=DUE + timedelta(days=5),
            due_date=DUE,
            days_late=5,
            invoice_residual_minor=6_000,
        ),
    )
    # Paused through promised date + 3 days of grace (day +8): nothing, not even day +7's step.
    assert (await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=8), at=AT)).reminders == 0
    # Day +9 (Wednesday): broken; time says second_notice, the break escalates one further.
    result = await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=9), at=AT)
    assert result.promises_broken == 1
    [broken] = await outbox(pool, "reminders.promise_broken.v1")
    assert broken.data["shortfall_minor"] == 6_000
    assert await pool.fetchval("SELECT step FROM task") == "call"
    assert await pool.fetchval("SELECT residual_minor FROM task") == 6_000
    assert await outbox(pool, "reminders.task_created.v1")


async def test_credit_hold_step_escalates_and_grade_chooses_the_policy(pool: asyncpg.Pool) -> None:
    await customer(pool, "C-1")
    await invoice(pool, "C-1", "I-1", DUE, 10_000)
    await feed(
        pool,
        "C-1",
        ScoreChanged(
            customer_id="C-1",
            new_score=200,
            new_grade="E",
            scorecard_version="v1",
            reasons=[],
            as_of=DUE,
        ),
    )
    await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=1), at=AT)
    [escalated] = await outbox(pool, "reminders.dunning_escalated.v1")
    assert escalated.data["action"] == "request_credit_hold"
    assert escalated.data["policy_id"] == "cash_only" and escalated.data["invoice_ids"] == ["I-1"]
    assert await pool.fetchval("SELECT kind FROM task") == "call"


async def test_disputed_invoice_is_paused_alone_and_reversal_reopens(pool: asyncpg.Pool) -> None:
    await customer(pool, "C-1")
    await invoice(pool, "C-1", "I-1", DUE, 1_000)
    await invoice(pool, "C-1", "I-2", DUE, 2_000)
    await feed(
        pool,
        "C-1",
        DisputeOpened(
            dispute_id="D-1",
            invoice_id="I-1",
            customer_id="C-1",
            reason="quality",
            currency="CNY",
            amount_minor=1_000,
            opened_on=DUE,
        ),
    )
    await feed(
        pool,
        "C-1",
        PaymentApplied(
            payment_id="P-1",
            invoice_id="I-2",
            customer_id="C-1",
            currency="CNY",
            amount_minor=2_000,
            applied_on=DUE,
            due_date=DUE,
            days_late=0,
            invoice_residual_minor=0,
        ),
    )
    assert (await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=1), at=AT)).reminders == 0
    await feed(
        pool,
        "C-1",
        PaymentReversed(
            payment_id="P-1",
            customer_id="C-1",
            currency="CNY",
            amount_minor=2_000,
            reversed_on=DUE + timedelta(days=2),
            reason="bounced",
            reopened_invoice_ids=["I-2"],
        ),
    )
    assert (await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=2), at=AT)).reminders == 1
    row = await pool.fetchrow("SELECT invoices, residual_minor FROM reminder")
    assert [i["invoice_id"] for i in row["invoices"]] == ["I-2"]
    assert row["residual_minor"] == 2_000


async def test_policies_are_versioned_and_validated(pool: asyncpg.Pool) -> None:
    steps = list(SHIPPED["standard"].steps[:3])
    async with pool.acquire() as conn, conn.transaction():
        first = await policy_service.save(conn, TENANT, "standard", ["A"], steps, AT)
        second = await policy_service.save(conn, TENANT, "standard", ["A"], steps[:2], AT)
    assert (first.version, second.version) == (1, 2)
    async with pool.acquire() as conn:
        found = await policy_service.policies(conn, TENANT)
        assert found["standard"].version == 2 and len(found["standard"].steps) == 2
        assert found["firm"].version == 0
    bad = [Step("a", 1, ("email",), "overdue_notice"), Step("b", 1, ("fax",), "overdue_notice")]
    with pytest.raises(InvalidInput) as caught:
        async with pool.acquire() as conn, conn.transaction():
            await policy_service.save(conn, TENANT, "standard", [], bad, AT)
    assert {e["field"] for e in caught.value.errors or []} == {
        "steps.1.offset_days",
        "steps.1.channels",
    }
    assert await pool.fetchval("SELECT max(version) FROM dunning_policy") == 2


async def test_an_overdue_task_escalates_to_the_owners_manager_once(pool: asyncpg.Pool) -> None:
    await customer(pool, "C-1")
    await invoice(pool, "C-1", "I-1", DUE - timedelta(days=15), 10_000)
    await run(pool, tenant=TENANT, as_of=DUE, at=AT)  # day +15: the call task
    [task] = await pool.fetch("SELECT task_id, kind, owner FROM task")
    assert (task["kind"], task["owner"]) == ("call", "li")
    for day in (1, 2, 3):  # within the grace
        await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=day), at=AT)
    assert await outbox(pool, "reminders.dunning_escalated.v1") == []
    for day in (4, 5):
        await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=day), at=AT)
    [escalated] = await outbox(pool, "reminders.dunning_escalated.v1")
    assert escalated.data["action"] == "escalate_to_manager"
    assert escalated.data["as_of"] == str(DUE + timedelta(days=4))
    assert escalated.data["invoice_ids"] == ["I-1"] and escalated.data["step"] == "call"


async def test_sms_goes_to_the_http_provider(
    pool: asyncpg.Pool, failing_endpoint: tuple[str, Endpoint]
) -> None:
    url, endpoint = failing_endpoint
    endpoint.status = 200
    await feed(
        pool,
        "C-1",
        CustomerUpserted(
            customer_id="C-1",
            name="C-1",
            phone="+86 138 0000 0000",
            currency="CNY",
            payment_terms_days=30,
            language="zh",
        ),
    )
    await invoice(pool, "C-1", "I-1", DUE, 1_000)
    async with pool.acquire() as conn, conn.transaction():
        await policy_service.save(
            conn,
            TENANT,
            "texts",
            [],
            [
                Step("overdue_notice", 1, ("sms", "letter"), "overdue_notice"),
            ],
            AT,
        )
        await book.set_pin(conn, TENANT, "C-1", "texts")
    await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=1), at=AT)
    channels: dict[str, Channel] = {"sms": SmsChannel(url, "tok"), "letter": LetterChannel()}
    assert (await deliver_due(pool, channels, now=FixedClock(AT).now)).sent == 2
    [(headers, body)] = endpoint.hits
    assert headers["Authorization"] == "Bearer tok"
    sent = json.loads(body)
    assert sent["to"] == "+86 138 0000 0000" and "10.00 CNY" in sent["text"]
    letter = await pool.fetchval("SELECT body FROM reminder WHERE channel = 'letter'")
    assert letter.startswith("<!doctype html>") and "10.00 CNY" in letter
