"""The set-based run decides what the domain rules decide: over a 120-day timeline, day by
day, for every grade, a pinned tenant policy, a manual pause, a dispute, a paid and a
closed invoice, two currencies and a promise that is broken (and escalates), the reminders,
tasks and steps the run records in SQL are exactly the dues `domain.dunning.due_steps`
gives, with the same idempotency keys and residuals."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from huikuan_contracts.money import Money
from huikuan_events import parse_data
from reminders.domain.calendar import is_business_day
from reminders.domain.dunning import (
    OpenInvoice,
    Promise,
    due_steps,
    judge_promise,
    reminded_invoices,
)
from reminders.domain.policy import SHIPPED, Step, choose, in_force
from reminders.service import policies
from reminders.service.run import RunConfig, idempotency_key, run
from services.reminders.tests.integration.support import TENANT, outbox

pytestmark = pytest.mark.integration

START = date(2026, 3, 2)
PAUSED_UNTIL = START + timedelta(days=40)
AT = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
# (customer, grade, pinned policy, paused until)
CUSTOMERS = [
    ("C-A", "A", None, None),
    ("C-B", "B", None, None),
    ("C-C", "C", None, None),
    ("C-D", "D", None, None),
    ("C-E", "E", None, None),
    ("C-N", None, None, None),
    ("C-PIN", "E", "house", None),
    ("C-PAUSE", "C", None, PAUSED_UNTIL),
    ("C-PROM", "A", None, None),
]
HOUSE = [
    Step("nudge", -3, ("sms",), "friendly_reminder"),
    Step(
        "notice",
        4,
        ("email", "webhook"),
        "overdue_notice",
        overrides={"en": {"subject": "Pay {{ total }}", "body": "Dear {{ customer_name }}"}},
    ),
    Step("ring", 12, ("call",), "second_notice", "create_task"),
    Step("hold", 25, ("email",), "final_notice", "request_credit_hold"),
    Step("lawyer", 50, ("legal", "letter"), "final_notice", "legal_escalation"),
]


def _invoices(cid: str) -> list[OpenInvoice]:
    out = [
        OpenInvoice(
            f"{cid}-{k}", f"N-{cid}-{k}", START + timedelta(days=9 * k), "CNY", 10_000 + 100 * k
        )
        for k in range(5)
    ]
    out.append(OpenInvoice(f"{cid}-U", f"N-{cid}-U", START + timedelta(days=9), "USD", 777))
    out.append(OpenInvoice(f"{cid}-D", f"N-{cid}-D", START, "CNY", 500, disputed=True))
    out.append(OpenInvoice(f"{cid}-P", f"N-{cid}-P", START, "CNY", 0))  # paid
    return out


async def _seed(conn: asyncpg.Connection) -> tuple[dict[str, list[OpenInvoice]], Promise]:
    invoices = {cid: _invoices(cid) for cid, *_ in CUSTOMERS}
    await conn.executemany(
        """INSERT INTO contact (tenant, customer_id, name, email, phone, language, timezone,
                                country, owner)
           VALUES ($1, $2, $2, $3, '+86100', $4, 'Asia/Shanghai', 'CN', 'li')""",
        [
            (TENANT, cid, f"{cid.lower()}@example.com", "en" if k % 2 else "zh")
            for k, (cid, *_) in enumerate(CUSTOMERS)
        ],
    )
    await conn.executemany(
        """INSERT INTO dunning_customer (tenant, customer_id, grade, pinned_policy,
                                         paused_until)
           VALUES ($1, $2, $3, $4, $5)""",
        [(TENANT, *c) for c in CUSTOMERS],
    )
    await conn.executemany(
        """INSERT INTO chased_invoice (tenant, invoice_id, customer_id, number, due_date,
                                       currency, residual_minor, disputed)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
        [
            (
                TENANT,
                i.invoice_id,
                cid,
                i.number,
                i.due_date,
                i.currency,
                i.residual_minor,
                i.disputed,
            )
            for cid, invs in invoices.items()
            for i in invs
        ],
    )
    # Closed (voided) invoices are never chased.
    await conn.execute(
        """INSERT INTO chased_invoice (tenant, invoice_id, customer_id, number, due_date,
                                       currency, residual_minor, closed)
           VALUES ($1, 'C-A-X', 'C-A', 'N-X', $2, 'CNY', 0, true)""",
        TENANT,
        START,
    )
    promise = Promise(
        "PR-1",
        "CNY",
        20_300,
        START + timedelta(days=30),
        3,
        START + timedelta(days=5),
        ("C-PROM-1", "C-PROM-2"),
    )
    await conn.execute(
        """INSERT INTO promise (tenant, promise_id, customer_id, currency, amount_minor,
                                promised_date, grace_days, made_on, invoice_ids, taken_by)
           VALUES ($1, $2, 'C-PROM', $3, $4, $5, $6, $7, $8, 'li')""",
        TENANT,
        promise.promise_id,
        promise.currency,
        promise.amount_minor,
        promise.promised_date,
        promise.grace_days,
        promise.made_on,
        list(promise.invoice_ids),
    )
    return invoices, promise


