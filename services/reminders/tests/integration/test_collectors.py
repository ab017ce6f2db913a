"""The collector directory through reminders' HTTP API on the real PostgreSQL: a loop of
managers is refused with problem+json and nothing written; a task left open past its grace
is escalated to the owner's manager, named on the task, in the event, and on the manager's
worklist; an owner without a manager still escalates, with escalated_to null."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta

import asyncpg
import httpx
import pytest

from huikuan_dev.testing import internal_client
from huikuan_events.ledger import CustomerUpserted, InvoiceIssued
from reminders.api.app import create_app
from reminders.config import Settings
from reminders.service import tasks
from reminders.service.run import run
from services.reminders.tests.integration.support import TENANT, feed, outbox

pytestmark = pytest.mark.integration

DUE = date(2026, 3, 16)  # a Monday
AT = datetime(2026, 3, 16, 2, 0, tzinfo=UTC)


@pytest.fixture
async def api(pool: asyncpg.Pool) -> AsyncIterator[httpx.AsyncClient]:
    """The real app on the test schema's pool, called over ASGI as the gateway would."""
    settings = Settings()
    app = create_app(settings)
    app.state.pool, app.state.settings = pool, settings
    async with internal_client(app, TENANT) as client:
        yield client


async def test_collectors_are_paged_and_a_loop_of_managers_is_refused(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    r = await api.put("/collectors/wang", json={"name": "Wang Fang"})
    assert r.status_code == 201, r.text
    r = await api.put("/collectors/li", json={"name": "Li Wei", "manager": "wang"})
    assert r.status_code == 201, r.text
    r = await api.put(
        "/collectors/zhao", json={"name": "Zhao", "email": "zhao@example.com", "manager": "li"}
    )
    assert r.status_code == 201, r.text
    r = await api.put("/collectors/li", json={"name": "Li Wei 李伟", "manager": "wang"})
    assert r.status_code == 200 and r.json()["name"] == "Li Wei 李伟", r.text
    got = (await api.get("/collectors/zhao")).json()
    assert (got["collector_id"], got["email"], got["manager"]) == ("zhao", "zhao@example.com", "li")

    before = await pool.fetch("SELECT * FROM collector ORDER BY collector_id")
    refused = [
        ("wang", {"name": "Wang Fang", "manager": "zhao"}, "wang -> zhao -> li -> wang"),
        ("wang", {"name": "Wang Fang", "manager": "li"}, "wang -> li -> wang"),
        ("li", {"name": "Li Wei", "manager": "li"}, "li -> li"),
    ]
    for who, body, loop in refused:
        r = await api.put(f"/collectors/{who}", json=body)
        assert r.status_code == 422, (who, body, r.text)
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["errors"][0]["field"] == "manager" and loop in r.json()["detail"]
    unknown = await api.put("/collectors/qian", json={"name": "Qian", "manager": "nobody"})
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "manager"
    bad = await api.put("/collectors/qian", json={"name": "", "email": "not-an-address"})
    assert bad.status_code == 422
    assert await pool.fetch("SELECT * FROM collector ORDER BY collector_id") == before

    seen, cursor = [], None
    while True:
        page = (
            await api.get(
                "/collectors", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
            )
        ).json()
        seen += [c["collector_id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ["li", "wang", "zhao"]
    under = (await api.get("/collectors", params={"manager": "wang"})).json()["items"]
    assert [c["collector_id"] for c in under] == ["li"]
    assert (await api.get("/collectors", params={"cursor": "nope"})).status_code == 422
    assert (await api.get("/collectors/nobody")).status_code == 404
    other = await api.get("/collectors/li", headers={"X-Tenant-Id": "t2"})
    assert other.status_code == 404
    assert (await api.get("/collectors", headers={"X-Tenant-Id": "t2"})).json()["items"] == []


async def _customer(pool: asyncpg.Pool, cid: str, owner: str) -> None:
    await feed(
        pool,
        cid,
        CustomerUpserted(
            customer_id=cid,
            name=cid,
            email=f"{cid.lower()}@example.com",
            country="CN",
            currency="CNY",
            payment_terms_days=30,
            owner=owner,
            language="en",
        ),
    )
    # Day +15 of the standard policy on DUE: the call task for the owner.
    await feed(
        pool,
        cid,
        InvoiceIssued(
            invoice_id=f"I-{cid}",
            customer_id=cid,
            number=f"N-{cid}",
            issue_date=DUE - timedelta(days=45),
            due_date=DUE - timedelta(days=15),
            currency="CNY",
            amount_minor=10_000,
        ),
    )


async def test_an_overdue_task_reaches_the_managers_worklist(
    api: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    assert (await api.put("/collectors/wang", json={"name": "Wang"})).status_code == 201
    assert (
        await api.put("/collectors/li", json={"name": "Li", "manager": "wang"})
    ).status_code == 201
    await _customer(pool, "C-1", "li")
    await _customer(pool, "C-2", "zhao")  # not in the directory: no manager known
    await run(pool, tenant=TENANT, as_of=DUE, at=AT)
    assert await pool.fetchval("SELECT count(*) FROM task WHERE kind = 'call'") == 2
    on = DUE + timedelta(days=3)  # within the grace: nothing escalated, nothing for wang
    await run(pool, tenant=TENANT, as_of=on, at=AT)
    assert await outbox(pool, "reminders.dunning_escalated.v1") == []
    listed = (await api.get("/worklist", params={"owner": "wang", "date": str(on)})).json()
    assert listed["items"] == []

    on = DUE + timedelta(days=4)
    for _ in range(2):  # the second run finds them escalated already: once only
        await run(pool, tenant=TENANT, as_of=on, at=AT)
    escalated = {
        e.data["customer_id"]: e.data for e in await outbox(pool, "reminders.dunning_escalated.v1")
    }
    assert len(await outbox(pool, "reminders.dunning_escalated.v1")) == 2
    assert escalated["C-1"]["action"] == "escalate_to_manager"
    assert escalated["C-1"]["escalated_to"] == "wang"
    assert "escalated to manager wang" in escalated["C-1"]["reason"]
    assert escalated["C-2"]["escalated_to"] is None
    assert "no manager recorded" in escalated["C-2"]["reason"]

    boss = (await api.get("/worklist", params={"owner": "wang", "date": str(on)})).json()
    [task] = boss["items"]
    assert (task["customer_id"], task["owner"], task["kind"]) == ("C-1", "li", "call")
    assert (task["escalated"], task["escalated_to"], task["escalated_on"]) == (
        True,
        "wang",
        str(on),
    )
    own = (await api.get("/worklist", params={"owner": "li", "date": str(on)})).json()["items"]
    assert [(t["task_id"], t["escalated_to"]) for t in own] == [(task["task_id"], "wang")]
    zhao = (await api.get("/worklist", params={"owner": "zhao", "date": str(on)})).json()
    [alone] = zhao["items"]
    assert (alone["escalated"], alone["escalated_to"]) == (True, None)
    # Done by the manager: off both lists.
    done = await api.post(
        f"/tasks/{task['task_id']}/complete", json={"outcome": "reached", "completed_on": str(on)}
    )
    assert done.status_code == 200, done.text
    assert (await api.get("/worklist", params={"owner": "wang", "date": str(on)})).json()[
        "items"
    ] == []


async def test_a_task_completed_while_a_run_reaches_it_is_not_escalated(
    pool: asyncpg.Pool,
) -> None:
    await _customer(pool, "C-1", "li")
    await run(pool, tenant=TENANT, as_of=DUE, at=AT)
    task_id = await pool.fetchval("SELECT task_id FROM task WHERE kind = 'call'")
    on = DUE + timedelta(days=4)  # past the grace
    async with pool.acquire() as conn:
        done = conn.transaction()
        await done.start()  # the collector completes the task; not committed yet
        await tasks.complete(conn, TENANT, task_id, "reached", None, on, AT)
        running = asyncio.create_task(run(pool, tenant=TENANT, as_of=on, at=AT))
        for _ in range(400):  # bounded: until the run waits for the task's row lock
            waiting = await pool.fetchval(
                """SELECT count(*) FROM pg_stat_activity
                   WHERE datname = current_database() AND wait_event_type = 'Lock'
                     AND pid <> pg_backend_pid()"""
            )
            if waiting or running.done():
                break
            await asyncio.sleep(0.025)
        await done.commit()
    await running
    row = await pool.fetchrow("SELECT status, escalated_on FROM task WHERE task_id = $1", task_id)
    assert (row["status"], row["escalated_on"]) == ("done", None)
    assert await outbox(pool, "reminders.dunning_escalated.v1") == []
