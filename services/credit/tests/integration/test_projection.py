"""Credit's projection on real PostgreSQL, driven through the idempotent consumer."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import asyncpg
import pytest

from credit.domain.holds import HoldPolicy
from credit.service import checks, jobs, manual
from credit.store import approvals
from huikuan_events import Envelope
from huikuan_events.ledger import (
    CustomerUpserted,
    InvoiceIssued,
    InvoiceOverdue,
    InvoiceSettled,
    PaymentApplied,
)
from huikuan_events.reminders import DunningEscalated, PromiseBroken, PromiseMade
from huikuan_runtime.db import unit_of_work

from .events import consumer, deliver, envelope, produced, snapshot

pytestmark = pytest.mark.integration


def customer(cid: str = "C-1") -> Envelope:
    return envelope(
        CustomerUpserted(customer_id=cid, name="华东贸易", currency="CNY", payment_terms_days=30),
        date(2026, 1, 5),
    )


def invoice(n: int, issued: date, due: date, amount: int = 100_000, cid: str = "C-1") -> Envelope:
    return envelope(
        InvoiceIssued(
            invoice_id=f"INV-{n}",
            customer_id=cid,
            number=f"N-{n}",
            issue_date=issued,
            due_date=due,
            currency="CNY",
            amount_minor=amount,
        ),
        issued,
    )


def payment(n: int, on: date, due: date, amount: int = 100_000, residual: int = 0) -> Envelope:
    return envelope(
        PaymentApplied(
            payment_id=f"P-{n}",
            invoice_id=f"INV-{n}",
            customer_id="C-1",
            currency="CNY",
            amount_minor=amount,
            applied_on=on,
            due_date=due,
            days_late=max(0, (on - due).days),
            invoice_residual_minor=residual,
        ),
        on,
    )


def history_of_c1() -> list[Envelope]:
    return [
        customer(),
        invoice(1, date(2026, 1, 10), date(2026, 2, 9)),
        payment(1, date(2026, 2, 8), date(2026, 2, 9)),
        envelope(
            InvoiceSettled(
                invoice_id="INV-1",
                customer_id="C-1",
                currency="CNY",
                settled_on=date(2026, 2, 8),
                days_late=0,
            ),
            date(2026, 2, 8),
        ),
        invoice(2, date(2026, 3, 1), date(2026, 3, 31)),
        payment(2, date(2026, 5, 4), date(2026, 3, 31)),  # 34 days late
        invoice(3, date(2026, 6, 1), date(2026, 7, 1), amount=250_000),
        envelope(
            InvoiceOverdue(
                invoice_id="INV-3",
                customer_id="C-1",
                due_date=date(2026, 7, 1),
                currency="CNY",
                residual_minor=250_000,
                as_of=date(2026, 7, 2),
            ),
            date(2026, 7, 2),
        ),
        envelope(
            PromiseMade(
                promise_id="PR-1",
                customer_id="C-1",
                currency="CNY",
                amount_minor=250_000,
                promised_date=date(2026, 7, 10),
                invoice_ids=["INV-3"],
                taken_by="li",
            ),
            date(2026, 7, 3),
        ),
        envelope(
            PromiseBroken(
                promise_id="PR-1",
                customer_id="C-1",
                currency="CNY",
                shortfall_minor=250_000,
                promised_date=date(2026, 7, 10),
                judged_on=date(2026, 7, 13),
            ),
            date(2026, 7, 13),
        ),
        invoice(4, date(2026, 7, 15), date(2026, 8, 14), amount=50_000),
    ]


async def test_replaying_twice_and_rebuilding_give_identical_projections(
    pool: asyncpg.Pool, tmp_path_factory: pytest.TempPathFactory
) -> None:
    events = history_of_c1()
    c = consumer(pool)
    first = await deliver(c, events)
    assert not any(a.duplicate for a in first)
    once = await snapshot(pool)
    assert once["state"][0]["grade"] in ("C", "D", "E")
    again = await deliver(c, events)  # redelivery of every event: no effect at all
    assert all(a.duplicate for a in again)
    assert await snapshot(pool) == once

    # rebuild from scratch: wipe every projection table, replay from "offset 0"
    async with pool.acquire() as conn:
        await conn.execute("""TRUNCATE credit_fact, credit_state, credit_limit, credit_hold,
                                       score_history, customer_profile, outbox_event,
                                       event_sequence, processed_event, subject_cursor""")
    await deliver(consumer(pool), events)
    assert await snapshot(pool) == once


async def test_out_of_order_and_duplicate_events_do_not_corrupt(pool: asyncpg.Pool) -> None:
    events = history_of_c1()
    await deliver(consumer(pool), events)
    in_order = await snapshot(pool, history=False)
    async with pool.acquire() as conn:
        await conn.execute("""TRUNCATE credit_fact, credit_state, credit_limit, credit_hold,
                                       score_history, customer_profile, outbox_event,
                                       event_sequence, processed_event, subject_cursor""")
    shuffled = list(events)
    random.Random(7).shuffle(shuffled)
    # an invoice announced twice under different event ids counts once
    dup = invoice(3, date(2026, 6, 1), date(2026, 7, 1), amount=250_000)
    await deliver(consumer(pool), [*shuffled, *shuffled[:4], dup])
    out_of_order = await snapshot(pool, history=False)
    out_of_order["facts"] = [f for f in out_of_order["facts"] if f["event_id"] != dup.id]
    # when a hold was placed depends on the order events came in; which holds, not
    for snap in (in_order, out_of_order):
        for hold in snap["holds"]:
            del hold["placed_on"]
    assert out_of_order == in_order


async def test_a_hold_placed_for_overdue_days_is_released_by_the_payment(
    pool: asyncpg.Pool,
) -> None:
    due = date(2026, 10, 1)
    c = consumer(pool)
    await deliver(c, [customer(), invoice(1, date(2026, 9, 1), due)])
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM credit_hold") == 0
    overdue = envelope(
        InvoiceOverdue(
            invoice_id="INV-1",
            customer_id="C-1",
            due_date=due,
            currency="CNY",
            residual_minor=100_000,
            as_of=date(2026, 11, 5),
        ),
        date(2026, 11, 5),
    )
    await deliver(c, [overdue])  # 35 days overdue > 30 (the default policy)
    placed = await produced(pool, "credit.hold_placed.v1")
    # (the lower grade also lowered the limit below the invoice: over_limit too)
    by_cause = {p["cause"]: p for p in placed}
    assert by_cause["overdue_days"]["manual"] is False
    assert "35 days overdue" in by_cause["overdue_days"]["detail"]
    await deliver(c, [payment(1, date(2026, 11, 6), due)])
    released = await produced(pool, "credit.hold_released.v1")
    assert "overdue_days" in [r["cause"] for r in released]
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM credit_hold") == 0


async def test_score_changes_are_announced_and_the_rescore_job_sees_time_pass(
    pool: asyncpg.Pool,
) -> None:
    c = consumer(pool)
    await deliver(c, [customer(), invoice(1, date(2026, 9, 1), date(2026, 10, 1))])
    changes = await produced(pool, "credit.score_changed.v1")
    assert changes[0]["old_score"] is None and changes[0]["new_grade"] == "C"
    before = len(changes)
    at = datetime(2026, 12, 31, tzinfo=UTC)
    done = await jobs.rescore(pool, "t1", as_of=date(2026, 12, 31), at=at)
    assert (done.customers, done.changed) == (1, 1)
    last = (await produced(pool, "credit.score_changed.v1"))[-1]
    assert len(await produced(pool, "credit.score_changed.v1")) == before + 1
    assert last["new_score"] < last["old_score"]
    assert last["as_of"] == "2026-12-31"
    assert "an invoice is 91 days overdue" in last["reasons"]
    # the same job again changes nothing; an earlier as_of never moves the score back
    assert (await jobs.rescore(pool, "t1", as_of=date(2026, 12, 31), at=at)).changed == 0
    assert (await jobs.rescore(pool, "t1", as_of=date(2026, 10, 1), at=at)).changed == 0
    async with pool.acquire() as conn:
        assert await conn.fetchval("SELECT as_of FROM credit_state") == date(2026, 12, 31)
        assert await conn.fetchval("SELECT count(*) FROM score_history") == before + 1


async def test_limits_checks_and_holds(pool: asyncpg.Pool) -> None:
    c = consumer(pool)
    today = date(2026, 11, 10)
    at = datetime(2026, 11, 10, 9, tzinfo=UTC)
    await deliver(c, [customer(), invoice(1, date(2026, 11, 1), date(2026, 12, 1))])
    recommended = await produced(pool, "credit.limit_changed.v1")
    assert recommended[-1]["source"] == "recommended"
    assert recommended[-1]["new_limit_minor"] == 150_000  # grade C: 1.5 x a month's billing

    kw = dict(currency="CNY", today=today, at=at)
    ok = await checks.check(pool, "t1", "C-1", order_id="SO-1", amount_minor=30_000, **kw)  # type: ignore[arg-type]
    assert ok.result.decision == "approve"
    assert ok.result.available_minor == 50_000
    # the approved order now counts: only 20,000 left
    second = await checks.check(pool, "t1", "C-1", order_id="SO-2", amount_minor=30_000, **kw)  # type: ignore[arg-type]
    assert second.result.decision == "review" and second.result.available_minor == 20_000
    # checking SO-1 again replaces its approval rather than adding to it
    again = await checks.check(pool, "t1", "C-1", order_id="SO-1", amount_minor=30_000, **kw)  # type: ignore[arg-type]
    assert again.result.decision == "approve" and again.result.available_minor == 50_000
    async with pool.acquire() as conn:
        assert len(await approvals.for_customer(conn, "t1", "C-1")) == 1

    await manual.set_limit(
        pool,
        "t1",
        "C-1",
        currency="CNY",
        minor=500_000,
        reason="good year",
        set_by="cfo",
        today=today,
        at=at,
    )
    last = (await produced(pool, "credit.limit_changed.v1"))[-1]
    assert (last["source"], last["new_limit_minor"], last["set_by"]) == ("manual", 500_000, "cfo")

    await manual.place_hold(
        pool, "t1", "C-1", reason="fraud check", placed_by="ops", today=today, at=at
    )
    refused = await checks.check(pool, "t1", "C-1", order_id="SO-3", amount_minor=1, **kw)  # type: ignore[arg-type]
    assert refused.result.decision == "reject"
    assert refused.result.reasons == ("on hold: fraud check (by ops)",)
    # events keep the manual hold (a refresh never releases it)
    await deliver(c, [invoice(2, date(2026, 11, 11), date(2026, 12, 11), amount=1_000)])
    await manual.release_hold(pool, "t1", "C-1", today=today, at=at)
    placed = await produced(pool, "credit.hold_placed.v1")
    released = await produced(pool, "credit.hold_released.v1")
    assert [(p["cause"], p["manual"]) for p in placed] == [("manual", True)]
    assert [(r["cause"], r["manual"]) for r in released] == [("manual", True)]
    approved = await checks.check(pool, "t1", "C-1", order_id="SO-3", amount_minor=1, **kw)  # type: ignore[arg-type]
    assert approved.result.decision == "approve"


async def test_an_invoiced_order_stops_counting_in_the_check(pool: asyncpg.Pool) -> None:
    c = consumer(pool)
    today = date(2026, 11, 10)
    at = datetime(2026, 11, 10, 9, tzinfo=UTC)
    await deliver(c, [customer(), invoice(1, date(2026, 11, 1), date(2026, 12, 1))])
    await manual.set_limit(
        pool,
        "t1",
        "C-1",
        currency="CNY",
        minor=500_000,
        reason="fixed",
        set_by="cfo",
        today=today,
        at=at,
    )
    kw = dict(currency="CNY", today=today, at=at)
    first = await checks.check(pool, "t1", "C-1", order_id="N-7", amount_minor=30_000, **kw)  # type: ignore[arg-type]
    assert (first.result.decision, first.result.available_minor) == ("approve", 400_000)
    counted = await checks.check(pool, "t1", "C-1", order_id="SO-8", amount_minor=1, **kw)  # type: ignore[arg-type]
    assert counted.result.available_minor == 370_000  # the approved order counts
    # the order is invoiced (its number is the order id): the receivable counts, not both
    await deliver(c, [invoice(7, date(2026, 11, 10), date(2026, 12, 10), amount=30_000)])
    again = await checks.check(pool, "t1", "C-1", order_id="SO-8", amount_minor=1, **kw)  # type: ignore[arg-type]
    assert again.result.available_minor == 500_000 - 130_000
    async with pool.acquire() as conn:
        orders = {a.order_id for a in await approvals.for_customer(conn, "t1", "C-1")}
    assert orders == {"N-7", "SO-8"}  # SO-8 checked twice: one approval


async def test_exposure_over_the_limit_holds_automatically(pool: asyncpg.Pool) -> None:
    c = consumer(pool)
    today, at = date(2026, 11, 10), datetime(2026, 11, 10, tzinfo=UTC)
    await deliver(c, [customer(), invoice(1, date(2026, 11, 1), date(2026, 12, 1))])
    async with unit_of_work(pool) as conn:
        assert await conn.fetchval("SELECT count(*) FROM credit_hold") == 0
    await manual.set_limit(
        pool,
        "t1",
        "C-1",
        currency="CNY",
        minor=50_000,
        reason="tight",
        set_by="cfo",
        today=today,
        at=at,
    )
    placed = await produced(pool, "credit.hold_placed.v1")
    assert [p["cause"] for p in placed] == ["over_limit"]
    await manual.set_limit(
        pool,
        "t1",
        "C-1",
        currency="CNY",
        minor=None,
        reason="back to normal",
        set_by="cfo",
        today=today,
        at=at,
    )
    assert [r["cause"] for r in await produced(pool, "credit.hold_released.v1")] == ["over_limit"]


async def test_dunning_asks_for_a_hold_and_payment_ends_it(pool: asyncpg.Pool) -> None:
    due = date(2026, 11, 1)
    c = consumer(pool)
    await deliver(c, [customer(), invoice(1, date(2026, 10, 2), due)])
    asked = envelope(
        DunningEscalated(
            customer_id="C-1",
            policy_id="standard",
            step="hold",
            action="request_credit_hold",
            reason="60 days overdue",
            invoice_ids=["INV-1"],
            as_of=date(2026, 11, 10),
        ),
        date(2026, 11, 10),
    )
    other = envelope(
        DunningEscalated(
            customer_id="C-1",
            policy_id="standard",
            step="legal",
            action="legal_escalation",
            reason="x",
            invoice_ids=["INV-1"],
            as_of=date(2026, 11, 10),
        ),
        date(2026, 11, 10),
    )
    await deliver(c, [asked, other])
    placed = await produced(pool, "credit.hold_placed.v1")
    assert [(p["cause"], p["detail"]) for p in placed] == [
        ("dunning", "dunning step hold of standard: 60 days overdue")
    ]
    # a legal escalation is not a hold request
    async with pool.acquire() as conn:
        assert (
            await conn.fetchval("SELECT count(*) FROM credit_fact WHERE kind = 'dunning_hold'") == 1
        )
    await deliver(c, [payment(1, date(2026, 11, 12), due)])
    assert [r["cause"] for r in await produced(pool, "credit.hold_released.v1")] == ["dunning"]


async def test_the_tenant_policy_decides_which_causes_hold(pool: asyncpg.Pool) -> None:
    at = datetime(2026, 11, 5, tzinfo=UTC)
    await manual.put_policy(pool, "t1", HoldPolicy(max_days_overdue=None, over_limit=False), at)
    assert (await manual.get_policy(pool, "t1")).max_days_overdue is None
    due = date(2026, 10, 1)
    c = consumer(pool)
    await deliver(c, [customer(), invoice(1, date(2026, 9, 1), due)])
    await deliver(
        c,
        [
            envelope(
                InvoiceOverdue(
                    invoice_id="INV-1",
                    customer_id="C-1",
                    due_date=due,
                    currency="CNY",
                    residual_minor=100_000,
                    as_of=date(2026, 11, 5),
                ),
                date(2026, 11, 5),
            )
        ],
    )
    assert await produced(pool, "credit.hold_placed.v1") == []
    # another tenant keeps the default policy
    await deliver(
        c,
        [
            envelope(
                CustomerUpserted(
                    customer_id="C-1", name="x", currency="CNY", payment_terms_days=30
                ),
                date(2026, 9, 1),
                tenant="t2",
            ),
            envelope(
                InvoiceIssued(
                    invoice_id="INV-1",
                    customer_id="C-1",
                    number="1",
                    issue_date=date(2026, 9, 1),
                    due_date=due,
                    currency="CNY",
                    amount_minor=100_000,
                ),
                date(2026, 11, 5),
                tenant="t2",
            ),
        ],
    )
    assert "overdue_days" in [p["cause"] for p in await produced(pool, "credit.hold_placed.v1")]
