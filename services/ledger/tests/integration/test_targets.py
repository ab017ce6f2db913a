"""Collection targets against real PostgreSQL: progress from allocations applied in the
month, credited to whoever owned the customer when the money was applied, reversed money
and other currencies left out."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from huikuan_contracts.money import Money
from huikuan_runtime.problems import InvalidInput
from ledger.service import targets
from ledger.service.customers import upsert_customer
from ledger.service.invoices import create_invoice
from ledger.service.payments import receive_payment, reverse_payment

pytestmark = pytest.mark.integration

CREATED = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
REASSIGNED = datetime(2026, 11, 15, 10, 0, tzinfo=UTC)
AT = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


def _customer(owner: str | None) -> dict[str, Any]:
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
        "timezone": None,
    }


async def _invoice(
    pool: asyncpg.Pool, invoice_id: str, customer_id: str, currency: str = "CNY"
) -> None:
    await create_invoice(
        pool,
        "t1",
        invoice_id=invoice_id,
        customer_id=customer_id,
        number=f"N-{invoice_id}",
        issue_date=date(2026, 11, 1),
        due_date=None,
        amount=Money(1_000_000, currency),
        at=AT,
    )


async def _pay(
    pool: asyncpg.Pool,
    payment_id: str,
    customer_id: str,
    received: date,
    amount: str,
    currency: str = "CNY",
) -> None:
    await receive_payment(
        pool,
        "t1",
        payment_id=payment_id,
        customer_id=customer_id,
        amount=Money.parse(amount, currency),
        received_on=received,
        method="bank_transfer",
        reference=None,
        allocations=None,
        at=AT,
    )


async def _book(pool: asyncpg.Pool) -> None:
    await upsert_customer(pool, "t1", "C-1", _customer("li"), CREATED)
    await upsert_customer(pool, "t1", "C-2", _customer("wang"), CREATED)
    await _invoice(pool, "INV-1", "C-1")
    await _invoice(pool, "INV-2", "C-2")
    await _invoice(pool, "INV-U", "C-1", currency="USD")
    await _pay(pool, "P-1", "C-1", date(2026, 11, 5), "400.00")  # li
    await _pay(pool, "P-2", "C-2", date(2026, 11, 14), "300.00")  # wang until the 15th
    await upsert_customer(pool, "t1", "C-2", _customer("li"), REASSIGNED)
    await _pay(pool, "P-3", "C-2", date(2026, 11, 20), "200.00")  # li since the 15th
    await _pay(pool, "P-4", "C-1", date(2026, 11, 22), "100.00")  # reversed: not collected
    await reverse_payment(
        pool, "t1", "P-4", reversed_on=date(2026, 11, 23), reason="bounced", at=AT
    )
    await _pay(pool, "P-5", "C-1", date(2026, 12, 1), "100.00")  # December
    await _pay(pool, "P-6", "C-1", date(2026, 10, 30), "50.00")  # applied on issue: Nov 1
    await _pay(pool, "P-U", "C-1", date(2026, 11, 6), "70.00", currency="USD")


async def _put(pool: asyncpg.Pool, owner: str, amount: str, period: str = "2026-11") -> Any:
    return await targets.put_target(pool, "t1", period, owner, Money.parse(amount, "CNY"), AT)


async def test_progress_against_targets(pool: asyncpg.Pool) -> None:
    await _book(pool)
    assert (await _put(pool, "li", "1000.00")).created
    assert (await _put(pool, "wang", "300.00")).created
    assert (await _put(pool, "zhao", "500.00")).created
    report = {p.owner: p for p in await targets.progress(pool, "t1", "2026-11")}
    li, wang, zhao = report["li"], report["wang"], report["zhao"]
    # li: 400 (P-1) + 50 (P-6, applied on the invoice's issue date) + 200 (P-3, after taking C-2)
    assert (li.target, li.collected, li.share, li.remaining) == (100000, 65000, "65.00", 35000)
    # wang: 300 (P-2, applied on the 14th, before C-2 went to li); reversed P-4, December's
    # P-5 and the USD payment count for nobody.
    assert (wang.collected, wang.share, wang.remaining) == (30000, "100.00", 0)
    assert (zhao.collected, zhao.share) == (0, "0.00")
    assert list(report) == ["li", "wang", "zhao"]


async def test_the_owner_at_the_end_of_the_day_of_application_counts(
    pool: asyncpg.Pool,
) -> None:
    await upsert_customer(pool, "t1", "C-2", _customer("wang"), CREATED)
    await _invoice(pool, "INV-2", "C-2")
    await _pay(pool, "P-2", "C-2", date(2026, 11, 14), "300.00")
    # Reassigned at 10:00 on the 15th: money applied that day is the new owner's.
    await _pay(pool, "P-15", "C-2", date(2026, 11, 15), "1.00")
    await upsert_customer(pool, "t1", "C-2", _customer("li"), REASSIGNED)
    await _pay(pool, "P-3", "C-2", date(2026, 11, 16), "200.00")
    await upsert_customer(pool, "t1", "C-2", _customer(None), AT)  # unassigned later
    await _put(pool, "wang", "300.00")
    await _put(pool, "li", "400.00")
    report = {p.owner: p for p in await targets.progress(pool, "t1", "2026-11")}
    assert (report["wang"].collected, report["wang"].share, report["wang"].remaining) == (
        30000,
        "100.00",
        0,
    )
    assert (report["li"].collected, report["li"].share) == (20100, "50.25")


async def test_money_applied_before_any_recorded_owner_goes_to_the_first_owner(
    pool: asyncpg.Pool,
) -> None:
    await upsert_customer(pool, "t1", "C-1", _customer("li"), AT)  # created in December
    await _invoice(pool, "INV-1", "C-1")
    await _pay(pool, "P-1", "C-1", date(2026, 11, 5), "10.00")  # back-dated ERP import
    await _put(pool, "li", "30.00")
    [li] = await targets.progress(pool, "t1", "2026-11")
    assert (li.collected, li.share, li.remaining) == (1000, "33.33", 2000)


async def test_putting_a_target_again(pool: asyncpg.Pool) -> None:
    first = await _put(pool, "li", "1000.00")
    same = await _put(pool, "li", "1000.00")
    changed = await _put(pool, "li", "800.00")
    assert (first.created, same.created, changed.created) == (True, False, False)
    assert same.row["updated_at"] == first.row["updated_at"]
    assert changed.row["amount_minor"] == 80000
    assert await pool.fetchval("SELECT count(*) FROM collection_target") == 1
    [li] = await targets.progress(pool, "t1", "2026-11")
    assert (li.target, li.collected, li.share) == (80000, 0, "0.00")
    assert await targets.progress(pool, "t1", "2026-12") == []


async def test_bad_periods_are_refused(pool: asyncpg.Pool) -> None:
    for period in ("2026-13", "2026-1", "26-11", "0000-01"):
        with pytest.raises(InvalidInput):
            await _put(pool, "li", "1.00", period=period)
        with pytest.raises(InvalidInput):
            await targets.progress(pool, "t1", period)
    assert await pool.fetchval("SELECT count(*) FROM collection_target") == 0