Decision = tuple[date, str, str, str, tuple[str, ...], str]


async def test_the_set_based_run_takes_the_steps_the_domain_rules_give(
    pool: asyncpg.Pool,
) -> None:
    async with pool.acquire() as conn, conn.transaction():
        invoices, promise = await _seed(conn)
        await policies.save(conn, TENANT, "house", [], HOUSE, AT)
        stored = await policies.policies(conn, TENANT)
    assert stored["house"].version == 1
    chosen = {cid: choose(in_force(stored.values()), g, pin) for cid, g, pin, _ in CUSTOMERS}
    assert {p.policy_id for p in chosen.values()} == set(SHIPPED) | {"house"}
    paused = {cid: until for cid, _, _, until in CUSTOMERS}

    expected: set[Decision] = set()
    keys: set[str] = set()
    taken: dict[str, set[tuple[str, int, str]]] = {cid: set() for cid in invoices}
    promises = [promise]
    for d in range(-20, 120):
        on = START + timedelta(days=d)
        await run(pool, tenant=TENANT, as_of=on, at=AT, config=RunConfig(batch_size=4))
        # The same day by the domain rules.
        still = []
        for p in promises:
            if judge_promise(p, on) == "broken":
                invoices["C-PROM"] = [
                    replace(i, escalate=i.escalate + 1) if i.invoice_id in p.invoice_ids else i
                    for i in invoices["C-PROM"]
                ]
            else:
                still.append(p)
        promises = still
        if not is_business_day(on, "CN"):
            continue
        for cid, invs in invoices.items():
            policy = chosen[cid]
            for due in due_steps(
                policy, invs, taken[cid], on, paused_until=paused[cid], promises=promises
            ):
                taken[cid] |= {(i.invoice_id, i.cycle, due.step.name) for i in due.invoices}
                expected.add(
                    (
                        on,
                        cid,
                        due.step.name,
                        due.currency,
                        tuple(i.invoice_id for i in due.invoices),
                        Money(due.residual_minor, due.currency).format(),
                    )
                )
                keys |= {idempotency_key(TENANT, cid, due, ch) for ch in due.step.channels}

    reminders = await pool.fetch("SELECT * FROM reminder")
    tasks = await pool.fetch("SELECT * FROM task")
    got: set[Decision] = set()
    for r in reminders:
        got.add(
            (
                r["as_of"],
                r["customer_id"],
                r["step"],
                r["currency"],
                tuple(i["invoice_id"] for i in r["invoices"]),
                Money(r["residual_minor"], r["currency"]).format(),
            )
        )
    for t in tasks:
        got.add(
            (
                t["due_on"],
                t["customer_id"],
                t["step"],
                t["currency"],
                tuple(t["invoice_ids"]),
                Money(t["residual_minor"], t["currency"]).format(),
            )
        )
    assert got == expected
    assert {r["idempotency_key"] for r in reminders} | {t["idempotency_key"] for t in tasks} == keys
    steps = await pool.fetch(
        "SELECT i.customer_id, s.invoice_id, s.cycle, s.step "
        "FROM invoice_step s JOIN chased_invoice i "
        "USING (tenant, invoice_id)"
    )
    assert {
        cid: {(s["invoice_id"], s["cycle"], s["step"]) for s in steps if s["customer_id"] == cid}
        for cid in invoices
    } == taken

    # What the cases were for: each of them shaped the decisions.
    assert not [e for e in expected if e[1] == "C-PAUSE" and e[0] <= PAUSED_UNTIL]
    assert not [e for e in expected if any(i.endswith(("-D", "-P", "-X")) for i in e[4])]
    assert {e[3] for e in expected} == {"CNY", "USD"}
    held = [e for e in expected if e[1] == "C-PROM" and "C-PROM-1" in e[4]]
    assert held and not [e for e in held if promise.made_on < e[0] <= promise.pauses_until]
    assert await pool.fetchval("SELECT status FROM promise") == "broken"
    assert {r["channel"] for r in reminders if r["customer_id"] == "C-PIN"} >= {"sms", "webhook"}
    # The events the statement wrote are valid envelopes and payloads, one per task and
    # per escalating due, numbered 1, 2, 3 ... per customer in outbox order.
    events = await outbox(pool)
    for e in events:
        parse_data(e)
    assert len([e for e in events if e.type == "reminders.task_created.v1"]) == len(tasks)
    escalated = [e for e in events if e.type == "reminders.dunning_escalated.v1"]
    holds = [e for e in escalated if e.data["action"] != "escalate_to_manager"]
    assert {e.data["step"] for e in escalated} == {t["step"] for t in tasks} | {
        e.data["step"] for e in holds
    }
    assert {(e.subject, e.data["step"]) for e in holds} == {
        (d[1], d[2]) for d in expected if d[2] in ("credit_hold", "hold", "legal", "lawyer")
    }
    assert [e.type for e in events if e.subject == "C-PROM"].count(
        "reminders.promise_broken.v1"
    ) == 1
    for cid in invoices:
        mine = [e.subjectseq for e in events if e.subject == cid]
        assert mine == list(range(1, len(mine) + 1))
    hold = next(e for e in holds if e.subject == "C-A" and e.data["step"] == "credit_hold")
    assert hold.data["action"] == "request_credit_hold"
    assert hold.data["reason"].endswith("days overdue (dunning step 'credit_hold')")

    # Residuals are stored in minor units per invoice, and shown in the currency's digits.
    for r in reminders:
        shown = reminded_invoices(r["invoices"], r["currency"])
        for i, s in zip(r["invoices"], shown, strict=True):
            inv = next(v for v in invoices[r["customer_id"]] if v.invoice_id == i["invoice_id"])
            assert i["residual_minor"] == inv.residual_minor
            assert s["residual"] == Money(inv.residual_minor, inv.currency).format()
            assert i["due_date"] == inv.due_date.isoformat() and i["number"] == inv.number


