"""Orders approved by credit checks count in exposure until they expire or are invoiced.

An approval is consumed by an invoice of the customer whose id or number is the order id;
invoices that name no approved order consume the oldest open approvals of their currency
approved on or before their issue date (first in, first out). Pure and order-independent:
the same approvals and invoices always leave the same remainders.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import date

from credit.domain.profile import Fact


@dataclass(frozen=True, slots=True)
class Approval:
    check_id: uuid.UUID
    order_id: str | None
    currency: str
    amount_minor: int
    approved_on: date
    expires_on: date


def open_approvals(approvals: list[Approval], invoices: list[Fact], as_of: date) -> dict[str, int]:
    """What approved orders still add to exposure on `as_of`, per currency."""
    left = {a.check_id: a.amount_minor for a in approvals}
    by_order = {a.order_id: a for a in approvals if a.order_id is not None}
    seen: set[str] = set()
    loose: list[Fact] = []
    for inv in sorted(invoices, key=lambda f: (f.on, f.ref)):
        if inv.ref in seen:
            continue
        seen.add(inv.ref)
        match = by_order.get(inv.ref) or (by_order.get(inv.ref2) if inv.ref2 else None)
        if match is not None and inv.currency == match.currency:
            left[match.check_id] = 0
        else:
            loose.append(inv)
    queue = sorted(approvals, key=lambda a: (a.approved_on, str(a.check_id)))
    for inv in loose:
        amount = inv.amount_minor or 0
        for a in queue:
            if amount <= 0:
                break
            if a.currency != inv.currency or a.approved_on > inv.on or left[a.check_id] <= 0:
                continue
            used = min(amount, left[a.check_id])
            left[a.check_id] -= used
            amount -= used
    out: dict[str, int] = defaultdict(int)
    for a in approvals:
        if a.expires_on >= as_of and left[a.check_id] > 0:
            out[a.currency] += left[a.check_id]
    return dict(out)
