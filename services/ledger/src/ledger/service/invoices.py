"""Use cases for invoices: issue, void, credit notes, write-offs, and the detailed view."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import asyncpg

from huikuan_contracts.money import Money
from huikuan_events.ledger import (
    InvoiceAdjusted,
    InvoiceSettled,
    InvoiceVoided,
    InvoiceWrittenOff,
)
from huikuan_runtime import pagination
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import Conflict, InvalidInput, NotFound
from ledger.domain import journal
from ledger.domain.allocation import days_late
from ledger.domain.fingerprint import fingerprint
from ledger.domain.invoices import InvoiceRuleError, issue_invoice
from ledger.events.outbox import emit
from ledger.service.settlement import Owed, spend_held_cash
from ledger.store import adjustments, customers, invoices, payments
from ledger.store import journal as journal_store


@dataclass(frozen=True, slots=True)
class Issued:
    row: asyncpg.Record
    created: bool


@dataclass(frozen=True, slots=True)
class WrittenOff:
    """The write-off row, the currency of its invoice, and whether this call made it."""

    row: asyncpg.Record
    currency: str
    created: bool


def invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput(f"{field}: {message}", errors=[{"field": field, "message": message}])


async def lock_customer(conn: asyncpg.Connection, tenant: str, customer_id: str) -> asyncpg.Record:
    """Every posting for a customer holds its row lock: postings of one customer serialise."""
    customer = await customers.lock(conn, tenant, customer_id)
    if customer is None:
        raise invalid("customer_id", f"no customer {customer_id!r}; create it first")
    return customer


async def lock_invoice(conn: asyncpg.Connection, tenant: str, invoice_id: str) -> asyncpg.Record:
    """The invoice, locked after its customer (always in that order: no deadlocks)."""
    found = await invoices.get(conn, tenant, invoice_id)
    if found is None:
        raise NotFound(f"no invoice {invoice_id!r}")
    await customers.lock(conn, tenant, found["customer_id"])
    row = await invoices.lock(conn, tenant, invoice_id)
    assert row is not None
    return row


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
        customer = await lock_customer(conn, tenant, customer_id)
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
            raise invalid(exc.field, str(exc)) from exc
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
        await journal_store.post(
            conn,
            tenant,
            [
                journal.invoice_issued(
                    customer_id,
                    invoice_id,
                    amount.currency,
                    amount.amount_minor,
                    invoice.issue_date,
                )
            ],
            at,
        )
        await emit(conn, tenant, customer_id, invoice.issued(), at)
        await spend_held_cash(conn, tenant, customer_id, Owed.of(row), at)
        current = await invoices.get(conn, tenant, invoice_id)
        assert current is not None
        return Issued(current, created=True)


def _still_open(row: asyncpg.Record, action: str) -> None:
    if row["voided_on"] is not None:
        raise Conflict(f"invoice {row['invoice_id']!r} is void; it cannot take a {action}")
    if row["written_off_on"] is not None:
        raise Conflict(f"invoice {row['invoice_id']!r} is written off; it cannot take a {action}")


async def void_invoice(
    pool: asyncpg.Pool,
    tenant: str,
    invoice_id: str,
    *,
    voided_on: date,
    reason: str,
    at: datetime,
) -> asyncpg.Record:
    """Cancel an invoice nothing has been paid or credited on."""
    async with unit_of_work(pool) as conn:
        row = await lock_invoice(conn, tenant, invoice_id)
        if row["voided_on"] is not None:
            if (row["voided_on"], row["void_reason"]) == (voided_on, reason):
                return row
            raise Conflict(f"invoice {invoice_id!r} was already voided on {row['voided_on']}")
        _still_open(row, "void")
        if row["residual_minor"] != row["amount_minor"]:
            raise Conflict(
                f"invoice {invoice_id!r} has payments or credit notes; "
                "reverse them or issue a credit note instead"
            )
        if voided_on < row["issue_date"]:
            raise invalid("voided_on", "cannot be before the issue date")
        await journal_store.post(
            conn,
            tenant,
            [
                journal.invoice_voided(
                    row["customer_id"],
                    invoice_id,
                    row["currency"],
                    row["amount_minor"],
                    voided_on,
                )
            ],
            at,
        )
        voided = await invoices.mark_voided(conn, tenant, invoice_id, voided_on, reason)
        await emit(
            conn,
            tenant,
            row["customer_id"],
            InvoiceVoided(
                invoice_id=invoice_id,
                customer_id=row["customer_id"],
                currency=row["currency"],
                amount_minor=row["amount_minor"],
                voided_on=voided_on,
                reason=reason,
            ),
            at,
        )
        return voided


async def add_credit_note(
    pool: asyncpg.Pool,
    tenant: str,
    invoice_id: str,
    *,
    credit_note_id: str,
    amount: Money,
    reason: str,
    note: str | None,
    issued_on: date,
    at: datetime,
) -> tuple[asyncpg.Record, bool]:
    """Reduce an invoice's residual; returns the credit note and whether it is new."""
    async with unit_of_work(pool) as conn:
        row = await lock_invoice(conn, tenant, invoice_id)
        return await credit(
            conn,
            tenant,
            row,
            credit_note_id=credit_note_id,
            amount=amount,
            reason=reason,
            note=note,
            issued_on=issued_on,
            at=at,
        )


