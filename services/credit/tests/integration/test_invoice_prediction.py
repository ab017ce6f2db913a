"""One invoice's payment-date prediction through credit's HTTP API on the real PostgreSQL:
the same date as the customer's list of predictions gives for it, 404 for an invoice credit
does not know or that is no longer open, and the priors cached per (tenant, segment,
as_of) for `CREDIT_PRIOR_CACHE_SECONDS` (0 keeps nothing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from credit.api.app import create_app
from credit.config import Settings
from credit.service.predictions import PriorCache
from huikuan_dev.testing import internal_client
from huikuan_events import Envelope
from huikuan_events.ledger import CustomerUpserted, InvoiceIssued, PaymentApplied

from .events import consumer, deliver, envelope

pytestmark = pytest.mark.integration

AS_OF = "2026-06-15"


def customer(cid: str) -> Envelope:
    return envelope(
        CustomerUpserted(customer_id=cid, name=cid, currency="CNY", payment_terms_days=30),
        date(2026, 1, 5),
    )


def invoice(iid: str, cid: str, issued: date, due: date) -> Envelope:
    return envelope(
        InvoiceIssued(
            invoice_id=iid,
            customer_id=cid,
            number=iid,
            issue_date=issued,
            due_date=due,
            currency="CNY",
            amount_minor=100_000,
        ),
        issued,
    )


def paid(iid: str, cid: str, on: date, due: date) -> Envelope:
    return envelope(
        PaymentApplied(
            payment_id=f"P-{iid}",
            invoice_id=iid,
            customer_id=cid,
            currency="CNY",
            amount_minor=100_000,
            applied_on=on,
            due_date=due,
            days_late=(on - due).days,
            invoice_residual_minor=0,
        ),
        on,
    )


def book() -> list[Envelope]:
    """C-1 paid once 10 days late and owes INV-2 (due 2026-07-01); C-2 paid 30 days late.
    As of 2026-06-15 the tenant's prior is 20 days (2 payments), C-1's own mean 10 (1):
    (1·10 + 4·20) / 5 = 18 days late → 2026-07-19."""
    return [
        customer("C-1"),
        customer("C-2"),
        invoice("INV-1", "C-1", date(2026, 1, 10), date(2026, 2, 9)),
        paid("INV-1", "C-1", date(2026, 2, 19), date(2026, 2, 9)),
        invoice("INV-2", "C-1", date(2026, 6, 1), date(2026, 7, 1)),
        invoice("INV-20", "C-2", date(2026, 1, 10), date(2026, 2, 9)),
        paid("INV-20", "C-2", date(2026, 3, 11), date(2026, 2, 9)),
    ]


def a_late_payment() -> list[Envelope]:
    """C-2 pays another invoice 70 days late: the tenant's prior becomes 36.7 days over 3
    payments, so C-1's INV-2 moves to (10 + 4·36.7) / 5 = 31.3 → 2026-08-01."""
    return [
        invoice("INV-21", "C-2", date(2026, 2, 1), date(2026, 3, 3)),
        paid("INV-21", "C-2", date(2026, 5, 12), date(2026, 3, 3)),
    ]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def app(pool: asyncpg.Pool) -> FastAPI:
    settings = Settings()
    app = create_app(settings)
    app.state.pool, app.state.settings = pool, settings
    return app


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on the test schema's pool, called over ASGI as the gateway would."""
    async with internal_client(app, "t1") as client:
        yield client


async def _predicted(api: httpx.AsyncClient, invoice_id: str, as_of: str = AS_OF) -> Any:
    r = await api.get(f"/invoices/{invoice_id}/prediction", params={"as_of": as_of})
    assert r.status_code == 200, r.text
    return r.json()["predicted_on"]


async def test_an_invoices_prediction_is_its_entry_in_the_customers_list(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    await deliver(consumer(pool), book())
    r = await api.get("/invoices/INV-2/prediction", params={"as_of": AS_OF})
    assert r.status_code == 200, r.text
    one = r.json()
    listed = (await api.get("/customers/C-1/credit/predictions", params={"as_of": AS_OF})).json()
    (entry,) = [i for i in listed["invoices"] if i["invoice_id"] == "INV-2"]
    assert {k: one[k] for k in entry} == entry
    assert one["habit"] == listed["habit"]
    assert (one["customer_id"], one["as_of"], one["model_version"]) == ("C-1", AS_OF, "pd-1")
    assert one["predicted_on"] == "2026-07-19" and one["residual"] == "1000.00"
    assert one["habit"]["payments_12m"] == 1
    assert one["habit"]["prior_source"] == "tenant"
    assert one["habit"]["expected_days_late"] == 18.0

    for unknown in ("INV-404", "INV-1", "INV-20"):  # never issued / paid in full
        r = await api.get(f"/invoices/{unknown}/prediction", params={"as_of": AS_OF})
        assert r.status_code == 404, (unknown, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
    other = await api.get("/invoices/INV-2/prediction", headers={"X-Tenant-Id": "t2"})
    assert other.status_code == 404
    bare = await api.get("/invoices/INV-2/prediction", headers={"X-Internal-Token": "wrong"})
    assert bare.status_code == 401

    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = await conn.fetch(
            """EXPLAIN SELECT customer_id FROM credit_fact
               WHERE tenant = 't1' AND kind = 'invoice' AND ref = 'INV-2' LIMIT 1"""
        )
    assert "credit_fact_invoice" in " ".join(r[0] for r in plan)


async def test_the_priors_are_kept_for_the_ttl_per_tenant_segment_and_date(
    app: FastAPI, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    clock = FakeClock()
    app.state.prior_cache = PriorCache(60, clock=clock)
    c = consumer(pool)
    await deliver(c, book())
    assert await _predicted(api, "INV-2") == "2026-07-19"

    await deliver(c, a_late_payment())
    listed = (await api.get("/customers/C-1/credit/predictions", params={"as_of": AS_OF})).json()
    assert [i["predicted_on"] for i in listed["invoices"]] == ["2026-08-01"]  # not cached
    assert await _predicted(api, "INV-2") == "2026-07-19"  # the prior kept for 60 s
    assert await _predicted(api, "INV-2", "2026-06-16") == "2026-08-01"  # another as_of
    clock.now += 59
    assert await _predicted(api, "INV-2") == "2026-07-19"
    clock.now += 2
    assert await _predicted(api, "INV-2") == "2026-08-01"


async def test_a_ttl_of_zero_keeps_no_prior(
    app: FastAPI, api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    app.state.prior_cache = PriorCache(0)
    c = consumer(pool)
    await deliver(c, book())
    assert await _predicted(api, "INV-2") == "2026-07-19"
    await deliver(c, a_late_payment())
    assert await _predicted(api, "INV-2") == "2026-08-01"
    assert not app.state.prior_cache._kept


async def test_the_setting_sizes_the_apps_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CREDIT_PRIOR_CACHE_SECONDS", "0")
    assert create_app(Settings()).state.prior_cache.ttl == 0
    assert create_app(Settings(prior_cache_seconds=5)).state.prior_cache.ttl == 5
    assert Settings.model_fields["prior_cache_seconds"].default == 60
