"""The credit benchmark (issue 4 "Speed"): consumer catch-up, credit checks, payment → score.

1. catch-up: `BENCH_CREDIT_EVENTS` (1,000,000) ledger events of `BENCH_CREDIT_CUSTOMERS`
   (events / 200) customers over two years — customers, invoices issued, overdue, payments
   received and applied (some partial, some late), settled, credit notes, disputes — are
   produced straight into a topic of the benchmark's own (`bench-<hex>.ledger.events.v1`,
   deleted afterwards; the credit consumer reads it through `KAFKA_TOPIC_PREFIX`), then
   `python -m credit consume` catches up from offset 0 on a fresh database. Rate: events
   committed per second, from the first commit to the last (read from the group's committed
   offsets). It stops after `BENCH_CREDIT_CATCHUP_SECONDS` (900) and reports the rate so
   far. Floor: a bare aiokafka consumer (no group, no decoding) reading the same topic from
   offset 0, once before and once after the system (the mean). Goal ≥ 0.25 of the floor.
2. credit checks: `BENCH_CREDIT_CHECKS` (3,200) `POST /v1/credit-checks` from 32 concurrent
   clients through the gateway, and as many straight to the credit service; p50/p99.
   Floor: the rows a check cannot avoid, from asyncpg at the same concurrency on a pool as
   large as credit's (10): the customer's advisory lock, its score, holds and limit, and
   the order's earlier approval replaced, in one transaction. Goal: p99 < 20 ms through
   the gateway.
3. payment → `score_changed`: `BENCH_CREDIT_PAYMENTS_PER_S` (100) payments a second for
   `BENCH_CREDIT_E2E_SECONDS` (20) s, each paying on time the only invoice of a customer
   that has never paid (so its score must rise), all processes running; latency from
   `POST /v1/payments` returning to the customer's `score_changed` on `credit.events.v1`.
   Floor: a bare aiokafka produce → consume round trip at the same rate (one hop; the
   system makes two, with a database commit on each side). Goal: p99 < 250 ms.

`BENCH_CREDIT_PARTS` chooses the parts (default `catchup,checks,e2e`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.run import Context, Figure, Goal
from bench.support import (
    CpuMeter,
    Http,
    HttpError,
    Running,
    _admin,
    api_client,
    percentile,
    running_system,
    with_database,
)
from huikuan_dev.stack import PROCESSES, Stack, free_port
from huikuan_dev.testing import delete_namespace
from huikuan_events import Envelope, uuid7
from huikuan_events import ledger as ledger_events
from huikuan_events.topics import CREDIT_EVENTS, LEDGER_EVENTS
from huikuan_runtime.kafka import KafkaNamespace, ensure_topics
from huikuan_runtime.settings import DEV_INTERNAL_TOKEN

NAME = "credit"
CURRENCY = "CNY"
AS_OF = date(2026, 12, 31)
SOURCE = "huikuan/ledger"


# --- 1. catch-up from offset 0 ---------------------------------------------------------


@dataclass(slots=True)
class _Book:
    """A synthetic ledger's event stream, in time order, built one day at a time."""

    tenant: str
    customers: int
    days: int
    seed: int = 11

    def events(self, limit: int) -> Iterator[tuple[bytes, bytes]]:
        """(key, CloudEvents JSON) for up to `limit` events."""
        rnd = random.Random(self.seed)
        start = AS_OF - timedelta(days=self.days)
        habits = [rnd.choice((-3, 0, 2, 8, 20, 45)) for _ in range(self.customers)]
        terms = [rnd.choice((30, 45, 60, 90)) for _ in range(self.customers)]
        sequence = [0] * self.customers
        # invoices per customer per day so that `limit` events fill the period
        rate = limit / (4.6 * self.customers * self.days)
        pending: dict[date, list[tuple[int, str, dict[str, Any]]]] = {}
        emitted = 0
        n_invoice = 0

        def envelope(c: int, kind: str, data: dict[str, Any], at: datetime) -> tuple[bytes, bytes]:
            sequence[c] += 1
            subject = data["customer_id"]
            body = {
                "specversion": "1.0",
                "id": str(uuid7(int(at.timestamp() * 1000))),
                "source": SOURCE,
                "type": f"ledger.{kind}.v1",
                "subject": subject,
                "time": at.isoformat(),
                "tenant": self.tenant,
                "subjectseq": sequence[c],
                "datacontenttype": "application/json",
                "data": data,
            }
            return f"{self.tenant}/{subject}".encode(), json.dumps(body).encode()

        for d in range(self.days + 1):
            day = start + timedelta(days=d)
            todo: list[tuple[int, str, dict[str, Any]]] = []
            if d == 0:
                todo += [
                    (
                        c,
                        "customer_upserted",
                        {
                            "customer_id": f"C-{c:06d}",
                            "name": f"Customer {c}",
                            "currency": CURRENCY,
                            "payment_terms_days": terms[c],
                            "segment": ("retail", "dealer")[c % 2],
                        },
                    )
                    for c in range(self.customers)
                ]
            for c in range(self.customers):
                if rnd.random() >= rate:
                    continue
                n_invoice += 1
                iid, due = f"INV-{n_invoice:08d}", day + timedelta(days=terms[c])
                cid = f"C-{c:06d}"
                amount = rnd.randrange(50_00, 50_000_00)
                todo.append(
                    (
                        c,
                        "invoice_issued",
                        {
                            "invoice_id": iid,
                            "customer_id": cid,
                            "number": f"N-{n_invoice:08d}",
                            "issue_date": day.isoformat(),
                            "due_date": due.isoformat(),
                            "currency": CURRENCY,
                            "amount_minor": amount,
                        },
                    )
                )
                late = max(-10, int(rnd.gauss(habits[c], 4 + abs(habits[c]) / 3)))
                paid_on = due + timedelta(days=late)
                if late > 0:
                    pending.setdefault(due + timedelta(days=1), []).append(
                        (
                            c,
                            "invoice_overdue",
                            {
                                "invoice_id": iid,
                                "customer_id": cid,
                                "due_date": due.isoformat(),
                                "currency": CURRENCY,
                                "residual_minor": amount,
                                "as_of": (due + timedelta(days=1)).isoformat(),
                            },
                        )
                    )
                residual = amount
                if rnd.random() < 0.03:  # a credit note for a return
                    note = amount // 10
                    residual -= note
                    on = day + timedelta(days=5)
                    pending.setdefault(on, []).append(
                        (
                            c,
                            "invoice_adjusted",
                            {
                                "invoice_id": iid,
                                "customer_id": cid,
                                "credit_note_id": f"CN-{iid}",
                                "reason": "return",
                                "currency": CURRENCY,
                                "amount_minor": note,
                                "residual_minor": residual,
                                "issued_on": on.isoformat(),
                            },
                        )
                    )
                if rnd.random() < 0.01:  # a quality claim, rejected a week later
                    on = day + timedelta(days=3)
                    pending.setdefault(on, []).append(
                        (
                            c,
                            "dispute_opened",
                            {
                                "dispute_id": f"D-{iid}",
                                "invoice_id": iid,
                                "customer_id": cid,
                                "reason": "quality",
                                "currency": CURRENCY,
                                "amount_minor": residual,
                                "opened_on": on.isoformat(),
                            },
                        )
                    )
                    pending.setdefault(on + timedelta(days=7), []).append(
                        (
                            c,
                            "dispute_resolved",
                            {
                                "dispute_id": f"D-{iid}",
                                "invoice_id": iid,
                                "customer_id": cid,
                                "outcome": "rejected",
                                "resolved_on": (on + timedelta(days=7)).isoformat(),
                            },
                        )
                    )
                parts = (
                    [residual] if rnd.random() < 0.9 else [residual // 2, residual - residual // 2]
                )
                for k, part in enumerate(parts):
                    on = max(day, paid_on - timedelta(days=10 * (len(parts) - 1 - k)))
                    pid = f"P-{iid}-{k}"
                    residual -= part
                    pending.setdefault(on, []).extend(
                        [
                            (
                                c,
                                "payment_received",
                                {
                                    "payment_id": pid,
                                    "customer_id": cid,
                                    "currency": CURRENCY,
                                    "amount_minor": part,
                                    "received_on": on.isoformat(),
                                    "method": "bank_transfer",
                                },
                            ),
                            (
                                c,
                                "payment_applied",
                                {
                                    "payment_id": pid,
                                    "invoice_id": iid,
                                    "customer_id": cid,
                                    "currency": CURRENCY,
                                    "amount_minor": part,
                                    "applied_on": on.isoformat(),
                                    "due_date": due.isoformat(),
                                    "days_late": max(0, (on - due).days),
                                    "invoice_residual_minor": residual,
                                },
                            ),
                        ]
                    )
                    if residual == 0:
                        pending[on].append(
                            (
                                c,
                                "invoice_settled",
                                {
                                    "invoice_id": iid,
                                    "customer_id": cid,
                                    "currency": CURRENCY,
                                    "settled_on": on.isoformat(),
                                    "days_late": max(0, (on - due).days),
                                },
                            )
                        )
            todo += pending.pop(day, [])
            at = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
            for n, (c, kind, data) in enumerate(todo):
                yield envelope(c, kind, data, at + timedelta(milliseconds=n))
                emitted += 1
                if emitted >= limit:
                    return
        # the period ended early (few customers): keep the pending events in date order
        for day in sorted(pending):
            at = datetime(day.year, day.month, day.day, 2, tzinfo=UTC)
            for n, (c, kind, data) in enumerate(pending[day]):
                yield envelope(c, kind, data, at + timedelta(milliseconds=n))
                emitted += 1
                if emitted >= limit:
                    return


def _check_shapes(sample: dict[str, bytes]) -> None:
    """Every generated event type parses as the real contract does."""
    models = {
        f"ledger.{k}.v1": m
        for k, m in (
            ("customer_upserted", ledger_events.CustomerUpserted),
            ("invoice_issued", ledger_events.InvoiceIssued),
            ("invoice_overdue", ledger_events.InvoiceOverdue),
            ("invoice_adjusted", ledger_events.InvoiceAdjusted),
            ("invoice_settled", ledger_events.InvoiceSettled),
            ("dispute_opened", ledger_events.DisputeOpened),
            ("dispute_resolved", ledger_events.DisputeResolved),
            ("payment_received", ledger_events.PaymentReceived),
            ("payment_applied", ledger_events.PaymentApplied),
        )
    }
    for kind, raw in sample.items():
        models[kind].model_validate(Envelope.from_bytes(raw).data)


async def _produce(ctx: Context, topic: str, book: _Book, n: int) -> dict[str, int]:
    producer = AIOKafkaProducer(
        bootstrap_servers=ctx.kafka_bootstrap_servers,
        acks=1,
        linger_ms=50,
        max_batch_size=1 << 20,
        compression_type=None,
        client_id="bench-credit",
    )
    await producer.start()
    mix: dict[str, int] = {}
    sample: dict[str, bytes] = {}
    t0 = time.perf_counter()
    try:
        pending = []
        for k, (key, value) in enumerate(book.events(n), start=1):
            kind = value[value.index(b'"type": "') + 9 : value.index(b'", "subject"')].decode()
            mix[kind] = mix.get(kind, 0) + 1
            sample.setdefault(kind, value)
            pending.append(await producer.send(topic, value=value, key=key))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
            if k % 100_000 == 0:
                ctx.progress(
                    f"catch-up: produced {k:,}/{n:,} events "
                    f"({k / (time.perf_counter() - t0):,.0f}/s)"
                )
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    _check_shapes(sample)
    return mix


async def _floor_read(bootstrap: str, topic: str, n: int) -> float:
    """Seconds for a bare consumer (no group, no decoding) to read `n` records from 0."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        client_id="bench-credit-floor",
    )
    await consumer.start()
    try:
        seen = 0
        t0 = time.perf_counter()
        while seen < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            seen += sum(len(records) for records in batches.values())
        return time.perf_counter() - t0
    finally:
        await consumer.stop()


async def _committed(admin: AIOKafkaAdminClient, group: str, topic: str) -> int:
    offsets = await admin.list_consumer_group_offsets(group)
    return sum(max(0, meta.offset) for tp, meta in offsets.items() if tp.topic == topic)


@contextlib.asynccontextmanager
async def _database(ctx: Context) -> AsyncIterator[tuple[str, str]]:
    name = f"huikuan_bench_{secrets.token_hex(4)}"
    await _admin(ctx.database_url, f'CREATE DATABASE "{name}"')
    try:
        yield name, with_database(ctx.database_url, name)
    finally:
        if os.environ.get("BENCH_KEEP_DB"):
            ctx.progress(f"kept database {name} (BENCH_KEEP_DB)")
        else:
            await _admin(ctx.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def _catch_up(ctx: Context, n: int, customers: int, max_seconds: int) -> Figure:
    namespace = KafkaNamespace(f"bench-{secrets.token_hex(4)}")
    ledger_topic = namespace.topic(LEDGER_EVENTS)
    tenant = f"bench-{secrets.token_hex(3)}"
    await ensure_topics(ctx.kafka_bootstrap_servers, namespace.all_topics)
    admin = AIOKafkaAdminClient(bootstrap_servers=ctx.kafka_bootstrap_servers)
    await admin.start()
    try:
        ctx.progress(
            f"catch-up: producing {n:,} ledger events of {customers:,} customers "
            f"into {ledger_topic}"
        )
        mix = await _produce(ctx, ledger_topic, _Book(tenant, customers, 730), n)
        n = sum(mix.values())
        floors = [await _floor_read(ctx.kafka_bootstrap_servers, ledger_topic, n)]
        ctx.progress(
            f"catch-up floor: bare consumer read {n:,} in {floors[0]:.1f} s "
            f"({n / floors[0]:,.0f}/s)"
        )
        async with _database(ctx) as (name, url):
            stack = Stack(
                ctx.root / ".run" / "bench" / name,
                database_url=url,
                kafka_bootstrap_servers=ctx.kafka_bootstrap_servers,
                ports={svc: free_port() for svc in ("gateway", "ledger", "credit", "reminders")},
                topic_prefix=namespace.prefix,
            )
            group = namespace.group("credit")
            try:
                await asyncio.to_thread(stack.migrate)
                meter_conn = await asyncpg.connect(url)
                meter = CpuMeter(Running(stack, url, "", tenant), meter_conn)
                try:
                    stack.start_process(next(p for p in PROCESSES if p.name == "credit-consume"))
                    await meter.start()
                    started = time.perf_counter()
                    first: tuple[float, int] | None = None
                    last = (started, 0)
                    while last[1] < n and time.perf_counter() - started < max_seconds:
                        await asyncio.sleep(1.0)
                        done = await _committed(admin, group, ledger_topic)
                        now = time.perf_counter()
                        if done and first is None:
                            first = (now, done)
                        if done != last[1]:
                            if done * 10 // n > last[1] * 10 // n:
                                ctx.progress(f"catch-up: credit committed {done:,}/{n:,}")
                            last = (now, done)
                        if stack.procs["credit-consume"].poll() is not None:
                            raise RuntimeError(
                                f"credit-consume died; {stack.log_tail('credit-consume')}"
                            )
                    await meter.stop()
                    scored = await meter_conn.fetchval(
                        "SELECT count(*) FROM credit.credit_state WHERE tenant = $1", tenant
                    )
                finally:
                    await meter_conn.close()
            finally:
                await asyncio.to_thread(stack.stop)
        floors.append(await _floor_read(ctx.kafka_bootstrap_servers, ledger_topic, n))
        ctx.progress(f"catch-up floor again: {n / floors[1]:,.0f}/s")
    finally:
        with contextlib.suppress(Exception):
            await delete_namespace(ctx.kafka_bootstrap_servers, namespace)
        await admin.close()
    floor_rate = n / (sum(floors) / len(floors))
    if first is None or last[1] <= first[1]:
        rate, measured = 0.0, 0
    else:
        measured = last[1] - first[1]
        rate = measured / (last[0] - first[0])
    note = (
        ""
        if last[1] >= n
        else (
            f"stopped after {max_seconds} s with {last[1]:,} of {n:,} events committed; "
            f"the rate is over those"
        )
    )
    ctx.progress(f"catch-up: {rate:,.0f} events/s vs floor {floor_rate:,.0f}/s")
    return Figure(
        NAME,
        f"consumer catch-up ({n:,} events, {customers:,} customers)",
        rate,
        "events/s",
        floor_rate,
        goal=Goal("ratio_at_least", 0.25),
        note=note,
        floor_note="bare aiokafka consumer (no group, no decoding) reading the same topic "
        "from offset 0; mean of a read before and one after the system",
        detail={
            "events": n,
            "committed": last[1],
            "measured_events": measured,
            "mix": mix,
            "floor_seconds": [round(f, 2) for f in floors],
            "customers_scored": scored,
            "cpu_ms_per_1000_events": meter.per(max(1, last[1])),
        },
    )


# --- shared set-up for the checks and the end-to-end latency ---------------------------


async def _put_customers(system: Running, ids: list[str], clients: int = 8) -> None:
    queue = list(reversed(ids))

    async def worker() -> None:
        http = api_client(system)
        try:
            while queue:
                cid = queue.pop()
                status, body = await http.json(
                    "PUT",
                    f"/v1/customers/{cid}",
                    {
                        "name": f"Customer {cid}",
                        "currency": CURRENCY,
                        "payment_terms_days": 30,
                    },
                )
                if status not in (200, 201):
                    raise RuntimeError(f"PUT customer {cid}: {status} {body}")
        finally:
            await http.close()

    await asyncio.gather(*(worker() for _ in range(clients)))


async def _issue(system: Running, items: list[dict[str, Any]]) -> None:
    http = api_client(system)
    try:
        for a in range(0, len(items), 1000):
            status, body = await http.json(
                "POST", "/v1/invoices/batch", {"items": items[a : a + 1000]}
            )
            if status != 200 or body["rejected"]:
                raise RuntimeError(f"POST /v1/invoices/batch: {status} {str(body)[:500]}")
    finally:
        await http.close()


def _payment(pid: str, cid: str, minor: int, on: date) -> bytes:
    return json.dumps(
        {
            "payment_id": pid,
            "customer_id": cid,
            "currency": CURRENCY,
            "amount": f"{minor // 100}.{minor % 100:02d}",
            "received_on": on.isoformat(),
            "method": "bank_transfer",
        }
    ).encode()


async def _wait_for(
    ctx: Context, what: str, probe: Callable[[], Any], want: int, timeout: float = 600.0
) -> None:
    deadline = time.monotonic() + timeout
    while (got := await probe()) < want:
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what}: {got} of {want} after {timeout:.0f} s")
        await asyncio.sleep(0.5)
    ctx.progress(f"{what}: {got}/{want}")


# --- 2. credit checks ------------------------------------------------------------------


async def _setup_checks(ctx: Context, system: Running, customers: int) -> list[str]:
    """Customers with a few invoices, some paid late, so that credit has a profile of each."""
    ids = [f"K-{c:05d}" for c in range(customers)]
    ctx.progress(f"checks: {customers} customers with 4 invoices each, 3 paid")
    await _put_customers(system, ids)
    items = []
    for c, cid in enumerate(ids):
        for k in range(4):
            issued = AS_OF - timedelta(days=200 - 45 * k)
            items.append(
                {
                    "invoice_id": f"KI-{c:05d}-{k}",
                    "customer_id": cid,
                    "number": f"KN-{c:05d}-{k}",
                    "currency": CURRENCY,
                    "amount": "1000.00",
                    "issue_date": issued.isoformat(),
                }
            )
    await _issue(system, items)
    http = api_client(system)
    try:
        for c, cid in enumerate(ids):
            for k in range(3):
                on = AS_OF - timedelta(days=200 - 45 * k - 30 - (c % 5) * 7)
                body = _payment(f"KP-{c:05d}-{k}", cid, 100_000, on)
                status, raw = await http.request("POST", "/v1/payments", body)
                if status != 201:
                    raise RuntimeError(f"POST /v1/payments: {status} {raw[:300]!r}")
    finally:
        await http.close()
    conn = await asyncpg.connect(system.database_url)
    try:
        await _wait_for(
            ctx,
            "checks: payments seen by credit",
            lambda: conn.fetchval(
                "SELECT count(*) FROM credit.credit_fact WHERE tenant = $1 AND kind = 'applied'",
                system.tenant,
            ),
            customers * 3,
        )
    finally:
        await conn.close()
    return ids


def _check_body(cid: str, k: int) -> bytes:
    return json.dumps(
        {
            "customer_id": cid,
            "order_id": f"O-{cid}-{k % 4}",
            "currency": CURRENCY,
            "amount": "50.00",
            "as_of": AS_OF.isoformat(),
        }
    ).encode()


async def _checks(
    ctx: Context, system: Running, ids: list[str], n: int, clients: int, rounds: int
) -> list[Figure]:
    token = os.environ.get("HUIKUAN_INTERNAL_TOKEN", DEV_INTERNAL_TOKEN)
    direct_headers = {"X-Internal-Token": token, "X-Tenant-Id": system.tenant}
    conns: dict[str, list[Http]] = {
        "gateway": [api_client(system) for _ in range(clients)],
        "direct": [
            Http("127.0.0.1", system.stack.ports["credit"], direct_headers) for _ in range(clients)
        ],
    }
    paths = {"gateway": "/v1/credit-checks", "direct": "/credit-checks"}
    pool = await asyncpg.create_pool(
        system.database_url, min_size=1, max_size=10, server_settings={"search_path": "credit"}
    )
    meter_conn = await asyncpg.connect(system.database_url)
    sides = ("floor", "gateway", "direct")
    latencies: dict[str, list[float]] = {s: [] for s in sides}
    seconds = dict.fromkeys(sides, 0.0)
    meters = {s: CpuMeter(system, meter_conn) for s in sides}
    decisions: dict[str, int] = {}

    async def floor_one(k: int, cid: str) -> None:
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))",
                system.tenant,
                cid,
            )
            await conn.fetchrow(
                "SELECT * FROM credit_state WHERE tenant = $1 AND customer_id = $2",
                system.tenant,
                cid,
            )
            await conn.fetch(
                "SELECT * FROM credit_hold WHERE tenant = $1 AND customer_id = $2",
                system.tenant,
                cid,
            )
            await conn.fetch(
                "SELECT * FROM credit_limit WHERE tenant = $1 AND customer_id = $2",
                system.tenant,
                cid,
            )
            order = f"F-{cid}-{k % 4}"  # checked again, as the service's orders are
            await conn.execute(
                "DELETE FROM credit_approval WHERE tenant = $1 AND order_id = $2",
                system.tenant,
                order,
            )
            await conn.execute(
                """INSERT INTO credit_approval (tenant, check_id, customer_id, order_id, currency,
                                                amount_minor, approved_on, expires_on, created_at)
                   VALUES ($1, $2, $3, $4, $5, 5000, $6, $6, now())""",
                system.tenant,
                uuid7(),
                cid,
                order,
                CURRENCY,
                AS_OF,
            )

    def http_one(side: str) -> Callable[[int, str], Any]:
        async def one(k: int, cid: str) -> None:
            http = conns[side][k % clients]
            try:
                status, raw = await http.request("POST", paths[side], _check_body(cid, k))
            except HttpError:  # an idle keep-alive connection the server closed: reconnect
                status, raw = await http.request("POST", paths[side], _check_body(cid, k))
            if status != 200:
                raise RuntimeError(f"POST {paths[side]}: {status} {raw[:300]!r}")
            decision = json.loads(raw)["decision"]
            decisions[decision] = decisions.get(decision, 0) + 1

        return one

    ones = {"floor": floor_one, "gateway": http_one("gateway"), "direct": http_one("direct")}

    async def drive(side: str, a: int, b: int, record: bool) -> float:
        async def client(k: int) -> None:
            for j in range(a + k, b, clients):
                start = time.perf_counter()
                await ones[side](k, ids[j % len(ids)])
                if record:
                    latencies[side].append(time.perf_counter() - start)

        # one call per client first, not timed: it reconnects what the server closed while
        # the other sides ran (keep-alive timeout)
        await asyncio.gather(*(ones[side](k, ids[k % len(ids)]) for k in range(clients)))
        t0 = time.perf_counter()
        await asyncio.gather(*(client(k) for k in range(clients)))
        return time.perf_counter() - t0

    try:
        for side in sides:  # warm-up
            await drive(side, 0, 2 * clients, False)
        size = -(-n // rounds)
        for r, a in enumerate(range(0, n, size)):
            b = min(a + size, n)
            for side in sides if r % 2 == 0 else tuple(reversed(sides)):
                await meters[side].start()
                took = await drive(side, a, b, True)
                await meters[side].stop()
                seconds[side] += took
                ctx.progress(
                    f"checks {side}: {b - a:,} at {clients} clients, {(b - a) / took:,.0f}/s"
                )
    finally:
        await pool.close()
        await meter_conn.close()
        for side_conns in conns.values():
            for http in side_conns:
                await http.close()
    lat = {s: sorted(v) for s, v in latencies.items()}
    note = (
        f"asyncpg, one transaction per check: advisory lock, score, holds, limit, approval "
        f"INSERT; pool 10 (as credit's), {clients} clients"
    )
    figures = []
    for side, label in (("gateway", "via gateway"), ("direct", "direct to credit")):
        name = f"credit check {label}, {clients} clients"
        figures += [
            Figure(
                NAME,
                name,
                n / seconds[side],
                "req/s",
                n / seconds["floor"],
                floor_note=note,
                detail={
                    "checks": n,
                    "seconds": round(seconds[side], 3),
                    "decisions": decisions,
                    "cpu_ms_per_check": meters[side].per(n, 1),
                    "floor_cpu_ms_per_check": meters["floor"].per(n, 1),
                },
            ),
            Figure(
                NAME,
                f"{name} p50",
                percentile(lat[side], 50) * 1000,
                "ms",
                percentile(lat["floor"], 50) * 1000,
                better="lower",
                floor_note=note,
            ),
            Figure(
                NAME,
                f"{name} p99",
                percentile(lat[side], 99) * 1000,
                "ms",
                percentile(lat["floor"], 99) * 1000,
                better="lower",
                floor_note=note,
                goal=Goal("below", 20) if side == "gateway" else None,
            ),
        ]
    return figures


# --- 3. payment -> score_changed -------------------------------------------------------


class _Watcher:
    """Reads `topic` from its end, noting when each awaited subject's event first shows up."""

    def __init__(self, bootstrap: str, topic: str, match: Callable[[bytes], str | None]) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False
        )
        self.topic = topic
        self.match = match
        self.seen: dict[str, float] = {}
        self._grown = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.consumer.start()
        partitions = await self.consumer._client.fetch_all_metadata()
        tps = [
            TopicPartition(self.topic, p) for p in partitions.partitions_for_topic(self.topic) or ()
        ]
        self.consumer.assign(tps)
        await self.consumer.seek_to_end(*tps)
        for tp in tps:  # resolve the end offsets now, before anything is sent
            await self.consumer.position(tp)
        self._task = asyncio.create_task(self._loop())

    async def _loop(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=200)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    subject = self.match(record.value)
                    if subject is not None and subject not in self.seen:
                        self.seen[subject] = now
                        self._grown.set()

    async def wait_for(self, count: int, timeout: float) -> None:
        """Until `count` subjects were seen, or `timeout` seconds without a new one."""
        while len(self.seen) < count:
            self._grown.clear()
            try:
                await asyncio.wait_for(self._grown.wait(), timeout)
            except TimeoutError:
                return

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.consumer.stop()


