"""The ledger benchmark (issue 3 "Speed"): batch ingest, single payments, the aging report.

One fresh database, the HTTP processes running on it (see `support.running_system`), one
tenant. In order:

1. customers: `BENCH_CUSTOMERS` (1,000) invoice customers in 20 owners and 8 regions with
   30/45/60/90-day terms, plus `BENCH_PAYMENT_CUSTOMERS` (320) that hold no invoices,
   each upserted through `PUT /v1/customers/{id}`.
2. batch ingest: `BENCH_INVOICES` (100,000) invoices through `POST /v1/invoices/batch`,
   1,000 per request, `BENCH_BATCH_CLIENTS` (4) requests in flight. Invoices are laid out
   by customer, so concurrent batches lock disjoint customers (batches of one customer
   serialise by design). Goal: ≥ 0.35 of the floor's invoices/s.

   Floor: asyncpg `copy_records_to_table` of the same invoices — the invoice rows, their
   journal entries (1 entry + 2 lines each), one outbox row per invoice carrying the same
   CloudEvents envelope the service writes, and one upsert of the per-customer event
   sequences — into a scratch schema `bench_floor` built from the ledger's own migrations,
   one transaction per slice. Rows, fingerprints and envelopes are built before the clock
   starts; the journal entry ids are drawn from the sequence inside the timed part.
3. aging: `GET /v1/reports/aging?as_of=2026-12-31&group_by=customer|owner|region` over the
   100,000 open invoices, median of `BENCH_AGING_RUNS` (5) after one warm-up, all pages.
   Goal: < 500 ms. Floor: `SELECT count(*), sum(residual_minor)` over the same open
   invoices straight from asyncpg (the least any aging answer must read). A 404 is
   reported as "n/a (endpoint missing)", other errors as "n/a (answered ...)". Then the
   same by customer as of 2026-09-30 (no goal): a historical report, which also reads
   every posting dated after that day. The runs follow the bulk load at once, often
   before autovacuum has analysed the tables, as after a real import. CPU ms per report for
   each process and the answer's size go into the JSON `detail`.
4. payments: `BENCH_PAYMENTS` (3,200) single `POST /v1/payments` from
   `BENCH_PAYMENT_CLIENTS` (32) concurrent clients, each waiting for its answer before the
   next; requests/s and client-side p50/p99.

   Floor: the same rows written the cheapest way at the same concurrency — per request one
   asyncpg transaction on a pool as large as the ledger's (10) doing the payment INSERT,
   the journal entry with its 2 lines (one statement), the event-sequence upsert and the
   outbox INSERT; no HTTP, no validation, no reads. Chosen over an HTTP hello round trip
   because the floor should be the work a payment cannot avoid (durable rows in one
   commit), not the framework's cost, which is part of what is measured. The payers hold
   no open invoices, so each payment becomes unapplied cash: exactly these rows
   (allocating to invoices would add rows the floor would have to mirror).

Floor and system take turns on `BENCH_ROUNDS` (4) slices of the ingest and of the payments,
alternating which goes first, so background noise falls on both alike; CPU milliseconds per
unit of work, per process, go into each figure's JSON `detail`.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from bench.run import Context, Figure, Goal
from bench.support import (
    CpuMeter,
    Http,
    Running,
    api_client,
    median,
    percentile,
    running_system,
)
from huikuan_events import Envelope, type_name
from huikuan_events.ledger import SOURCE, InvoiceIssued, PaymentReceived
from huikuan_events.topics import LEDGER_EVENTS
from huikuan_runtime.logs import traceparent_header
from huikuan_runtime.migrations import migrate, package_migrations, plan
from ledger.domain.fingerprint import fingerprint

NAME = "ledger"
TENANT = "bench"
CURRENCY = "CNY"
AS_OF = date(2026, 12, 31)
HISTORY_AS_OF = date(2026, 9, 30)  # a historical aging: about a third of the book comes later
BATCH = 1000
FLOOR_SCHEMA = "bench_floor"
OWNERS = [f"owner-{i:02d}" for i in range(20)]
REGIONS = ["east", "north", "south", "west", "central", "northeast", "northwest", "southwest"]
TERMS = [30, 45, 60, 90]


@dataclass(frozen=True, slots=True)
class Customer:
    customer_id: str
    payment_terms_days: int
    owner: str
    region: str

    def body(self) -> dict[str, Any]:
        return {
            "name": f"Customer {self.customer_id}",
            "currency": CURRENCY,
            "payment_terms_days": self.payment_terms_days,
            "owner": self.owner,
            "region": self.region,
        }


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    customer_id: str
    number: str
    issue_date: date
    due_date: date  # what the service derives from the customer's terms
    amount_minor: int

    def item(self) -> dict[str, Any]:
        return {
            "invoice_id": self.invoice_id,
            "customer_id": self.customer_id,
            "number": self.number,
            "issue_date": self.issue_date.isoformat(),
            "currency": CURRENCY,
            "amount": _decimal(self.amount_minor),
        }


def _decimal(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


@dataclass(frozen=True, slots=True)
class Data:
    customers: list[Customer]
    payers: list[Customer]
    invoices: list[Invoice]


def generate(n_invoices: int, n_customers: int, n_payers: int, seed: int = 7) -> Data:
    rnd = random.Random(seed)
    customers = [
        Customer(f"C-{i:05d}", rnd.choice(TERMS), rnd.choice(OWNERS), rnd.choice(REGIONS))
        for i in range(n_customers)
    ]
    payers = [
        Customer(f"P-{i:05d}", 30, rnd.choice(OWNERS), rnd.choice(REGIONS)) for i in range(n_payers)
    ]
    invoices = []
    for k in range(n_invoices):
        customer = customers[k * n_customers // n_invoices]  # contiguous blocks per customer
        issued = AS_OF - timedelta(days=rnd.randrange(0, 240))
        invoices.append(
            Invoice(
                f"INV-{k:07d}",
                customer.customer_id,
                f"2026-{k:07d}",
                issued,
                issued + timedelta(days=customer.payment_terms_days),
                rnd.randrange(10_000, 5_000_000),
            )
        )
    return Data(customers, payers, invoices)


async def _upsert_customers(ctx: Context, system: Running, customers: list[Customer]) -> None:
    queue = list(reversed(customers))
    done = 0

    async def worker() -> None:
        nonlocal done
        http = api_client(system)
        try:
            while queue:
                c = queue.pop()
                status, body = await http.json("PUT", f"/v1/customers/{c.customer_id}", c.body())
                if status not in (200, 201):
                    raise RuntimeError(f"PUT customer {c.customer_id}: {status} {body}")
                done += 1
                if done % 500 == 0:
                    ctx.progress(f"customers: {done:,}/{len(customers):,}")
        finally:
            await http.close()

    await asyncio.gather(*(worker() for _ in range(8)))


# --- batch ingest ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FloorRows:
    """The rows the service writes for a run of invoices, built before any clock starts."""

    invoices: list[tuple[Any, ...]]
    entries: list[tuple[Any, ...]]  # (reference, effective_date): ids come from the sequence
    lines: list[tuple[Any, ...]]  # two per entry, without entry_id
    outbox: list[tuple[Any, ...]]
    subjects: list[str]  # the customer of each invoice (for the event sequences)

    def part(self, a: int, b: int) -> FloorRows:
        return FloorRows(
            self.invoices[a:b],
            self.entries[a:b],
            self.lines[2 * a : 2 * b],
            self.outbox[a:b],
            self.subjects[a:b],
        )


def _invoice_floor_rows(ctx: Context, invoices: list[Invoice], at: datetime) -> FloorRows:
    rows = FloorRows([], [], [], [], [])
    sequence: dict[str, int] = {}
    headers = json.dumps({"traceparent": traceparent_header()})
    for n, i in enumerate(invoices, start=1):
        print_ = fingerprint(
            customer_id=i.customer_id,
            number=i.number,
            issue_date=i.issue_date,
            due_date=i.due_date,
            currency=CURRENCY,
            amount_minor=i.amount_minor,
        )
        rows.invoices.append(
            (
                TENANT,
                i.invoice_id,
                i.customer_id,
                i.number,
                i.issue_date,
                i.due_date,
                CURRENCY,
                i.amount_minor,
                i.amount_minor,
                print_,
                at,
            )
        )
        rows.entries.append((i.invoice_id, i.issue_date))
        rows.lines.append(
            (
                1,
                TENANT,
                "receivable",
                CURRENCY,
                i.amount_minor,
                i.issue_date,
                i.customer_id,
                i.invoice_id,
                None,
            )
        )
        rows.lines.append(
            (2, TENANT, "revenue", CURRENCY, -i.amount_minor, i.issue_date, None, None, None)
        )
        seq = sequence[i.customer_id] = sequence.get(i.customer_id, 0) + 1
        payload = InvoiceIssued(
            invoice_id=i.invoice_id,
            customer_id=i.customer_id,
            number=i.number,
            issue_date=i.issue_date,
            due_date=i.due_date,
            currency=CURRENCY,
            amount_minor=i.amount_minor,
        )
        envelope = Envelope(
            source=SOURCE,
            type=type_name(payload),
            subject=i.customer_id,
            time=at,
            tenant=TENANT,
            subjectseq=seq,
            data=payload.model_dump(mode="json"),
        )
        rows.outbox.append(
            (envelope.id, LEDGER_EVENTS, envelope.partition_key, envelope.to_bytes(), headers)
        )
        rows.subjects.append(i.customer_id)
        if n % 20_000 == 0 or n == len(invoices):
            ctx.progress(f"floor rows: {n:,}/{len(invoices):,} invoices")
    return rows


INVOICE_COLUMNS = [
    "tenant",
    "invoice_id",
    "customer_id",
    "number",
    "issue_date",
    "due_date",
    "currency",
    "amount_minor",
    "residual_minor",
    "fingerprint",
    "created_at",
]
LINE_COLUMNS = [
    "entry_id",
    "line_no",
    "tenant",
    "account",
    "currency",
    "amount_minor",
    "effective_date",
    "customer_id",
    "invoice_id",
    "payment_id",
]


async def _floor_schema(conn: asyncpg.Connection, ctx: Context, data: Data) -> None:
    await migrate(conn, FLOOR_SCHEMA, plan(package_migrations("ledger")))
    now = datetime.now(UTC)
    await conn.copy_records_to_table(
        "customer",
        schema_name=FLOOR_SCHEMA,
        columns=[
            "tenant",
            "customer_id",
            "name",
            "currency",
            "payment_terms_days",
            "owner",
            "region",
            "created_at",
            "updated_at",
        ],
        records=[
            (
                TENANT,
                c.customer_id,
                f"Customer {c.customer_id}",
                CURRENCY,
                c.payment_terms_days,
                c.owner,
                c.region,
                now,
                now,
            )
            for c in data.customers + data.payers
        ],
    )


async def _batch_floor(conn: asyncpg.Connection, rows: FloorRows, at: datetime) -> float:
    """Seconds to write the rows in one transaction: entry ids drawn from the sequence, COPY
    of invoices, entries, lines and outbox, one upsert of the per-customer sequences."""
    counts: dict[str, int] = {}
    for subject in rows.subjects:
        counts[subject] = counts.get(subject, 0) + 1
    t0 = time.perf_counter()
    async with conn.transaction():
        ids = [
            r[0]
            for r in await conn.fetch(
                "SELECT nextval(pg_get_serial_sequence("
                f"'{FLOOR_SCHEMA}.journal_entry', 'entry_id')) FROM generate_series(1, $1)",
                len(rows.entries),
            )
        ]
        entries = [
            (e, TENANT, "invoice", ref, on, at)
            for e, (ref, on) in zip(ids, rows.entries, strict=True)
        ]
        lines = [(ids[n // 2], *line) for n, line in enumerate(rows.lines)]
        copy = conn.copy_records_to_table
        await copy(
            "invoice", schema_name=FLOOR_SCHEMA, columns=INVOICE_COLUMNS, records=rows.invoices
        )
        await copy(
            "journal_entry",
            schema_name=FLOOR_SCHEMA,
            records=entries,
            columns=["entry_id", "tenant", "kind", "reference", "effective_date", "posted_at"],
        )
        await copy("journal_line", schema_name=FLOOR_SCHEMA, columns=LINE_COLUMNS, records=lines)
        await conn.execute(
            f"""INSERT INTO {FLOOR_SCHEMA}.event_sequence (tenant, subject, last_value)
                SELECT $1, s, n FROM unnest($2::text[], $3::bigint[]) AS x(s, n)
                ON CONFLICT (tenant, subject)
                DO UPDATE SET last_value = event_sequence.last_value + EXCLUDED.last_value""",
            TENANT,
            list(counts),
            list(counts.values()),
        )
        await copy(
            "outbox_event",
            schema_name=FLOOR_SCHEMA,
            records=rows.outbox,
            columns=["event_id", "topic", "key", "payload", "headers"],
        )
    return time.perf_counter() - t0


@dataclass(slots=True)
class Ingest:
    """Batches through the gateway, over several rounds; keeps the running totals."""

    ctx: Context
    system: Running
    clients: int
    total: int
    done: int = 0
    seconds: float = 0.0

    async def round(self, invoices: list[Invoice], latencies: list[float]) -> float:
        bodies = [
            json.dumps({"items": [i.item() for i in invoices[s : s + BATCH]]}).encode()
            for s in range(0, len(invoices), BATCH)
        ]
        queue = list(reversed(range(len(bodies))))
        t0 = time.perf_counter()

        async def worker() -> None:
            http = api_client(self.system)
            try:
                while queue:
                    n = queue.pop()
                    start = time.perf_counter()
                    status, raw = await http.request("POST", "/v1/invoices/batch", bodies[n])
                    latencies.append(time.perf_counter() - start)
                    self._check(status, raw)
                    before = self.done
                    self.done += BATCH if n < len(bodies) - 1 else len(invoices) - n * BATCH
                    if self.done // 10_000 > before // 10_000 or self.done == self.total:
                        rate = self.done / (self.seconds + time.perf_counter() - t0)
                        self.ctx.progress(
                            f"batch ingest: {self.done:,}/{self.total:,} ({rate:,.0f}/s)"
                        )
            finally:
                await http.close()

        await asyncio.gather(*(worker() for _ in range(self.clients)))
        seconds = time.perf_counter() - t0
        self.seconds += seconds
        return seconds

    @staticmethod
    def _check(status: int, raw: bytes) -> None:
        answer = json.loads(raw)
        if status == 200 and answer["created"] == len(answer["items"]) and not answer["rejected"]:
            return
        if status == 200:
            answer = next((i for i in answer["items"] if i["outcome"] != "created"), answer)
        raise RuntimeError(f"POST /v1/invoices/batch: {status} {str(answer)[:500]}")


async def _batch_ingest(
    ctx: Context, system: Running, data: Data, clients: int, rounds: int
) -> Figure:
    """The floor and the gateway take turns on slices of the invoices (floor first in even
    rounds, gateway first in odd ones), so background noise falls on both alike."""
    invoices = data.invoices
    conn = await asyncpg.connect(system.database_url)
    meter_conn = await asyncpg.connect(system.database_url)
    try:
        await _floor_schema(conn, ctx, data)
        at = datetime.now(UTC)
        rows = _invoice_floor_rows(ctx, invoices, at)
        ingest = Ingest(ctx, system, clients, len(invoices))
        api_cpu, floor_cpu = CpuMeter(system, meter_conn), CpuMeter(system, meter_conn)
        size = -(-len(invoices) // rounds // BATCH) * BATCH  # whole batches per round
        floor_s = 0.0
        latencies: list[float] = []
        for r, a in enumerate(range(0, len(invoices), size)):
            b = min(a + size, len(invoices))
            for side in ("floor", "api") if r % 2 == 0 else ("api", "floor"):
                if side == "floor":
                    await floor_cpu.start()
                    seconds = await _batch_floor(conn, rows.part(a, b), at)
                    await floor_cpu.stop()
                    floor_s += seconds
                    ctx.progress(
                        f"floor: COPY of invoices {a:,}..{b:,} in {seconds:.2f} s "
                        f"({(b - a) / seconds:,.0f}/s)"
                    )
                else:
                    await api_cpu.start()
                    await ingest.round(invoices[a:b], latencies)
                    await api_cpu.stop()
    finally:
        await conn.close()
        await meter_conn.close()
    n = len(invoices)
    latencies.sort()
    return Figure(
        NAME,
        f"batch ingest ({n:,} x {BATCH}/req, {clients} clients)",
        n / ingest.seconds,
        "invoices/s",
        n / floor_s,
        goal=Goal("ratio_at_least", 0.35),
        floor_note="asyncpg COPY of the same invoice, journal and outbox rows (+ sequences)",
        detail={
            "seconds": round(ingest.seconds, 3),
            "floor_seconds": round(floor_s, 3),
            "rounds": rounds,
            "request_p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "request_p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "cpu_ms_per_1000_invoices": api_cpu.per(n),
            "floor_cpu_ms_per_1000_invoices": floor_cpu.per(n),
        },
    )


# --- aging -----------------------------------------------------------------------------


async def _aging_once(
    http: Http, group_by: str, as_of: date = AS_OF
) -> tuple[int, float, Any, int]:
    """(status, seconds for every page, the first page, bytes of every page)."""
    path = f"/v1/reports/aging?as_of={as_of.isoformat()}&group_by={group_by}"
    t0 = time.perf_counter()
    status, raw = await http.request("GET", path)
    size = len(raw)
    first = json.loads(raw) if raw else None
    page = first
    while status == 200 and isinstance(page, dict) and page.get("next_cursor"):
        status, raw = await http.request("GET", f"{path}&cursor={page['next_cursor']}")
        size += len(raw)
        page = json.loads(raw) if raw else None
    return status, time.perf_counter() - t0, first, size


def _invoices_in(report: Any) -> int | None:
    """How many open invoices an aging answer covers (None if its shape is unknown)."""
    try:
        return sum(int(c["total"]["invoices"]) for c in report["currencies"])
    except (KeyError, TypeError, ValueError):
        return None


async def _aging(ctx: Context, system: Running, runs: int, n_open: int) -> list[Figure]:
    conn = await asyncpg.connect(system.database_url)
    meter_conn = await asyncpg.connect(system.database_url)  # a meter leaves its own out
    sql = """SELECT count(*), sum(residual_minor) FROM ledger.invoice
             WHERE tenant = $1 AND residual_minor > 0 AND voided_on IS NULL
               AND written_off_on IS NULL"""
    http = api_client(system)
    try:
        count, _ = await conn.fetchrow(sql, TENANT)
        if count != n_open:
            raise RuntimeError(f"expected {n_open} open invoices, the ledger has {count}")
        floor_times = []
        floor_cpu = CpuMeter(system, meter_conn)
        for run in range(runs + 1):
            if run == 1:
                await floor_cpu.start()
            t0 = time.perf_counter()
            await conn.fetchrow(sql, TENANT)
            floor_times.append(time.perf_counter() - t0)
        await floor_cpu.stop()
        floor_ms = median(floor_times[1:]) * 1000
        floor_note = "asyncpg SELECT count(*), sum(residual_minor) over the same open invoices"
        goal = Goal("below", 500)
        figures = []
        # as of the last day of the book (the goal), then as of a day months back, when
        # the report also reads every posting made after that day (no goal)
        cases: list[tuple[str, date, Goal | None]] = [
            (g, AS_OF, goal) for g in ("customer", "owner", "region")
        ]
        cases.append(("customer", HISTORY_AS_OF, None))
        for group_by, as_of, case_goal in cases:
            name = f"aging by {group_by} ({n_open:,} open)"
            if as_of != AS_OF:
                name = f"aging by {group_by} as of {as_of.isoformat()}"
            status, seconds, answer, size = await _aging_once(http, group_by, as_of)  # warm-up
            if status == 404:
                ctx.progress("aging: GET /v1/reports/aging answers 404 (endpoint missing)")
                return [
                    Figure(
                        NAME,
                        f"aging ({n_open:,} open)",
                        None,
                        "ms",
                        floor_ms,
                        better="lower",
                        goal=goal,
                        note="n/a (endpoint missing)",
                        floor_note=floor_note,
                    )
                ]
            times, covered = [], _invoices_in(answer)
            meter = CpuMeter(system, meter_conn)
            await meter.start()
            for _ in range(runs if status == 200 else 0):
                status, seconds, answer, size = await _aging_once(http, group_by, as_of)
                if status != 200:
                    break
                times.append(seconds)
            await meter.stop()
            if status != 200:
                title = answer.get("title", "") if isinstance(answer, dict) else ""
                ctx.progress(f"{name}: {status} {title} after {seconds:.1f} s")
                figures.append(
                    Figure(
                        NAME,
                        name,
                        None,
                        "ms",
                        floor_ms,
                        better="lower",
                        goal=case_goal,
                        note=f"n/a (answered {status} {title} after {seconds * 1000:,.0f} ms)",
                        floor_note=floor_note,
                    )
                )
                continue
            ms = median(times) * 1000
            ctx.progress(f"{name}: median {ms:,.0f} ms (floor {floor_ms:.1f} ms), {size:,} bytes")
            note = ""
            if as_of == AS_OF and covered not in (None, n_open):
                note = f"the report counts {covered} invoices"
            figures.append(
                Figure(
                    NAME,
                    name,
                    ms,
                    "ms",
                    floor_ms,
                    better="lower",
                    goal=case_goal,
                    note=note,
                    floor_note=floor_note,
                    detail={
                        "runs_ms": [round(t * 1000, 2) for t in times],
                        "invoices_in_report": covered,
                        "answer_bytes": size,
                        "cpu_ms_per_report": meter.per(len(times), 1),
                        "floor_cpu_ms_per_query": floor_cpu.per(runs, 1),
                    },
                )
            )
    finally:
        await http.close()
        await conn.close()
        await meter_conn.close()
    return figures


# --- payments --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PaymentCase:
    payment_id: str
    customer_id: str
    amount_minor: int
    received_on: date

    def body(self) -> bytes:
        return json.dumps(
            {
                "payment_id": self.payment_id,
                "customer_id": self.customer_id,
                "currency": CURRENCY,
                "amount": _decimal(self.amount_minor),
                "received_on": self.received_on.isoformat(),
                "method": "bank_transfer",
            }
        ).encode()


def _payment_cases(prefix: str, count: int, payers: list[Customer]) -> list[PaymentCase]:
    return [
        PaymentCase(
            f"{prefix}-{n:07d}",
            payers[n % len(payers)].customer_id,
            10_000 + n % 9_000,
            AS_OF - timedelta(days=n % 30),
        )
        for n in range(count)
    ]


Run = Callable[[list[PaymentCase], bool], Awaitable[float]]


def _driver(
    clients: int, one: Callable[[int, PaymentCase], Awaitable[None]], latencies: list[float]
) -> Run:
    """`clients` concurrent loops, client k calling `one(k, case)` for every clients-th case
    and waiting for each answer. The returned function runs some cases and answers the wall
    seconds they took, recording each call's seconds when asked to."""

    async def client(k: int, todo: list[PaymentCase], record: bool) -> None:
        for case in todo[k::clients]:
            start = time.perf_counter()
            await one(k, case)
            if record:
                latencies.append(time.perf_counter() - start)

    async def run(cases: list[PaymentCase], record: bool) -> float:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(k, cases, record) for k in range(clients)))
        return time.perf_counter() - t0

    return run


