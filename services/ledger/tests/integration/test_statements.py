"""Statements of account on a hand-made book against real PostgreSQL: opening balance,
lines by effective date (a back-dated payment where it belongs), running and closing
balances per currency that agree with the journal; confirmations with their difference."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from huikuan_contracts.ledger.kinds import EntryKind
from huikuan_contracts.money import Money
from huikuan_runtime import pagination
from huikuan_runtime.problems import Conflict, InvalidInput, NotFound
from ledger.service import statements
from ledger.service.customers import upsert_customer
from ledger.service.invoices import (
    add_credit_note,
    create_invoice,
    void_invoice,
    write_off_invoice,
)
from ledger.service.payments import receive_payment, reverse_payment
from ledger.store import journal

pytestmark = pytest.mark.integration

AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
NOV = {"period_from": date(2026, 11, 1), "period_to": date(2026, 11, 30)}
CUSTOMER: dict[str, Any] = {
    "name": "华东贸易",
    "email": None,
    "phone": None,
    "country": "CN",
    "currency": "CNY",
    "payment_terms_days": 30,
    "owner": "li",
    "segment": None,
    "region": None,
    "language": None,
    "timezone": None,
}


async def _invoice(
    pool: asyncpg.Pool, invoice_id: str, issued: date, amount: str, currency: str = "CNY"
) -> None:
    await create_invoice(
        pool,
        "t1",
        invoice_id=invoice_id,
        customer_id="C-1",
        number=f"N-{invoice_id}",
        issue_date=issued,
        due_date=None,
        amount=Money.parse(amount, currency),
        at=AT,
    )


async def _pay(pool: asyncpg.Pool, payment_id: str, received: date, amount: str) -> None:
    await receive_payment(
        pool,
        "t1",
        payment_id=payment_id,
        customer_id="C-1",
        amount=Money.parse(amount, "CNY"),
        received_on=received,
        method="bank_transfer",
        reference=None,
        allocations=None,
        at=AT,
    )


async def _book(pool: asyncpg.Pool) -> None:
    """Posted in this order; effective dates tell a different story."""
    await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    await _invoice(pool, "INV-1", date(2026, 10, 5), "1000.00")
    await _pay(pool, "PAY-0", date(2026, 10, 20), "300.00")  # -> INV-1
    await _invoice(pool, "INV-4", date(2026, 11, 2), "50.00")
    await write_off_invoice(
        pool,
        "t1",
        "INV-4",
        reason="dispute lost",
        approver="cfo",
        written_off_on=date(2026, 11, 28),
        at=AT,
    )
    await _invoice(pool, "INV-2", date(2026, 11, 3), "500.00")
    await _invoice(pool, "INV-5", date(2026, 11, 4), "80.00")
    await void_invoice(pool, "t1", "INV-5", voided_on=date(2026, 11, 5), reason="typo", at=AT)
    await add_credit_note(
        pool,
        "t1",
        "INV-1",
        credit_note_id="CN-1",
        amount=Money.parse("100.00", "CNY"),
        reason="return",
        note=None,
        issued_on=date(2026, 11, 8),
        at=AT,
    )
    await _invoice(pool, "INV-3", date(2026, 11, 20), "200.00")
    await _pay(pool, "PAY-2", date(2026, 11, 25), "1000.00")  # INV-1 600, INV-2 400
    await _pay(pool, "PAY-3", date(2026, 11, 26), "20.00")  # INV-2 20
    await reverse_payment(
        pool, "t1", "PAY-3", reversed_on=date(2026, 11, 27), reason="bounced", at=AT
    )
    await _pay(pool, "PAY-1", date(2026, 11, 10), "150.00")  # back-dated: INV-2 100, INV-3 50
    await _invoice(pool, "INV-6", date(2026, 12, 2), "999.00")  # after the period
    await _invoice(pool, "INV-U", date(2026, 11, 15), "300.00", currency="USD")


def _amounts(part: statements.CurrencyStatement) -> list[tuple[str, str, int, int]]:
    return [(line.kind.value, line.reference, line.change, line.balance) for line in part.lines]


async def test_the_statement_of_a_hand_made_book(pool: asyncpg.Pool) -> None:
    await _book(pool)
    found = await statements.statement(pool, "t1", "C-1", currency="CNY", **NOV)
    [cny] = found.currencies
    assert cny.opening.balance == 70000  # 1000 invoiced - 300 paid in October
    assert (cny.opening.receivable, cny.opening.unapplied) == (70000, 0)
    assert _amounts(cny) == [
        ("invoice", "INV-4", 5000, 75000),
        ("invoice", "INV-2", 50000, 125000),
        ("invoice", "INV-5", 8000, 133000),
        ("invoice_void", "INV-5", -8000, 125000),
        ("credit_note", "CN-1", -10000, 115000),
        ("payment", "PAY-1", -15000, 100000),  # back-dated, posted last, shown on its date
        ("invoice", "INV-3", 20000, 120000),
        ("payment", "PAY-2", -100000, 20000),
        ("payment", "PAY-3", -2000, 18000),
        ("payment_reversal", "PAY-3", 2000, 20000),
        ("write_off", "INV-4", -5000, 15000),
    ]
    assert (cny.debits, cny.credits) == (85000, 140000)
    assert cny.closing.balance == 15000
    assert cny.lines[1].invoice_id == "INV-2" and cny.lines[5].payment_id == "PAY-1"

    # The closing position is the journal's at the end of the period.
    async with pool.acquire() as conn:
        [book] = [
            r
            for r in await journal.customer_balances(conn, "t1", "C-1", date(2026, 11, 30))
            if r["currency"] == "CNY"
        ]
    assert (cny.closing.receivable, cny.closing.unapplied) == (
        book["receivable_minor"],
        book["unapplied_minor"],
    )
    # Every invoice's residual adds up to the closing receivable (nothing is held: all matched).
    assert await pool.fetchval(
        "SELECT sum(residual_minor) FROM invoice WHERE currency = 'CNY' AND issue_date < $1",
        date(2026, 12, 1),
    ) == (cny.closing.receivable)


async def test_every_currency_and_the_next_period_follow_on(pool: asyncpg.Pool) -> None:
    await _book(pool)
    both = await statements.statement(pool, "t1", "C-1", currency=None, **NOV)
    assert [c.currency for c in both.currencies] == ["CNY", "USD"]
    usd = both.currencies[1]
    assert (usd.opening.balance, usd.closing.balance) == (0, 30000)
    assert _amounts(usd) == [("invoice", "INV-U", 30000, 30000)]

    december = await statements.statement(
        pool,
        "t1",
        "C-1",
        currency="CNY",
        period_from=date(2026, 12, 1),
        period_to=date(2026, 12, 31),
    )
    [cny] = december.currencies
    assert cny.opening.balance == 15000
    assert _amounts(cny) == [("invoice", "INV-6", 99900, 114900)]
    assert {line.kind for line in cny.lines} <= set(EntryKind)


async def test_a_customer_without_postings_gets_its_currency_at_zero(pool: asyncpg.Pool) -> None:
    await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    found = await statements.statement(pool, "t1", "C-1", currency=None, **NOV)
    [only] = found.currencies
    assert (only.currency, only.opening.balance, only.closing.balance, only.lines) == (
        "CNY",
        0,
        0,
        (),
    )


async def test_bad_statement_requests(pool: asyncpg.Pool) -> None:
    await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    with pytest.raises(NotFound):
        await statements.statement(pool, "t1", "C-404", currency=None, **NOV)
    with pytest.raises(InvalidInput):
        await statements.statement(
            pool,
            "t1",
            "C-1",
            currency=None,
            period_from=date(2026, 12, 1),
            period_to=date(2026, 11, 30),
        )


async def _confirm(
    pool: asyncpg.Pool, confirmation_id: str, theirs: str, **changes: Any
) -> statements.Confirmed:
    fields: dict[str, Any] = {
        **NOV,
        "confirmation_id": confirmation_id,
        "note": None,
        "at": AT,
        "their_balance": Money.parse(theirs, "CNY"),
    }
    fields.update(changes)
    customer_id = fields.pop("customer_id", "C-1")
    return await statements.confirm_statement(pool, "t1", customer_id, **fields)


async def _confirmed_events(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT payload FROM outbox_event ORDER BY position")
    events = [json.loads(bytes(r["payload"])) for r in rows]
    return [e for e in events if e["type"] == "ledger.statement_confirmed.v1"]


async def test_confirmations_record_the_difference_once(pool: asyncpg.Pool) -> None:
    await _book(pool)
    agreed = await _confirm(pool, "SC-1", "150.00")
    assert agreed.created
    assert (agreed.row["status"], agreed.row["difference_minor"]) == ("confirmed", 0)

    short = await _confirm(pool, "SC-2", "120.00", note="they miss CN-1?")
    row = short.row
    assert (row["our_balance_minor"], row["their_balance_minor"], row["difference_minor"]) == (
        15000,
        12000,
        3000,
    )
    assert row["status"] == "discrepancy"

    again = await _confirm(pool, "SC-2", "120.00", note="they miss CN-1?")
    assert again.created is False and again.row["created_at"] == row["created_at"]
    with pytest.raises(Conflict):
        await _confirm(pool, "SC-2", "121.00", note="they miss CN-1?")

    events = await _confirmed_events(pool)
    assert len(events) == 2
    assert events[1]["subject"] == "C-1"
    assert events[1]["data"] == {
        "confirmation_id": "SC-2",
        "customer_id": "C-1",
        "period_from": "2026-11-01",
        "period_to": "2026-11-30",
        "currency": "CNY",
        "our_balance_minor": 15000,
        "their_balance_minor": 12000,
        "difference_minor": 3000,
        "status": "discrepancy",
    }


async def test_a_negative_balance_they_claim_and_paging(pool: asyncpg.Pool) -> None:
    await _book(pool)
    credit = await _confirm(
        pool, "SC-A", "-5.00", period_from=date(2026, 10, 1), period_to=date(2026, 10, 31)
    )
    assert (credit.row["our_balance_minor"], credit.row["difference_minor"]) == (70000, 70500)
    await _confirm(pool, "SC-B", "150.00")
    await _confirm(
        pool, "SC-C", "1149.00", period_from=date(2026, 12, 1), period_to=date(2026, 12, 31)
    )
    first = await statements.confirmations(pool, "t1", "C-1", currency=None, limit=2, cursor=None)
    assert [r["confirmation_id"] for r in first.rows] == ["SC-C", "SC-B"]
    assert first.next_cursor is not None
    rest = await statements.confirmations(
        pool, "t1", "C-1", currency="CNY", limit=2, cursor=first.next_cursor
    )
    assert ([r["confirmation_id"] for r in rest.rows], rest.next_cursor) == (["SC-A"], None)
    assert [r["status"] for r in first.rows] == ["confirmed", "confirmed"]


async def test_refused_confirmations_write_nothing(pool: asyncpg.Pool) -> None:
    await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    with pytest.raises(NotFound):
        await _confirm(pool, "SC-1", "1.00", customer_id="C-404")
    with pytest.raises(InvalidInput):
        await _confirm(
            pool, "SC-1", "1.00", period_from=date(2026, 12, 1), period_to=date(2026, 11, 1)
        )
    with pytest.raises(NotFound):
        await statements.confirmations(pool, "t1", "C-404", currency=None, limit=5, cursor=None)
    for cursor in ("@@", pagination.encode(["not a date", "SC-1"]), pagination.encode([1])):
        with pytest.raises(InvalidInput):
            await statements.confirmations(pool, "t1", "C-1", currency=None, limit=5, cursor=cursor)
    assert await pool.fetchval("SELECT count(*) FROM statement_confirmation") == 0
    assert await _confirmed_events(pool) == []
