"""`GET /customers?grade=` on the real PostgreSQL: the customers credit currently grades so,
in id order, a keyset page at a time; only the caller's tenant; 422 problem+json for a grade
that is not one or a cursor the list did not return."""

from __future__ import annotations

from datetime import date

import asyncpg
import httpx
import pytest

from credit.domain.scorecard import Grade
from credit.store import scores

pytestmark = pytest.mark.integration


def _state(customer_id: str, grade: Grade, score: int) -> scores.State:
    return scores.State(
        customer_id=customer_id,
        as_of=date(2026, 11, 30),
        score=score,
        grade=grade,
        version="2026-11.1",
        factors=[],
        reasons=[],
        profile={},
        facts_digest=None,
    )


async def test_customers_of_a_grade_page_in_id_order(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    graded: list[tuple[str, Grade]] = [
        ("C-05", "B"),
        ("C-01", "B"),
        ("C-02", "A"),
        ("C-04", "B"),
        ("C-03", "B"),
        ("C-06", "E"),
        ("C-07", "B"),
    ]
    async with pool.acquire() as conn:
        await scores.save_many(conn, "t1", [_state(c, g, 600) for c, g in graded])
        await scores.save_many(conn, "t2", [_state("C-00", "B", 700), _state("C-08", "B", 700)])
        # C-07 moved on to C: it is listed under its current grade only
        await scores.save_many(conn, "t1", [_state("C-07", "C", 500)])

    pages, cursor = [], None
    while True:
        params: dict[str, str | int] = {"grade": "B", "limit": 2}
        if cursor:
            params["cursor"] = cursor
        r = await api.get("/customers", params=params)
        assert r.status_code == 200, r.text
        pages.append([i["customer_id"] for i in r.json()["items"]])
        cursor = r.json()["next_cursor"]
        if cursor is None:
            break
    assert pages == [["C-01", "C-03"], ["C-04", "C-05"]]
    one = (await api.get("/customers", params={"grade": "C"})).json()
    assert one == {
        "items": [{"customer_id": "C-07", "grade": "C", "score": 500, "as_of": "2026-11-30"}],
        "next_cursor": None,
    }
    assert (await api.get("/customers", params={"grade": "D"})).json() == {
        "items": [],
        "next_cursor": None,
    }
    other = await api.get("/customers", params={"grade": "B"}, headers={"X-Tenant-Id": "t2"})
    assert [i["customer_id"] for i in other.json()["items"]] == ["C-00", "C-08"]

    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL enable_seqscan = off")
        plan = await conn.fetch(
            """EXPLAIN SELECT customer_id FROM credit_state
               WHERE tenant = 't1' AND grade = 'B' AND customer_id > 'C-03'
               ORDER BY customer_id LIMIT 3"""
        )
    assert "credit_state_grade" in " ".join(r[0] for r in plan)


@pytest.mark.parametrize(
    "params",
    [
        {"grade": "F"},
        {"grade": "a"},
        {},
        {"grade": "A", "cursor": "not-a-cursor"},
        {"grade": "A", "cursor": "WzFd"},  # [1]: a key, but not a customer id
        {"grade": "A", "limit": 0},
        {"grade": "A", "limit": 501},
    ],
)
async def test_a_bad_grade_limit_or_cursor_is_a_422(
    api: httpx.AsyncClient, params: dict[str, str | int]
) -> None:
    r = await api.get("/customers", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
