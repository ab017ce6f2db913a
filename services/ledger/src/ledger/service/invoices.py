"""Use cases for invoices."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from huikuan_runtime.db import unit_of_work
from huikuan_runtime.money import Money
from huikuan_runtime.problems import Conflict, InvalidInput, NotFound
from ledger.domain.invoices import InvoiceRuleError, issue_invoice
from ledger.events.outbox import emit
from ledger.store import customers, invoices


@dataclass(frozen=True, slots=True)
class Issued:
    row: asyncpg.Record
    created: bool


async def create_invoice(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    invoice_id: str,
    customer_id: str,
    number: str,
    issue_date: date,
    due_date: date | None,
    amount: Money,
    at: datetime,
) -> Issued:
    """Issue an invoice once: the same request again returns it, a different one is a 409."""
    async with unit_of_work(pool) as conn:
        customer = await customers.get(conn, tenant, customer_id)
        if customer is None:
            raise InvalidInput(
                f"customer_id: no customer {customer_id!r}; create it first",
                errors=[{"field": "customer_id", "message": "unknown customer"}],
            )
        try:
            invoice = issue_invoice(
                invoice_id=invoice_id,
                customer_id=customer_id,
                number=number,
                issue_date=issue_date,
                due_date=due_date,
                amount=amount,
                payment_terms_days=customer["payment_terms_days"],
            )
        except InvoiceRuleError as exc:
            raise InvalidInput(
                f"{exc.field}: {exc}", errors=[{"field": exc.field, "message": str(exc)}]
            ) from exc
        row = await invoices.insert(conn, tenant, invoice, at)
        if row is None:
            existing = await invoices.get(conn, tenant, invoice_id)
            assert existing is not None
            if existing["fingerprint"] != invoice.fingerprint:
                raise Conflict(
                    f"invoice {invoice_id!r} already exists with different content",
                    invoice_id=invoice_id,
                )
            return Issued(existing, created=False)
        await emit(conn, tenant, customer_id, invoice.issued(), at)
        return Issued(row, created=True)


async def get_invoice(pool: asyncpg.Pool, tenant: str, invoice_id: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await invoices.get(conn, tenant, invoice_id)
    if row is None:
        raise NotFound(f"no invoice {invoice_id!r}")
    return row
