"""Statements of account and the customer's confirmation of them.

A statement is read from the journal alone, by effective date, so a back-dated posting
shows where it belongs and replaying history gives the same statement. Per currency it
reports:

- the opening position at the end of the day before `from` and the closing one at the end
  of `to`, each as `receivable` (what the invoices still owe), `unapplied_cash` (money
  received and not yet matched) and `balance` = receivable - unapplied cash, the net amount
  the customer owes (negative when we hold more of its money than it owes);
- one line per journal entry in the period that changes the balance (invoice, void, payment
  received, payment reversal, credit note, write-off), in effective-date then posting order,
  with its debit (the customer owes more) or credit (less) and the running balance.
  Matching held money to invoices (allocations and their reversals) moves money between
  receivable and unapplied cash without changing the balance: it is in the positions, not
  among the lines.

A confirmation records the balance the customer acknowledges at the end of a period beside
ours then; `difference` = ours - theirs, `confirmed` when zero, else `discrepancy`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import asyncpg

from huikuan_contracts.ledger.kinds import EntryKind
from huikuan_contracts.money import Money
from huikuan_events.ledger import StatementConfirmed
from huikuan_runtime import pagination
from huikuan_runtime.db import unit_of_work
from huikuan_runtime.problems import Conflict, NotFound
from ledger.domain.fingerprint import fingerprint
from ledger.events.outbox import emit
from ledger.service.invoices import invalid
from ledger.store import customers
from ledger.store import statements as store

# Entries that only match held money to invoices: they never change the net balance.
MATCHING = frozenset({EntryKind.ALLOCATION, EntryKind.ALLOCATION_REVERSAL})


@dataclass(frozen=True, slots=True)
class Position:
    receivable: int
    unapplied: int

    @property
    def balance(self) -> int:
        return self.receivable - self.unapplied


@dataclass(frozen=True, slots=True)
class Line:
    kind: EntryKind
    reference: str
    effective_date: date
    posted_at: datetime
    invoice_id: str | None
    payment_id: str | None
    change: int  # > 0 the customer owes more (debit), < 0 less (credit)
    balance: int  # after this line


@dataclass(frozen=True, slots=True)
class CurrencyStatement:
    currency: str
    opening: Position
    lines: tuple[Line, ...]
    closing: Position

    @property
    def debits(self) -> int:
        return sum(line.change for line in self.lines if line.change > 0)

    @property
    def credits(self) -> int:
        return -sum(line.change for line in self.lines if line.change < 0)


@dataclass(frozen=True, slots=True)
class Statement:
    customer_id: str
    period_from: date
    period_to: date
    currencies: tuple[CurrencyStatement, ...]


def build(
    currencies: Sequence[str],
    opening: Mapping[str, Position],
    entries: Sequence[Mapping[str, Any]],
) -> tuple[CurrencyStatement, ...]:
    """Lines with running balances and the closing position, per currency, from the opening
    position and the period's entries (in order; `receivable_minor` / `unapplied_minor` are
    each entry's change to them)."""
    result = []
    for currency in currencies:
        start = opening.get(currency, Position(0, 0))
        receivable, unapplied = start.receivable, start.unapplied
        lines = []
        for entry in entries:
            if entry["currency"] != currency:
                continue
            receivable += entry["receivable_minor"]
            unapplied += entry["unapplied_minor"]
            kind = EntryKind(entry["kind"])
            if kind in MATCHING:
                continue
            lines.append(
                Line(
                    kind=kind,
                    reference=entry["reference"],
                    effective_date=entry["effective_date"],
                    posted_at=entry["posted_at"],
                    invoice_id=entry["invoice_id"],
                    payment_id=entry["payment_id"],
                    change=entry["receivable_minor"] - entry["unapplied_minor"],
                    balance=receivable - unapplied,
                )
            )
        result.append(
            CurrencyStatement(currency, start, tuple(lines), Position(receivable, unapplied))
        )
    return tuple(result)


def _positions(rows: Sequence[Mapping[str, Any]]) -> dict[str, Position]:
    return {r["currency"]: Position(r["receivable_minor"], r["unapplied_minor"]) for r in rows}


async def _customer(conn: asyncpg.Connection, tenant: str, customer_id: str) -> asyncpg.Record:
    row = await customers.get(conn, tenant, customer_id)
    if row is None:
        raise NotFound(f"no customer {customer_id!r}")
    return row