async def _paced(rate: float, count: int, one: Callable[[int], Any], clients: int) -> None:
    """Start call k at t0 + k / rate (an open loop), with at most `clients` in flight."""
    t0 = time.perf_counter()
    slots = asyncio.Semaphore(clients)
    tasks = []

    async def run(k: int) -> None:
        async with slots:
            await one(k)

    for k in range(count):
        delay = t0 + k / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(run(k)))
    await asyncio.gather(*tasks)


async def _round_trip_floor(ctx: Context, rate: float, count: int) -> list[float]:
    topic = f"bench.credit.rt-{secrets.token_hex(4)}"
    await ensure_topics(ctx.kafka_bootstrap_servers, (topic,))
    producer = AIOKafkaProducer(
        bootstrap_servers=ctx.kafka_bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
    )
    sent: dict[str, float] = {}
    watcher = _Watcher(ctx.kafka_bootstrap_servers, topic, lambda v: v.decode())
    await producer.start()
    await watcher.start()
    try:

        async def one(k: int) -> None:
            sent[str(k)] = time.perf_counter()
            await producer.send_and_wait(topic, value=str(k).encode(), key=str(k % 97).encode())

        await _paced(rate, count, one, 32)
        await watcher.wait_for(count, 30)
    finally:
        await watcher.stop()
        await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=ctx.kafka_bootstrap_servers)
        await admin.start()
        with contextlib.suppress(Exception):
            await admin.delete_topics([topic])
        await admin.close()
    return sorted(watcher.seen[k] - sent[k] for k in watcher.seen if k in sent)


