"""Step selection over a 120-day timeline for every grade, pauses and promises."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from huikuan_contracts.money import Money
from reminders.domain.dunning import (
    OpenInvoice,
    Promise,
    due_steps,
    escalation_reason,
    judge_promise,
    next_action,
    paused_invoices,
    task_overdue,
)
from reminders.domain.policy import GRADES, SHIPPED, Policy, choose, in_force

DUE = date(2026, 3, 1)


def timeline(policy: Policy, inv: OpenInvoice, days: int = 120) -> list[tuple[int, str]]:
    """Run the policy every day from 30 days before due for `days`, as the scheduler would:
    what is due is taken. Returns (day relative to due, step) in the order taken."""
    taken: set[tuple[str, int, str]] = set()
    out = []
    for d in range(-30, days):
        on = DUE + timedelta(days=d)
        for due in due_steps(policy, [inv], taken, on):
            out.append((d, due.step.name))
            taken |= {(i.invoice_id, i.cycle, due.step.name) for i in due.invoices}
    return out


def test_standard_policy_is_the_issues_good_practice() -> None:
    inv = OpenInvoice("I-1", "N-1", DUE, "CNY", 10_000)
    assert timeline(SHIPPED["standard"], inv) == [
        (-7, "friendly_reminder"),
        (1, "overdue_notice"),
        (7, "second_notice"),
        (15, "call"),
        (30, "warning_letter"),
        (45, "credit_hold"),
        (60, "visit"),
        (90, "legal"),
    ]


@pytest.mark.parametrize("grade", [*GRADES, None])
def test_every_grade_takes_every_step_once_in_order(grade: str | None) -> None:
    policy = choose(in_force([]), grade, None)
    inv = OpenInvoice("I-1", "N-1", DUE, "CNY", 10_000)
    got = timeline(policy, inv)
    assert [name for _, name in got] == [s.name for s in policy.steps]
    assert [d for d, _ in got] == [s.offset_days for s in policy.steps]


def test_worse_grades_are_chased_earlier_and_harder() -> None:
    policies = in_force([])

    def first(grade: str, step: str) -> int:
        p = choose(policies, grade, None)
        return next(s.offset_days for s in p.steps if s.name == step)

    assert first("A", "credit_hold") > first("C", "credit_hold") > first("D", "credit_hold")
    assert first("D", "credit_hold") > first("E", "credit_hold") == 1
    assert choose(policies, "A", None).policy_id == choose(policies, "B", None).policy_id
    assert choose(policies, None, None).policy_id == "standard"
    assert choose(policies, "E", "standard").policy_id == "standard"  # the pin wins


def test_an_invoice_found_late_gets_only_its_current_step() -> None:
    inv = OpenInvoice("I-1", "N-1", DUE, "CNY", 10_000)
    [due] = due_steps(SHIPPED["standard"], [inv], set(), DUE + timedelta(days=20))
    assert due.step.name == "call"


def test_one_consolidated_reminder_per_step_chasing_residuals() -> None:
    invs = [
        OpenInvoice("I-1", "N-1", DUE, "CNY", 500),
        OpenInvoice("I-2", "N-2", DUE - timedelta(days=2), "CNY", 700),
        OpenInvoice("I-3", "N-3", DUE, "CNY", 0),  # paid
        OpenInvoice("I-4", "N-4", DUE, "CNY", 900, disputed=True),
        OpenInvoice("I-5", "N-5", DUE, "USD", 300),
    ]
    dues = due_steps(SHIPPED["standard"], invs, set(), DUE + timedelta(days=3))
    assert [
        (d.step.name, d.currency, [i.invoice_id for i in d.invoices], d.residual_minor)
        for d in dues
    ] == [
        ("overdue_notice", "CNY", ["I-2", "I-1"], 1200),
        ("overdue_notice", "USD", ["I-5"], 300),
    ]


def test_a_new_cycle_chases_the_same_step_again() -> None:
    inv = OpenInvoice("I-1", "N-1", DUE, "CNY", 500, cycle=2)
    on = DUE + timedelta(days=2)
    assert due_steps(SHIPPED["standard"], [inv], {("I-1", 1, "overdue_notice")}, on)
    assert not due_steps(SHIPPED["standard"], [inv], {("I-1", 2, "overdue_notice")}, on)


def test_manual_pause_holds_everything_through_its_end_date() -> None:
    inv = OpenInvoice("I-1", "N-1", DUE, "CNY", 500)
    until = DUE + timedelta(days=5)
    p = SHIPPED["standard"]
    assert due_steps(p, [inv], set(), until, paused_until=until) == []
    [due] = due_steps(p, [inv], set(), until + timedelta(days=1), paused_until=until)
    assert due.step.name == "overdue_notice"


def test_a_promise_pauses_only_its_invoices_until_date_plus_grace() -> None:
    a = OpenInvoice("I-1", "N-1", DUE, "CNY", 500)
    b = OpenInvoice("I-2", "N-2", DUE, "CNY", 700)
    promise = Promise("P-1", "CNY", 500, DUE + timedelta(days=10), 3, DUE, ("I-1",))
    p = SHIPPED["standard"]
    on = DUE + timedelta(days=8)
    [due] = due_steps(p, [a, b], set(), on, promises=[promise])
    assert [i.invoice_id for i in due.invoices] == ["I-2"]
    assert paused_invoices([promise], DUE + timedelta(days=13)) == {"I-1"}
    assert paused_invoices([promise], DUE + timedelta(days=14)) == set()


def test_promise_judgement() -> None:
    p = Promise("P-1", "CNY", 500, date(2026, 3, 10), 3, date(2026, 3, 1), ("I-1",))
    assert judge_promise(p, date(2026, 3, 13)) == "open"
    assert judge_promise(p, date(2026, 3, 14)) == "broken"
    paid = Promise("P-1", "CNY", 500, date(2026, 3, 10), 3, date(2026, 3, 1), ("I-1",), 500)
    assert judge_promise(paid, date(2026, 4, 1)) == "kept"


def test_a_broken_promise_escalates_to_the_next_step_at_once() -> None:
    p = SHIPPED["standard"]
    on = DUE + timedelta(days=16)  # at "call" by time
    inv = OpenInvoice("I-1", "N-1", DUE, "CNY", 500, escalate=1)
    taken = {("I-1", 1, "overdue_notice"), ("I-1", 1, "second_notice")}
    [due] = due_steps(p, [inv], taken, on)
    assert due.step.name == "warning_letter"


def test_next_action() -> None:
    p = SHIPPED["standard"]
    inv = OpenInvoice("I-1", "N-1", DUE, "CNY", 500)
    step, on = next_action(p, inv, {("I-1", 1, "overdue_notice")}, DUE + timedelta(days=2)) or (
        None,
        None,
    )
    assert step is not None and step.name == "second_notice"
    assert on == DUE + timedelta(days=7)


def test_task_overdue_after_its_grace() -> None:
    assert not task_overdue(DUE, DUE + timedelta(days=3))
    assert task_overdue(DUE, DUE + timedelta(days=4))


def test_an_escalation_says_how_many_invoices_owe_what_and_how_late() -> None:
    assert escalation_reason(2, Money(20001, "CNY"), 50, "credit_hold") == (
        "2 invoice(s), 200.01 CNY outstanding, up to 50 days overdue (dunning step 'credit_hold')"
    )
    assert escalation_reason(1, Money(12345, "JPY"), 2, "legal") == (
        "1 invoice(s), 12345 JPY outstanding, up to 2 days overdue (dunning step 'legal')"
    )
