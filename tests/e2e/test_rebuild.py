"""Rebuilding credit's and reminders' projections from the topics (`python -m <svc>
rebuild`), run as an operator would, against the session's live stack: the rebuilt schema
holds the same rows as the live one, nothing is published or sent and the live consumer
groups do not move; the switch carries the services' own records over and the services
carry on from the rebuilt schema."""

from __future__ import annotations

import asyncio
import secrets
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from huikuan_dev.stack import Stack
from tests.support import Api, eventually, query

pytestmark = pytest.mark.e2e

# What each service's projection is compared on: table -> (its rows' order, the columns).
# Reminders' `dunning_customer` holds the grade (projection) beside a pause and a pinned
# policy, and `chased_invoice` an invoice's escalation by a broken promise (its own,
# carried over only at the switch): compared on the projection's columns.
COMPARED = {
    "credit": {
        "customer_profile": ("customer_id", "*"),
        "credit_fact": ("event_id", "*"),
        "credit_state": ("customer_id", "*"),
        "score_history": ("customer_id, position", "*"),
        "credit_limit": ("customer_id, currency", "*"),
        "credit_hold": ("customer_id, cause", "*"),
    },
    "reminders": {
        "contact": ("customer_id", "*"),
        "chased_invoice": (
            "invoice_id",
            "tenant, invoice_id, customer_id, number, due_date, currency, residual_minor, "
            "disputed, closed, cycle",
        ),
        "applied_payment": ("payment_id, invoice_id", "*"),
        "dunning_customer": ("customer_id", "tenant, customer_id, grade"),
    },
}
TOPICS = {
    "credit": ("ledger.events.v1", "reminders.events.v1"),
    "reminders": ("ledger.events.v1", "credit.events.v1"),
    "gateway": ("ledger.events.v1", "credit.events.v1", "reminders.events.v1"),
}


@dataclass
class Book:
    tenant: str
    api: Api


def _ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def _payment(payment_id: str, customer_id: str, amount: str, received_on: str) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "customer_id": customer_id,
        "currency": "CNY",
        "amount": amount,
        "received_on": received_on,
        "method": "bank_transfer",
    }


