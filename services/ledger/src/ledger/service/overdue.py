"""The overdue scan: `ledger.invoice_overdue.v1` exactly once per invoice, when its due date
has passed (the date judged by is after the due date) with a residual left and the invoice
is neither void nor written off.

Which date is "today" for an invoice:
- the caller's `as_of` date, when given: the caller computed it in the tenant's time zone
  (the ledger keeps no tenants), and it applies to every invoice of the tenant; or
- the local date of an instant (`at`, "now" by default) in the invoice's customer's time zone
  (`customer.timezone`), else the given fallback zone (UTC by default). The periodic mode
  (`python -m ledger overdue-scan`) works this way, across all tenants.

Exactly once: the invoice's `overdue_at` is set in the same transaction as the outbox row,
by an `UPDATE ... WHERE overdue_at IS NULL ... RETURNING` that runs after the customers'
row locks are held; a concurrent scan waits for those locks, then finds the invoices
flagged and emits nothing. Customers are locked first, in one order, like every posting
(`service.invoices.lock_customer`): locking invoice rows first would deadlock with a posting
that holds the customer and its event sequence and then waits for the invoice.

Work goes in bounded batches, one transaction each, walking candidates in (due date,
tenant, invoice) order with a keyset cursor, so a run always ends.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg
from pydantic import BaseModel

from huikuan_contracts.ledger.jobs import OVERDUE_SCAN_BATCH
from huikuan_events.ledger import SOURCE, InvoiceOverdue
from huikuan_events.topics import LEDGER_EVENTS
from huikuan_runtime import outbox
from huikuan_runtime.clock import Clock, SystemClock
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.service import run_every
from huikuan_runtime.settings import ServiceSettings
from ledger.store import customers, invoices

log = logging.getLogger(__name__)

BATCH_SIZE = OVERDUE_SCAN_BATCH
INTERVAL_SECONDS = 60.0
# No place on earth is more than 14 hours ahead of UTC: no local date is later than this.
_MAX_AHEAD = timedelta(hours=14)
_START = (date.min, "", "")


@dataclass(frozen=True, slots=True)
class ScanResult:
    flagged: int
    batches: int


def zone(name: str | None, fallback: str) -> ZoneInfo:
    """The customer's zone, else the fallback (a name Python does not know counts as unset)."""
    for candidate in (name, fallback):
        if candidate:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(candidate)
    return ZoneInfo("UTC")


def judged_on(
    as_of: date | None, at: datetime, customer_zone: str | None, fallback_zone: str
) -> date:
    """The date an invoice is judged by: the caller's date, else the local date of `at`."""
    if as_of is not None:
        return as_of
    return at.astimezone(zone(customer_zone, fallback_zone)).date()


def is_overdue(due_date: date, on: date) -> bool:
    return on > due_date


async def _batch(
    pool: asyncpg.Pool,
    candidates: list[asyncpg.Record],
    as_of: date | None,
    when: datetime,
    fallback_zone: str,
    at: datetime,
) -> int:
    due = [
        (r, on)
        for r in candidates
        if is_overdue(r["due_date"], on := judged_on(as_of, when, r["timezone"], fallback_zone))
    ]
    if not due:
        return 0
    keys = sorted({(r["tenant"], r["customer_id"]) for r, _ in due})
    async with unit_of_work(pool) as conn:
        await customers.lock_pairs(conn, keys)
        flagged = await invoices.flag_overdue(
            conn, [(r["tenant"], r["invoice_id"], on) for r, on in due], at
        )
        per_tenant: dict[str, list[tuple[str, BaseModel]]] = defaultdict(list)
        for row in sorted(flagged, key=lambda r: (r["tenant"], r["customer_id"], r["invoice_id"])):
            per_tenant[row["tenant"]].append(
                (
                    row["customer_id"],
                    InvoiceOverdue(
                        invoice_id=row["invoice_id"],
                        customer_id=row["customer_id"],
                        due_date=row["due_date"],
                        currency=row["currency"],
                        residual_minor=row["residual_minor"],
                        as_of=row["as_of"],
                    ),
                )
            )
        for tenant, events in per_tenant.items():
            await outbox.record_many(
                conn, topic=LEDGER_EVENTS, source=SOURCE, tenant=tenant, events=events, at=at
            )
    return len(flagged)


async def scan(
    pool: asyncpg.Pool,
    *,
    tenant: str | None,
    as_of: date | None,
    when: datetime,
    at: datetime,
    fallback_zone: str = "UTC",
    batch_size: int = BATCH_SIZE,
) -> ScanResult:
    """Flag and announce every invoice that is overdue and not yet flagged.

    `tenant` None scans every tenant. `as_of` is the caller's date for all invoices; without
    it each invoice is judged by the local date of the instant `when` in its customer's zone
    (else `fallback_zone`). `at` is when the scan runs (`overdue_at`, the events' time)."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    before = as_of if as_of is not None else (when.astimezone(ZoneInfo("UTC")) + _MAX_AHEAD).date()
    flagged = batches = 0
    cursor = _START
    while True:
        async with pool.acquire() as conn:
            candidates = await invoices.overdue_candidates(conn, tenant, before, cursor, batch_size)
        if not candidates:
            break
        batches += 1
        flagged += await _batch(pool, candidates, as_of, when, fallback_zone, at)
        last = candidates[-1]
        cursor = (last["due_date"], last["tenant"], last["invoice_id"])
        if len(candidates) < batch_size:
            break
    return ScanResult(flagged, batches)


async def run_periodically(
    settings: ServiceSettings, *, clock: Clock | None = None, interval: float = INTERVAL_SECONDS
) -> None:
    """`python -m ledger overdue-scan`: scan every tenant now, then every `interval` s."""
    clock = clock or SystemClock()

    async def once(pool: asyncpg.Pool) -> None:
        now = clock.now()
        result = await scan(pool, tenant=None, as_of=None, when=now, at=now)
        log.info("overdue scan", extra={"flagged": result.flagged, "batches": result.batches})

    await run_every(settings, interval, once, "overdue scan")
