"""The overdue scan against real PostgreSQL: one event per invoice however often and however
concurrently it runs, only open invoices past their due date, `overdue_at` set with the
outbox row, and each customer's own time zone when judging by an instant."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from huikuan_contracts.money import Money
from ledger.service import overdue
from ledger.service.customers import upsert_customer
from ledger.service.invoices import create_invoice, void_invoice, write_off_invoice
from ledger.service.payments import receive_payment

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
RUN = datetime(2026, 11, 16, 2, 0, tzinfo=UTC)


def _customer(timezone: str | None = None, owner: str = "li") -> dict[str, Any]:
    return {
        "name": "华东贸易",
        "email": None,
        "phone": None,
        "country": "CN",
        "currency": "CNY",
        "payment_terms_days": 30,
        "owner": owner,
        "segment": None,
        "region": None,
        "language": None,
        "timezone": timezone,
    }


async def _invoice(
    pool: asyncpg.Pool, invoice_id: str, due: date, amount: str = "100.00", customer: str = "C-1"
) -> None:
    await create_invoice(
        pool,
        "t1",
        invoice_id=invoice_id,
        customer_id=customer,
        number=f"N-{invoice_id}",
        issue_date=date(2026, 11, 1),
        due_date=due,
        amount=Money.parse(amount, "CNY"),
        at=AT,
    )


async def _pay(pool: asyncpg.Pool, payment_id: str, invoice_id: str, amount: str) -> None:
    await receive_payment(
        pool,
        "t1",
        payment_id=payment_id,
        customer_id="C-1",
        amount=Money.parse(amount, "CNY"),
        received_on=date(2026, 11, 3),
        method="cash",
        reference=None,
        allocations=[(invoice_id, Money.parse(amount, "CNY").amount_minor)],
        at=AT,
    )


async def _overdue_events(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT payload FROM outbox_event ORDER BY position")
    events = [json.loads(bytes(r["payload"])) for r in rows]
    return [e for e in events if e["type"] == "ledger.invoice_overdue.v1"]


async def _scan(pool: asyncpg.Pool, **options: Any) -> overdue.ScanResult:
    fields: dict[str, Any] = {"tenant": "t1", "as_of": date(2026, 11, 15), "when": RUN, "at": RUN}
    return await overdue.scan(pool, **{**fields, **options})


async def test_only_open_invoices_past_due_are_flagged_once(pool: asyncpg.Pool) -> None:
    await upsert_customer(pool, "t1", "C-1", _customer(), AT)
    await _invoice(pool, "OPEN-PAST", date(2026, 11, 10))
    await _invoice(pool, "PART-PAID", date(2026, 11, 10))
    await _pay(pool, "P-1", "PART-PAID", "40.00")
    await _invoice(pool, "DUE-TODAY", date(2026, 11, 15))  # not overdue until tomorrow
    await _invoice(pool, "NOT-YET", date(2026, 11, 30))
    await _invoice(pool, "PAID", date(2026, 11, 5))
    await _pay(pool, "P-2", "PAID", "100.00")
    await _invoice(pool, "VOID", date(2026, 11, 5))
    await void_invoice(pool, "t1", "VOID", voided_on=date(2026, 11, 2), reason="typo", at=AT)
    await _invoice(pool, "WRITTEN-OFF", date(2026, 11, 5))
    await write_off_invoice(
        pool,
        "t1",
        "WRITTEN-OFF",
        reason="bankrupt",
        approver="cfo",
        written_off_on=date(2026, 11, 6),
        at=AT,
    )

    first = await _scan(pool)
    assert first.flagged == 2
    events = await _overdue_events(pool)
    assert sorted((e["data"]["invoice_id"], e["data"]["residual_minor"]) for e in events) == [
        ("OPEN-PAST", 10000),
        ("PART-PAID", 6000),
    ]
    assert events[0]["data"]["as_of"] == "2026-11-15"
    assert events[0]["data"]["due_date"] == "2026-11-10"
    assert {e["subject"] for e in events} == {"C-1"}
    flagged = await pool.fetch(
        "SELECT invoice_id, overdue_at FROM invoice WHERE overdue_at IS NOT NULL ORDER BY 1"
    )
    assert [(r["invoice_id"], r["overdue_at"]) for r in flagged] == [
        ("OPEN-PAST", RUN),
        ("PART-PAID", RUN),
    ]

    # Again, and later: only what newly became overdue; never a second event.
    assert (await _scan(pool)).flagged == 0
    assert (await _scan(pool, as_of=date(2026, 11, 16))).flagged == 1
    assert (await _scan(pool, as_of=date(2026, 12, 31))).flagged == 1
    invoice_ids = [e["data"]["invoice_id"] for e in await _overdue_events(pool)]
    assert sorted(invoice_ids) == ["DUE-TODAY", "NOT-YET", "OPEN-PAST", "PART-PAID"]


async def test_two_concurrent_scans_emit_exactly_once(pool: asyncpg.Pool) -> None:
    for c in range(4):
        await upsert_customer(pool, "t1", f"C-{c}", _customer(), AT)
    invoice_ids = [f"INV-{n:02d}" for n in range(24)]
    for n, invoice_id in enumerate(invoice_ids):
        await _invoice(pool, invoice_id, date(2026, 11, 2 + n % 5), customer=f"C-{n % 4}")

    results = await asyncio.gather(
        _scan(pool, batch_size=5), _scan(pool, batch_size=7), _scan(pool, batch_size=24)
    )
    assert sum(r.flagged for r in results) == 24
    events = await _overdue_events(pool)
    assert sorted(e["data"]["invoice_id"] for e in events) == invoice_ids
    # The per-customer event sequence stays gapless and unique.
    sequences = await pool.fetch(
        "SELECT subject, last_value FROM event_sequence WHERE tenant = 't1' ORDER BY subject"
    )
    assert [r["last_value"] for r in sequences] == [1 + 6 + 6] * 4  # upsert, issues, overdue
    assert await pool.fetchval("SELECT count(*) FROM invoice WHERE overdue_at IS NULL") == 0


async def test_a_scan_and_postings_of_the_same_customer_do_not_deadlock(
    pool: asyncpg.Pool,
) -> None:
    await upsert_customer(pool, "t1", "C-1", _customer(), AT)
    for n in range(10):
        await _invoice(pool, f"INV-{n}", date(2026, 11, 5), amount="100.00")

    async def pay(n: int) -> None:
        await receive_payment(
            pool,
            "t1",
            payment_id=f"P-{n}",
            customer_id="C-1",
            amount=Money(1000, "CNY"),
            received_on=date(2026, 11, 20),
            method="cash",
            reference=None,
            allocations=None,
            at=AT,
        )

    results = await asyncio.gather(
        *(pay(n) for n in range(6)), _scan(pool, batch_size=3), _scan(pool, batch_size=4)
    )
    flagged = sum(r.flagged for r in results if isinstance(r, overdue.ScanResult))
    assert flagged == 10
    assert len(await _overdue_events(pool)) == 10


async def test_by_an_instant_each_customer_is_judged_in_its_own_zone(
    pool: asyncpg.Pool,
) -> None:
    await upsert_customer(pool, "t1", "C-SH", _customer("Asia/Shanghai"), AT)
    await upsert_customer(pool, "t1", "C-LA", _customer("America/Los_Angeles"), AT)
    await upsert_customer(pool, "t1", "C-NONE", _customer(None), AT)
    for customer in ("C-SH", "C-LA", "C-NONE"):
        await _invoice(pool, f"INV-{customer}", date(2026, 11, 10), customer=customer)

    # 20:00 UTC on the due date: already the 11th in Shanghai, still the 10th elsewhere.
    evening = datetime(2026, 11, 10, 20, 0, tzinfo=UTC)
    assert (await _scan(pool, as_of=None, when=evening)).flagged == 1
    # The fallback zone decides for customers without one (Tokyo: the 11th already).
    assert (await _scan(pool, as_of=None, when=evening, fallback_zone="Asia/Tokyo")).flagged == 1
    # 09:00 UTC on the 11th: the 11th in Los Angeles too (01:00).
    morning = datetime(2026, 11, 11, 9, 0, tzinfo=UTC)
    assert (await _scan(pool, as_of=None, when=morning)).flagged == 1
    events = await _overdue_events(pool)
    assert [(e["data"]["invoice_id"], e["data"]["as_of"]) for e in events] == [
        ("INV-C-SH", "2026-11-11"),
        ("INV-C-NONE", "2026-11-11"),
        ("INV-C-LA", "2026-11-11"),
    ]


async def test_a_scan_for_one_tenant_leaves_the_others(pool: asyncpg.Pool) -> None:
    for tenant in ("t1", "t2"):
        await upsert_customer(pool, tenant, "C-1", _customer(), AT)
        await create_invoice(
            pool,
            tenant,
            invoice_id="INV-1",
            customer_id="C-1",
            number="N-1",
            issue_date=date(2026, 11, 1),
            due_date=date(2026, 11, 5),
            amount=Money.parse("1.00", "CNY"),
            at=AT,
        )
    assert (await _scan(pool, tenant="t2")).flagged == 1
    rows = await pool.fetch("SELECT tenant FROM invoice WHERE overdue_at IS NOT NULL")
    assert [r["tenant"] for r in rows] == ["t2"]
    assert (await _scan(pool, tenant=None)).flagged == 1
