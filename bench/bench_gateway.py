"""The gateway benchmark (issue 6 "Speed"): what the gateway adds to a read.

Two public reads, each beside its floor, the same requests sent straight to the owning
service(s) in the same run with the internal credential:

1. `GET /v1/customers/{id}/summary`; floor: the four calls the summary makes, issued
   concurrently and straight to the services (ledger customer, ledger balances, credit
   view, dunning state), the request done when the last of them answers.
2. `GET /v1/invoices/{id}?as_of=…` (the ledger's invoice with credit's predicted payment
   date); floor: the two calls it makes, issued concurrently and straight to the services
   (`GET /invoices/{id}?as_of=…` at the ledger, `GET /invoices/{id}/prediction?as_of=…` at
   credit, which answers 404 for an invoice no longer open), the request done when the
   later of them answers.

Each at `BENCH_GATEWAY_CLIENTS` (64) concurrent clients, each waiting for its answer before
sending the next (`BENCH_GATEWAY_REQUESTS` (6,400) timed requests per endpoint and side),
floor and gateway taking turns on `BENCH_ROUNDS` (4) slices. Then the same at one client
(`BENCH_GATEWAY_SERIAL` (400) requests), where the p50 difference is the latency the
gateway adds when nothing queues. The gateway's RSS is sampled while it is under load.

Data: `BENCH_GATEWAY_CUSTOMERS` (500) customers with 4 invoices each, issued through the
gateway; every process runs (relays and consumers too) so that credit and dunning hold a
view of each customer, and the figures are taken once the consumers have caught up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import asyncpg

from bench.run import Context, Figure, Goal
from bench.support import (
    CpuMeter,
    Http,
    HttpError,
    Running,
    api_client,
    median,
    percentile,
    running_system,
)
from gateway.api.customers import CustomerSummary
from huikuan_runtime.http import INTERNAL_TOKEN_HEADER, TENANT_HEADER
from huikuan_runtime.settings import DEV_INTERNAL_TOKEN

NAME = "gateway"
TENANT = "bench-gw"
CURRENCY = "CNY"
AS_OF = date(2026, 11, 20)
INVOICES_PER_CUSTOMER = 4
OVERHEAD_GOAL_MS = 2.0


# --- data ------------------------------------------------------------------------------


def _customer_id(n: int) -> str:
    return f"GC-{n:05d}"


def _invoice_id(n: int, k: int) -> str:
    return f"GI-{n:05d}-{k}"


async def _load(ctx: Context, system: Running, customers: int) -> None:
    """Customers and their invoices through the gateway (some paid late, some not yet due)."""
    todo = list(range(customers))

    async def worker() -> None:
        http = api_client(system)
        try:
            while todo:
                n = todo.pop()
                body = {
                    "name": f"Gateway customer {n}",
                    "currency": CURRENCY,
                    "payment_terms_days": 30,
                    "timezone": "Asia/Shanghai",
                }
                status, answer = await http.json("PUT", f"/v1/customers/{_customer_id(n)}", body)
                if status not in (200, 201):
                    raise RuntimeError(f"PUT customer {n}: {status} {answer}")
        finally:
            await http.close()

    await asyncio.gather(*(worker() for _ in range(8)))
    items = [
        {
            "invoice_id": _invoice_id(n, k),
            "customer_id": _customer_id(n),
            "number": _invoice_id(n, k),
            "currency": CURRENCY,
            "amount": f"{1000 + 137 * k + n % 97}.50",
            "issue_date": (AS_OF - timedelta(days=20 + 25 * k)).isoformat(),
        }
        for n in range(customers)
        for k in range(INVOICES_PER_CUSTOMER)
    ]
    http = api_client(system)
    try:
        for a in range(0, len(items), 1000):
            status, answer = await http.json(
                "POST", "/v1/invoices/batch", {"items": items[a : a + 1000]}
            )
            if status != 200 or answer["rejected"]:
                raise RuntimeError(f"invoice batch: {status} {str(answer)[:500]}")
    finally:
        await http.close()
    ctx.progress(f"loaded {customers:,} customers, {len(items):,} invoices")


async def _caught_up(ctx: Context, system: Running, customers: int, timeout: float) -> bool:
    """Wait (bounded) until credit and reminders both know every customer."""
    http = api_client(system)
    deadline = time.monotonic() + timeout
    try:
        for n in range(customers):
            while True:
                status, summary = await http.json("GET", f"/v1/customers/{_customer_id(n)}/summary")
                parts = {summary["credit"]["status"], summary["dunning"]["status"]}
                if status == 200 and parts == {"ok"}:
                    CustomerSummary.model_validate(summary)  # the documented shape
                    break
                if time.monotonic() > deadline:
                    ctx.progress(f"credit or reminders did not catch up within {timeout:g} s")
                    return False
                await asyncio.sleep(0.5)
    finally:
        await http.close()
    ctx.progress("credit and reminders know every customer")
    return True


# --- the two sides ---------------------------------------------------------------------

One = Callable[[int, int], Awaitable[None]]  # (client, customer number)


def _check(errors: list[str], what: str, status: int, raw: bytes) -> None:
    """Count an answer other than 200 (a loaded machine may time a call out); give up when
    errors are more than a few."""
    if status != 200:
        errors.append(f"{what}: {status} {raw[:300]!r}")
        if len(errors) > 50:
            raise RuntimeError(f"{len(errors)} errors, the last: {errors[-1]}")


async def _get(http: Http, path: str) -> tuple[int, bytes]:
    """A GET, sent again once on a fresh connection if the server had closed the idle one
    (uvicorn closes keep-alive connections idle for 5 s, e.g. while the other side runs)."""
    try:
        return await http.request("GET", path)
    except (HttpError, ConnectionError):
        await http.close()
        return await http.request("GET", path)


@dataclass
class Side:
    """The connections of one side (gateway or floor) for `clients` clients."""

    name: str
    one: One
    connections: list[Http] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    async def close(self) -> None:
        for http in self.connections:
            await http.close()


def _gateway_summary(system: Running, clients: int) -> Side:
    conns = [api_client(system) for _ in range(clients)]

    errors: list[str] = []

    async def one(k: int, n: int) -> None:
        status, raw = await _get(conns[k], f"/v1/customers/{_customer_id(n)}/summary")
        _check(errors, "summary", status, raw)

    return Side("gateway", one, conns, errors)


def _gateway_invoice(system: Running, clients: int) -> Side:
    conns = [api_client(system) for _ in range(clients)]

    errors: list[str] = []

    async def one(k: int, n: int) -> None:
        path = f"/v1/invoices/{_invoice_id(n, n % INVOICES_PER_CUSTOMER)}?as_of={AS_OF}"
        status, raw = await _get(conns[k], path)
        _check(errors, "invoice", status, raw)
        if b'"prediction":{"status":"unavailable"' in raw:  # a cheaper answer: not comparable
            errors.append(f"invoice: prediction unavailable {raw[-300:]!r}")

    return Side("gateway", one, conns, errors)


def _direct(system: Running, service: str) -> Http:
    token = system.stack.env.get("HUIKUAN_INTERNAL_TOKEN", DEV_INTERNAL_TOKEN)
    headers = {INTERNAL_TOKEN_HEADER: token, TENANT_HEADER: system.tenant}
    return Http("127.0.0.1", system.stack.ports[service], headers)


def _floor_summary(system: Running, clients: int) -> Side:
    """The summary's four downstream calls, concurrently, straight to the services."""
    conns = [
        [_direct(system, svc) for svc in ("ledger", "ledger", "credit", "reminders")]
        for _ in range(clients)
    ]

    errors: list[str] = []

    async def one(k: int, n: int) -> None:
        c = _customer_id(n)
        ledger_a, ledger_b, credit, reminders = conns[k]
        answers = await asyncio.gather(
            _get(ledger_a, f"/customers/{c}"),
            _get(ledger_b, f"/customers/{c}/balances"),
            _get(credit, f"/customers/{c}/credit"),
            _get(reminders, f"/customers/{c}/dunning"),
        )
        for status, raw in answers:
            _check(errors, "summary floor", status, raw)

    return Side("floor", one, [http for group in conns for http in group], errors)


