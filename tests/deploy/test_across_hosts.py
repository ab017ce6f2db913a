"""Two replicas of every process on two hosts, one host lost mid-run (issue #12, item 7).

From the client host the test books customers, invoices and payments through the two
gateways (turn about, as a load balancer would), pins a dunning policy that chases by
webhook, subscribes a webhook to every event, and while that runs kills every process of
host svc-a (kill -9). The client moves its calls to the surviving gateway; svc-b's relays,
consumers, dispatcher and schedulers take over svc-a's share. More customers are booked
after the kill, and a dunning run is asked for. Then it checks, on the real servers:

- every event on the topics was applied exactly once by each consumer group (its
  `processed_event` rows are exactly the distinct events of the topics it reads, nothing
  dead-lettered) and every outbox row was published;
- `invoice_overdue` once per invoice, though two overdue scanners ran;
- every customer reminded, no invoice twice for its step though two schedulers and a run
  decided, each reminder delivered under one idempotency key, signed; every event
  delivered to the webhook receiver under one webhook id, signed;
- balances agree: the ledger's, credit's view, reminders' and the gateway's summary and
  the aging report, with what was posted.

It prints the figures (events, rates, time to recover) for the closing note.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from huikuan_events import Envelope
from huikuan_events.topics import (
    CREDIT_EVENTS,
    EVENT_TOPICS,
    LEDGER_EVENTS,
    REMINDERS_EVENTS,
    dead_letter_topic,
)
from tests.deploy.conftest import REMINDERS_PATH, SERVICE_HOSTS, Deployment
from tests.support import eventually, query, records_on_topic
from tests.webhook_receiver import Received

pytestmark = pytest.mark.deploy

TENANT = "acme"
EVENTS_PATH = "/events"
BEFORE_KILL = 40  # customers booked while both hosts run; svc-a dies when half are done
AFTER_KILL = 12  # customers booked on the surviving host alone
INVOICES = 3  # per customer, 1000.00 each
INVOICE_MINOR = 100_000
PAYMENT_MINOR = 150_000  # per customer: settles the first invoice, half the second
WORKERS = 4  # concurrent clients
# The topics each consumer group reads (each service's README), by its schema's name.
READS = {
    "credit": (LEDGER_EVENTS, REMINDERS_EVENTS),
    "reminders": (LEDGER_EVENTS, CREDIT_EVENTS),
    "gateway": EVENT_TOPICS,
}
POLICY = {
    "steps": [
        {
            "name": "overdue_notice",
            "offset_days": 1,
            "channels": ["webhook"],
            "template": "overdue_notice",
        }
    ]
}


def _money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


class Gateways:
    """The client's way to the gateway replicas, as a load balancer in front of them would
    be: calls go to each in turn; a call cut off (reset, timed out) is made again on the
    next, and a gateway that refuses connections (its host is gone) is left out from then
    on. Making a call again is safe: every create carries the caller's id, and the same
    request again returns the first result (`200` instead of `201`)."""

    def __init__(self, urls: list[str], key: str) -> None:
        auth = {"Authorization": f"Bearer {key}"}
        self.clients = [httpx.Client(base_url=f"{u}/v1", headers=auth, timeout=20) for u in urls]
        self.urls = urls
        self.down: set[int] = set()
        self.calls_again = 0  # calls made again on another gateway
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def _pick(self) -> int:
        with self._lock:
            up = [i for i in range(len(self.clients)) if i not in self.down]
            if not up:
                raise AssertionError("no gateway can be reached")
            return up[next(self._turn) % len(up)]

    def request(self, method: str, path: str, body: Any = None) -> httpx.Response:
        for _ in range(2 * len(self.clients)):
            i = self._pick()
            try:
                return self.clients[i].request(method, path, json=body)
            except httpx.ConnectError:
                with self._lock:
                    self.down.add(i)
                    self.calls_again += 1
            except httpx.TransportError:
                with self._lock:
                    self.calls_again += 1
        raise AssertionError(f"{method} {path}: no gateway answered")

    def ok(self, method: str, path: str, body: Any = None) -> Any:
        response = self.request(method, path, body)
        assert response.status_code in (200, 201), f"{method} {path}: {response.text}"
        return response.json()

    def pages(self, path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            query_string = httpx.QueryParams({**params, **({"cursor": cursor} if cursor else {})})
            page = self.ok("GET", f"{path}?{query_string}")
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items


@dataclass
class Book:
    """What the client posted, the reference the services' answers are checked against."""

    today: date
    customers: list[str] = field(default_factory=list)
    requests: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def customer(self, gateways: Gateways, n: int) -> None:
        customer_id = f"C-{n:03d}"
        issued, due = self.today - timedelta(days=60), self.today - timedelta(days=30)
        calls: list[tuple[str, str, Any]] = [
            ("PUT", f"/customers/{customer_id}", {"name": f"客户 {n}", "currency": "CNY"}),
            ("PUT", f"/customers/{customer_id}/dunning/policy", {"policy_id": "net"}),
            *(
                (
                    "POST",
                    "/invoices",
                    {
                        "invoice_id": f"{customer_id}-I{i}",
                        "customer_id": customer_id,
                        "number": f"N-{customer_id}-{i}",
                        "issue_date": str(issued + timedelta(days=i)),
                        "due_date": str(due + timedelta(days=i)),
                        "currency": "CNY",
                        "amount": _money(INVOICE_MINOR),
                    },
                )
                for i in range(1, INVOICES + 1)
            ),
            (
                "POST",
                "/payments",
                {
                    "payment_id": f"{customer_id}-P",
                    "customer_id": customer_id,
                    "amount": _money(PAYMENT_MINOR),
                    "currency": "CNY",
                    "received_on": str(self.today - timedelta(days=10)),
                    "method": "bank_transfer",
                },
            ),
        ]
        for method, path, body in calls:
            gateways.ok(method, path, body)
        with self._lock:
            self.customers.append(customer_id)
            self.requests += len(calls)

    @property
    def open_minor(self) -> int:
        """What each customer still owes."""
        return INVOICES * INVOICE_MINOR - PAYMENT_MINOR

    @property
    def open_invoices(self) -> int:
        return INVOICES - PAYMENT_MINOR // INVOICE_MINOR


