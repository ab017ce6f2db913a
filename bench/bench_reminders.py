"""The dunning benchmark: a dunning run as of one day over many open invoices (decide and
record, no delivery) beside a single SQL pass over the same open invoices; and email
delivery (which renders each reminder's text, then sends it) to a local SMTP server beside
bare aiosmtplib sends of similar messages.

The reminders schema of a fresh database is loaded directly (COPY) with
`BENCH_DUNNING_CUSTOMERS` customers x `BENCH_DUNNING_INVOICES_PER_CUSTOMER` open invoices
due over the 120 days before the run date, so every customer has several invoices at
several steps."""

from __future__ import annotations

import asyncio
import secrets
import time
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import asyncpg
from aiosmtpd.controller import Controller

from bench.run import Context, Figure, Goal
from bench.support import CpuMeter, _admin, with_database
from huikuan_dev.stack import free_port
from huikuan_runtime.clock import FixedClock
from huikuan_runtime.db import create_pool
from huikuan_runtime.migrations import migrate, package_migrations, plan
from reminders.channels.email import EmailChannel
from reminders.service.deliver import deliver_due
from reminders.service.run import RunConfig, RunResult
from reminders.service.run import run as dunning_run

NAME = "reminders"
TENANT = "bench"
AS_OF = date(2026, 12, 30)  # a Wednesday, no public holiday in China
AT = datetime(2026, 12, 30, 2, 0, tzinfo=UTC)

FLOOR_SQL = """
SELECT customer_id, count(*) AS n, sum(residual_minor) AS residual,
       max(CASE WHEN $2::date - due_date >= 90 THEN 8 WHEN $2::date - due_date >= 60 THEN 7
                WHEN $2::date - due_date >= 45 THEN 6 WHEN $2::date - due_date >= 30 THEN 5
                WHEN $2::date - due_date >= 15 THEN 4 WHEN $2::date - due_date >= 7 THEN 3
                WHEN $2::date - due_date >= 1 THEN 2 WHEN $2::date - due_date >= -7 THEN 1
                ELSE 0 END) AS step
FROM chased_invoice
WHERE tenant = $1 AND residual_minor > 0 AND NOT closed AND NOT disputed
GROUP BY customer_id
"""


async def _load(conn: asyncpg.Connection, customers: int, per_customer: int) -> None:
    await conn.copy_records_to_table(
        "contact",
        records=[
            (
                TENANT,
                f"C-{c:06d}",
                f"Customer {c}",
                f"c{c}@example.com",
                None,
                "zh",
                "Asia/Shanghai",
                f"owner-{c % 20}",
                "CN",
            )
            for c in range(customers)
        ],
        columns=[
            "tenant",
            "customer_id",
            "name",
            "email",
            "phone",
            "language",
            "timezone",
            "owner",
            "country",
        ],
    )
    await conn.copy_records_to_table(
        "dunning_customer",
        records=[(TENANT, f"C-{c:06d}") for c in range(customers)],
        columns=["tenant", "customer_id"],
    )
    await conn.copy_records_to_table(
        "chased_invoice",
        records=[
            (
                TENANT,
                f"I-{c:06d}-{i}",
                f"C-{c:06d}",
                f"N-{c}-{i}",
                AS_OF - timedelta(days=(c * 7 + i * 13) % 120),
                "CNY",
                10_000 + i,
            )
            for c in range(customers)
            for i in range(per_customer)
        ],
        columns=[
            "tenant",
            "invoice_id",
            "customer_id",
            "number",
            "due_date",
            "currency",
            "residual_minor",
        ],
    )
    await conn.execute("ANALYZE")


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        return "250 OK"


async def _email_floor(port: int, messages: int) -> float:
    start = time.perf_counter()
    for k in range(messages):
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = "ar@bench", f"c{k}@example.com", "逾期通知"
        mail.set_content("以下发票已到期未付\n" * 8)
        await aiosmtplib.send(mail, hostname="127.0.0.1", port=port)
    return messages / (time.perf_counter() - start)