@pytest.fixture(scope="module")
def book(stack: Stack) -> Book:
    """A tenant whose books touch every kind of row: credit's own inputs set first (a hold
    policy, a manual limit, an approved order, a manual hold), then customers, invoices,
    payments, a dispute, a void, and reminders' own records (a promise that a later payment
    counts toward, a pause, and a dunning run that breaks the promise and sends reminders);
    every consumer and relay then settled."""
    tenant = f"t-{secrets.token_hex(4)}"
    api = Api(stack.gateway_url, stack.create_tenant_key(tenant, f"Tenant {tenant}"))
    policy = {"max_days_overdue": 10, "over_limit": True, "grade_e": True}
    _ok(api.http.put("/credit/hold-policy", json=policy), 200)
    for customer in ("C-1", "C-2", "C-3"):
        _ok(api.put_customer(customer, owner="li", email=f"{customer}@example.com"))
    # Credit takes manual decisions on customers it knows.
    eventually(
        lambda: all(api.get(f"/customers/C-{n}/credit").status_code == 200 for n in (1, 2, 3)),
        what="credit knows the customers",
    )
    limit = {"currency": "CNY", "limit": "20000.00", "reason": "distributor", "set_by": "cfo"}
    _ok(api.http.put("/customers/C-1/credit/limit", json=limit), 200)
    check = {"customer_id": "C-2", "order_id": "SO-1", "currency": "CNY", "amount": "100.00"}
    _ok(api.http.post("/credit-checks", json=check), 200)
    hold = {"reason": "cheque bounced", "placed_by": "wang"}
    _ok(api.http.post("/customers/C-2/credit/hold", json=hold), 200)

    invoices = [
        ("INV-1", "C-1", "1000.00", "2026-09-01", "2026-10-01"),
        ("INV-2", "C-1", "2500.00", "2026-10-01", "2026-10-31"),
        ("INV-3", "C-2", "800.00", "2026-10-15", "2026-11-14"),
        ("INV-4", "C-3", "3000.00", "2026-08-01", "2026-08-31"),
        ("INV-5", "C-3", "90.00", "2026-08-02", "2026-09-01"),
    ]
    for invoice_id, customer, amount, issued, due in invoices:
        _ok(api.post_invoice(invoice_id, customer, amount, issue_date=issued, due_date=due))
    paid = [{"invoice_id": "INV-1", "amount": "1000.00"}]
    pay_1 = {**_payment("P-1", "C-1", "1000.00", "2026-10-20"), "allocations": paid}
    _ok(api.http.post("/payments", json=pay_1))
    _ok(api.http.post("/payments", json=_payment("P-2", "C-3", "1000.00", "2026-09-15")))
    dispute = {
        "dispute_id": "D-1",
        "reason": "damp cartons",
        "currency": "CNY",
        "amount": "300.00",
        "opened_on": "2026-11-02",
    }
    _ok(api.http.post("/invoices/INV-2/disputes", json=dispute))
    void = {"voided_on": "2026-08-05", "reason": "issued twice"}
    _ok(api.http.post("/invoices/INV-5/void", json=void), 200)
    eventually(
        lambda: api.get("/customers/C-3/dunning").json().get("open_invoice_count") == 1,
        what="reminders saw C-3's invoices",
    )
    promise = {
        "promise_id": "PR-1",
        "amount": "2000.00",
        "currency": "CNY",
        "promised_date": "2026-12-20",
        "taken_by": "li",
        "made_on": "2026-11-20",
    }
    _ok(api.http.post("/customers/C-3/promises", json=promise))
    _ok(api.http.post("/payments", json=_payment("P-3", "C-3", "500.00", "2026-11-25")))
    pause = {"until": "2026-12-31", "reason": "CFO on leave"}
    _ok(api.http.post("/customers/C-1/dunning/pause", json=pause), 200)
    eventually(
        lambda: api.get("/customers/C-3/promises").json()["items"][0]["paid"] == "500.00",
        what="reminders counted the payment toward the promise",
    )
    # A dunning run after the promise's grace: it breaks the promise (INV-4 escalates, and
    # credit learns of it from reminders' event), and sends and records reminders.
    run = _ok(api.http.post("/dunning/runs", json={"as_of": "2026-12-24"}), 200)
    assert run["promises_broken"] == 1, run
    eventually(lambda: _settled(stack), timeout=120, what="every consumer and relay idle")
    return Book(tenant, api)


# --- what the stack's servers hold ---------------------------------------------------------


def _group(stack: Stack, service: str) -> str:
    return stack.namespace.group(service)


