"""Reports against real PostgreSQL, on a book built through the service layer: the SQL
agrees with the hand-computed numbers (the same book as tests/unit/test_aging.py), with
the pure rules applied to the journal, and with the journal's receivable balance."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Any

import asyncpg
import pytest

from huikuan_contracts.money import Money
from ledger.domain.aging import (
    DEFAULT_RATES,
    Buckets,
    CurrencyAging,
    OpenItem,
    Posting,
    Unapplied,
    age,
    parse_rates,
    residuals_as_of,
    tabulate,
    two_places,
)
from ledger.service import reports
from ledger.service.customers import upsert_customer
from ledger.service.invoices import (
    add_credit_note,
    create_invoice,
    void_invoice,
    write_off_invoice,
)
from ledger.service.payments import receive_payment

pytestmark = pytest.mark.integration

T = "t1"
AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
JUNE_30 = date(2026, 6, 30)


def _customer(name: str, owner: str | None, region: str | None) -> dict[str, Any]:
    return {
        "name": name,
        "email": None,
        "phone": None,
        "country": "CN",
        "currency": "CNY",
        "payment_terms_days": 30,
        "owner": owner,
        "segment": None,
        "region": region,
        "language": "zh",
        "timezone": "Asia/Shanghai",
    }


async def _invoice(
    pool: asyncpg.Pool,
    invoice_id: str,
    customer_id: str,
    amount: str,
    issued: date,
    due: date,
    currency: str = "CNY",
    tenant: str = T,
) -> None:
    await create_invoice(
        pool,
        tenant,
        invoice_id=invoice_id,
        customer_id=customer_id,
        number=f"N-{invoice_id}",
        issue_date=issued,
        due_date=due,
        amount=Money.parse(amount, currency),
        at=AT,
    )


async def _pay(
    pool: asyncpg.Pool,
    payment_id: str,
    customer_id: str,
    amount: str,
    on: date,
    allocations: list[tuple[str, int]],
) -> None:
    await receive_payment(
        pool,
        T,
        payment_id=payment_id,
        customer_id=customer_id,
        amount=Money.parse(amount, "CNY"),
        received_on=on,
        method="bank_transfer",
        reference=None,
        allocations=allocations,
        at=AT,
    )


async def _book(pool: asyncpg.Pool, *, with_back_dated_payment: bool = True) -> None:
    """The book of tests/unit/test_aging.py (see the table there)."""
    await upsert_customer(pool, T, "C-1", _customer("Customer C-1", "li", "east"), AT)
    await upsert_customer(pool, T, "C-2", _customer("Customer C-2", "wang", "east"), AT)
    await upsert_customer(pool, T, "C-3", _customer("Customer C-3", None, None), AT)
    await _invoice(pool, "I-1", "C-1", "500.00", date(2026, 6, 1), date(2026, 7, 15))
    await _invoice(pool, "I-2", "C-1", "1000.00", date(2026, 5, 1), date(2026, 5, 31))
    await _invoice(pool, "I-3", "C-2", "800.00", date(2026, 4, 15), date(2026, 5, 30))
    await _invoice(pool, "I-4", "C-2", "2000.00", date(2026, 3, 1), date(2026, 3, 31))
    await _invoice(pool, "I-5", "C-3", "1500.00", date(2025, 11, 1), date(2025, 12, 1))
    await _invoice(pool, "I-6", "C-1", "300.00", date(2024, 5, 30), date(2024, 6, 29))
    await _invoice(pool, "I-7", "C-2", "250.00", date(2024, 6, 1), date(2024, 6, 30))
    await _invoice(pool, "I-8", "C-3", "400.00", date(2026, 6, 15), date(2026, 6, 30))
    await _invoice(pool, "I-9", "C-3", "999.00", date(2025, 1, 1), date(2025, 1, 31))
    await _invoice(pool, "I-10", "C-1", "100.00", date(2026, 6, 1), date(2026, 6, 29), "USD")
    await _invoice(pool, "I-11", "C-1", "700.00", date(2026, 6, 10), date(2026, 7, 10))
    await void_invoice(pool, T, "I-11", voided_on=date(2026, 6, 20), reason="duplicate", at=AT)
    await add_credit_note(
        pool,
        T,
        "I-3",
        credit_note_id="CN-1",
        amount=Money.parse("100.00", "CNY"),
        reason="return",
        note=None,
        issued_on=date(2026, 6, 5),
        at=AT,
    )
    await write_off_invoice(
        pool,
        T,
        "I-9",
        reason="insolvent",
        approver="cfo",
        written_off_on=date(2026, 5, 15),
        at=AT,
    )
    await _pay(pool, "P-1", "C-1", "300.00", date(2026, 6, 10), [("I-2", 30_000)])
    await _pay(pool, "P-2", "C-2", "2000.00", date(2026, 7, 5), [("I-4", 200_000)])
    await _pay(pool, "P-4", "C-2", "50.00", date(2026, 6, 25), [])
    if with_back_dated_payment:
        await _back_dated_payment(pool)
    # another tenant's book must not show up anywhere
    await upsert_customer(pool, "t2", "C-1", _customer("Other", "li", "east"), AT)
    await _invoice(pool, "I-1", "C-1", "777.00", date(2026, 1, 1), date(2026, 1, 31), tenant="t2")


async def _back_dated_payment(pool: asyncpg.Pool) -> None:
    await _pay(pool, "P-3", "C-3", "500.00", date(2026, 6, 20), [("I-5", 50_000)])


def _amounts(table: CurrencyAging) -> dict[str | None, tuple[int, ...]]:
    return {g.key: g.amounts for g in table.groups}


async def _aging(
    pool: asyncpg.Pool, as_of: date, group_by: Any = "customer", buckets: Buckets | None = None
) -> list[CurrencyAging]:
    return await reports.aging(
        pool, T, as_of=as_of, group_by=group_by, buckets=buckets or Buckets()
    )


async def test_aging_of_the_book(pool: asyncpg.Pool) -> None:
    await _book(pool)
    cny, usd = await _aging(pool, JUNE_30)
    assert cny.currency == "CNY"
    assert cny.total.amounts == (90_000, 70_000, 70_000, 0, 200_000, 100_000, 25_000, 30_000)
    assert cny.total.invoices == (2, 1, 1, 0, 1, 1, 1, 1)
    assert _amounts(cny) == {
        "C-1": (50_000, 70_000, 0, 0, 0, 0, 0, 30_000),
        "C-2": (0, 0, 70_000, 0, 200_000, 0, 25_000, 0),
        "C-3": (40_000, 0, 0, 0, 0, 100_000, 0, 0),
    }
    assert [g.name for g in cny.groups] == ["Customer C-1", "Customer C-2", "Customer C-3"]
    assert [g.unapplied_minor for g in cny.groups] == [0, 5_000, 0]
    assert (usd.currency, _amounts(usd)) == ("USD", {"C-1": (0, 10_000, 0, 0, 0, 0, 0, 0)})

    by_owner = (await _aging(pool, JUNE_30, "owner"))[0]
    owners = [(g.key, g.total_minor, g.invoice_count, g.unapplied_minor) for g in by_owner.groups]
    assert owners == [("li", 150_000, 3, 0), ("wang", 295_000, 3, 5_000), (None, 140_000, 2, 0)]
    by_region = (await _aging(pool, JUNE_30, "region"))[0]
    assert [(g.key, g.total_minor) for g in by_region.groups] == [
        ("east", 445_000),
        (None, 140_000),
    ]
    assert by_region.groups[0].name is None

    custom = (await _aging(pool, JUNE_30, buckets=Buckets((30, 90))))[0]
    assert custom.total.amounts == (90_000, 70_000, 70_000, 355_000)


async def test_aging_moves_with_the_as_of_date(pool: asyncpg.Pool) -> None:
    await _book(pool)
    # July 10: P-2 (07-05) has paid I-4
    assert (await _aging(pool, date(2026, 7, 10)))[0].total.amounts == (
        50_000,
        40_000,
        140_000,
        0,
        0,
        100_000,
        0,
        55_000,
    )
    # June 19: P-3 (06-20) not yet, I-11 (void 06-20) still owed, P-4 (06-25) not received
    june_19 = (await _aging(pool, date(2026, 6, 19)))[0]
    assert june_19.total.amounts == (160_000, 140_000, 0, 200_000, 0, 150_000, 55_000, 0)
    assert june_19.total.unapplied_minor == 0
    # May 1: I-9 is 455 days past due, its write-off (05-15) still to come
    assert _amounts((await _aging(pool, date(2026, 5, 1)))[0])["C-3"][6] == 99_900
    # before anything was issued: nothing at all
    assert await _aging(pool, date(2024, 1, 1)) == []


async def test_a_back_dated_payment_changes_the_report_for_its_date(pool: asyncpg.Pool) -> None:
    await _book(pool, with_back_dated_payment=False)
    before = _amounts((await _aging(pool, JUNE_30))[0])["C-3"]
    assert before == (40_000, 0, 0, 0, 0, 150_000, 0, 0)
    await _back_dated_payment(pool)  # entered now, received on June 20
    assert _amounts((await _aging(pool, JUNE_30))[0])["C-3"] == (40_000, 0, 0, 0, 0, 100_000, 0, 0)
    assert _amounts((await _aging(pool, date(2026, 6, 19)))[0])["C-3"][5] == 150_000


async def test_the_sql_agrees_with_the_rules_and_the_journal(pool: asyncpg.Pool) -> None:
    """On every date where something happens (and the day either side), the one grouped
    query (current balances less later postings) gives what the pure rules give on the
    journal's postings dated up to that day; its total is the receivable balance; after
    the last posting it matches the invoices' cached residuals."""
    await _book(pool)
    lines = await pool.fetch(
        "SELECT account, customer_id, invoice_id, currency, effective_date, amount_minor "
        "FROM journal_line WHERE tenant = $1 AND account IN ('receivable', 'unapplied_cash')",
        T,
    )
    postings = [
        Posting(r["invoice_id"], r["effective_date"], r["amount_minor"])
        for r in lines
        if r["account"] == "receivable"
    ]
    terms = {
        r["invoice_id"]: r
        for r in await pool.fetch(
            "SELECT invoice_id, customer_id, currency, due_date FROM invoice WHERE tenant = $1", T
        )
    }
    days = {r["effective_date"] for r in lines} | {t["due_date"] for t in terms.values()}
    buckets = Buckets()
    for day in sorted(days):
        for as_of in (day - timedelta(days=1), day, day + timedelta(days=1)):
            items = [
                OpenItem(
                    terms[i]["currency"],
                    terms[i]["customer_id"],
                    f"Customer {terms[i]['customer_id']}",
                    terms[i]["due_date"],
                    residual,
                )
                for i, residual in residuals_as_of(postings, as_of).items()
            ]
            held: dict[tuple[str, str], int] = {}
            for r in lines:
                if r["account"] == "unapplied_cash" and r["effective_date"] <= as_of:
                    where = (r["currency"], r["customer_id"])
                    held[where] = held.get(where, 0) - r["amount_minor"]
            unapplied = [Unapplied(c, k, f"Customer {k}", a) for (c, k), a in held.items() if a]
            expected = tabulate(age(items, as_of, buckets), buckets, unapplied)
            got = await _aging(pool, as_of)
            assert got == expected, as_of
            receivable = {
                c: sum(
                    p.amount_minor
                    for p in postings
                    if p.effective_date <= as_of and terms[p.invoice_id]["currency"] == c
                )
                for c in ("CNY", "USD")
            }
            assert {t.currency: t.total.total_minor for t in got} == {
                c: b for c, b in receivable.items() if b
            }
    cached = await pool.fetch(
        "SELECT currency, sum(residual_minor)::bigint AS owed FROM invoice "
        "WHERE tenant = $1 AND voided_on IS NULL GROUP BY currency",
        T,
    )
    final = await _aging(pool, date(2030, 1, 1))
    assert {t.currency: t.total.total_minor for t in final} == {
        r["currency"]: r["owed"] for r in cached
    }