def _book(gateways: Gateways, book: Book, numbers: range, when: Callable[[int], None]) -> None:
    """Book customers `numbers` with WORKERS clients at once; `when(done)` after each."""
    done = itertools.count(1)

    def one(n: int) -> None:
        book.customer(gateways, n)
        when(next(done))

    with ThreadPoolExecutor(WORKERS) as pool:
        for future in [pool.submit(one, n) for n in numbers]:
            future.result()


def _processed(url: str, consumer: str) -> list[str]:
    rows = query(url, f"SELECT event_id::text AS id FROM {consumer}.processed_event")
    return [row["id"] for row in rows]


def _verified(received: list[Received], secret: str) -> list[tuple[dict[str, Any], Received]]:
    """Each request with its body, once its Standard Webhooks signature verified."""
    for request in received:
        Webhook(secret).verify(request.body, request.headers)
    return [(json.loads(request.body), request) for request in received]


@dataclass
class Pipeline:
    """The events as the servers hold them at one moment, and what is wrong with that (true
    when nothing is: every outbox row published, every event applied once by each consumer
    group, delivered to the receiver, nothing dead-lettered)."""

    records: dict[str, int]  # per topic, the tenant's records (an event published twice: 2)
    events: dict[str, dict[str, Envelope]]  # per topic, the distinct events by id
    late: dict[str, int]  # per topic, events first published after a later one of their subject
    processed: dict[str, list[str]]  # per consumer group, the event ids it recorded
    problems: list[str]

    def __bool__(self) -> bool:
        return not self.problems

    def __repr__(self) -> str:
        return "; ".join(self.problems)


def _pipeline(d: Deployment) -> Pipeline:
    records: dict[str, int] = {}
    events: dict[str, dict[str, Envelope]] = {}
    late: dict[str, int] = {}
    for topic in EVENT_TOPICS:
        found = records_on_topic(d.kafka, topic, TENANT)
        records[topic] = len(found)
        envelopes = [Envelope.from_bytes(r.value) for r in found]  # each partition in order
        events[topic] = {}
        newest: dict[str, int] = {}
        late[topic] = 0
        for e in envelopes:
            if str(e.id) in events[topic]:
                continue  # published again: consumers drop it by id
            events[topic][str(e.id)] = e
            late[topic] += e.subjectseq < newest.get(e.subject, 0)
            newest[e.subject] = max(e.subjectseq, newest.get(e.subject, 0))
    processed = {c: _processed(d.database_url, c) for c in READS}
    problems: list[str] = []
    for svc, topic in (
        ("ledger", LEDGER_EVENTS),
        ("credit", CREDIT_EVENTS),
        ("reminders", REMINDERS_EVENTS),
    ):
        rows = query(d.database_url, f"SELECT event_id::text AS id FROM {svc}.outbox_event")
        if unpublished := {r["id"] for r in rows} - set(events[topic]):
            problems.append(f"{len(unpublished)} {svc} outbox rows not on {topic}")
    for consumer, reads in READS.items():
        expected = {i for topic in reads for i in events[topic]}
        if missing := expected - set(processed[consumer]):
            problems.append(f"{consumer} has not applied {len(missing)} events")
        if extra := set(processed[consumer]) - expected:
            problems.append(f"{consumer} applied {len(extra)} events not on its topics")
        if dead := records_on_topic(d.kafka, dead_letter_topic(consumer), TENANT):
            problems.append(f"{len(dead)} records on {dead_letter_topic(consumer)}")
    delivered = {json.loads(r.body)["id"] for r in d.receiver.at(EVENTS_PATH)}
    if missing := {i for topic in EVENT_TOPICS for i in events[topic]} - delivered:
        problems.append(f"{len(missing)} events not delivered to the receiver")
    return Pipeline(records, events, late, processed, problems)


