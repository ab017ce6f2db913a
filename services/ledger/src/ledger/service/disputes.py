"""Use cases for disputes: open one on an invoice, resolve it (accepted with a credit note,
or rejected), read it.

An open dispute makes the invoice `disputed` and keeps automatic (oldest-first) allocation
away from it (`store.invoices.lock_open`); at most one dispute per invoice is open at a time
(a unique partial index). An accepted dispute's credit note is posted by
`service.invoices.credit`, the one place credit notes touch the journal, in the same
transaction as the resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

import asyncpg

from huikuan_contracts.money import Money
from huikuan_events.ledger import DisputeOpened, DisputeResolved
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import Conflict, NotFound
from ledger.domain.fingerprint import fingerprint
from ledger.events.outbox import emit
from ledger.service.invoices import credit, invalid, lock_invoice
from ledger.store import disputes

Outcome = Literal["accepted", "rejected"]


@dataclass(frozen=True, slots=True)
class CreditGiven:
    """The credit note an accepted dispute comes with."""

    credit_note_id: str
    amount: Money


@dataclass(frozen=True, slots=True)
class Result:
    row: asyncpg.Record  # the dispute, as `store.disputes.get` reads it
    created: bool


def _refuse_closed(invoice: asyncpg.Record, action: str) -> None:
    if invoice["voided_on"] is not None:
        raise Conflict(f"invoice {invoice['invoice_id']!r} is void; {action}")
    if invoice["written_off_on"] is not None:
        raise Conflict(f"invoice {invoice['invoice_id']!r} is written off; {action}")


async def _current(conn: asyncpg.Connection, tenant: str, dispute_id: str) -> asyncpg.Record:
    row = await disputes.get(conn, tenant, dispute_id)
    assert row is not None
    return row


async def _same_again(
    conn: asyncpg.Connection, tenant: str, dispute_id: str, print_: str
) -> Result | None:
    """The dispute already under this id if the request is the same; a 409 if it differs."""
    existing = await disputes.get(conn, tenant, dispute_id)
    if existing is None:
        return None
    if existing["fingerprint"] != print_:
        raise Conflict(
            f"dispute {dispute_id!r} already exists with different content",
            dispute_id=dispute_id,
        )
    return Result(existing, created=False)


async def open_dispute(
    pool: asyncpg.Pool,
    tenant: str,
    invoice_id: str,
    *,
    dispute_id: str,
    reason: str,
    amount: Money,
    opened_on: date,
    at: datetime,
) -> Result:
    """Open a dispute once: the same request again returns it, a different one is a 409."""
    print_ = fingerprint(
        invoice_id=invoice_id,
        reason=reason,
        amount=amount.amount_minor,
        currency=amount.currency,
        opened_on=opened_on,
    )

    async with unit_of_work(pool) as conn:
        invoice = await lock_invoice(conn, tenant, invoice_id)
        if (again := await _same_again(conn, tenant, dispute_id, print_)) is not None:
            return again
        _refuse_closed(invoice, "it cannot be disputed")
        currency, residual = invoice["currency"], invoice["residual_minor"]
        if residual == 0:
            raise Conflict(f"invoice {invoice_id!r} has nothing left owed to dispute")
        if amount.currency != currency:
            raise invalid("currency", f"the invoice is in {currency}")
        if amount.amount_minor > residual:
            raise invalid("amount", f"more than the residual {Money(residual, currency).format()}")
        if opened_on < invoice["issue_date"]:
            raise invalid("opened_on", "cannot be before the invoice's issue date")
        already = await disputes.open_on_invoice(conn, tenant, invoice_id)
        if already is not None:
            raise Conflict(
                f"invoice {invoice_id!r} already has the open dispute {already['dispute_id']!r}; "
                "resolve it first",
                open_dispute_id=already["dispute_id"],
            )
        inserted = await disputes.insert(
            conn,
            tenant,
            dispute_id=dispute_id,
            invoice_id=invoice_id,
            reason=reason,
            amount=amount.amount_minor,
            opened_on=opened_on,
            fingerprint=print_,
            at=at,
        )
        if not inserted:  # the id was taken meanwhile, on another invoice
            again = await _same_again(conn, tenant, dispute_id, print_)
            assert again is not None
            return again
        customer_id = invoice["customer_id"]
        await emit(
            conn,
            tenant,
            customer_id,
            DisputeOpened(
                dispute_id=dispute_id,
                invoice_id=invoice_id,
                customer_id=customer_id,
                reason=reason,
                currency=currency,
                amount_minor=amount.amount_minor,
                opened_on=opened_on,
            ),
            at,
        )
        return Result(await _current(conn, tenant, dispute_id), created=True)


def _same_resolution(
    row: asyncpg.Record,
    outcome: Outcome,
    resolved_on: date,
    note: str | None,
    given: CreditGiven | None,
) -> bool:
    return (
        row["status"] == outcome
        and row["resolved_on"] == resolved_on
        and row["resolution_note"] == note
        and row["credit_note_id"] == (given.credit_note_id if given else None)
        and row["credit_minor"] == (given.amount.amount_minor if given else None)
        and (given is None or given.amount.currency == row["currency"])
    )


async def resolve_dispute(
    pool: asyncpg.Pool,
    tenant: str,
    dispute_id: str,
    *,
    outcome: Outcome,
    resolved_on: date,
    note: str | None,
    given: CreditGiven | None,
    at: datetime,
) -> Result:
    """Close an open dispute; accepted ones post their credit note in the same transaction.
    The same resolution again returns the dispute unchanged; a different one is a 409."""
    if (outcome == "accepted") != (given is not None):
        raise invalid("credit_note", "an accepted dispute comes with a credit note, only then")
    async with unit_of_work(pool) as conn:
        found = await disputes.get(conn, tenant, dispute_id)
        if found is None:
            raise NotFound(f"no dispute {dispute_id!r}")
        invoice = await lock_invoice(conn, tenant, found["invoice_id"])
        dispute = await disputes.lock(conn, tenant, dispute_id)
        assert dispute is not None
        if dispute["status"] != "open":
            current = await _current(conn, tenant, dispute_id)
            if _same_resolution(current, outcome, resolved_on, note, given):
                return Result(current, created=False)
            raise Conflict(
                f"dispute {dispute_id!r} was already {dispute['status']} "
                f"on {dispute['resolved_on']}"
            )
        if resolved_on < dispute["opened_on"]:
            raise invalid("resolved_on", "cannot be before the dispute was opened")
        invoice_id, customer_id = invoice["invoice_id"], invoice["customer_id"]
        if given is not None:
            await _credit(conn, tenant, invoice, dispute, given, resolved_on, at)
        await disputes.resolve(
            conn,
            tenant,
            dispute_id,
            status=outcome,
            resolved_on=resolved_on,
            credit_note_id=given.credit_note_id if given else None,
            note=note,
        )
        await emit(
            conn,
            tenant,
            customer_id,
            DisputeResolved(
                dispute_id=dispute_id,
                invoice_id=invoice_id,
                customer_id=customer_id,
                outcome=outcome,
                credit_note_id=given.credit_note_id if given else None,
                resolved_on=resolved_on,
            ),
            at,
        )
        return Result(await _current(conn, tenant, dispute_id), created=True)


async def _credit(
    conn: asyncpg.Connection,
    tenant: str,
    invoice: asyncpg.Record,
    dispute: asyncpg.Record,
    given: CreditGiven,
    resolved_on: date,
    at: datetime,
) -> None:
    """Post the accepted dispute's credit note on the locked invoice."""
    _refuse_closed(invoice, "the dispute can only be rejected")
    currency, amount = invoice["currency"], given.amount
    if amount.currency != currency:
        raise invalid("credit_note.currency", f"the invoice is in {currency}")
    if amount.amount_minor > dispute["amount_minor"]:
        disputed = Money(dispute["amount_minor"], currency).format()
        raise invalid("credit_note.amount", f"more than the disputed amount {disputed}")
    if amount.amount_minor > invoice["residual_minor"]:
        residual = Money(invoice["residual_minor"], currency).format()
        raise invalid("credit_note.amount", f"more than the invoice's residual {residual}")
    _, created = await credit(
        conn,
        tenant,
        invoice,
        credit_note_id=given.credit_note_id,
        amount=amount,
        reason="dispute",
        note=f"dispute {dispute['dispute_id']}",
        issued_on=resolved_on,
        at=at,
    )
    if not created:
        raise Conflict(f"credit note {given.credit_note_id!r} already exists; use a new id")


async def get_dispute(pool: asyncpg.Pool, tenant: str, dispute_id: str) -> asyncpg.Record:
    async with pool.acquire() as conn:
        row = await disputes.get(conn, tenant, dispute_id)
    if row is None:
        raise NotFound(f"no dispute {dispute_id!r}")
    return row
