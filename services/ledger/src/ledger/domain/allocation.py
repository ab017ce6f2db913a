"""Matching money to invoices: explicit allocations are checked, automatic ones go to the
oldest due invoice first. Pure functions; the caller locks and loads what they read."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date


class AllocationError(ValueError):
    """An allocation that cannot be made; `field` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    invoice_id: str
    currency: str
    issue_date: date
    due_date: date
    residual_minor: int
    disputed: bool = False


@dataclass(frozen=True, slots=True)
class Allocation:
    invoice_id: str
    amount_minor: int


def oldest_due_first(available: int, invoices: Iterable[OpenInvoice]) -> list[Allocation]:
    """Spend `available` on open, undisputed invoices in order of due date."""
    result: list[Allocation] = []
    order = sorted(invoices, key=lambda i: (i.due_date, i.issue_date, i.invoice_id))
    for invoice in order:
        if available <= 0:
            break
        if invoice.disputed or invoice.residual_minor <= 0:
            continue
        amount = min(available, invoice.residual_minor)
        result.append(Allocation(invoice.invoice_id, amount))
        available -= amount
    return result


def explicit(
    available: int,
    currency: str,
    requested: Sequence[tuple[str, int]],
    invoices: dict[str, OpenInvoice],
) -> list[Allocation]:
    """Check the caller's list of (invoice, amount) against what is open and available."""
    per_invoice: dict[str, int] = defaultdict(int)
    for index, (invoice_id, amount) in enumerate(requested):
        where = f"allocations[{index}]"
        if amount <= 0:
            raise AllocationError(f"{where}.amount", "must be greater than zero")
        invoice = invoices.get(invoice_id)
        if invoice is None:
            raise AllocationError(
                f"{where}.invoice_id", f"no open invoice {invoice_id!r} of this customer"
            )
        if invoice.currency != currency:
            raise AllocationError(
                f"{where}.invoice_id",
                f"invoice {invoice_id!r} is in {invoice.currency}, the payment in {currency}",
            )
        per_invoice[invoice_id] += amount
        if per_invoice[invoice_id] > invoice.residual_minor:
            raise AllocationError(
                f"{where}.amount", f"more than the residual of invoice {invoice_id!r}"
            )
    if sum(per_invoice.values()) > available:
        raise AllocationError("allocations", "the allocations add up to more than the payment")
    return [Allocation(invoice_id, amount) for invoice_id, amount in per_invoice.items()]


def settlement_date(received_on: date, issue_date: date) -> date:
    """When money counts as paid on an invoice: on receipt, or on issue if it came first."""
    return max(received_on, issue_date)


def days_late(settled_on: date, due_date: date) -> int:
    """Positive when paid after the due date, negative when early."""
    return (settled_on - due_date).days