async def _kafka_offsets(
    bootstrap: str, groups: list[str], topics: tuple[str, ...]
) -> tuple[dict[str, dict[TopicPartition, int]], dict[TopicPartition, int]]:
    """Each group's committed offsets (-1: none), and every topic's end offsets."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await admin.start()
    await probe.start()
    try:
        partitions = [
            TopicPartition(t["topic"], p["partition"])
            for t in await admin.describe_topics(list(topics))
            for p in t["partitions"]
        ]
        ends = await probe.end_offsets(partitions)
        committed = {}
        for group in groups:
            offsets = await admin.list_consumer_group_offsets(group, partitions=partitions)
            committed[group] = {tp: offsets[tp].offset for tp in partitions}
        return committed, ends
    finally:
        await probe.stop()
        await admin.close()


def _offsets(
    stack: Stack,
) -> tuple[dict[str, dict[TopicPartition, int]], dict[TopicPartition, int]]:
    groups = [_group(stack, s) for s in TOPICS]
    bootstrap = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    return asyncio.run(_kafka_offsets(bootstrap, groups, stack.namespace.all_topics))


def _settled(stack: Stack) -> bool:
    """Nothing in flight: no unpublished outbox row, no consumer behind."""
    url = stack.env["DATABASE_URL"]
    for schema in ("ledger", "credit", "reminders"):
        [row] = query(
            url, f"SELECT count(*) AS n FROM {schema}.outbox_event WHERE published_at IS NULL"
        )
        if row["n"]:
            return False
    committed, ends = _offsets(stack)
    for service, topics in TOPICS.items():
        mine = committed[_group(stack, service)]
        read = stack.namespace.topics(topics)
        if any(max(mine[tp], 0) < ends[tp] for tp in ends if tp.topic in read):
            return False
    return True


def _rows(url: str, schema: str, table: str, tenant: str, service: str) -> list[dict[str, Any]]:
    order, columns = COMPARED[service][table]
    rows = query(
        url, f"SELECT {columns} FROM {schema}.{table} WHERE tenant = $1 ORDER BY {order}", tenant
    )
    return [{k: v for k, v in dict(r).items() if k != "position"} for r in rows]


def _count(url: str, sql: str, *args: Any) -> int:
    [row] = query(url, sql, *args)
    return int(row[0])


def _disconnected(url: str, service: str) -> bool:
    """No session of the service's processes is left (their pools name themselves after its
    schema)."""
    sql = "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1"
    return _count(url, sql, service) == 0


def _rebuild(stack: Stack, service: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", service, "rebuild", "--progress-seconds", "0.2", *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=900,
    )


# --- the tests -----------------------------------------------------------------------------


@pytest.mark.parametrize("service", ["credit", "reminders"])
def test_a_rebuild_equals_the_live_projection_and_tells_nobody(
    stack: Stack, book: Book, service: str
) -> None:
    """The procedure's first step, with the service running: `python -m <svc> rebuild`
    into `<svc>_rebuild`, then again (it continues where it stopped: nothing left)."""
    url = stack.env["DATABASE_URL"]
    target = f"{service}_rebuild"
    committed, ends = _offsets(stack)
    outbox = _count(url, f"SELECT count(*) FROM {service}.outbox_event")

    done = _rebuild(stack, service)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith(f"{service}: rebuilt into schema {target} (not live)")
    progress = [line for line in done.stderr.splitlines() if "events/s" in line]
    assert progress and progress[-1].endswith(", 0 left"), done.stderr[-3000:]

    for table in COMPARED[service]:
        live = _rows(url, service, table, book.tenant, service)
        rebuilt = _rows(url, target, table, book.tenant, service)
        assert live, f"{service}.{table} has nothing of the book"
        assert rebuilt == live, table
    # Nothing published, nothing written to be published, no group moved (the live ones
    # included), the live schema untouched.
    assert _count(url, f"SELECT count(*) FROM {target}.outbox_event") == 0
    assert _offsets(stack) == (committed, ends)
    assert _count(url, f"SELECT count(*) FROM {service}.outbox_event") == outbox
    if service == "credit":  # its own records the projection is derived under came along
        carried = query(
            url, f"SELECT max_days_overdue FROM {target}.hold_policy WHERE tenant = $1", book.tenant
        )
        assert [r["max_days_overdue"] for r in carried] == [10]
    else:  # its own records wait for the switch: payments must not count toward them twice
        assert _count(url, f"SELECT count(*) FROM {target}.promise") == 0

    again = _rebuild(stack, service)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "replayed        0 events" in again.stdout
    for table in COMPARED[service]:
        assert _rows(url, target, table, book.tenant, service) == _rows(
            url, service, table, book.tenant, service
        )


@pytest.mark.parametrize("service", ["ledger", "gateway"])
def test_the_ledger_and_the_gateway_have_nothing_to_rebuild(stack: Stack, service: str) -> None:
    done = _rebuild(stack, service)
    assert done.returncode == 2
    assert done.stderr.startswith(f"{service} has nothing to rebuild: ")


def test_the_switch_is_refused_while_the_service_runs(stack: Stack, book: Book) -> None:
    url = stack.env["DATABASE_URL"]
    before = _count(url, "SELECT oid::bigint FROM pg_namespace WHERE nspname = 'reminders'")
    refused = _rebuild(stack, "reminders", "--into", "reminders_refused", "--switch")
    assert refused.returncode == 2, refused.stderr[-3000:]
    assert f"consumer group {_group(stack, 'reminders')} has 1 member(s)" in refused.stderr
    assert _count(url, "SELECT oid::bigint FROM pg_namespace WHERE nspname = 'reminders'") == before
    assert _count(url, "SELECT count(*) FROM pg_namespace WHERE nspname = 'reminders_refused'") == 0


@contextmanager
def _stopped(stack: Stack, service: str) -> Iterator[None]:
    """Every process of `service` stopped (SIGTERM: each leaves its group and closes its
    connections), and started again afterwards."""
    names = [spec.name for spec in stack.specs if spec.service == service]
    for name in names:
        stack.kill(name, signal.SIGTERM)
    try:
        yield
    finally:
        for name in names:
            stack.restart(name)
        stack.wait_ready()


def test_the_switch_makes_the_rebuilt_schema_live(stack: Stack, book: Book) -> None:
    """After the rebuild above, the two-step procedure's second step: each service stopped,
    `--switch`, started again. The API answers as before (its own records were carried:
    the manual limit and hold, the promise with the payment counted once and broken, the
    escalation, the pause, the reminders sent), and the consumers carry on from the rebuilt
    schemas: a new invoice reaches both, once."""
    api, url = book.api, stack.env["DATABASE_URL"]
    paths = (
        "/customers/C-1/credit",
        "/customers/C-2/credit",
        "/customers/C-3/credit",
        "/customers/C-3/promises",
        "/customers/C-1/dunning?as_of=2026-12-01",
        "/customers/C-3/dunning?as_of=2026-12-01",
        "/reminders?customer_id=C-2",
        "/reminders?customer_id=C-3",
    )
    before = {path: _ok(api.get(path), 200) for path in paths}
    for service in ("credit", "reminders"):
        with _stopped(stack, service):
            eventually(partial(_disconnected, url, service), what=f"{service} disconnected")
            done = _rebuild(stack, service, "--switch")
            assert done.returncode == 0, done.stdout + done.stderr[-3000:]
            assert done.stdout.startswith(
                f"{service}: switched; schema {service} is the rebuilt one"
            )
        retired = query(
            url, "SELECT nspname FROM pg_namespace WHERE nspname LIKE $1", f"{service}_retired_%"
        )
        assert len(retired) == 1
        assert (
            _count(
                url, "SELECT count(*) FROM pg_namespace WHERE nspname = $1", f"{service}_rebuild"
            )
            == 0
        )

    assert {path: _ok(api.get(path), 200) for path in paths} == before
    escalated = (
        "SELECT escalate FROM reminders.chased_invoice WHERE tenant = $1 AND invoice_id = $2"
    )
    assert _count(url, escalated, book.tenant, "INV-4") == 1  # carried: the run's, not an event's
    _ok(api.post_invoice("INV-6", "C-1", "700.00", issue_date="2026-11-20", due_date="2026-12-20"))
    eventually(
        lambda: api.get("/customers/C-1/dunning").json().get("open_invoice_count") == 2,
        what="reminders, on its rebuilt schema, saw the new invoice",
    )

    def credit_saw_it() -> bool:
        [line] = api.get("/customers/C-1/credit").json()["exposure"]
        return bool(line["open_invoices"] == 2)

    eventually(credit_saw_it, what="credit, on its rebuilt schema, saw the new invoice")
    eventually(lambda: _settled(stack), timeout=120, what="every consumer and relay idle")
    [line] = api.get("/customers/C-1/credit").json()["exposure"]
    assert line["open_invoices"] == 2
    assert api.get("/customers/C-1/dunning").json()["open_invoice_count"] == 2