async def credit(
    conn: asyncpg.Connection,
    tenant: str,
    row: asyncpg.Record,
    *,
    credit_note_id: str,
    amount: Money,
    reason: str,
    note: str | None,
    issued_on: date,
    at: datetime,
) -> tuple[asyncpg.Record, bool]:
    """Post a credit note on a locked invoice (disputes accepted with a credit use this)."""
    invoice_id = row["invoice_id"]
    print_ = fingerprint(
        invoice_id=invoice_id,
        amount=amount.amount_minor,
        currency=amount.currency,
        reason=reason,
        note=note,
        issued_on=issued_on,
    )
    existing = await adjustments.get_credit_note(conn, tenant, credit_note_id)
    if existing is not None:
        if existing["fingerprint"] != print_:
            raise Conflict(f"credit note {credit_note_id!r} already exists with different content")
        return existing, False
    _still_open(row, "credit note")
    if amount.currency != row["currency"]:
        raise invalid("currency", f"the invoice is in {row['currency']}")
    if amount.amount_minor > row["residual_minor"]:
        raise invalid(
            "amount",
            f"more than the residual {Money(row['residual_minor'], row['currency']).format()}",
        )
    if issued_on < row["issue_date"]:
        raise invalid("issued_on", "cannot be before the invoice's issue date")
    customer_id = row["customer_id"]
    note_row = await adjustments.insert_credit_note(
        conn,
        tenant,
        credit_note_id=credit_note_id,
        invoice_id=invoice_id,
        amount=amount.amount_minor,
        reason=reason,
        note=note,
        issued_on=issued_on,
        fingerprint=print_,
        at=at,
    )
    assert note_row is not None
    await journal_store.post(
        conn,
        tenant,
        [
            journal.credit_note(
                customer_id,
                invoice_id,
                amount.currency,
                amount.amount_minor,
                issued_on,
                credit_note_id,
            )
        ],
        at,
    )
    residual = row["residual_minor"] - amount.amount_minor
    await invoices.set_residual(
        conn, tenant, invoice_id, residual, issued_on if residual == 0 else None
    )
    await emit(
        conn,
        tenant,
        customer_id,
        InvoiceAdjusted(
            invoice_id=invoice_id,
            customer_id=customer_id,
            credit_note_id=credit_note_id,
            reason=reason,
            currency=amount.currency,
            amount_minor=amount.amount_minor,
            residual_minor=residual,
            issued_on=issued_on,
        ),
        at,
    )
    if residual == 0:
        await emit(
            conn,
            tenant,
            customer_id,
            InvoiceSettled(
                invoice_id=invoice_id,
                customer_id=customer_id,
                currency=amount.currency,
                settled_on=issued_on,
                days_late=days_late(issued_on, row["due_date"]),
            ),
            at,
        )
    return note_row, True


