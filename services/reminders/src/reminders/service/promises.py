"""Recording a promise to pay: it pauses dunning on its invoices until its date plus grace."""

from __future__ import annotations

from datetime import date, datetime

import asyncpg

from huikuan_events.reminders import SOURCE, PromiseMade
from huikuan_events.topics import REMINDERS_EVENTS
from huikuan_runtime import outbox
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import Conflict, InvalidInput
from reminders.store import book, dunning


async def make(
    pool: asyncpg.Pool,
    tenant: str,
    customer_id: str,
    *,
    promise_id: str,
    currency: str,
    amount_minor: int,
    promised_date: date,
    invoice_ids: list[str] | None,
    taken_by: str,
    made_on: date,
    grace_days: int,
    at: datetime,
) -> tuple[asyncpg.Record, bool]:
    """The promise and whether it was created now (the same promise again is `existing`;
    a different one under the same id is a 409)."""
    if promised_date < made_on:
        raise InvalidInput("promised_date is before the date the promise was made")
    async with unit_of_work(pool) as conn:
        open_rows = [
            r
            for r in await book.open_invoices(conn, tenant, customer_id)
            if r["currency"] == currency
        ]
        open_ids = {r["invoice_id"] for r in open_rows}
        if invoice_ids is None:
            invoice_ids = sorted(open_ids)
        unknown = sorted(set(invoice_ids) - open_ids)
        if unknown:
            raise InvalidInput(
                f"not open {currency} invoices of customer {customer_id!r}: {', '.join(unknown)}"
            )
        if not invoice_ids:
            raise InvalidInput(
                f"customer {customer_id!r} has no open {currency} invoice to promise"
            )
        created = await dunning.add_promise(
            conn,
            tenant=tenant,
            promise_id=promise_id,
            customer_id=customer_id,
            currency=currency,
            amount_minor=amount_minor,
            promised_date=promised_date,
            grace_days=grace_days,
            made_on=made_on,
            invoice_ids=invoice_ids,
            taken_by=taken_by,
        )
        row = await dunning.promise(conn, tenant, promise_id)
        assert row is not None
        same = (
            row["customer_id"] == customer_id
            and row["currency"] == currency
            and row["amount_minor"] == amount_minor
            and row["promised_date"] == promised_date
            and sorted(row["invoice_ids"]) == sorted(invoice_ids)
        )
        if not created and not same:
            raise Conflict(f"promise {promise_id!r} exists with a different body")
        if created:
            await outbox.record(
                conn,
                topic=REMINDERS_EVENTS,
                source=SOURCE,
                tenant=tenant,
                subject=customer_id,
                at=at,
                payload=PromiseMade(
                    promise_id=promise_id,
                    customer_id=customer_id,
                    currency=currency,
                    amount_minor=amount_minor,
                    promised_date=promised_date,
                    invoice_ids=invoice_ids,
                    taken_by=taken_by,
                ),
            )
        return row, created


async def of_customer(pool: asyncpg.Pool, tenant: str, customer_id: str) -> list[asyncpg.Record]:
    """The customer's promises, oldest made first."""
    async with pool.acquire() as conn:
        return await dunning.promises(conn, tenant, customer_id)