async def test_without_as_of_each_customer_is_judged_in_its_own_zone_and_window(
    pool: asyncpg.Pool,
) -> None:
    """The scheduler's mode: the calendar is worked out per (time zone, country) group; each
    customer is judged on its local date, and only inside the send window on a business
    day of its country."""
    at = datetime(2026, 3, 20, 1, 0, tzinfo=UTC)  # a Friday
    people = [
        ("C-SH", "Asia/Shanghai", "CN"),  # 09:00 Friday: inside the window
        ("C-SY", "Australia/Sydney", "AU"),  # 12:00 Friday: inside
        ("C-DEF", None, "CN"),  # no zone: the default (Shanghai), inside
        ("C-TK", "Asia/Tokyo", "JP"),  # 10:00 Friday, Vernal Equinox Day: a holiday
        ("C-LN", "Europe/London", "GB"),  # 01:00: outside the window
        ("C-NY", "America/New_York", "US"),  # 21:00 Thursday: outside the window
        ("C-SH2", "Asia/Shanghai", "CN"),  # same group as C-SH
    ]
    async with pool.acquire() as conn, conn.transaction():
        for cid, tz, country in people:
            await conn.execute(
                """INSERT INTO contact (tenant, customer_id, name, email, timezone, country)
                   VALUES ($1, $2, $2, $3, $4, $5)""",
                TENANT,
                cid,
                f"{cid.lower()}@example.com",
                tz,
                country,
            )
            await conn.execute(
                "INSERT INTO dunning_customer (tenant, customer_id) VALUES ($1, $2)", TENANT, cid
            )
            await conn.execute(
                """INSERT INTO chased_invoice (tenant, invoice_id, customer_id, number,
                                               due_date, currency, residual_minor)
                   VALUES ($1, $2, $3, $2, $4, 'CNY', 1000)""",
                TENANT,
                f"I-{cid}",
                cid,
                date(2026, 3, 18),
            )
    result = await run(pool, tenant=TENANT, as_of=None, at=at, config=RunConfig(batch_size=3))
    assert (result.customers, result.skipped_not_business_time) == (7, 3)
    rows = await pool.fetch("SELECT customer_id, as_of, step FROM reminder ORDER BY 1")
    assert [(r["customer_id"], r["as_of"], r["step"]) for r in rows] == [
        (cid, date(2026, 3, 20), "overdue_notice") for cid in ("C-DEF", "C-SH", "C-SH2", "C-SY")
    ]