def test_two_replicas_on_two_hosts_carry_on_when_one_host_dies(deployment: Deployment) -> None:
    d = deployment
    replicas = [d.replicas[name] for name in SERVICE_HOSTS]
    key = replicas[0].create_tenant_key(TENANT, "Acme Trading")
    gateways = Gateways([r.gateway_url for r in replicas], key)
    subscription = gateways.ok("POST", "/webhooks", {"url": d.receiver.url(EVENTS_PATH)})
    gateways.ok("PUT", "/dunning/policies/net", POLICY)
    book = Book(d.today)

    # Both hosts up; svc-a dies when half the customers are booked.
    killed: dict[str, float] = {}

    def kill_when_half(done: int) -> None:
        if done == BEFORE_KILL // 2:
            killed["processes"] = d.host("svc-a").kill_all()
            killed["at"] = time.monotonic()

    started = time.monotonic()
    _book(gateways, book, range(1, BEFORE_KILL + 1), kill_when_half)
    assert killed["processes"] >= len(replicas[0].specs), killed
    assert d.host("svc-a").pids() == []
    # svc-b alone from here.
    after = range(BEFORE_KILL + 1, BEFORE_KILL + AFTER_KILL + 1)
    _book(gateways, book, after, lambda done: None)
    booked = time.monotonic()
    assert gateways.down == {0}, "svc-a's gateway should be the one left out"
    customers = len(book.customers)
    assert customers == BEFORE_KILL + AFTER_KILL

    def late_work_seen() -> bool:
        for n in after:
            credit = gateways.request("GET", f"/customers/C-{n:03d}/credit")
            dunning = gateways.request("GET", f"/customers/C-{n:03d}/dunning")
            if credit.status_code != 200 or dunning.status_code != 200:
                return False  # not known there yet
            lines = credit.json()["exposure"]
            seen = (lines[0]["open_invoices"] if lines else 0, dunning.json()["open_invoice_count"])
            if seen != (book.open_invoices, book.open_invoices):
                return False
        return True

    eventually(late_work_seen, timeout=180, what="credit and reminders see the late work")
    recovered = time.monotonic()
    run = gateways.ok("POST", "/dunning/runs", {"as_of": str(d.dunning_on)})

    # One overdue event per open invoice, though two scanners ran (svc-b's, every minute).
    def overdue() -> list[Envelope] | None:
        found = [
            e
            for r in records_on_topic(d.kafka, LEDGER_EVENTS, TENANT)
            if (e := Envelope.from_bytes(r.value)).type == "ledger.invoice_overdue.v1"
        ]
        return found if len(found) >= customers * book.open_invoices else None

    overdue_events = eventually(overdue, timeout=150, what="every open invoice overdue")
    per_invoice = Counter(e.data["invoice_id"] for e in overdue_events)
    assert max(per_invoice.values()) == 1, per_invoice.most_common(3)

    # Every customer reminded; no invoice twice for the step though two schedulers and the
    # run above decided; each reminder signed, under one idempotency key.
    def reminders_sent() -> list[dict[str, Any]] | None:
        items = gateways.pages("/reminders", limit=1000)
        sent = [r for r in items if r["status"] == "sent"]
        everyone = {r["customer_id"] for r in sent} == set(book.customers)
        # The rest cancelled (their invoice paid before they went out), none left to send.
        done = all(r["status"] in ("sent", "cancelled") for r in items)
        return sent if everyone and done else None

    reminders = eventually(reminders_sent, timeout=120, what="every customer reminded")
    reminded = Counter((i["invoice_id"], r["step"]) for r in reminders for i in r["invoices"])
    assert max(reminded.values()) == 1, reminded.most_common(3)
    at_receiver = d.receiver.at(REMINDERS_PATH)
    keys = {
        (body["reminder_id"], request.headers["idempotency-key"])
        for body, request in _verified(at_receiver, d.reminders_secret)
    }
    assert {reminder_id for reminder_id, _ in keys} == {r["reminder_id"] for r in reminders}
    assert len(keys) == len(reminders), "a reminder went out under two idempotency keys"

    # Every event applied exactly once per consumer group and delivered to the receiver.
    pipeline = eventually(
        lambda: _pipeline(d), timeout=180, what="every event applied and delivered once"
    )
    settled = time.monotonic()
    hooks = d.receiver.at(EVENTS_PATH)
    ids_per_event: dict[str, set[str]] = {}
    for body, request in _verified(hooks, subscription["secret"]):
        ids_per_event.setdefault(body["id"], set()).add(request.headers["webhook-id"])
    assert all(len(ids) == 1 for ids in ids_per_event.values()), "an event sent twice"
    # Each customer's events in order on the topics, so consumers saw no gap or reordering.
    assert pipeline.late == dict.fromkeys(EVENT_TOPICS, 0), pipeline.late
    for consumer in READS:
        [cursor] = query(
            d.database_url,
            f"""SELECT coalesce(sum(gaps), 0) AS gaps, coalesce(sum(out_of_order), 0) AS late
                FROM {consumer}.subject_cursor""",
        )
        assert (cursor["gaps"], cursor["late"]) == (0, 0), (consumer, dict(cursor))

    # Balances: the ledger, credit, reminders and the gateway's summary agree with the book.
    for customer_id in book.customers:
        summary = gateways.ok("GET", f"/customers/{customer_id}/summary")
        assert summary["complete"], summary
        [balance] = summary["balances"]["data"]["balances"]
        assert (balance["open_amount"], balance["open_invoices"], balance["unapplied_cash"]) == (
            _money(book.open_minor),
            book.open_invoices,
            "0.00",
        ), (customer_id, balance)
        [exposure] = summary["credit"]["data"]["exposure"]
        assert (exposure["open_amount"], exposure["open_invoices"]) == (
            _money(book.open_minor),
            book.open_invoices,
        ), (customer_id, exposure)
        assert summary["dunning"]["data"]["open_invoice_count"] == book.open_invoices
    aging = gateways.ok("GET", f"/reports/aging?as_of={d.today}")
    [cny] = aging["currencies"]
    assert (cny["total"]["total"], cny["total"]["invoices"]) == (
        _money(customers * book.open_minor),
        customers * book.open_invoices,
    )
    [cached] = query(
        d.database_url,
        "SELECT sum(residual_minor) AS open FROM ledger.invoice WHERE tenant = $1",
        TENANT,
    )
    assert cached["open"] == customers * book.open_minor

    events = sum(len(e) for e in pipeline.events.values())
    figures = {
        "hosts": {name: host.address for name, host in d.network.hosts.items()},
        "kafka": f"{d.kafka.security_protocol} {d.kafka.sasl_mechanism}",
        "processes per service host": len(replicas[0].specs),
        "customers": customers,
        "requests through the gateways": book.requests,
        "requests per second while booking": round(book.requests / (booked - started), 1),
        "processes killed on svc-a": killed["processes"],
        "calls made again on svc-b": gateways.calls_again,
        "events (distinct)": events,
        "events per topic": {t: len(e) for t, e in pipeline.events.items()},
        "records on the topics (an event published twice counts twice)": pipeline.records,
        "applied per consumer group": {c: len(ids) for c, ids in pipeline.processed.items()},
        "webhook requests, distinct webhook ids": [
            len(hooks),
            len({r.headers["webhook-id"] for r in hooks}),
        ],
        "reminders sent, requests at the receiver, invoices reminded": [
            len(reminders),
            len(at_receiver),
            len(reminded),
        ],
        "invoice_overdue events": len(overdue_events),
        "the dunning run asked for after the kill": run,
        "seconds from the kill to late work seen by credit and reminders": round(
            recovered - killed["at"], 1
        ),
        "seconds from the kill to every event applied and delivered": round(
            settled - killed["at"], 1
        ),
        "events per second, first request to settled": round(events / (settled - started), 1),
    }
    print("\ncross-host figures:\n" + json.dumps(figures, indent=2, ensure_ascii=False))