async def write_off_invoice(
    pool: asyncpg.Pool,
    tenant: str,
    invoice_id: str,
    *,
    reason: str,
    approver: str,
    written_off_on: date,
    at: datetime,
) -> WrittenOff:
    """Write the whole residual off as bad debt, with the reason and who approved it."""
    async with unit_of_work(pool) as conn:
        row = await lock_invoice(conn, tenant, invoice_id)
        print_ = fingerprint(reason=reason, approver=approver, written_off_on=written_off_on)
        existing = await adjustments.get_write_off(conn, tenant, invoice_id)
        if existing is not None:
            if existing["fingerprint"] != print_:
                raise Conflict(f"invoice {invoice_id!r} was already written off differently")
            return WrittenOff(existing, row["currency"], created=False)
        _still_open(row, "write-off")
        if row["residual_minor"] == 0:
            raise Conflict(f"invoice {invoice_id!r} has nothing left to write off")
        if written_off_on < row["issue_date"]:
            raise invalid("written_off_on", "cannot be before the invoice's issue date")
        amount, customer_id = row["residual_minor"], row["customer_id"]
        await journal_store.post(
            conn,
            tenant,
            [
                journal.write_off(
                    customer_id,
                    invoice_id,
                    row["currency"],
                    amount,
                    written_off_on,
                    invoice_id,
                )
            ],
            at,
        )
        written = await adjustments.insert_write_off(
            conn,
            tenant,
            invoice_id=invoice_id,
            amount=amount,
            reason=reason,
            approver=approver,
            on=written_off_on,
            fingerprint=print_,
            at=at,
        )
        await invoices.mark_written_off(conn, tenant, invoice_id, written_off_on)
        await emit(
            conn,
            tenant,
            customer_id,
            InvoiceWrittenOff(
                invoice_id=invoice_id,
                customer_id=customer_id,
                currency=row["currency"],
                amount_minor=amount,
                reason=reason,
                approver=approver,
                written_off_on=written_off_on,
            ),
            at,
        )
        return WrittenOff(written, row["currency"], created=True)


@dataclass(frozen=True, slots=True)
class InvoiceDetail:
    row: asyncpg.Record
    allocations: list[asyncpg.Record]
    credit_notes: list[asyncpg.Record]
    write_off: asyncpg.Record | None
    disputed: bool
    history: list[asyncpg.Record]


async def invoice_detail(pool: asyncpg.Pool, tenant: str, invoice_id: str) -> InvoiceDetail:
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        row = await invoices.get(conn, tenant, invoice_id)
        if row is None:
            raise NotFound(f"no invoice {invoice_id!r}")
        return InvoiceDetail(
            row=row,
            allocations=await payments.allocations_of_invoice(conn, tenant, invoice_id),
            credit_notes=await adjustments.credit_notes_of_invoice(conn, tenant, invoice_id),
            write_off=await adjustments.get_write_off(conn, tenant, invoice_id),
            disputed=await invoices.has_open_dispute(conn, tenant, invoice_id),
            history=await journal_store.invoice_history(conn, tenant, invoice_id),
        )


async def list_invoices(
    pool: asyncpg.Pool,
    tenant: str,
    *,
    as_of: date,
    customer_id: str | None,
    statuses: list[str] | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[asyncpg.Record], str | None]:
    """A page of invoices in issue order, and the cursor of the next page (None at the end)."""
    key = pagination.decode(cursor, 2)
    try:
        after = (date.fromisoformat(key[0]), str(key[1])) if key else None
    except (TypeError, ValueError):
        raise pagination.invalid_cursor() from None
    async with pool.acquire() as conn:
        rows = await invoices.page(
            conn,
            tenant,
            as_of=as_of,
            customer_id=customer_id,
            statuses=statuses,
            after=after,
            limit=limit + 1,
        )
    return pagination.page(rows, limit, lambda r: [r["issue_date"], r["invoice_id"]])
