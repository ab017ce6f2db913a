"""Small helpers to build books through the service layer in integration tests."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import asyncpg

from huikuan_contracts.money import Money
from ledger.service.customers import upsert_customer
from ledger.service.invoices import create_invoice
from ledger.service.payments import Received, receive_payment

AT = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def customer_fields(**changes: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": "华东贸易",
        "email": None,
        "phone": None,
        "country": "CN",
        "currency": "CNY",
        "payment_terms_days": 30,
        "owner": "li",
        "segment": None,
        "region": "east",
        "language": "zh",
        "timezone": "Asia/Shanghai",
    }
    return {**fields, **changes}


def cny(text: str) -> Money:
    return Money.parse(text, "CNY")


async def customer(pool: asyncpg.Pool, tenant: str, customer_id: str, **changes: Any) -> None:
    await upsert_customer(pool, tenant, customer_id, customer_fields(**changes), AT)


async def invoice(
    pool: asyncpg.Pool,
    tenant: str,
    invoice_id: str,
    customer_id: str,
    amount: str,
    issued: date,
    due: date | None = None,
    currency: str = "CNY",
) -> asyncpg.Record:
    result = await create_invoice(
        pool,
        tenant,
        invoice_id=invoice_id,
        customer_id=customer_id,
        number=f"N-{invoice_id}",
        issue_date=issued,
        due_date=due,
        amount=Money.parse(amount, currency),
        at=AT,
    )
    return result.row


async def payment(
    pool: asyncpg.Pool,
    tenant: str,
    payment_id: str,
    customer_id: str,
    amount: str,
    received: date,
    allocations: list[tuple[str, str]] | None = None,
    currency: str = "CNY",
) -> Received:
    return await receive_payment(
        pool,
        tenant,
        payment_id=payment_id,
        customer_id=customer_id,
        amount=Money.parse(amount, currency),
        received_on=received,
        method="bank_transfer",
        reference=None,
        allocations=None
        if allocations is None
        else [(i, Money.parse(a, currency).amount_minor) for i, a in allocations],
        at=AT,
    )


async def events(pool: asyncpg.Pool, tenant: str) -> list[dict[str, Any]]:
    """The tenant's outbox events in order, as CloudEvent dicts."""
    rows = await pool.fetch(
        """SELECT convert_from(payload, 'UTF8')::jsonb AS e FROM outbox_event
           WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1 ORDER BY position""",
        tenant,
    )
    return [r["e"] for r in rows]


async def check_books(pool: asyncpg.Pool, tenant: str) -> None:
    """The invariants every book keeps; raises AssertionError naming the first broken one."""
    unbalanced = await pool.fetch(
        """SELECT e.entry_id, l.currency, sum(l.amount_minor) AS s
           FROM journal_entry e JOIN journal_line l USING (entry_id)
           WHERE e.tenant = $1 GROUP BY e.entry_id, l.currency HAVING sum(l.amount_minor) <> 0""",
        tenant,
    )
    assert not unbalanced, f"unbalanced entries: {unbalanced}"
    drift = await pool.fetch(
        """SELECT i.invoice_id, i.residual_minor, coalesce(j.owed, 0) AS owed,
                  i.amount_minor - coalesce(a.paid, 0) - coalesce(c.credited, 0)
                      - coalesce(w.written, 0) - CASE WHEN i.voided_on IS NULL THEN 0
                                                     ELSE i.amount_minor END AS expected
           FROM invoice i
           LEFT JOIN (SELECT invoice_id, sum(amount_minor) AS owed FROM journal_line
                      WHERE tenant = $1 AND account = 'receivable' GROUP BY invoice_id) j
                  USING (invoice_id)
           LEFT JOIN (SELECT invoice_id, sum(amount_minor) AS paid FROM allocation
                      WHERE tenant = $1 AND reversed_on IS NULL GROUP BY invoice_id) a
                  USING (invoice_id)
           LEFT JOIN (SELECT invoice_id, sum(amount_minor) AS credited FROM credit_note
                      WHERE tenant = $1 GROUP BY invoice_id) c USING (invoice_id)
           LEFT JOIN (SELECT invoice_id, amount_minor AS written FROM write_off
                      WHERE tenant = $1) w USING (invoice_id)
           WHERE i.tenant = $1
             AND (i.residual_minor <> coalesce(j.owed, 0) OR i.residual_minor < 0
                  OR i.residual_minor <> i.amount_minor - coalesce(a.paid, 0)
                     - coalesce(c.credited, 0) - coalesce(w.written, 0)
                     - CASE WHEN i.voided_on IS NULL THEN 0 ELSE i.amount_minor END)""",
        tenant,
    )
    assert not drift, f"residuals disagree: {[dict(r) for r in drift]}"
    held = await pool.fetch(
        """SELECT p.payment_id, p.unapplied_minor, coalesce(-j.held, 0) AS held
           FROM payment p
           LEFT JOIN (SELECT payment_id, sum(amount_minor) AS held FROM journal_line
                      WHERE tenant = $1 AND account = 'unapplied_cash' GROUP BY payment_id) j
                  USING (payment_id)
           WHERE p.tenant = $1 AND (p.unapplied_minor <> coalesce(-j.held, 0)
                                    OR p.unapplied_minor < 0)""",
        tenant,
    )
    assert not held, f"unapplied cash disagrees: {[dict(r) for r in held]}"
    receivable = await pool.fetch(
        """SELECT c.customer_id FROM customer c
           WHERE c.tenant = $1 AND
             (SELECT coalesce(sum(amount_minor), 0) FROM journal_line
              WHERE tenant = $1 AND customer_id = c.customer_id AND account = 'receivable')
             <> (SELECT coalesce(sum(residual_minor), 0) FROM invoice
                 WHERE tenant = $1 AND customer_id = c.customer_id)""",
        tenant,
    )
    assert not receivable, f"receivable account != sum of residuals: {receivable}"