def _floor_invoice(system: Running, clients: int) -> Side:
    """The invoice's two downstream calls, concurrently, straight to the services."""
    conns = [[_direct(system, svc) for svc in ("ledger", "credit")] for _ in range(clients)]

    errors: list[str] = []

    async def one(k: int, n: int) -> None:
        invoice = _invoice_id(n, n % INVOICES_PER_CUSTOMER)
        ledger, credit = conns[k]
        (status, raw), (p_status, p_raw) = await asyncio.gather(
            _get(ledger, f"/invoices/{invoice}?as_of={AS_OF}"),
            _get(credit, f"/invoices/{invoice}/prediction?as_of={AS_OF}"),
        )
        _check(errors, "invoice floor", status, raw)
        # 404: credit knows no open invoice of that id (paid) — the gateway's `none` part.
        _check(errors, "invoice floor prediction", 200 if p_status == 404 else p_status, p_raw)

    return Side("floor", one, [http for group in conns for http in group], errors)


# --- measuring -------------------------------------------------------------------------


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class RssSampler:
    """The gateway's resident set size, sampled every 50 ms while it is under load."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            if (mb := _rss_mb(self.pid)) is not None:
                self.samples.append(mb)
            await asyncio.sleep(0.05)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


@dataclass
class Result:
    seconds: float = 0.0
    requests: int = 0
    latencies: list[float] = field(default_factory=list)

    def p(self, q: float) -> float:
        return percentile(sorted(self.latencies), q) * 1000


async def _drive(side: Side, clients: int, numbers: list[int], result: Result | None) -> None:
    """`clients` loops, each taking every clients-th request and waiting for its answer."""

    async def client(k: int) -> None:
        for n in numbers[k::clients]:
            start = time.perf_counter()
            await side.one(k, n)
            if result is not None:
                result.latencies.append(time.perf_counter() - start)

    t0 = time.perf_counter()
    await asyncio.gather(*(client(k) for k in range(clients)))
    if result is not None:
        result.seconds += time.perf_counter() - t0
        result.requests += len(numbers)


@dataclass
class Comparison:
    label: str
    clients: int
    results: dict[str, Result]
    cpu: dict[str, dict[str, float]]
    errors: dict[str, list[str]]


async def _compare(
    ctx: Context,
    system: Running,
    label: str,
    sides: dict[str, Side],
    clients: int,
    n: int,
    customers: int,
    rounds: int,
    rss: RssSampler | None,
) -> Comparison:
    """Floor and gateway take turns on `rounds` slices of `n` requests after a warm-up."""
    numbers = [(i * 7919) % customers for i in range(n)]  # every customer, scattered
    results = {"floor": Result(), "gateway": Result()}
    meter_conn = await asyncpg.connect(system.database_url)
    meters = {side: CpuMeter(system, meter_conn) for side in results}
    try:
        for name in ("floor", "gateway"):
            await _drive(sides[name], clients, numbers[: 2 * clients], None)
        size = -(-n // rounds)
        for r, a in enumerate(range(0, n, size)):
            part = numbers[a : a + size]
            for name in ("floor", "gateway") if r % 2 == 0 else ("gateway", "floor"):
                if name == "gateway" and rss is not None:
                    rss.start()
                await meters[name].start()
                await _drive(sides[name], clients, part, results[name])
                await meters[name].stop()
                if name == "gateway" and rss is not None:
                    await rss.stop()
            ctx.progress(
                f"{label}, {clients} clients, slice {r + 1}/{rounds}: "
                + ", ".join(
                    f"{name} {res.requests / res.seconds:,.0f}/s p50 {res.p(50):.2f} ms"
                    for name, res in results.items()
                )
            )
    finally:
        for side in sides.values():
            await side.close()
        await meter_conn.close()
    cpu = {name: meters[name].per(results[name].requests, 1) for name in results}
    errors = {name: side.errors for name, side in sides.items()}
    for name, found in errors.items():
        if found:
            ctx.progress(f"{label} {name}: {len(found)} errors, e.g. {found[-1]}")
    return Comparison(label, clients, results, cpu, errors)


def _figures(c: Comparison, note: str, with_rate: bool) -> list[Figure]:
    gw, fl = c.results["gateway"], c.results["floor"]
    label = f"{c.label}, {c.clients} client{'s' if c.clients > 1 else ''}"
    detail = {
        "requests": gw.requests,
        "seconds": round(gw.seconds, 3),
        "floor_seconds": round(fl.seconds, 3),
        "cpu_ms_per_request": c.cpu["gateway"],
        "floor_cpu_ms_per_request": c.cpu["floor"],
        "errors": len(c.errors["gateway"]),
        "floor_errors": len(c.errors["floor"]),
    }
    figures = []
    if with_rate:
        rate = Figure(
            NAME,
            label,
            gw.requests / gw.seconds,
            "req/s",
            fl.requests / fl.seconds,
            floor_note=note,
            detail=detail,
        )
        figures.append(rate)
    figures += [
        Figure(
            NAME,
            f"{label} p50",
            gw.p(50),
            "ms",
            fl.p(50),
            better="lower",
            floor_note=note,
            detail={} if with_rate else detail,
        ),
        Figure(NAME, f"{label} p99", gw.p(99), "ms", fl.p(99), better="lower", floor_note=note),
        Figure(
            NAME,
            f"{label}: gateway overhead p50",
            gw.p(50) - fl.p(50),
            "ms",
            better="lower",
            goal=Goal("below", OVERHEAD_GOAL_MS),
            note="p50 of the gateway minus p50 of the floor",
            detail={"gateway_cpu_ms_per_request": c.cpu["gateway"].get("gateway-api")},
        ),
    ]
    return figures


SUMMARY_NOTE = (
    "the summary's 4 downstream calls (ledger customer and balances, credit, "
    "dunning) issued concurrently straight to the services, same clients"
)
INVOICE_NOTE = (
    "the invoice's 2 downstream calls (ledger invoice, credit prediction) issued "
    "concurrently straight to the services, same clients"
)


# --- the benchmark ---------------------------------------------------------------------


async def run(ctx: Context) -> list[Figure]:
    customers = ctx.env_int("BENCH_GATEWAY_CUSTOMERS", 500)
    clients = ctx.env_int("BENCH_GATEWAY_CLIENTS", 64)
    n = ctx.env_int("BENCH_GATEWAY_REQUESTS", 6400)
    serial = ctx.env_int("BENCH_GATEWAY_SERIAL", 400)
    rounds = ctx.env_int("BENCH_ROUNDS", 4)

    figures: list[Figure] = []
    async with running_system(ctx, pipeline=True, tenant=TENANT, from_now=True) as system:
        await _load(ctx, system, customers)
        caught_up = await _caught_up(ctx, system, customers, timeout=300)
        rss = RssSampler(system.stack.procs["gateway-api"].pid)
        ctx.progress(f"gateway-api is process {rss.pid}")
        idle_rss = _rss_mb(rss.pid)
        cases = (
            ("summary", _gateway_summary, _floor_summary, SUMMARY_NOTE),
            ("invoice", _gateway_invoice, _floor_invoice, INVOICE_NOTE),
        )
        for label, gateway, floor, note in cases:
            for k, count, sampler in ((clients, n, rss), (1, serial, None)):
                sides = {"gateway": gateway(system, k), "floor": floor(system, k)}
                comparison = await _compare(
                    ctx, system, label, sides, k, count, customers, rounds, sampler
                )
                figures += _figures(comparison, note, with_rate=k > 1)
        peak = max(rss.samples) if rss.samples else None
        details: dict[str, Any] = {
            "idle_mb": None if idle_rss is None else round(idle_rss, 1),
            "samples": len(rss.samples),
            "median_mb": round(median(rss.samples), 1) if rss.samples else None,
            "credit_and_dunning_caught_up": caught_up,
        }
        figures.append(
            Figure(
                NAME,
                f"gateway RSS under load ({clients} clients), peak",
                peak,
                "MB",
                note="VmRSS sampled every 50 ms while the gateway was timed",
                detail=details,
            )
        )
    return figures
