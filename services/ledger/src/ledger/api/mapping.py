"""Rows to response models: minor units become decimal strings here and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import asyncpg

from huikuan_contracts.ledger import (
    AllocationPublic,
    CreditNotePublic,
    CustomerPublic,
    HistoryLine,
    InvoiceDetail,
    InvoicePublic,
    PaymentPublic,
    WriteOffPublic,
)
from huikuan_contracts.money import Money, exponent
from ledger.domain.invoices import days_overdue, invoice_status
from ledger.service.invoices import InvoiceDetail as Detail
from ledger.service.payments import Received


def text(minor: int, currency: str) -> str:
    return Money(minor, currency).format()


def texts(currency: str) -> Callable[[int], str]:
    """`text` for many amounts of one currency (a report writes thousands): the currency's
    digits are looked up once, and each amount is written the way `Money.format` writes it."""
    digits = exponent(currency)
    if digits == 0:
        return str
    scale = 10**digits

    def one(minor: int) -> str:
        whole, frac = divmod(-minor if minor < 0 else minor, scale)
        return f"{'-' if minor < 0 else ''}{whole}.{frac:0{digits}d}"

    return one


def customer(row: asyncpg.Record) -> CustomerPublic:
    return CustomerPublic.model_validate(dict(row))


def invoice(row: asyncpg.Record, as_of: date, *, disputed: bool = False) -> InvoicePublic:
    status = invoice_status(
        amount_minor=row["amount_minor"],
        residual_minor=row["residual_minor"],
        due_date=row["due_date"],
        as_of=as_of,
        voided=row["voided_on"] is not None,
        written_off=row["written_off_on"] is not None,
        disputed=disputed,
    )
    open_ = row["residual_minor"] > 0 and row["voided_on"] is None
    return InvoicePublic(
        invoice_id=row["invoice_id"],
        customer_id=row["customer_id"],
        number=row["number"],
        issue_date=row["issue_date"],
        due_date=row["due_date"],
        currency=row["currency"],
        amount=text(row["amount_minor"], row["currency"]),
        residual=text(row["residual_minor"], row["currency"]),
        status=status,
        as_of=as_of,
        days_overdue=days_overdue(row["due_date"], as_of) if open_ else 0,
        created_at=row["created_at"],
    )


def allocation(row: asyncpg.Record, currency: str) -> AllocationPublic:
    return AllocationPublic(
        payment_id=row["payment_id"],
        invoice_id=row["invoice_id"],
        amount=text(row["amount_minor"], currency),
        applied_on=row["applied_on"],
        days_late=row["days_late"],
        reversed_on=row["reversed_on"],
    )


def credit_note(row: asyncpg.Record, currency: str) -> CreditNotePublic:
    return CreditNotePublic(
        credit_note_id=row["credit_note_id"],
        invoice_id=row["invoice_id"],
        currency=currency,
        amount=text(row["amount_minor"], currency),
        reason=row["reason"],
        note=row["note"],
        issued_on=row["issued_on"],
    )


def write_off(row: asyncpg.Record, currency: str) -> WriteOffPublic:
    return WriteOffPublic(
        invoice_id=row["invoice_id"],
        currency=currency,
        amount=text(row["amount_minor"], currency),
        reason=row["reason"],
        approver=row["approver"],
        written_off_on=row["written_off_on"],
    )


def invoice_detail(detail: Detail, as_of: date) -> InvoiceDetail:
    row, currency = detail.row, detail.row["currency"]
    owed, history = 0, []
    for line in detail.history:
        owed += line["amount_minor"]
        history.append(
            HistoryLine(
                kind=line["kind"],
                reference=line["reference"],
                effective_date=line["effective_date"],
                posted_at=line["posted_at"],
                amount=text(line["amount_minor"], currency),
                owed_after=text(owed, currency),
            )
        )
    return InvoiceDetail(
        **invoice(row, as_of, disputed=detail.disputed).model_dump(),
        allocations=[allocation(a, currency) for a in detail.allocations],
        credit_notes=[credit_note(c, currency) for c in detail.credit_notes],
        write_off=write_off(detail.write_off, currency) if detail.write_off else None,
        history=history,
    )


def payment(received: Received) -> PaymentPublic:
    row, currency = received.row, received.row["currency"]
    return PaymentPublic(
        payment_id=row["payment_id"],
        customer_id=row["customer_id"],
        currency=currency,
        amount=text(row["amount_minor"], currency),
        unapplied=text(row["unapplied_minor"], currency),
        received_on=row["received_on"],
        method=row["method"],
        reference=row["reference"],
        reversed_on=row["reversed_on"],
        allocations=[allocation(a, currency) for a in received.allocations],
        created_at=row["created_at"],
    )
