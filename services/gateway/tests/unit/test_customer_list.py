"""GET /v1/customers: without `grade` the ledger's list as it was; with `grade` a page of
credit's customers of that grade, the ledger's filters applied to them and credit's cursor
handed on; credit not answering is a 503 for a grade query only."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from gateway.api.customers import CustomerGradeQuery, get_customers
from gateway.clients import Reply
from gateway.domain.keys import Principal
from huikuan_runtime.problems import UpstreamUnavailable

WHO = Principal("t1", None, frozenset({"ledger:read"}))
LEDGER_PAGE = (
    b'{"items":[{"customer_id":"C-1","name":"\xe5\x8d\x8e"}],"next_cursor":"WyJDLTEiXQ=="}'
)


class Fake:
    """A downstream answering each call with the next of `replies` (or raising it)."""

    def __init__(self, *replies: Reply | Exception) -> None:
        self.replies = list(replies)
        self.calls: list[tuple[str, dict[str, Any] | None]] = []

    async def request(self, method: str, path: str, tenant: str, **kw: Any) -> Reply:
        assert (method, tenant) == ("GET", "t1")
        self.calls.append((path, kw.get("params")))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply


def _ok(body: Any) -> Reply:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return Reply(200, content, "application/json")


def _graded(*ids: str, next_cursor: str | None = None) -> Reply:
    items = [{"customer_id": i, "grade": "B", "score": 700, "as_of": "2026-11-30"} for i in ids]
    return _ok({"items": items, "next_cursor": next_cursor})


async def _get(ledger: Fake, credit: Fake, **params: Any) -> Any:
    query = CustomerGradeQuery.model_validate(params)
    return await asyncio.wait_for(get_customers(query, WHO, ledger, credit), timeout=5)  # type: ignore[arg-type]


async def test_without_a_grade_the_ledgers_list_is_relayed_untouched() -> None:
    ledger, credit = Fake(_ok(LEDGER_PAGE)), Fake()
    response = await _get(ledger, credit, owner="li", overdue="true", limit="2", cursor="abc")
    assert (response.status_code, response.body) == (200, LEDGER_PAGE)
    assert ledger.calls == [
        ("/customers", {"owner": "li", "overdue": True, "limit": 2, "cursor": "abc"})
    ]
    assert credit.calls == []


async def test_without_a_grade_credit_being_down_does_not_matter() -> None:
    credit = Fake(UpstreamUnavailable("the credit service is unavailable"))
    response = await _get(Fake(_ok(LEDGER_PAGE)), credit, owner="li")
    assert response.status_code == 200 and credit.calls == []


async def test_a_grade_takes_credits_page_and_the_ledgers_filters() -> None:
    credit = Fake(_graded("C-2", "C-5", "C-9", next_cursor="WyJDLTkiXQ=="))
    ledger = Fake(
        _ok({"items": [{"customer_id": "C-2"}, {"customer_id": "C-9"}], "next_cursor": None})
    )
    response = await _get(
        ledger, credit, grade="B", owner="li", region="east", limit="3", cursor="WyJDLTEiXQ=="
    )
    assert response.status_code == 200
    assert json.loads(response.body) == {
        "items": [{"customer_id": "C-2"}, {"customer_id": "C-9"}],  # C-5 is not li's
        "next_cursor": "WyJDLTkiXQ==",
    }
    assert credit.calls == [("/customers", {"grade": "B", "limit": 3, "cursor": "WyJDLTEiXQ=="})]
    assert ledger.calls == [
        ("/customers", {"owner": "li", "region": "east", "ids": ["C-2", "C-5", "C-9"], "limit": 3})
    ]


async def test_a_grade_nobody_has_asks_the_ledger_nothing() -> None:
    ledger, credit = Fake(), Fake(_graded())
    response = await _get(ledger, credit, grade="E")
    assert json.loads(response.body) == {"items": [], "next_cursor": None}
    assert credit.calls == [("/customers", {"grade": "E", "limit": 50})]
    assert ledger.calls == []


@pytest.mark.parametrize(
    "failure",
    [
        UpstreamUnavailable("the credit service did not answer: ClientConnectorError"),
        Reply(404, b'{"detail":"Not Found"}', "application/json"),
    ],
)
async def test_credit_not_answering_a_grade_query_is_a_503(failure: Reply | Exception) -> None:
    ledger = Fake(_ok(LEDGER_PAGE))
    with pytest.raises(UpstreamUnavailable) as raised:
        await _get(ledger, Fake(failure), grade="A")
    assert raised.value.status == 503
    assert ledger.calls == []


async def test_credits_422_for_the_cursor_is_the_answer() -> None:
    bad = Reply(
        422,
        b'{"type":"x","title":"Invalid","status":422,"detail":"cursor"}',
        "application/problem+json",
    )
    response = await _get(Fake(), Fake(bad), grade="A", cursor="nope")
    assert response.status_code == 422
    assert response.media_type == "application/problem+json"


def test_a_grade_that_is_none_of_credits_is_refused() -> None:
    with pytest.raises(ValueError, match="grade"):
        CustomerGradeQuery.model_validate({"grade": "F"})
