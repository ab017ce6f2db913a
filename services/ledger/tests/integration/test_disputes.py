"""Disputes against real PostgreSQL: idempotent opening, one open dispute per invoice,
automatic allocation passes disputed invoices by, an accepted dispute posts its credit note
(journal, residual, events) in the same transaction, refusals write nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from huikuan_contracts.money import Money
from huikuan_runtime.problems import Conflict, InvalidInput, NotFound
from ledger.service import disputes
from ledger.service.customers import upsert_customer
from ledger.service.invoices import create_invoice, invoice_detail
from ledger.service.payments import allocate_held, receive_payment

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
CUSTOMER: dict[str, Any] = {
    "name": "华东贸易",
    "email": None,
    "phone": None,
    "country": "CN",
    "currency": "CNY",
    "payment_terms_days": 30,
    "owner": "li",
    "segment": None,
    "region": "east",
    "language": "zh",
    "timezone": "Asia/Shanghai",
}


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


async def _book(pool: asyncpg.Pool, *invoices: tuple[str, str, date]) -> None:
    await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    for invoice_id, amount, due in invoices:
        await create_invoice(
            pool,
            "t1",
            invoice_id=invoice_id,
            customer_id="C-1",
            number=f"N-{invoice_id}",
            issue_date=date(2026, 11, 1),
            due_date=due,
            amount=cny(amount),
            at=AT,
        )


async def _open(pool: asyncpg.Pool, **changes: Any) -> disputes.Result:
    fields: dict[str, Any] = {
        "invoice_id": "INV-1",
        "dispute_id": "D-1",
        "reason": "20 cartons arrived damp",
        "amount": cny("300.00"),
        "opened_on": date(2026, 11, 12),
        "at": AT,
    }
    fields.update(changes)
    invoice_id = fields.pop("invoice_id")
    return await disputes.open_dispute(pool, "t1", invoice_id, **fields)


async def _events(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT payload FROM outbox_event ORDER BY position")
    return [json.loads(bytes(r["payload"])) for r in rows]


async def _types(pool: asyncpg.Pool) -> list[str]:
    return [e["type"] for e in await _events(pool)]


async def test_opening_is_idempotent_and_marks_the_invoice_disputed(pool: asyncpg.Pool) -> None:
    await _book(pool, ("INV-1", "1000.00", date(2026, 11, 30)))
    first = await _open(pool)
    again = await _open(pool)
    assert (first.created, again.created) == (True, False)
    assert first.row["status"] == "open" and first.row["amount_minor"] == 30000
    assert again.row["dispute_id"] == "D-1"
    with pytest.raises(Conflict):
        await _open(pool, amount=cny("300.01"))

    opened = [e for e in await _events(pool) if e["type"] == "ledger.dispute_opened.v1"]
    assert len(opened) == 1
    assert opened[0]["subject"] == "C-1"
    assert opened[0]["data"] == {
        "dispute_id": "D-1",
        "invoice_id": "INV-1",
        "customer_id": "C-1",
        "reason": "20 cartons arrived damp",
        "currency": "CNY",
        "amount_minor": 30000,
        "opened_on": "2026-11-12",
    }
    detail = await invoice_detail(pool, "t1", "INV-1")
    assert detail.disputed is True
    fetched = await disputes.get_dispute(pool, "t1", "D-1")
    assert fetched["customer_id"] == "C-1" and fetched["currency"] == "CNY"


async def test_one_open_dispute_per_invoice_even_when_racing(pool: asyncpg.Pool) -> None:
    await _book(pool, ("INV-1", "1000.00", date(2026, 11, 30)))
    outcomes = await asyncio.gather(
        *(_open(pool, dispute_id=f"D-{n}") for n in range(5)), return_exceptions=True
    )
    assert sum(isinstance(o, disputes.Result) for o in outcomes) == 1
    assert sum(isinstance(o, Conflict) for o in outcomes) == 4
    assert await pool.fetchval("SELECT count(*) FROM dispute") == 1
    assert (await _types(pool)).count("ledger.dispute_opened.v1") == 1


async def test_refused_disputes_write_nothing(pool: asyncpg.Pool) -> None:
    await _book(pool, ("INV-1", "1000.00", date(2026, 11, 30)))
    before = await _types(pool)
    with pytest.raises(InvalidInput) as more:
        await _open(pool, amount=cny("1000.01"))
    assert "residual" in more.value.detail
    with pytest.raises(InvalidInput):
        await _open(pool, amount=Money.parse("10.00", "USD"))
    with pytest.raises(InvalidInput):
        await _open(pool, opened_on=date(2026, 10, 31))  # before the issue date
    with pytest.raises(NotFound):
        await _open(pool, invoice_id="INV-404")
    with pytest.raises(NotFound):
        await disputes.get_dispute(pool, "t1", "D-1")
    assert await pool.fetchval("SELECT count(*) FROM dispute") == 0
    assert await _types(pool) == before


async def test_automatic_allocation_passes_a_disputed_invoice_by(pool: asyncpg.Pool) -> None:
    await _book(
        pool, ("INV-1", "1000.00", date(2026, 11, 10)), ("INV-2", "500.00", date(2026, 11, 20))
    )
    await _open(pool, invoice_id="INV-1")
    paid = await receive_payment(
        pool,
        "t1",
        payment_id="P-1",
        customer_id="C-1",
        amount=cny("800.00"),
        received_on=date(2026, 11, 15),
        method="bank_transfer",
        reference=None,
        allocations=None,
        at=AT,
    )
    # INV-1 is due first but disputed: the money goes to INV-2, the rest is held.
    assert [(a["invoice_id"], a["amount_minor"]) for a in paid.allocations] == [("INV-2", 50000)]
    assert paid.row["unapplied_minor"] == 30000

    await disputes.resolve_dispute(
        pool,
        "t1",
        "D-1",
        outcome="rejected",
        resolved_on=date(2026, 11, 16),
        note="damage not confirmed by carrier",
        given=None,
        at=AT,
    )
    assert (await invoice_detail(pool, "t1", "INV-1")).disputed is False
    again = await allocate_held(pool, "t1", "P-1", currency="CNY", allocations=None, at=AT)
    assert [(a["invoice_id"], a["amount_minor"]) for a in again.allocations] == [
        ("INV-2", 50000),
        ("INV-1", 30000),
    ]


async def test_an_accepted_dispute_posts_its_credit_note(pool: asyncpg.Pool) -> None:
    await _book(pool, ("INV-1", "1000.00", date(2026, 11, 30)))
    await _open(pool)
    given = disputes.CreditGiven("CN-D1", cny("250.00"))
    resolved = await disputes.resolve_dispute(
        pool,
        "t1",
        "D-1",
        outcome="accepted",
        resolved_on=date(2026, 11, 20),
        note="agreed",
        given=given,
        at=AT,
    )
    assert resolved.created
    row = resolved.row
    assert (row["status"], row["resolved_on"], row["credit_note_id"], row["credit_minor"]) == (
        "accepted",
        date(2026, 11, 20),
        "CN-D1",
        25000,
    )

    note = await pool.fetchrow("SELECT * FROM credit_note WHERE credit_note_id = 'CN-D1'")
    assert (note["invoice_id"], note["amount_minor"], note["reason"]) == ("INV-1", 25000, "dispute")
    assert note["issued_on"] == date(2026, 11, 20)
    detail = await invoice_detail(pool, "t1", "INV-1")
    assert detail.row["residual_minor"] == 75000
    assert detail.disputed is False
    assert [(h["kind"], h["amount_minor"]) for h in detail.history] == [
        ("invoice", 100000),
        ("credit_note", -25000),
    ]
    events = await _events(pool)
    assert [e["type"] for e in events][-2:] == [
        "ledger.invoice_adjusted.v1",
        "ledger.dispute_resolved.v1",
    ]
    assert events[-1]["data"] == {
        "dispute_id": "D-1",
        "invoice_id": "INV-1",
        "customer_id": "C-1",
        "outcome": "accepted",
        "credit_note_id": "CN-D1",
        "resolved_on": "2026-11-20",
    }
    assert events[-2]["data"]["residual_minor"] == 75000

    # The same resolution again changes nothing; a different one is a conflict.
    again = await disputes.resolve_dispute(
        pool,
        "t1",
        "D-1",
        outcome="accepted",
        resolved_on=date(2026, 11, 20),
        note="agreed",
        given=given,
        at=AT,
    )
    assert again.created is False
    with pytest.raises(Conflict):
        await disputes.resolve_dispute(
            pool,
            "t1",
            "D-1",
            outcome="rejected",
            resolved_on=date(2026, 11, 20),
            note=None,
            given=None,
            at=AT,
        )
    assert len(await _events(pool)) == len(events)
    assert await pool.fetchval("SELECT count(*) FROM credit_note") == 1


async def test_a_credit_settling_the_invoice_settles_it(pool: asyncpg.Pool) -> None:
    await _book(pool, ("INV-1", "300.00", date(2026, 11, 30)))
    await _open(pool)
    await disputes.resolve_dispute(
        pool,
        "t1",
        "D-1",
        outcome="accepted",
        resolved_on=date(2026, 11, 20),
        note=None,
        given=disputes.CreditGiven("CN-D1", cny("300.00")),
        at=AT,
    )
    row = await pool.fetchrow("SELECT residual_minor, settled_on FROM invoice")
    assert (row["residual_minor"], row["settled_on"]) == (0, date(2026, 11, 20))
    assert "ledger.invoice_settled.v1" in await _types(pool)


async def test_a_refused_resolution_leaves_the_dispute_open(pool: asyncpg.Pool) -> None:
    await _book(pool, ("INV-1", "1000.00", date(2026, 11, 30)))
    await _open(pool)
    before = await _types(pool)
    with pytest.raises(InvalidInput) as too_much:
        await disputes.resolve_dispute(
            pool,
            "t1",
            "D-1",
            outcome="accepted",
            resolved_on=date(2026, 11, 20),
            note=None,
            given=disputes.CreditGiven("CN-D1", cny("300.01")),
            at=AT,
        )
    assert "disputed amount" in too_much.value.detail
    with pytest.raises(InvalidInput):
        await disputes.resolve_dispute(
            pool,
            "t1",
            "D-1",
            outcome="rejected",
            resolved_on=date(2026, 11, 11),
            note=None,
            given=None,
            at=AT,
        )
    with pytest.raises(InvalidInput):
        await disputes.resolve_dispute(
            pool,
            "t1",
            "D-1",
            outcome="accepted",
            resolved_on=date(2026, 11, 20),
            note=None,
            given=None,
            at=AT,
        )
    with pytest.raises(NotFound):
        await disputes.resolve_dispute(
            pool,
            "t1",
            "D-404",
            outcome="rejected",
            resolved_on=date(2026, 11, 20),
            note=None,
            given=None,
            at=AT,
        )
    assert await pool.fetchval("SELECT status FROM dispute") == "open"
    assert await pool.fetchval("SELECT count(*) FROM credit_note") == 0
    assert await pool.fetchval("SELECT residual_minor FROM invoice") == 100000
    assert await _types(pool) == before


async def test_a_new_dispute_can_follow_a_resolved_one(pool: asyncpg.Pool) -> None:
    await _book(pool, ("INV-1", "1000.00", date(2026, 11, 30)))
    await _open(pool)
    await disputes.resolve_dispute(
        pool,
        "t1",
        "D-1",
        outcome="rejected",
        resolved_on=date(2026, 11, 13),
        note=None,
        given=None,
        at=AT,
    )
    second = await _open(pool, dispute_id="D-2", reason="price differs from the contract")
    assert second.created and second.row["status"] == "open"
