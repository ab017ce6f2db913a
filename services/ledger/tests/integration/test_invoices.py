"""Issuing invoices against real PostgreSQL: idempotent under concurrency, nothing written
when refused, and the event in the outbox in the same transaction."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any

import asyncpg
import pytest

from huikuan_contracts.money import Money
from huikuan_runtime import pagination
from huikuan_runtime.problems import Conflict, InvalidInput
from ledger.service.customers import upsert_customer
from ledger.service.invoices import create_invoice

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


def _invoice(amount: str = "100.00", **changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "invoice_id": "INV-1",
        "customer_id": "C-1",
        "number": "N-1",
        "issue_date": date(2026, 11, 1),
        "due_date": None,
        "amount": Money.parse(amount, "CNY"),
        "at": AT,
    }
    return {**fields, **changes}


async def _count(pool: asyncpg.Pool, sql: str) -> int:
    value: int = await pool.fetchval(sql)
    return value


async def test_concurrent_identical_requests_issue_one_invoice(pool: asyncpg.Pool) -> None:
    await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    results = await asyncio.gather(*(create_invoice(pool, "t1", **_invoice()) for _ in range(8)))
    assert sum(r.created for r in results) == 1
    assert {r.row["invoice_id"] for r in results} == {"INV-1"}
    assert await _count(pool, "SELECT count(*) FROM invoice") == 1
    assert (
        await _count(pool, "SELECT count(*) FROM outbox_event WHERE topic = 'ledger.events.v1'")
        == 2
    )  # customer_upserted + one invoice_issued


async def test_a_different_body_under_the_same_id_conflicts(pool: asyncpg.Pool) -> None:
    await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    outcomes = await asyncio.gather(
        create_invoice(pool, "t1", **_invoice("100.00")),
        create_invoice(pool, "t1", **_invoice("100.01")),
        return_exceptions=True,
    )
    assert sum(isinstance(o, Conflict) for o in outcomes) == 1
    assert await _count(pool, "SELECT count(*) FROM invoice") == 1


async def test_the_due_date_defaults_to_the_customers_terms(pool: asyncpg.Pool) -> None:
    await upsert_customer(pool, "t1", "C-1", {**CUSTOMER, "payment_terms_days": 45}, AT)
    issued = await create_invoice(pool, "t1", **_invoice())
    assert issued.row["due_date"] == date(2026, 12, 16)


async def test_refused_invoices_write_nothing(pool: asyncpg.Pool) -> None:
    await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    before = await _count(pool, "SELECT count(*) FROM outbox_event")
    with pytest.raises(InvalidInput):
        await create_invoice(pool, "t1", **_invoice(customer_id="C-404"))
    with pytest.raises(InvalidInput):
        await create_invoice(pool, "t1", **_invoice(due_date=date(2026, 10, 1)))
    assert await _count(pool, "SELECT count(*) FROM invoice") == 0
    assert await _count(pool, "SELECT count(*) FROM outbox_event") == before


async def test_tenants_do_not_share_ids(pool: asyncpg.Pool) -> None:
    for tenant in ("t1", "t2"):
        await upsert_customer(pool, tenant, "C-1", CUSTOMER, AT)
    one = await create_invoice(pool, "t1", **_invoice("1.00"))
    two = await create_invoice(pool, "t2", **_invoice("2.00"))
    assert one.created and two.created
    assert await _count(pool, "SELECT count(*) FROM invoice") == 2


async def test_an_unchanged_customer_upsert_emits_nothing(pool: asyncpg.Pool) -> None:
    first = await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    again = await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    changed = await upsert_customer(pool, "t1", "C-1", {**CUSTOMER, "owner": "wang"}, AT)
    assert (first.created, again.created, changed.created) == (True, False, False)
    assert changed.row["owner"] == "wang"
    events = await pool.fetch(
        "SELECT sequence_payload FROM (SELECT convert_from(payload, "
        "'UTF8')::jsonb ->> 'subjectseq' AS sequence_payload "
        "FROM outbox_event ORDER BY position) s"
    )
    assert [int(e["sequence_payload"]) for e in events] == [1, 2]


async def test_invoices_page_in_a_stable_order_and_filter_by_status(pool: asyncpg.Pool) -> None:
    from ledger.service.invoices import list_invoices
    from ledger.service.payments import receive_payment

    await upsert_customer(pool, "t1", "C-1", CUSTOMER, AT)
    for n in range(7):
        await create_invoice(
            pool, "t1", **_invoice("10.00", invoice_id=f"INV-{n}", issue_date=date(2026, 1, 1 + n))
        )
    await receive_payment(
        pool,
        "t1",
        payment_id="P-1",
        customer_id="C-1",
        amount=Money.parse("15.00", "CNY"),
        received_on=date(2026, 1, 20),
        method="cash",
        reference=None,
        allocations=None,
        at=AT,
    )
    seen, cursor, pages = [], None, 0
    while True:
        rows, cursor = await list_invoices(
            pool,
            "t1",
            as_of=date(2026, 1, 31),
            customer_id=None,
            statuses=None,
            cursor=cursor,
            limit=3,
        )
        seen += [r["invoice_id"] for r in rows]
        pages += 1
        if cursor is None:
            break
    assert seen == [f"INV-{n}" for n in range(7)] and pages == 3
    paid, _ = await list_invoices(
        pool,
        "t1",
        as_of=date(2026, 1, 31),
        customer_id="C-1",
        statuses=["paid"],
        cursor=None,
        limit=50,
    )
    assert [r["invoice_id"] for r in paid] == ["INV-0"]
    partly, _ = await list_invoices(
        pool,
        "t1",
        as_of=date(2026, 1, 5),
        customer_id=None,
        statuses=["partially_paid", "open"],
        cursor=None,
        limit=50,
    )
    assert [r["invoice_id"] for r in partly] == [f"INV-{n}" for n in range(1, 7)]
    with pytest.raises(InvalidInput):
        await list_invoices(
            pool,
            "t1",
            as_of=date(2026, 1, 5),
            customer_id=None,
            statuses=None,
            cursor="not-a-cursor",
            limit=5,
        )
    # A well-formed cursor whose values are not this list's key is refused the same way.
    for key in (["not a date", "INV-1"], [7, "INV-1"]):
        with pytest.raises(InvalidInput):
            await list_invoices(
                pool,
                "t1",
                as_of=date(2026, 1, 5),
                customer_id=None,
                statuses=None,
                cursor=pagination.encode(key),
                limit=5,
            )