async def test_events_written_by_the_statement_escape_what_callers_chose(
    pool: asyncpg.Pool,
) -> None:
    """Customer, owner and invoice ids are the caller's: quotes, backslashes and any script
    survive into the events' JSON intact."""
    cid, owner, iid = 'C-"引号"\\1', 'li "the hammer"', 'I-\\"1"\n'
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(
            """INSERT INTO contact (tenant, customer_id, name, email, owner, country)
               VALUES ($1, $2, $2, 'x@example.com', $3, 'CN')""",
            TENANT,
            cid,
            owner,
        )
        await conn.execute(
            "INSERT INTO dunning_customer (tenant, customer_id, grade) VALUES ($1, $2, 'E')",
            TENANT,
            cid,
        )
        await conn.execute(
            """INSERT INTO chased_invoice (tenant, invoice_id, customer_id, number, due_date,
                                           currency, residual_minor)
               VALUES ($1, $2, $3, 'N-1', $4, 'JPY', 12345)""",
            TENANT,
            iid,
            cid,
            START,
        )
    result = await run(pool, tenant=TENANT, as_of=START + timedelta(days=2), at=AT)
    assert (result.reminders, result.tasks, result.escalations) == (1, 1, 1)
    events = await outbox(pool)
    assert {e.type for e in events} == {
        "reminders.task_created.v1",
        "reminders.dunning_escalated.v1",
    }
    for e in events:
        parse_data(e)
        assert e.subject == cid and e.data["invoice_ids"] == [iid]
    task = next(e for e in events if e.type == "reminders.task_created.v1")
    assert task.data["owner"] == owner and task.data["kind"] == "call"
    hold = next(e for e in events if e.type == "reminders.dunning_escalated.v1")
    assert hold.data["reason"] == (
        "1 invoice(s), 12345 JPY outstanding, up to 2 days overdue (dunning step 'credit_hold')"
    )
    [r] = await pool.fetch("SELECT invoices FROM reminder")
    assert r["invoices"] == [
        {"invoice_id": iid, "number": "N-1", "due_date": str(START), "residual_minor": 12345}
    ]
