"""The double-entry journal: every business action is one balanced entry.

Amounts are signed minor units: debits positive, credits negative. An entry balances
when its lines sum to zero in every currency. Accounts:

- `receivable`      per customer and invoice (asset; debit balance = what is owed)
- `unapplied_cash`  per customer and payment (liability; credit balance = money held)
- `cash`            company (asset)
- `revenue`         company (income; credit balance)
- `returns`         company (contra-revenue: returns, rebates, price corrections)
- `bad_debt`        company (expense)
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from huikuan_contracts.ledger.kinds import EntryKind


class Account(StrEnum):
    RECEIVABLE = "receivable"
    UNAPPLIED_CASH = "unapplied_cash"
    CASH = "cash"
    REVENUE = "revenue"
    RETURNS = "returns"
    BAD_DEBT = "bad_debt"


class UnbalancedEntry(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Line:
    account: Account
    currency: str
    amount_minor: int  # debit > 0, credit < 0
    customer_id: str | None = None
    invoice_id: str | None = None
    payment_id: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    kind: EntryKind
    effective_date: date
    reference: str  # the business id the entry belongs to (invoice, payment, note ...)
    lines: tuple[Line, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        totals: dict[str, int] = defaultdict(int)
        for line in self.lines:
            totals[line.currency] += line.amount_minor
        unbalanced = {c: t for c, t in totals.items() if t != 0}
        if unbalanced or not self.lines:
            raise UnbalancedEntry(f"{self.kind} {self.reference} does not balance: {unbalanced}")


def _transfer(
    kind: EntryKind,
    on: date,
    reference: str,
    currency: str,
    amount: int,
    debit: Line,
    credit: Line,
) -> Entry:
    """A two-line entry moving `amount` from the credited account to the debited one."""
    if amount <= 0:
        raise UnbalancedEntry(f"{kind} {reference}: amount must be positive, got {amount}")
    return Entry(
        kind,
        on,
        reference,
        (
            Line(
                debit.account,
                currency,
                amount,
                debit.customer_id,
                debit.invoice_id,
                debit.payment_id,
            ),
            Line(
                credit.account,
                currency,
                -amount,
                credit.customer_id,
                credit.invoice_id,
                credit.payment_id,
            ),
        ),
    )


def _receivable(customer_id: str, invoice_id: str) -> Line:
    return Line(Account.RECEIVABLE, "", 0, customer_id, invoice_id)


def _unapplied(customer_id: str, payment_id: str) -> Line:
    return Line(Account.UNAPPLIED_CASH, "", 0, customer_id, payment_id=payment_id)


def _company(account: Account) -> Line:
    return Line(account, "", 0)


def invoice_issued(
    customer_id: str, invoice_id: str, currency: str, amount: int, on: date
) -> Entry:
    return _transfer(
        EntryKind.INVOICE,
        on,
        invoice_id,
        currency,
        amount,
        _receivable(customer_id, invoice_id),
        _company(Account.REVENUE),
    )


def invoice_voided(
    customer_id: str, invoice_id: str, currency: str, amount: int, on: date
) -> Entry:
    return _transfer(
        EntryKind.INVOICE_VOID,
        on,
        invoice_id,
        currency,
        amount,
        _company(Account.REVENUE),
        _receivable(customer_id, invoice_id),
    )


def payment_received(
    customer_id: str, payment_id: str, currency: str, amount: int, on: date
) -> Entry:
    return _transfer(
        EntryKind.PAYMENT,
        on,
        payment_id,
        currency,
        amount,
        _company(Account.CASH),
        _unapplied(customer_id, payment_id),
    )


def payment_reversed(
    customer_id: str, payment_id: str, currency: str, amount: int, on: date
) -> Entry:
    return _transfer(
        EntryKind.PAYMENT_REVERSAL,
        on,
        payment_id,
        currency,
        amount,
        _unapplied(customer_id, payment_id),
        _company(Account.CASH),
    )


def allocation(
    customer_id: str,
    payment_id: str,
    invoice_id: str,
    currency: str,
    amount: int,
    on: date,
    reference: str,
) -> Entry:
    """Money held for the customer settles (part of) an invoice."""
    return _transfer(
        EntryKind.ALLOCATION,
        on,
        reference,
        currency,
        amount,
        _unapplied(customer_id, payment_id),
        _receivable(customer_id, invoice_id),
    )


def allocation_reversed(
    customer_id: str,
    payment_id: str,
    invoice_id: str,
    currency: str,
    amount: int,
    on: date,
    reference: str,
) -> Entry:
    """An allocation undone (bounced cheque): the invoice is owed again."""
    return _transfer(
        EntryKind.ALLOCATION_REVERSAL,
        on,
        reference,
        currency,
        amount,
        _receivable(customer_id, invoice_id),
        _unapplied(customer_id, payment_id),
    )


def credit_note(
    customer_id: str, invoice_id: str, currency: str, amount: int, on: date, reference: str
) -> Entry:
    return _transfer(
        EntryKind.CREDIT_NOTE,
        on,
        reference,
        currency,
        amount,
        _company(Account.RETURNS),
        _receivable(customer_id, invoice_id),
    )


def write_off(
    customer_id: str, invoice_id: str, currency: str, amount: int, on: date, reference: str
) -> Entry:
    return _transfer(
        EntryKind.WRITE_OFF,
        on,
        reference,
        currency,
        amount,
        _company(Account.BAD_DEBT),
        _receivable(customer_id, invoice_id),
    )