def _floor_payment(pool: asyncpg.Pool) -> Callable[[int, PaymentCase], Awaitable[None]]:
    """The rows of one payment, written the cheapest way: four statements, one commit."""
    headers = json.dumps({"traceparent": traceparent_header()})

    async def one(_: int, case: PaymentCase) -> None:
        at = datetime.now(UTC)
        print_ = fingerprint(
            customer_id=case.customer_id,
            currency=CURRENCY,
            amount=case.amount_minor,
            received_on=case.received_on,
            method="bank_transfer",
            reference=None,
            allocations=None,
        )
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO payment (tenant, payment_id, customer_id, currency, amount_minor,
                       unapplied_minor, received_on, method, fingerprint, created_at)
                   VALUES ($1, $2, $3, $4, $5, $5, $6, 'bank_transfer', $7, $8)""",
                TENANT,
                case.payment_id,
                case.customer_id,
                CURRENCY,
                case.amount_minor,
                case.received_on,
                print_,
                at,
            )
            await conn.execute(
                """WITH e AS (INSERT INTO journal_entry (tenant, kind, reference, effective_date,
                                                         posted_at)
                              VALUES ($1, 'payment', $2, $3, $4) RETURNING entry_id)
                   INSERT INTO journal_line (entry_id, line_no, tenant, account, currency,
                       amount_minor, effective_date, customer_id, payment_id)
                   SELECT e.entry_id, l.n, $1, l.a, $5, l.m, $3, l.c, l.p FROM e,
                     (VALUES (1, 'cash', $6::bigint, NULL::text, NULL::text),
                             (2, 'unapplied_cash', -$6::bigint, $7, $2)) AS l (n, a, m, c, p)""",
                TENANT,
                case.payment_id,
                case.received_on,
                at,
                CURRENCY,
                case.amount_minor,
                case.customer_id,
            )
            seq = await conn.fetchval(
                """INSERT INTO event_sequence (tenant, subject, last_value) VALUES ($1, $2, 1)
                   ON CONFLICT (tenant, subject)
                   DO UPDATE SET last_value = event_sequence.last_value + 1
                   RETURNING last_value""",
                TENANT,
                case.customer_id,
            )
            payload = PaymentReceived(
                payment_id=case.payment_id,
                customer_id=case.customer_id,
                currency=CURRENCY,
                amount_minor=case.amount_minor,
                received_on=case.received_on,
                method="bank_transfer",
            )
            envelope = Envelope(
                source=SOURCE,
                type=type_name(payload),
                subject=case.customer_id,
                time=at,
                tenant=TENANT,
                subjectseq=seq,
                data=payload.model_dump(mode="json"),
            )
            await conn.execute(
                """INSERT INTO outbox_event (event_id, topic, key, payload, headers)
                   VALUES ($1, $2, $3, $4, $5)""",
                envelope.id,
                LEDGER_EVENTS,
                envelope.partition_key,
                envelope.to_bytes(),
                headers,
            )

    return one


def _api_payment(connections: list[Http]) -> Callable[[int, PaymentCase], Awaitable[None]]:
    async def one(k: int, case: PaymentCase) -> None:
        status, raw = await connections[k].request("POST", "/v1/payments", case.body())
        if status != 201:
            raise RuntimeError(f"POST /v1/payments {case.payment_id}: {status} {raw[:500]!r}")

    return one


async def _payments(
    ctx: Context, system: Running, payers: list[Customer], n: int, clients: int, rounds: int
) -> list[Figure]:
    """Floor and gateway take turns on slices of the payments, like the batch ingest."""
    warmup = 2 * clients
    cases = {
        side: _payment_cases(prefix, n + warmup, payers)
        for side, prefix in (("floor", "FLOOR"), ("api", "PAY"))
    }
    latencies: dict[str, list[float]] = {"floor": [], "api": []}
    seconds = {"floor": 0.0, "api": 0.0}
    pool = await asyncpg.create_pool(
        system.database_url,
        min_size=1,
        max_size=10,
        server_settings={"search_path": f"{FLOOR_SCHEMA},public"},
    )
    connections = [api_client(system) for _ in range(clients)]
    meter_conn = await asyncpg.connect(system.database_url)
    meters = {"floor": CpuMeter(system, meter_conn), "api": CpuMeter(system, meter_conn)}
    try:
        runs = {
            "floor": _driver(clients, _floor_payment(pool), latencies["floor"]),
            "api": _driver(clients, _api_payment(connections), latencies["api"]),
        }
        for side in ("floor", "api"):
            await runs[side](cases[side][:warmup], False)
        size = -(-n // rounds)
        for r, a in enumerate(range(warmup, n + warmup, size)):
            b = min(a + size, n + warmup)
            for side in ("floor", "api") if r % 2 == 0 else ("api", "floor"):
                await meters[side].start()
                took = await runs[side](cases[side][a:b], True)
                await meters[side].stop()
                seconds[side] += took
                ctx.progress(
                    f"payments {side}: {b - a:,} at {clients} clients, {(b - a) / took:,.0f}/s"
                )
    finally:
        await pool.close()
        for http in connections:
            await http.close()
        await meter_conn.close()
    api_lat, floor_lat = sorted(latencies["api"]), sorted(latencies["floor"])
    note = (
        f"asyncpg, one transaction per payment: payment + journal entry/2 lines + sequence "
        f"+ outbox rows; pool 10 (as the ledger's), {clients} clients"
    )
    label = f"payments, {clients} clients"
    return [
        Figure(
            NAME,
            label,
            n / seconds["api"],
            "req/s",
            n / seconds["floor"],
            floor_note=note,
            detail={
                "payments": n,
                "seconds": round(seconds["api"], 3),
                "floor_seconds": round(seconds["floor"], 3),
                "rounds": rounds,
                "cpu_ms_per_payment": meters["api"].per(n, 1),
                "floor_cpu_ms_per_payment": meters["floor"].per(n, 1),
            },
        ),
        Figure(
            NAME,
            f"{label} p50",
            percentile(api_lat, 50) * 1000,
            "ms",
            percentile(floor_lat, 50) * 1000,
            better="lower",
            floor_note=note,
        ),
        Figure(
            NAME,
            f"{label} p99",
            percentile(api_lat, 99) * 1000,
            "ms",
            percentile(floor_lat, 99) * 1000,
            better="lower",
            floor_note=note,
        ),
    ]


# --- the benchmark ---------------------------------------------------------------------


async def run(ctx: Context) -> list[Figure]:
    n_invoices = ctx.env_int("BENCH_INVOICES", 100_000)
    n_customers = ctx.env_int("BENCH_CUSTOMERS", 1000)
    n_payers = ctx.env_int("BENCH_PAYMENT_CUSTOMERS", 320)
    batch_clients = ctx.env_int("BENCH_BATCH_CLIENTS", 4)
    n_payments = ctx.env_int("BENCH_PAYMENTS", 3200)
    pay_clients = ctx.env_int("BENCH_PAYMENT_CLIENTS", 32)
    aging_runs = ctx.env_int("BENCH_AGING_RUNS", 5)
    rounds = ctx.env_int("BENCH_ROUNDS", 4)
    pipeline = ctx.env_flag("BENCH_PIPELINE")

    ctx.progress(f"generating {n_invoices:,} invoices for {n_customers:,} customers")
    data = generate(n_invoices, n_customers, n_payers)
    async with running_system(ctx, pipeline=pipeline, tenant=TENANT) as system:
        await _upsert_customers(ctx, system, data.customers + data.payers)
        figures = [await _batch_ingest(ctx, system, data, batch_clients, rounds)]
        figures += await _aging(ctx, system, aging_runs, n_invoices)
        figures += await _payments(ctx, system, data.payers, n_payments, pay_clients, rounds)
    return figures