async def _e2e(ctx: Context, system: Running, rate: int, seconds: int) -> list[Figure]:
    count = rate * seconds
    ids = [f"E-{c:05d}" for c in range(count)]
    ctx.progress(f"e2e: {count} customers with one open invoice each")
    await _put_customers(system, ids)
    await _issue(
        system,
        [
            {
                "invoice_id": f"EI-{c:05d}",
                "customer_id": cid,
                "number": f"EN-{c:05d}",
                "currency": CURRENCY,
                "amount": "800.00",
                "issue_date": (AS_OF - timedelta(days=10)).isoformat(),
            }
            for c, cid in enumerate(ids)
        ],
    )
    conn = await asyncpg.connect(system.database_url)
    try:
        await _wait_for(
            ctx,
            "e2e: invoices seen by credit",
            lambda: conn.fetchval(
                """SELECT count(*) FROM credit.credit_fact
               WHERE tenant = $1 AND kind = 'invoice' AND customer_id LIKE 'E-%'""",
                system.tenant,
            ),
            count,
        )
        # let the relays publish what the set-up produced before the clock starts
        await _wait_for(
            ctx,
            "e2e: credit outbox drained",
            lambda: conn.fetchval(
                "SELECT count(*) = 0 FROM credit.outbox_event WHERE published_at IS NULL"
            ),
            1,
        )
    finally:
        await conn.close()

    tenant_tag = f'"tenant":"{system.tenant}"'.encode()

    def match(value: bytes) -> str | None:
        if b"score_changed" not in value or tenant_tag not in value.replace(b": ", b":"):
            return None
        event = json.loads(value)
        if event["data"].get("old_score") is None:
            return None
        return str(event["subject"])

    watcher = _Watcher(ctx.kafka_bootstrap_servers, CREDIT_EVENTS, match)
    await watcher.start()
    returned: dict[str, float] = {}
    connections = [api_client(system) for _ in range(32)]
    idle: asyncio.Queue[Http] = asyncio.Queue()
    for http in connections:
        idle.put_nowait(http)
    meter_conn = await asyncpg.connect(system.database_url)
    meter = CpuMeter(system, meter_conn)
    try:

        async def one(k: int) -> None:
            body = _payment(f"EP-{k:05d}", ids[k], 80_000, AS_OF - timedelta(days=2))
            http = await idle.get()  # one request at a time on a connection
            try:
                status, raw = await http.request("POST", "/v1/payments", body)
            finally:
                idle.put_nowait(http)
            if status != 201:
                raise RuntimeError(f"POST /v1/payments: {status} {raw[:300]!r}")
            returned[ids[k]] = time.perf_counter()

        ctx.progress(f"e2e: {count} payments at {rate}/s")
        await meter.start()
        t0 = time.perf_counter()
        await _paced(rate, count, one, len(connections))
        achieved = count / (time.perf_counter() - t0)
        await watcher.wait_for(count, 60)
        await meter.stop()
    finally:
        await watcher.stop()
        await meter_conn.close()
        for http in connections:
            await http.close()
    lat = sorted(watcher.seen[c] - returned[c] for c in watcher.seen if c in returned)
    missing = count - len(lat)
    ctx.progress(f"e2e: {len(lat)}/{count} score_changed seen; floor round trips at {rate}/s")
    floor = await _round_trip_floor(ctx, rate, min(count, rate * 10))
    notes = [f"{missing} of {count} score_changed not seen within 60 s"] if missing else []
    if achieved < 0.9 * rate:
        notes.append(f"the system took payments at {achieved:.0f}/s, not {rate}/s")
    note = "; ".join(notes)
    floor_note = (
        f"bare aiokafka produce (idempotent, acks=all) -> consume round trip at "
        f"{rate}/s: one hop; the system makes two, each with a commit"
    )
    name = f"payment -> score_changed at {rate}/s"
    detail = {
        "payments": count,
        "seen": len(lat),
        "achieved_rate": round(achieved, 1),
        "cpu_ms_per_payment": meter.per(count, 1),
    }
    return [
        Figure(
            NAME,
            f"{name} p50",
            percentile(lat, 50) * 1000,
            "ms",
            percentile(floor, 50) * 1000,
            better="lower",
            floor_note=floor_note,
            note=note,
            detail=detail,
        ),
        Figure(
            NAME,
            f"{name} p99",
            percentile(lat, 99) * 1000,
            "ms",
            percentile(floor, 99) * 1000,
            better="lower",
            floor_note=floor_note,
            goal=Goal("below", 250),
        ),
    ]


