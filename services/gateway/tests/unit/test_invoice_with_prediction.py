"""GET /v1/invoices/{id}: the ledger's invoice with credit's prediction spliced in as a part,
both asked at once; only the ledger's answer decides the status."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest

from gateway.api.invoices import get_invoices_invoice_id
from gateway.clients import Reply
from gateway.domain.keys import Principal
from huikuan_contracts.queries import AsOfQuery
from huikuan_runtime.problems import UpstreamUnavailable

INVOICE = b'{"invoice_id":"INV-1","residual":"99.00","allocations":[]}'
PREDICTION = b'{"invoice_id":"INV-1","predicted_on":"2026-12-20"}'
WHO = Principal("t1", None, frozenset({"ledger:read"}))
SETTINGS: Any = SimpleNamespace(summary_part_timeout_seconds=2.0)


class Fake:
    """A downstream answering `reply` (or raising it) after `before` is awaited."""

    def __init__(self, name: str, reply: Reply | Exception) -> None:
        self.name, self.reply = name, reply
        self.asked = asyncio.Event()
        self.before: asyncio.Event | None = None
        self.calls: list[tuple[str, dict[str, Any] | None]] = []

    async def request(self, method: str, path: str, tenant: str, **kw: Any) -> Reply:
        assert (method, tenant) == ("GET", "t1")
        self.calls.append((path, kw.get("params")))
        self.asked.set()
        if self.before is not None:
            await self.before.wait()
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


def _ok(content: bytes) -> Reply:
    return Reply(200, content, "application/json")


async def _get(ledger: Fake, credit: Fake, as_of: str | None = None) -> Any:
    query = AsOfQuery.model_validate({"as_of": as_of} if as_of else {})
    return await asyncio.wait_for(
        get_invoices_invoice_id("INV-1", query, WHO, SETTINGS, ledger, credit),  # type: ignore[arg-type]
        timeout=5,
    )


async def test_both_are_asked_at_once_and_the_prediction_is_spliced_in() -> None:
    ledger, credit = Fake("ledger", _ok(INVOICE)), Fake("credit", _ok(PREDICTION))
    ledger.before, credit.before = credit.asked, ledger.asked  # each waits for the other
    response = await _get(ledger, credit, "2026-12-01")
    assert response.status_code == 200
    body = json.loads(response.body)
    assert body == {
        **json.loads(INVOICE),
        "prediction": {"status": "ok", "detail": None, "data": json.loads(PREDICTION)},
    }
    assert ledger.calls == [("/invoices/INV-1", {"as_of": "2026-12-01"})]
    assert credit.calls == [("/invoices/INV-1/prediction", {"as_of": "2026-12-01"})]


@pytest.mark.parametrize(
    ("reply", "status"),
    [
        (Reply(404, b'{"title":"Not found"}', "application/problem+json"), "none"),
        (UpstreamUnavailable("the credit service is unavailable"), "unavailable"),
        (Reply(500, b"oops", "text/plain"), "unavailable"),
    ],
)
async def test_credit_degrades_only_its_part(reply: Reply | Exception, status: str) -> None:
    response = await _get(Fake("ledger", _ok(INVOICE)), Fake("credit", reply))
    assert response.status_code == 200
    body = json.loads(response.body)
    assert body["residual"] == "99.00"
    assert body["prediction"]["status"] == status and body["prediction"]["data"] is None
    assert body["prediction"]["detail"]


async def test_the_ledgers_404_is_the_answer() -> None:
    missing = Reply(
        404, b'{"type":"x","title":"Not found","status":404}', "application/problem+json"
    )
    response = await _get(Fake("ledger", missing), Fake("credit", _ok(PREDICTION)))
    assert response.status_code == 404
    assert response.media_type == "application/problem+json"
