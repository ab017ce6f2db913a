"""`GET /customers` over HTTP on the real PostgreSQL: `ids` (repeated, at most 500) keeps
only those customers, combined with the other filters and the cursor."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, date, datetime

import asyncpg
import httpx
import pytest

from huikuan_contracts.money import Money
from huikuan_dev.testing import internal_client
from ledger.api.app import create_app
from ledger.config import Settings
from ledger.service.customers import upsert_customer
from ledger.service.invoices import create_invoice

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
async def api(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings()
    app = create_app(settings)
    app.state.pool, app.state.settings = pool, settings
    async with internal_client(app, "t1") as client:
        yield client


async def _book(pool: asyncpg.Pool) -> None:
    for n, owner in enumerate(("li", "wang", "li", "li", "wang"), start=1):
        await upsert_customer(
            pool,
            "t1",
            f"C-{n}",
            {
                "name": f"客户 {n}",
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
            },
            AT,
        )
    await upsert_customer(
        pool,
        "t2",
        "C-2",
        {
            "name": "other",
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
        },
        AT,
    )
    await create_invoice(
        pool,
        "t1",
        invoice_id="INV-1",
        customer_id="C-3",
        number="N-1",
        issue_date=date(2026, 10, 1),
        due_date=date(2026, 10, 31),
        amount=Money.parse("10.00", "CNY"),
        at=AT,
    )


async def _ids(api: httpx.AsyncClient, params: list[tuple[str, str]]) -> list[str]:
    r = await api.get("/customers", params=tuple(params))
    assert r.status_code == 200, r.text
    return [c["customer_id"] for c in r.json()["items"]]


async def test_ids_keep_only_those_customers_with_the_other_filters(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await _book(pool)
    assert await _ids(api, []) == ["C-1", "C-2", "C-3", "C-4", "C-5"]
    wanted = [("ids", "C-4"), ("ids", "C-2"), ("ids", "C-3"), ("ids", "C-404")]
    assert await _ids(api, wanted) == ["C-2", "C-3", "C-4"]
    assert await _ids(api, [*wanted, ("owner", "li")]) == ["C-3", "C-4"]
    assert await _ids(api, [*wanted, ("overdue", "true"), ("as_of", "2026-11-15")]) == ["C-3"]
    assert await _ids(api, [("ids", "C-5"), ("owner", "li")]) == []

    first = await api.get("/customers", params=(*wanted, ("limit", "2")))
    assert [c["customer_id"] for c in first.json()["items"]] == ["C-2", "C-3"]
    rest = [*wanted, ("cursor", first.json()["next_cursor"])]
    assert await _ids(api, rest) == ["C-4"]
    # another tenant's customer of the same id is never listed
    other = await api.get("/customers", params=[("ids", "C-2")], headers={"X-Tenant-Id": "t2"})
    assert [c["name"] for c in other.json()["items"]] == ["other"]


async def test_at_most_500_well_formed_ids(api: httpx.AsyncClient, pool: asyncpg.Pool) -> None:
    await _book(pool)
    many = [("ids", f"C-{n}") for n in range(1, 501)]
    assert await _ids(api, [*many, ("limit", "500")]) == ["C-1", "C-2", "C-3", "C-4", "C-5"]
    for bad in ([*many, ("ids", "C-501")], [("ids", "")], [("ids", "C 1")]):
        r = await api.get("/customers", params=tuple(bad))
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
