"""Batch issue of invoices: up to 1,000 in one transaction, with a result per item.

Set-based: one statement each to lock the customers, insert the invoices, post the
journal and write the outbox, whatever the batch size. An item that breaks a rule (unknown
customer, due before issue, an id taken by different content) is rejected on its own and
writes nothing; the others go through.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import asyncpg

from huikuan_contracts.money import Money
from huikuan_events.ledger import SOURCE
from huikuan_events.topics import LEDGER_EVENTS
from huikuan_runtime import outbox
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import Conflict, Problem
from ledger.domain import journal
from ledger.domain.invoices import InvoiceRuleError, NewInvoice, issue_invoice
from ledger.service.invoices import invalid
from ledger.service.settlement import Owed, spend_held_cash
from ledger.store import customers, invoices, payments
from ledger.store import journal as journal_store

MAX_BATCH = 1000


@dataclass(frozen=True, slots=True)
class InvoiceRequest:
    invoice_id: str
    customer_id: str
    number: str
    issue_date: date
    due_date: date | None
    amount: Money


@dataclass(frozen=True, slots=True)
class ItemResult:
    index: int
    invoice_id: str
    outcome: Literal["created", "existing", "rejected"]
    row: asyncpg.Record | None = None
    problem: Problem | None = None


async def issue_batch(
    pool: asyncpg.Pool, tenant: str, items: Sequence[InvoiceRequest], at: datetime
) -> list[ItemResult]:
    async with unit_of_work(pool) as conn:
        locked = await customers.lock_many(conn, tenant, sorted({i.customer_id for i in items}))
        known = {r["customer_id"]: r for r in locked}
        rejected: dict[int, Problem] = {}
        first_of: dict[str, int] = {}  # invoice id -> index of its first valid occurrence
        valid: dict[int, NewInvoice] = {}
        for index, item in enumerate(items):
            customer = known.get(item.customer_id)
            if customer is None:
                rejected[index] = invalid("customer_id", f"no customer {item.customer_id!r}")
                continue
            try:
                invoice = issue_invoice(
                    invoice_id=item.invoice_id,
                    customer_id=item.customer_id,
                    number=item.number,
                    issue_date=item.issue_date,
                    due_date=item.due_date,
                    amount=item.amount,
                    payment_terms_days=customer["payment_terms_days"],
                )
            except InvoiceRuleError as exc:
                rejected[index] = invalid(exc.field, str(exc))
                continue
            earlier = first_of.get(invoice.invoice_id)
            if earlier is not None and valid[earlier].fingerprint != invoice.fingerprint:
                rejected[index] = _conflict(invoice.invoice_id)
                continue
            first_of.setdefault(invoice.invoice_id, index)
            valid[index] = invoice
        fresh = [valid[i] for i in sorted(set(first_of.values()))]
        created = {r["invoice_id"]: r for r in await invoices.insert_many(conn, tenant, fresh, at)}
        taken = [i.invoice_id for i in fresh if i.invoice_id not in created]
        existing = {r["invoice_id"]: r for r in await invoices.get_many(conn, tenant, taken)}
        new = [i for i in fresh if i.invoice_id in created]
        await journal_store.post(
            conn,
            tenant,
            [
                journal.invoice_issued(
                    i.customer_id,
                    i.invoice_id,
                    i.amount.currency,
                    i.amount.amount_minor,
                    i.issue_date,
                )
                for i in new
            ],
            at,
        )
        await outbox.record_many(
            conn,
            topic=LEDGER_EVENTS,
            source=SOURCE,
            tenant=tenant,
            events=[(i.customer_id, i.issued()) for i in new],
            at=at,
        )
        holders = await payments.holding_cash(conn, tenant, sorted({i.customer_id for i in new}))
        for invoice in new:
            if (invoice.customer_id, invoice.amount.currency) in holders:
                owed = Owed.of(created[invoice.invoice_id])
                await spend_held_cash(conn, tenant, invoice.customer_id, owed, at)
                refreshed = await invoices.get(conn, tenant, invoice.invoice_id)
                assert refreshed is not None
                created[invoice.invoice_id] = refreshed

        results: list[ItemResult] = []
        for index, item in enumerate(items):
            if index in rejected:
                results.append(
                    ItemResult(index, item.invoice_id, "rejected", problem=rejected[index])
                )
                continue
            invoice = valid[index]
            first = first_of[invoice.invoice_id] == index
            if invoice.invoice_id in created:
                outcome: Literal["created", "existing"] = "created" if first else "existing"
                results.append(
                    ItemResult(index, item.invoice_id, outcome, row=created[invoice.invoice_id])
                )
            elif existing[invoice.invoice_id]["fingerprint"] == invoice.fingerprint:
                results.append(
                    ItemResult(index, item.invoice_id, "existing", row=existing[invoice.invoice_id])
                )
            else:
                results.append(
                    ItemResult(
                        index, item.invoice_id, "rejected", problem=_conflict(invoice.invoice_id)
                    )
                )
        return results


def _conflict(invoice_id: str) -> Conflict:
    return Conflict(
        f"invoice {invoice_id!r} already exists with different content", invoice_id=invoice_id
    )
