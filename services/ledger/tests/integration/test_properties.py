"""Random sequences of issue / pay / allocate / credit-note / write-off / void / reverse and
replays, against real PostgreSQL: whatever happens, the books stay right.

After every step: a refused request changed nothing; a replayed request changed nothing.
At the end: every journal entry balances, each invoice's residual = amount - allocations -
credit notes - write-offs (never negative) and equals its receivable in the journal, each
payment's unapplied cash equals its journal balance (never negative), and each customer's
receivable account equals the sum of its residuals.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from huikuan_contracts.money import Money
from huikuan_runtime.problems import Problem
from ledger.service.invoices import add_credit_note, void_invoice, write_off_invoice
from ledger.service.payments import allocate_held, reverse_payment
from services.ledger.tests.integration.books import AT, check_books, customer, invoice, payment

pytestmark = pytest.mark.integration

START = date(2026, 1, 1)
CUSTOMERS = ("C-1", "C-2")

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("issue"), st.integers(1, 50_000), st.integers(0, 60), st.sampled_from(CUSTOMERS)
        ),
        st.tuples(
            st.just("pay"),
            st.integers(1, 80_000),
            st.integers(0, 90),
            st.sampled_from(CUSTOMERS),
            st.booleans(),
            st.integers(0, 30),
        ),
        st.tuples(st.just("credit"), st.integers(0, 30), st.integers(1, 100)),
        st.tuples(st.just("write_off"), st.integers(0, 30)),
        st.tuples(st.just("void"), st.integers(0, 30)),
        st.tuples(st.just("reverse"), st.integers(0, 30)),
        st.tuples(st.just("allocate"), st.integers(0, 30)),
        st.tuples(st.just("replay"), st.integers(0, 60)),
    ),
    min_size=1,
    max_size=20,
)


async def _footprint(pool: asyncpg.Pool, tenant: str) -> tuple[int, ...]:
    row = await pool.fetchrow(
        """SELECT (SELECT count(*) FROM journal_entry WHERE tenant = $1) AS j,
                  (SELECT count(*) FROM allocation WHERE tenant = $1) AS a,
                  (SELECT count(*) FROM outbox_event) AS o,
                  (SELECT coalesce(sum(residual_minor), 0) FROM invoice WHERE tenant = $1) AS r,
                  (SELECT coalesce(sum(unapplied_minor), 0) FROM payment WHERE tenant = $1) AS u""",
        tenant,
    )
    assert row is not None
    return tuple(row.values())


@settings(
    max_examples=75, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(steps=ops)
async def test_any_sequence_keeps_the_books_right(pool: asyncpg.Pool, steps: list[Any]) -> None:
    tenant = f"p-{uuid.uuid4().hex[:10]}"
    for c in CUSTOMERS:
        await customer(pool, tenant, c)
    invoices: list[str] = []
    payments: list[str] = []
    done: list[Callable[[], Awaitable[object]]] = []

    def pick(items: list[str], index: int) -> str | None:
        return items[index % len(items)] if items else None

    for step in steps:
        kind = step[0]
        request: Callable[[], Awaitable[object]] | None = None
        if kind == "issue":
            _, amount, day, cust = step
            invoice_id = f"I-{len(invoices)}"
            invoices.append(invoice_id)
            issued = START + timedelta(days=day)
            text = Money(amount, "CNY").format()

            def request(
                i: str = invoice_id, c: str = cust, t: str = text, d: date = issued
            ) -> Awaitable[object]:
                return invoice(pool, tenant, i, c, t, d)
        elif kind == "pay":
            _, amount, day, cust, explicit, target = step
            payment_id = f"P-{len(payments)}"
            payments.append(payment_id)
            chosen = pick(invoices, target)
            alloc = (
                [(chosen, Money(min(amount, 1 + amount // 3), "CNY").format())]
                if (explicit and chosen)
                else None
            )
            text = Money(amount, "CNY").format()

            def request(
                p: str = payment_id,
                c: str = cust,
                t: str = text,
                d: date = START + timedelta(days=day),
                a: list[tuple[str, str]] | None = alloc,
            ) -> Awaitable[object]:
                return payment(pool, tenant, p, c, t, d, a)
        elif kind == "credit" and (target_id := pick(invoices, step[1])):
            residual = (
                await pool.fetchval(
                    "SELECT residual_minor FROM invoice WHERE tenant = $1 AND invoice_id = $2",
                    tenant,
                    target_id,
                )
                or 1
            )
            amount = Money(max(1, residual * step[2] // 100), "CNY")
            note_id = f"CN-{len(done)}"

            def request(
                i: str = target_id, n: str = note_id, m: Money = amount
            ) -> Awaitable[object]:
                return add_credit_note(
                    pool,
                    tenant,
                    i,
                    credit_note_id=n,
                    amount=m,
                    reason="rebate",
                    note=None,
                    issued_on=START + timedelta(days=120),
                    at=AT,
                )
        elif kind == "write_off" and (target_id := pick(invoices, step[1])):

            def request(i: str = target_id) -> Awaitable[object]:
                return write_off_invoice(
                    pool,
                    tenant,
                    i,
                    reason="bankrupt",
                    approver="cfo",
                    written_off_on=START + timedelta(days=200),
                    at=AT,
                )
        elif kind == "void" and (target_id := pick(invoices, step[1])):

            def request(i: str = target_id) -> Awaitable[object]:
                return void_invoice(
                    pool,
                    tenant,
                    i,
                    voided_on=START + timedelta(days=100),
                    reason="cancelled",
                    at=AT,
                )
        elif kind == "reverse" and (target_id := pick(payments, step[1])):

            def request(p: str = target_id) -> Awaitable[object]:
                return reverse_payment(
                    pool,
                    tenant,
                    p,
                    reversed_on=START + timedelta(days=150),
                    reason="bounced",
                    at=AT,
                )
        elif kind == "allocate" and (target_id := pick(payments, step[1])):

            def request(p: str = target_id) -> Awaitable[object]:
                return allocate_held(pool, tenant, p, currency="CNY", allocations=None, at=AT)
        elif kind == "replay" and done:
            before = await _footprint(pool, tenant)
            with contextlib.suppress(Problem):
                await done[step[1] % len(done)]()
            assert await _footprint(pool, tenant) == before, "a replay changed the books"
            continue
        if request is None:
            continue
        before = await _footprint(pool, tenant)
        try:
            await request()
        except Problem as exc:
            assert await _footprint(pool, tenant) == before, f"refused {step} but wrote"
            event(f"{kind} refused: {exc.slug}")
            continue
        event(f"{kind} done")
        if kind in ("issue", "pay", "credit", "write_off", "void"):
            done.append(request)  # creates with ids: replaying them must change nothing
    await check_books(pool, tenant)