# --- the benchmark ---------------------------------------------------------------------


async def run(ctx: Context) -> list[Figure]:
    parts = set(os.environ.get("BENCH_CREDIT_PARTS", "catchup,checks,e2e").split(","))
    ctx.settings["BENCH_CREDIT_PARTS"] = sorted(parts)
    n_events = ctx.env_int("BENCH_CREDIT_EVENTS", 1_000_000)
    n_customers = ctx.env_int("BENCH_CREDIT_CUSTOMERS", max(10, n_events // 200))
    max_seconds = ctx.env_int("BENCH_CREDIT_CATCHUP_SECONDS", 900)
    n_checks = ctx.env_int("BENCH_CREDIT_CHECKS", 3200)
    check_customers = ctx.env_int("BENCH_CREDIT_CHECK_CUSTOMERS", 320)
    rate = ctx.env_int("BENCH_CREDIT_PAYMENTS_PER_S", 100)
    e2e_seconds = ctx.env_int("BENCH_CREDIT_E2E_SECONDS", 20)
    rounds = ctx.env_int("BENCH_ROUNDS", 4)
    clients = 32
    figures: list[Figure] = []
    if "catchup" in parts:
        figures.append(await _catch_up(ctx, n_events, n_customers, max_seconds))
    if parts & {"checks", "e2e"}:
        tenant = f"bench-{secrets.token_hex(3)}"
        # the consumers start at the end of the shared topics, not at what other runs left
        async with running_system(ctx, pipeline=True, tenant=tenant, from_now=True) as system:
            if "checks" in parts:
                ids = await _setup_checks(ctx, system, check_customers)
                figures += await _checks(ctx, system, ids, n_checks, clients, rounds)
            if "e2e" in parts:
                figures += await _e2e(ctx, system, rate, e2e_seconds)
    return figures
