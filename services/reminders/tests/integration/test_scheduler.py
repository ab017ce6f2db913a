"""The scheduler against real PostgreSQL and a real SMTP server: exactly once across
replicas and across a crash between recording and sending; consolidated reminders chasing
residuals; payment in full cancels what is pending."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from huikuan_events.ledger import CustomerUpserted, InvoiceIssued, PaymentApplied
from huikuan_runtime.clock import FixedClock
from reminders.channels import Channel
from reminders.channels.email import EmailChannel
from reminders.render import Renderer
from reminders.service.deliver import deliver_due
from reminders.service.run import RunConfig, run
from reminders.service.texts import Composer
from reminders.store import dunning
from services.reminders.tests.integration.support import TENANT, PoolFactory, Sink, feed, outbox

pytestmark = pytest.mark.integration

DUE = date(2026, 3, 16)  # a Monday; no public holiday in China a week either side
AT = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)


async def customer(pool: asyncpg.Pool, cid: str, *, language: str = "zh") -> None:
    await feed(
        pool,
        cid,
        CustomerUpserted(
            customer_id=cid,
            name=f"客户 {cid}",
            email=f"{cid.lower()}@example.com",
            country="CN",
            currency="CNY",
            payment_terms_days=30,
            owner="li",
            language=language,
            timezone="Asia/Shanghai",
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


def email(sink: Sink) -> dict[str, Channel]:
    return {"email": EmailChannel("127.0.0.1", sink.port, "ar@huikuan.test")}


async def test_two_schedulers_send_each_reminder_exactly_once(
    pools: PoolFactory, smtp: Sink
) -> None:
    seed = await pools()
    n = 25
    for k in range(n):
        cid = f"C-{k:03d}"
        await customer(seed, cid)
        await invoice(seed, cid, f"{cid}-1", DUE, 10_000 + k)
        await invoice(seed, cid, f"{cid}-2", DUE + timedelta(days=1), 5_000)
    a, b = await pools(), await pools()
    config = RunConfig(batch_size=4)  # many small batches, so the replicas interleave
    # Three business days: the friendly reminder, the overdue notice, the second notice.
    for on in (DUE - timedelta(days=7), DUE + timedelta(days=2), DUE + timedelta(days=8)):
        clock = FixedClock(AT)
        await asyncio.gather(
            *(run(p, tenant=TENANT, as_of=on, at=AT, config=config) for p in (a, b, a, b))
        )
        await asyncio.gather(*(deliver_due(p, email(smtp), now=clock.now) for p in (a, b, a, b)))
    # Day -7 only the first invoice is at the friendly step; days +2 and +8 both invoices
    # are at the same step: one consolidated reminder per customer per date.
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == len(set(ids)), "a reminder was delivered twice"
    rows = await seed.fetch("SELECT step, status, idempotency_key FROM reminder")
    assert len(rows) == len(smtp.messages) == 3 * n
    assert {r["status"] for r in rows} == {"sent"}
    per_customer: dict[str, int] = {}
    for m in smtp.messages:
        per_customer[m["To"]] = per_customer.get(m["To"], 0) + 1
    assert set(per_customer.values()) == {3}
    sent = await outbox(seed, "reminders.reminder_sent.v1")
    assert len(sent) == 3 * n
    # Nothing is left to do: another pair of runs on the same dates sends nothing.
    for on in (DUE - timedelta(days=7), DUE + timedelta(days=2), DUE + timedelta(days=8)):
        results = await asyncio.gather(
            run(a, tenant=TENANT, as_of=on, at=AT), run(b, tenant=TENANT, as_of=on, at=AT)
        )
        assert sum(r.reminders for r in results) == 0
    assert len(smtp.messages) == 3 * n


async def test_a_crash_between_recording_and_sending_does_not_double_send(
    pools: PoolFactory, smtp: Sink
) -> None:
    first = await pools()
    for k in range(5):
        await customer(first, f"C-{k}")
        await invoice(first, f"C-{k}", f"I-{k}", DUE, 1_000)
    on = DUE + timedelta(days=1)
    decided = await run(first, tenant=TENANT, as_of=on, at=AT)
    assert decided.reminders == 5
    await first.close()  # the process dies before delivering anything
    assert smtp.messages == []

    restarted = await pools()
    again = await run(restarted, tenant=TENANT, as_of=on, at=AT)
    assert again.reminders == 0  # recorded before: not decided again
    clock = FixedClock(AT)
    assert (await deliver_due(restarted, email(smtp), now=clock.now)).sent == 5
    assert (await deliver_due(restarted, email(smtp), now=clock.now)).sent == 0
    assert len(smtp.messages) == 5
    pending = await restarted.fetchval("SELECT count(*) FROM reminder WHERE status <> 'sent'")
    assert pending == 0


async def test_consolidated_reminder_chases_residuals_in_the_customers_language(
    pool: asyncpg.Pool, smtp: Sink
) -> None:
    await customer(pool, "C-EN", language="en")
    await invoice(pool, "C-EN", "I-1", DUE, 100_000)
    await invoice(pool, "C-EN", "I-2", DUE - timedelta(days=1), 20_000)
    await feed(
        pool,
        "C-EN",
        PaymentApplied(
            payment_id="P-1",
            invoice_id="I-1",
            customer_id="C-EN",
            currency="CNY",
            amount_minor=40_000,
            applied_on=DUE,
            due_date=DUE,
            days_late=0,
            invoice_residual_minor=60_000,
        ),
    )
    await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=2), at=AT)
    await deliver_due(pool, email(smtp), now=FixedClock(AT).now)
    [mail] = smtp.messages
    assert mail["Subject"].startswith("Overdue notice")
    text = mail.get_content().replace("\r\n", "\n")
    assert "N-I-2 (due 2026-03-15): 200.00 CNY outstanding, 3 days overdue" in text
    assert "N-I-1 (due 2026-03-16): 600.00 CNY outstanding" in text
    assert "3 days overdue\n- Invoice N-I-1" in text
    assert "2 days overdue\nTotal outstanding: 800.00 CNY" in text
    [row] = await pool.fetch("SELECT residual_minor, invoices, body FROM reminder")
    assert row["residual_minor"] == 80_000
    assert [i["residual_minor"] for i in row["invoices"]] == [20_000, 60_000]
    assert row["body"].strip() in text.replace("\r\n", "\n")


async def test_payment_in_full_cancels_what_is_pending(pool: asyncpg.Pool, smtp: Sink) -> None:
    await customer(pool, "C-1")
    await invoice(pool, "C-1", "I-1", DUE, 1_000)
    await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=1), at=AT)
    await feed(
        pool,
        "C-1",
        PaymentApplied(
            payment_id="P-1",
            invoice_id="I-1",
            customer_id="C-1",
            currency="CNY",
            amount_minor=1_000,
            applied_on=DUE,
            due_date=DUE,
            days_late=0,
            invoice_residual_minor=0,
        ),
    )
    result = await deliver_due(pool, email(smtp), now=FixedClock(AT).now)
    assert (result.sent, result.cancelled) == (0, 1)
    assert smtp.messages == []
    assert await pool.fetchval("SELECT status FROM reminder") == "cancelled"


async def test_weekends_are_skipped_and_caught_up_on_the_next_business_day(
    pool: asyncpg.Pool, smtp: Sink
) -> None:
    await customer(pool, "C-1")
    # Not the weekend of 2026-02-28: China worked that Saturday for the Spring Festival.
    await invoice(pool, "C-1", "I-1", date(2026, 3, 6), 1_000)  # a Friday
    saturday = await run(pool, tenant=TENANT, as_of=date(2026, 3, 7), at=AT)
    assert (saturday.reminders, saturday.skipped_not_business_time) == (0, 1)
    monday = await run(pool, tenant=TENANT, as_of=date(2026, 3, 9), at=AT)
    assert monday.reminders == 1
    assert await pool.fetchval("SELECT step FROM reminder") == "overdue_notice"


async def test_text_is_rendered_at_first_delivery_and_kept_as_sent(
    pool: asyncpg.Pool, smtp: Sink
) -> None:
    await customer(pool, "C-1", language="en")
    await invoice(pool, "C-1", "I-1", DUE, 12_345)
    await run(pool, tenant=TENANT, as_of=DUE + timedelta(days=3), at=AT)
    row = await pool.fetchrow("SELECT * FROM reminder")
    assert (row["subject"], row["body"]) == (None, None)  # recorded without text
    async with pool.acquire() as conn:
        preview = await Composer(Renderer()).text(conn, row)
        # What GET /reminders shows meanwhile (the name comes with the listed row).
        [listed] = await dunning.list_reminders(conn, TENANT, "C-1", "pending", None, 10)
        assert listed["customer_name"] == "客户 C-1"
        assert await Composer(Renderer()).text(conn, listed) == preview
        after = (listed["created_at"], listed["reminder_id"])
        assert await dunning.list_reminders(conn, TENANT, None, None, after, 10) == []
    assert preview[0].startswith("Overdue notice") and "123.45 CNY" in preview[1]
    await deliver_due(pool, email(smtp), now=FixedClock(AT).now)
    [mail] = smtp.messages
    stored = await pool.fetchrow("SELECT subject, body, status FROM reminder")
    assert (stored["subject"], stored["body"], stored["status"]) == (*preview, "sent")
    assert mail["Subject"] == preview[0]
    assert mail.get_content().replace("\r\n", "\n").strip() == preview[1].strip()
    assert "3 days overdue" in preview[1] and "客户 C-1" in preview[1]