async def test_provision_of_the_book(pool: asyncpg.Pool) -> None:
    await _book(pool)
    cny, usd = await reports.provision_report(
        pool, T, as_of=JUNE_30, buckets=Buckets(), rates=DEFAULT_RATES
    )
    assert cny.provisions == (0, 700, 3_500, 0, 50_000, 50_000, 20_000, 30_000)
    assert (cny.total_minor, cny.provision_minor) == (585_000, 154_200)
    assert (usd.currency, usd.provision_minor) == ("USD", 100)
    custom = Buckets((30, 90))
    cny, _ = await reports.provision_report(
        pool, T, as_of=JUNE_30, buckets=custom, rates=parse_rates("0,2,10,50", custom)
    )
    assert cny.provisions == (0, 1_400, 7_000, 177_500)


async def test_dso_cei_and_add_of_the_book(pool: asyncpg.Pool) -> None:
    await _book(pool)
    cny, usd = await reports.dso(pool, T, first=date(2026, 4, 1), last=JUNE_30)
    f = cny.figures
    # opening (March 31): I-4 2000 + I-5 1500 + I-6 300 + I-7 250 + I-9 999 = 5049
    # sales April-June: I-3 800 + I-2 1000 + I-1 500 + I-8 400 (+ I-11 700 - its void 700)
    assert (f.opening_minor, f.sales_minor, f.closing_minor, f.closing_current_minor) == (
        504_900,
        270_000,
        585_000,
        90_000,
    )
    # countback of 5850: June 900 (30 d), May 1000 (31), April 800 (30), March 2000 (31),
    # February, January, December nothing (28 + 31 + 31), November 1150 of 1500 (23 of 30)
    assert cny.dso == 235
    assert [s.first.month for s in cny.countback.steps] == [6, 5, 4, 3, 2, 1, 12, 11]
    assert cny.countback.steps[-1].consumed_minor == 115_000
    # CEI = (5049 + 2700 - 5850) / (5049 + 2700 - 900) = 1899 / 6849 -> 27.73 %
    assert cny.cei == Fraction(189_900, 684_900) * 100
    assert cny.best_possible_dso == Fraction(900 * 91, 2700)  # 30.33
    assert [
        two_places(v) for v in (cny.cei, cny.best_possible_dso, cny.average_days_delinquent)
    ] == [
        Decimal("27.73"),
        Decimal("30.33"),
        Decimal("204.67"),
    ]
    # USD: 100 sold in June, nothing collected, all of it past due
    assert usd.figures.currency == "USD"
    assert (usd.dso, usd.cei, usd.best_possible_dso, usd.average_days_delinquent) == (
        Fraction(30),
        Fraction(0),
        Fraction(0),
        Fraction(30),
    )


async def test_a_report_on_an_empty_book_is_empty(pool: asyncpg.Pool) -> None:
    assert await _aging(pool, JUNE_30) == []
    assert await reports.dso(pool, T, first=date(2026, 4, 1), last=JUNE_30) == []
    assert (
        await reports.provision_report(
            pool, T, as_of=JUNE_30, buckets=Buckets(), rates=DEFAULT_RATES
        )
        == []
    )