async def statement(
    pool: asyncpg.Pool,
    tenant: str,
    customer_id: str,
    *,
    period_from: date,
    period_to: date,
    currency: str | None,
) -> Statement:
    """The statement of account for [period_from, period_to]; every currency the customer
    has postings in up to `period_to` (its own currency when none) unless one is asked for."""
    if period_from > period_to:
        raise invalid("from", "must not be after to")
    async with pool.acquire() as conn, conn.transaction(isolation="repeatable_read"):
        customer = await _customer(conn, tenant, customer_id)
        opening = (
            _positions(
                await store.balances_through(
                    conn, tenant, customer_id, period_from - timedelta(days=1), currency
                )
            )
            if period_from > date.min
            else {}
        )
        entries = await store.entries_between(
            conn, tenant, customer_id, period_from, period_to, currency
        )
    if currency is not None:
        currencies = [currency]
    else:
        currencies = sorted(set(opening) | {e["currency"] for e in entries}) or [
            customer["currency"]
        ]
    return Statement(customer_id, period_from, period_to, build(currencies, opening, entries))


def confirmation_status(our_balance: int, their_balance: int) -> str:
    return "confirmed" if our_balance == their_balance else "discrepancy"


@dataclass(frozen=True, slots=True)
class Confirmed:
    row: asyncpg.Record
    created: bool


async def confirm_statement(
    pool: asyncpg.Pool,
    tenant: str,
    customer_id: str,
    *,
    confirmation_id: str,
    period_from: date,
    period_to: date,
    their_balance: Money,
    note: str | None,
    at: datetime,
) -> Confirmed:
    """Record the customer's answer to a statement once: the same request again returns it
    (with the balance we had then), a different one under the same id is a 409."""
    if period_from > period_to:
        raise invalid("period_from", "must not be after period_to")
    currency = their_balance.currency
    print_ = fingerprint(
        customer_id=customer_id,
        period_from=period_from,
        period_to=period_to,
        currency=currency,
        their_balance=their_balance.amount_minor,
        note=note,
    )

    def same(existing: asyncpg.Record) -> Confirmed:
        if existing["fingerprint"] != print_:
            raise Conflict(
                f"confirmation {confirmation_id!r} already exists with different content",
                confirmation_id=confirmation_id,
            )
        return Confirmed(existing, created=False)

    async with unit_of_work(pool) as conn:
        # The customer's lock: no posting of this customer runs while we read its balance.
        if await customers.lock(conn, tenant, customer_id) is None:
            raise NotFound(f"no customer {customer_id!r}")
        existing = await store.get_confirmation(conn, tenant, confirmation_id)
        if existing is not None:
            return same(existing)
        ours = _positions(
            await store.balances_through(conn, tenant, customer_id, period_to, currency)
        ).get(currency, Position(0, 0))
        theirs = their_balance.amount_minor
        status = confirmation_status(ours.balance, theirs)
        row = await store.insert_confirmation(
            conn,
            tenant,
            confirmation_id=confirmation_id,
            customer_id=customer_id,
            period_from=period_from,
            period_to=period_to,
            currency=currency,
            our_balance=ours.balance,
            their_balance=theirs,
            status=status,
            note=note,
            fingerprint=print_,
            at=at,
        )
        if row is None:  # taken meanwhile, for another customer
            existing = await store.get_confirmation(conn, tenant, confirmation_id)
            assert existing is not None
            return same(existing)
        await emit(
            conn,
            tenant,
            customer_id,
            StatementConfirmed(
                confirmation_id=confirmation_id,
                customer_id=customer_id,
                period_from=period_from,
                period_to=period_to,
                currency=currency,
                our_balance_minor=ours.balance,
                their_balance_minor=theirs,
                difference_minor=ours.balance - theirs,
                status=status,
            ),
            at,
        )
        return Confirmed(row, created=True)


def _after(cursor: str | None) -> tuple[date, str] | None:
    """The (period_to, confirmation_id) key inside a `next_cursor` this list returned."""
    key = pagination.decode(cursor, 2)
    if key is None:
        return None
    try:
        return date.fromisoformat(key[0]), str(key[1])
    except (TypeError, ValueError):
        raise pagination.invalid_cursor() from None


@dataclass(frozen=True, slots=True)
class ConfirmationPage:
    rows: list[asyncpg.Record]
    next_cursor: str | None


async def confirmations(
    pool: asyncpg.Pool,
    tenant: str,
    customer_id: str,
    *,
    currency: str | None,
    limit: int,
    cursor: str | None,
) -> ConfirmationPage:
    """The customer's statement confirmations, newest period first, a page at a time."""
    before = _after(cursor)
    async with pool.acquire() as conn:
        await _customer(conn, tenant, customer_id)
        rows = await store.confirmations_of_customer(
            conn, tenant, customer_id, currency=currency, before=before, limit=limit + 1
        )
    kept, next_cursor = pagination.page(
        rows, limit, lambda r: [r["period_to"], r["confirmation_id"]]
    )
    return ConfirmationPage(kept, next_cursor)
