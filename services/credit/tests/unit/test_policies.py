"""Hold policy transitions, limits, approved orders and the credit-check decision."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from credit.domain.checks import decide
from credit.domain.holds import Exposure, HoldPolicy, automatic_causes, transitions
from credit.domain.limits import Limit, recommended
from credit.domain.orders import Approval, open_approvals
from credit.domain.profile import Fact, build_profile

AS_OF = date(2026, 11, 30)


def inv(ref: str, issued: date, amount: int, number: str | None = None) -> Fact:
    return Fact(
        "invoice",
        ref,
        issued,
        ref2=number or ref,
        currency="CNY",
        amount_minor=amount,
        due=issued + timedelta(days=30),
    )


def test_overdue_hold_is_placed_then_released_by_payment() -> None:
    policy = HoldPolicy(max_days_overdue=30)
    unpaid = [inv("I1", date(2026, 9, 1), 10_000)]  # due 10-01: 60 days overdue on 11-30
    causes = automatic_causes(build_profile(unpaid, AS_OF), "C", [], policy)
    assert set(causes) == {"overdue_days"}
    place, release = transitions({}, causes)
    assert set(place) == {"overdue_days"} and not release
    pay = Fact(
        "applied",
        "I1",
        AS_OF,
        ref2="P1",
        currency="CNY",
        amount_minor=10_000,
        due=date(2026, 10, 1),
        days_late=60,
    )
    after = automatic_causes(build_profile([*unpaid, pay], AS_OF), "C", [], policy)
    assert "overdue_days" not in after
    place, release = transitions(causes, after)
    assert set(release) == {"overdue_days"}
    # a policy without an overdue rule never holds for it
    assert "overdue_days" not in automatic_causes(
        build_profile(unpaid, AS_OF), "C", [], HoldPolicy(max_days_overdue=None)
    )


def test_other_causes() -> None:
    p = build_profile([Fact("promise_broken", "PR1", AS_OF)], AS_OF)
    over = [Exposure("CNY", 2_000, 1_000), Exposure("USD", 10, None)]
    causes = automatic_causes(p, "E", over, HoldPolicy())
    assert set(causes) == {"over_limit", "grade_e", "broken_promise"}
    assert causes["over_limit"] == "exposure above the credit limit in CNY"
    off = HoldPolicy(over_limit=False, grade_e=False, broken_promise=False)
    assert automatic_causes(p, "E", over, off) == {}


def test_dunning_hold_lasts_while_its_invoices_are_unpaid() -> None:
    facts = [
        inv("I1", date(2026, 9, 1), 10_000),
        Fact("dunning_hold", "default:final", AS_OF, ids=("I1",), note="final notice"),
    ]
    assert automatic_causes(build_profile(facts, AS_OF), "C", [], HoldPolicy())["dunning"] == (
        "final notice"
    )
    facts.append(
        Fact(
            "applied",
            "I1",
            AS_OF,
            ref2="P",
            currency="CNY",
            amount_minor=10_000,
            due=date(2026, 10, 1),
            days_late=60,
        )
    )
    assert "dunning" not in automatic_causes(build_profile(facts, AS_OF), "C", [], HoldPolicy())


def test_recommended_limit_follows_grade_and_billing() -> None:
    months = [date(2025, 12, 15)] + [date(2026, m, 15) for m in range(1, 12)]
    facts = [inv(f"I{n}", d, 100_000) for n, d in enumerate(months)]
    # two invoices in one month: a month of buying is what the month billed in total
    facts += [inv("X1", date(2026, 11, 16), 50_000), inv("X2", date(2026, 11, 17), 50_000)]
    p = build_profile(facts, AS_OF)
    assert p.currencies["CNY"].months_billed_12m == 12
    assert recommended(p, "A")["CNY"] == 325_000  # 13,000.00 / 12 months x 3
    assert recommended(p, "C")["CNY"] == 162_500
    assert recommended(p, "E")["CNY"] == 0
    assert Limit("CNY", 150_000, 50_000).in_force_minor == 50_000
    assert Limit("CNY", 150_000, None).source == "recommended"


def test_approved_orders_leave_exposure_when_invoiced_or_expired() -> None:
    a1 = Approval(uuid.UUID(int=1), "SO-1", "CNY", 5_000, date(2026, 11, 1), date(2026, 12, 1))
    a2 = Approval(uuid.UUID(int=2), None, "CNY", 7_000, date(2026, 11, 2), date(2026, 12, 2))
    assert open_approvals([a1, a2], [], AS_OF) == {"CNY": 12_000}
    # the invoice numbered as the order consumes it whole
    assert open_approvals([a1, a2], [inv("X", date(2026, 11, 5), 4_000, "SO-1")], AS_OF) == {
        "CNY": 7_000
    }
    # an invoice naming no order consumes the oldest approvals first
    assert open_approvals([a1, a2], [inv("Y", date(2026, 11, 5), 6_000)], AS_OF) == {"CNY": 6_000}
    # invoices dated before an approval do not consume it
    assert open_approvals([a2], [inv("Z", date(2026, 10, 5), 6_000)], AS_OF) == {"CNY": 7_000}
    assert open_approvals([a1, a2], [], date(2026, 12, 2)) == {"CNY": 7_000}  # a1 expired


def test_credit_check_decisions() -> None:
    base = dict(known=True, limit_minor=10_000, exposure_minor=4_000, currency="CNY")
    ok = decide(grade="B", holds={}, amount_minor=6_000, **base)  # type: ignore[arg-type]
    assert (ok.decision, ok.available_minor) == ("approve", 6_000)
    too_big = decide(grade="B", holds={}, amount_minor=6_001, **base)  # type: ignore[arg-type]
    assert too_big.decision == "review"
    held = decide(grade="A", holds={"manual": "fraud check"}, amount_minor=1, **base)  # type: ignore[arg-type]
    assert (held.decision, held.reasons) == ("reject", ("on hold: fraud check",))
    e = decide(grade="E", holds={}, amount_minor=1, **base)  # type: ignore[arg-type]
    assert e.decision == "reject" and "cash before delivery" in e.reasons[0]
    d = decide(grade="D", holds={}, amount_minor=1, **base)  # type: ignore[arg-type]
    assert d.decision == "review"
    unknown = decide(
        known=False,
        grade=None,
        holds={},
        limit_minor=None,
        exposure_minor=0,
        amount_minor=1,
        currency="CNY",
    )
    assert unknown.decision == "review"
