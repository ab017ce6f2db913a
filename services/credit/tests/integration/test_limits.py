"""PUT /customers/{id}/credit/limit on the real PostgreSQL: a limit with more decimals than
its currency has is a 422 problem+json that says so, and nothing is written; a limit that
fits is set."""

from __future__ import annotations

from datetime import date

import asyncpg
import httpx
import pytest

from huikuan_events.ledger import CustomerUpserted
from huikuan_runtime.problems import PROBLEM_CONTENT_TYPE

from .events import consumer, deliver, envelope, produced, snapshot

pytestmark = pytest.mark.integration


def _limit(currency: str, limit: str) -> dict[str, str]:
    return {"currency": currency, "limit": limit, "reason": "trusted", "set_by": "cfo"}


@pytest.mark.parametrize(
    ("currency", "limit", "digits"),
    [("USD", "100.005", 2), ("JPY", "100.5", 0), ("KWD", "1.0005", 3)],
)
async def test_a_limit_the_currency_cannot_hold_is_a_422_and_writes_nothing(
    api: httpx.AsyncClient, pool: asyncpg.Pool, currency: str, limit: str, digits: int
) -> None:
    known = CustomerUpserted(
        customer_id="C-1", name="C-1", currency=currency, payment_terms_days=30
    )
    await deliver(consumer(pool), [envelope(known, date(2026, 1, 5))])
    before = await snapshot(pool)

    r = await api.put("/customers/C-1/credit/limit", json=_limit(currency, limit))

    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith(PROBLEM_CONTENT_TYPE)
    problem = r.json()
    assert problem["type"].endswith("/validation")
    wanted = f"{currency} allows at most {digits}"
    assert [e["field"] for e in problem["errors"]] == ["limit"], problem
    assert wanted in problem["errors"][0]["message"] and wanted in problem["detail"], problem
    assert await snapshot(pool) == before

    fits = await api.put("/customers/C-1/credit/limit", json=_limit(currency, "100"))
    assert fits.status_code == 200, fits.text
    [line] = [x for x in fits.json()["exposure"] if x["currency"] == currency]
    assert line["limit_source"] == "manual"
    [changed] = await produced(pool, "credit.limit_changed.v1")
    assert changed["new_limit_minor"] == 100 * 10**digits