async def run(ctx: Context) -> list[Figure]:
    customers = ctx.env_int("BENCH_DUNNING_CUSTOMERS", 100_000)
    per_customer = ctx.env_int("BENCH_DUNNING_INVOICES_PER_CUSTOMER", 10)
    emails = ctx.env_int("BENCH_DUNNING_EMAILS", 500)
    chunk = ctx.env_int("BENCH_DUNNING_CHUNK", 2000)
    workers = ctx.env_int("BENCH_DUNNING_WORKERS", 2)
    name = f"huikuan_bench_{secrets.token_hex(4)}"
    await _admin(ctx.database_url, f'CREATE DATABASE "{name}"')
    url = with_database(ctx.database_url, name)
    figures: list[Figure] = []
    try:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn, "reminders", plan(package_migrations("reminders")))
            await conn.execute("SET search_path = reminders")
            ctx.progress(
                f"loading {customers * per_customer:,} open invoices of {customers:,} customers"
            )
            await _load(conn, customers, per_customer)
            ctx.progress("floor: one SQL pass over the open invoices")
            start = time.perf_counter()
            rows = await conn.fetch(FLOOR_SQL, TENANT, AS_OF)
            floor = time.perf_counter() - start
        finally:
            await conn.close()
        pool = await create_pool(url, "reminders", min_size=1, max_size=4)
        meter_conn = await asyncpg.connect(url)
        try:
            ctx.progress(
                f"dunning run as of one day (decide + record), chunks of {chunk:,}, "
                f"{workers} at once"
            )

            def progress(r: RunResult) -> None:
                if r.chunks % 10 == 0:
                    ctx.progress(
                        f"  {r.customers:,} customers, {r.reminders:,} reminders, {r.tasks:,} tasks"
                    )

            # CPU seconds of the run: this process (the run's Python) and the backends.
            meter = CpuMeter(None, meter_conn)
            await meter.start()
            start = time.perf_counter()
            result = await dunning_run(
                pool,
                tenant=TENANT,
                as_of=AS_OF,
                at=AT,
                config=RunConfig(batch_size=chunk, workers=workers),
                progress=progress,
            )
            took = time.perf_counter() - start
            await meter.stop()
            cpu = {name: round(seconds, 2) for name, seconds in sorted(meter.totals.items())}
            ctx.progress(f"  took {took:.1f} s; CPU seconds {cpu}")
            figures.append(
                Figure(
                    NAME,
                    f"dunning run, {customers * per_customer:,} open invoices",
                    took,
                    "s",
                    floor=floor,
                    better="lower",
                    goal=Goal("ratio_at_least", 0.2),
                    floor_note="one GROUP BY over the same open invoices placing each at its step",
                    detail={
                        "customers": result.customers,
                        "reminders": result.reminders,
                        "tasks": result.tasks,
                        "escalations": result.escalations,
                        "chunks": result.chunks,
                        "chunk_size": chunk,
                        "workers": workers,
                        "floor_customers": len(rows),
                        "below_60s": took < 60,
                        "cpu_s": cpu,
                    },
                )
            )

            sink = _Sink()
            port = free_port()
            controller = Controller(sink, hostname="127.0.0.1", port=port)
            controller.start()
            try:
                await pool.execute(
                    """UPDATE reminder SET status = 'cancelled' WHERE reminder_id NOT IN (
                           SELECT reminder_id FROM reminder WHERE channel = 'email'
                           ORDER BY reminder_id LIMIT $1)""",
                    emails,
                )
                pending = await pool.fetchval(
                    "SELECT count(*) FROM reminder WHERE status = 'pending'"
                )
                ctx.progress(f"delivering {pending} emails to a local SMTP server")
                channel = EmailChannel("127.0.0.1", port, "ar@bench")
                start = time.perf_counter()
                delivered = await deliver_due(pool, {"email": channel}, now=FixedClock(AT).now)
                rate = delivered.sent / (time.perf_counter() - start)
                floor_rate = await _email_floor(port, max(delivered.sent, 1))
            finally:
                await asyncio.to_thread(controller.stop)
            figures.append(
                Figure(
                    NAME,
                    "email delivery",
                    rate,
                    "msg/s",
                    floor=floor_rate,
                    floor_note="bare aiosmtplib sends of similar messages, one at a time",
                    detail={"sent": delivered.sent, "received": sink.count},
                )
            )
        finally:
            await meter_conn.close()
            await pool.close()
    finally:
        await _admin(ctx.database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return figures
