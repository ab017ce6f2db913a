"""Payments against real PostgreSQL: allocation, unapplied cash, reversal, concurrency,
and refusals that write nothing."""

from __future__ import annotations

import asyncio
from datetime import date

import asyncpg
import pytest

from huikuan_contracts.money import Money
from huikuan_runtime.problems import Conflict, InvalidInput
from ledger.service.customers import balances
from ledger.service.invoices import add_credit_note, void_invoice, write_off_invoice
from ledger.service.payments import allocate_held, reverse_payment
from services.ledger.tests.integration.books import (
    AT,
    check_books,
    cny,
    customer,
    events,
    invoice,
    payment,
)

pytestmark = pytest.mark.integration
T = "t1"


async def _counts(pool: asyncpg.Pool) -> tuple[int, int, int]:
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM journal_entry) AS j,
                  (SELECT count(*) FROM outbox_event) AS o,
                  (SELECT count(*) FROM allocation) AS a"""
    )
    assert row is not None
    return row["j"], row["o"], row["a"]


async def test_oldest_due_first_and_the_rest_is_held(pool: asyncpg.Pool) -> None:
    await customer(pool, T, "C-1")
    await invoice(pool, T, "I-2", "C-1", "200.00", date(2026, 2, 1), date(2026, 3, 1))
    await invoice(pool, T, "I-1", "C-1", "100.00", date(2026, 1, 1), date(2026, 2, 1))
    paid = await payment(pool, T, "P-1", "C-1", "250.00", date(2026, 2, 11))
    applied = [(a["invoice_id"], a["amount_minor"], a["days_late"]) for a in paid.allocations]
    assert applied == [("I-1", 10000, 10), ("I-2", 15000, -18)]
    assert paid.row["unapplied_minor"] == 0

    extra = await payment(pool, T, "P-2", "C-1", "80.00", date(2026, 3, 5))
    assert [a["amount_minor"] for a in extra.allocations] == [5000]
    assert extra.row["unapplied_minor"] == 3000
    kinds = [e["type"].split(".")[1] for e in await events(pool, T)]
    assert kinds.count("payment_applied") == 3
    assert kinds.count("invoice_settled") == 2
    settled = [e["data"] for e in await events(pool, T) if e["type"].endswith("settled.v1")]
    assert {(s["invoice_id"], s["days_late"]) for s in settled} == {("I-1", 10), ("I-2", 4)}
    await check_books(pool, T)


async def test_held_cash_pays_the_next_invoice_on_its_issue_date(pool: asyncpg.Pool) -> None:
    await customer(pool, T, "C-1")
    await payment(pool, T, "P-1", "C-1", "50.00", date(2026, 1, 5))  # nothing to pay yet
    row = await invoice(pool, T, "I-1", "C-1", "120.00", date(2026, 1, 20), date(2026, 2, 19))
    assert row["residual_minor"] == 7000
    applied = [e["data"] for e in await events(pool, T) if e["type"].endswith("applied.v1")]
    assert applied[0]["applied_on"] == "2026-01-20"
    assert applied[0]["days_late"] == -30
    await check_books(pool, T)


async def test_explicit_allocations_are_checked_and_refusals_write_nothing(
    pool: asyncpg.Pool,
) -> None:
    await customer(pool, T, "C-1")
    await customer(pool, T, "C-2")
    await invoice(pool, T, "I-1", "C-1", "100.00", date(2026, 1, 1))
    await invoice(pool, T, "I-USD", "C-1", "100.00", date(2026, 1, 1), currency="USD")
    await invoice(pool, T, "I-OTHER", "C-2", "100.00", date(2026, 1, 1))
    before = await _counts(pool)
    for allocations, field in [
        ([("I-1", "100.01")], "allocations[0].amount"),  # more than the residual
        ([("I-1", "60.00"), ("I-1", "50.00")], "allocations[1].amount"),
        ([("I-USD", "10.00")], "allocations[0].invoice_id"),  # another currency
        ([("I-OTHER", "10.00")], "allocations[0].invoice_id"),  # another customer's
        ([("I-404", "10.00")], "allocations[0].invoice_id"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            await payment(pool, T, "P-X", "C-1", "100.00", date(2026, 1, 9), allocations)
        assert caught.value.errors and caught.value.errors[0]["field"] == field
    with pytest.raises(InvalidInput):  # allocations larger than the payment
        await payment(pool, T, "P-X", "C-1", "50.00", date(2026, 1, 9), [("I-1", "60.00")])
    assert await _counts(pool) == before
    assert await pool.fetchval("SELECT count(*) FROM payment") == 0

    partial = await payment(pool, T, "P-1", "C-1", "100.00", date(2026, 1, 9), [("I-1", "40.00")])
    assert partial.row["unapplied_minor"] == 6000  # explicit: the rest is held, not spent
    await check_books(pool, T)


async def test_the_same_payment_twice_is_one_payment_and_a_different_one_conflicts(
    pool: asyncpg.Pool,
) -> None:
    await customer(pool, T, "C-1")
    await invoice(pool, T, "I-1", "C-1", "100.00", date(2026, 1, 1))
    first = await payment(pool, T, "P-1", "C-1", "30.00", date(2026, 1, 9))
    before = await _counts(pool)
    again = await payment(pool, T, "P-1", "C-1", "30.00", date(2026, 1, 9))
    assert (first.created, again.created) == (True, False)
    assert await _counts(pool) == before
    with pytest.raises(Conflict):
        await payment(pool, T, "P-1", "C-1", "31.00", date(2026, 1, 9))


async def test_concurrent_payments_never_over_allocate(pool: asyncpg.Pool) -> None:
    await customer(pool, T, "C-1")
    await invoice(pool, T, "I-1", "C-1", "100.00", date(2026, 1, 1))
    auto = await asyncio.gather(
        *(payment(pool, T, f"P-{n}", "C-1", "60.00", date(2026, 1, 9)) for n in range(10))
    )
    assert sum(a["amount_minor"] for r in auto for a in r.allocations) == 10000
    # 600 received, 100 applied: 500 held. I-2 takes 100 of it, I-3 the other 400.
    await invoice(pool, T, "I-2", "C-1", "100.00", date(2026, 1, 1))
    i3 = await invoice(pool, T, "I-3", "C-1", "900.00", date(2026, 1, 1))
    assert i3["residual_minor"] == 50000
    explicit = await asyncio.gather(
        *(
            payment(pool, T, f"Q-{n}", "C-1", "60.00", date(2026, 1, 9), [("I-3", "60.00")])
            for n in range(20)
        ),
        return_exceptions=True,
    )
    accepted = [r for r in explicit if not isinstance(r, BaseException)]
    refused = [r for r in explicit if isinstance(r, InvalidInput)]
    assert (len(accepted), len(refused)) == (8, 12)  # 8 x 60 fit in 500, the rest cannot
    allocated = await pool.fetchval(
        "SELECT sum(amount_minor) FROM allocation WHERE invoice_id = 'I-3' AND reversed_on IS NULL"
    )
    assert allocated == 40000 + 8 * 6000
    await check_books(pool, T)


async def test_reversal_reopens_what_the_payment_paid(pool: asyncpg.Pool) -> None:
    await customer(pool, T, "C-1")
    await invoice(pool, T, "I-1", "C-1", "100.00", date(2026, 1, 1))
    await invoice(pool, T, "I-2", "C-1", "100.00", date(2026, 1, 2))
    await payment(pool, T, "P-1", "C-1", "150.00", date(2026, 1, 9))
    reversed_ = await reverse_payment(
        pool, T, "P-1", reversed_on=date(2026, 1, 12), reason="cheque bounced", at=AT
    )
    assert reversed_.row["reversed_on"] == date(2026, 1, 12)
    assert {a["reversed_on"] for a in reversed_.allocations} == {date(2026, 1, 12)}
    residuals = await pool.fetch("SELECT invoice_id, residual_minor FROM invoice ORDER BY 1")
    assert [r["residual_minor"] for r in residuals] == [10000, 10000]
    last = (await events(pool, T))[-1]
    assert last["type"] == "ledger.payment_reversed.v1"
    assert last["data"]["reopened_invoice_ids"] == ["I-1", "I-2"]
    before = await _counts(pool)
    again = await reverse_payment(
        pool, T, "P-1", reversed_on=date(2026, 1, 12), reason="cheque bounced", at=AT
    )
    assert not again.created and await _counts(pool) == before
    with pytest.raises(Conflict):
        await reverse_payment(pool, T, "P-1", reversed_on=date(2026, 1, 13), reason="x", at=AT)
    with pytest.raises(Conflict):
        await allocate_held(pool, T, "P-1", currency="CNY", allocations=None, at=AT)
    # As of the day before the reversal the money was still in.
    before_bounce = await balances(pool, T, "C-1", date(2026, 1, 11))
    assert (before_bounce[0].receivable_minor, before_bounce[0].unapplied_minor) == (5000, 0)
    after = await balances(pool, T, "C-1", date(2026, 1, 12))
    assert (after[0].receivable_minor, after[0].unapplied_minor) == (20000, 0)
    await check_books(pool, T)


async def test_held_cash_is_applied_on_request(pool: asyncpg.Pool) -> None:
    await customer(pool, T, "C-1")
    await invoice(pool, T, "I-1", "C-1", "100.00", date(2026, 1, 1))
    await payment(pool, T, "P-1", "C-1", "100.00", date(2026, 1, 9), [("I-1", "10.00")])
    with pytest.raises(InvalidInput):
        await allocate_held(pool, T, "P-1", currency="USD", allocations=None, at=AT)
    done = await allocate_held(pool, T, "P-1", currency="CNY", allocations=None, at=AT)
    assert done.row["unapplied_minor"] == 0
    assert [a["amount_minor"] for a in done.allocations] == [1000, 9000]
    await check_books(pool, T)


async def test_credit_notes_write_offs_and_voids(pool: asyncpg.Pool) -> None:
    await customer(pool, T, "C-1")
    await invoice(pool, T, "I-1", "C-1", "100.00", date(2026, 1, 1))
    await invoice(pool, T, "I-2", "C-1", "100.00", date(2026, 1, 1))
    await invoice(pool, T, "I-3", "C-1", "100.00", date(2026, 1, 1))
    note, created = await add_credit_note(
        pool,
        T,
        "I-1",
        credit_note_id="CN-1",
        amount=cny("30.00"),
        reason="return",
        note=None,
        issued_on=date(2026, 1, 5),
        at=AT,
    )
    assert created and note["amount_minor"] == 3000
    with pytest.raises(InvalidInput):
        await add_credit_note(
            pool,
            T,
            "I-1",
            credit_note_id="CN-2",
            amount=cny("70.01"),
            reason="rebate",
            note=None,
            issued_on=date(2026, 1, 5),
            at=AT,
        )
    with pytest.raises(Conflict):  # credited: void is refused
        await void_invoice(pool, T, "I-1", voided_on=date(2026, 1, 6), reason="x", at=AT)
    written = await write_off_invoice(
        pool, T, "I-1", reason="bankrupt", approver="cfo", written_off_on=date(2026, 6, 1), at=AT
    )
    assert written.row["amount_minor"] == 7000
    assert written.currency == "CNY"
    with pytest.raises(Conflict):
        await add_credit_note(
            pool,
            T,
            "I-1",
            credit_note_id="CN-3",
            amount=cny("1.00"),
            reason="rebate",
            note=None,
            issued_on=date(2026, 6, 2),
            at=AT,
        )
    voided = await void_invoice(pool, T, "I-2", voided_on=date(2026, 1, 3), reason="typo", at=AT)
    assert voided["residual_minor"] == 0
    paid = await payment(pool, T, "P-1", "C-1", "500.00", date(2026, 2, 1))
    assert [a["invoice_id"] for a in paid.allocations] == ["I-3"]  # not the void or written off
    types = [e["type"] for e in await events(pool, T)]
    for expected in (
        "ledger.invoice_adjusted.v1",
        "ledger.invoice_written_off.v1",
        "ledger.invoice_voided.v1",
    ):
        assert expected in types
    await check_books(pool, T)
    trial = await pool.fetch(
        "SELECT account, sum(amount_minor) AS s FROM journal_line GROUP BY account ORDER BY 1"
    )
    assert {r["account"]: r["s"] for r in trial} == {
        "bad_debt": 7000,
        "cash": 50000,
        "receivable": 0,
        "returns": 3000,
        "revenue": -20000,
        "unapplied_cash": -40000,
    }


async def test_a_payment_in_one_currency_never_touches_another(pool: asyncpg.Pool) -> None:
    await customer(pool, T, "C-1")
    await invoice(pool, T, "I-CNY", "C-1", "100.00", date(2026, 1, 1))
    paid = await payment(pool, T, "P-USD", "C-1", "100.00", date(2026, 1, 9), currency="USD")
    assert paid.allocations == [] and paid.row["unapplied_minor"] == 10000
    assert Money(paid.row["unapplied_minor"], "USD").format() == "100.00"
    await check_books(pool, T)
