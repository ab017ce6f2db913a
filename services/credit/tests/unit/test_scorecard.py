"""The scorecard on hand-made customers: who scores above whom, and why."""

from __future__ import annotations

from datetime import date, timedelta

from credit.domain.profile import Fact, build_profile
from credit.domain.scorecard import VERSION, grade_for, score

AS_OF = date(2026, 11, 30)


def invoice(n: int, issued: date, amount: int = 100_000, terms: int = 30) -> Fact:
    return Fact(
        "invoice",
        f"INV-{n}",
        issued,
        ref2=f"N{n}",
        currency="CNY",
        amount_minor=amount,
        due=issued + timedelta(days=terms),
    )


def paid(n: int, issued: date, late: int, amount: int = 100_000, terms: int = 30) -> Fact:
    due = issued + timedelta(days=terms)
    return Fact(
        "applied",
        f"INV-{n}",
        due + timedelta(days=late),
        ref2=f"P{n}",
        currency="CNY",
        amount_minor=amount,
        due=due,
        days_late=late,
    )


def book(late: int, months: int = 12) -> list[Fact]:
    facts: list[Fact] = []
    for m in range(months):
        issued = AS_OF - timedelta(days=30 * (months - m) + 40)
        facts += [invoice(m, issued), paid(m, issued, late)]
    return facts


def test_a_prompt_payer_scores_above_a_late_one() -> None:
    prompt = score(build_profile(book(late=0), AS_OF))
    late = score(build_profile(book(late=34), AS_OF))
    assert prompt.score > late.score
    assert prompt.grade == "A"
    assert late.grade in ("C", "D")
    assert late.reasons[0].code == "days_late"
    assert late.reasons[0].text == "paid 34 days late on average"
    assert any(r.text == "only 0% of payments were on time" for r in late.reasons)
    assert prompt.version == VERSION


def test_a_broken_promise_lowers_the_score_and_is_named() -> None:
    facts = book(late=0)
    before = score(build_profile(facts, AS_OF))
    broken = Fact(
        "promise_broken",
        "PR-1",
        AS_OF - timedelta(days=10),
        currency="CNY",
        amount_minor=50_000,
        due=AS_OF - timedelta(days=12),
    )
    once = score(build_profile([*facts, broken], AS_OF))
    twice = score(
        build_profile(
            [*facts, broken, Fact("promise_broken", "PR-2", AS_OF - timedelta(days=5))], AS_OF
        )
    )
    assert before.score - once.score == 75
    assert once.score - twice.score == 75
    assert twice.reasons[0].text == "2 broken promises in 90 days"
    # older than 90 days: no longer counted
    old = Fact("promise_broken", "PR-0", AS_OF - timedelta(days=120))
    assert score(build_profile([*facts, old], AS_OF)).score == before.score


def test_overdue_grows_with_time_without_any_event() -> None:
    facts = [invoice(1, date(2026, 9, 1))]  # due 2026-10-01, never paid
    on_time = score(build_profile(facts, date(2026, 9, 30)))
    later = score(build_profile(facts, date(2026, 11, 30)))
    assert later.score < on_time.score
    assert "an invoice is 60 days overdue" in [r.text for r in later.reasons]


def test_a_new_customer_is_grade_c_and_points_add_up() -> None:
    result = score(build_profile([], AS_OF))
    assert (result.score, result.grade) == (675, "C")
    assert sum(f.points for f in result.factors) == result.score
    assert sum(f.max_points for f in result.factors) == 1000


def test_grade_bands() -> None:
    assert [grade_for(s) for s in (1000, 850, 849, 700, 699, 550, 549, 400, 399, 0)] == [
        "A",
        "A",
        "B",
        "B",
        "C",
        "C",
        "D",
        "D",
        "E",
        "E",
    ]


def test_a_worsening_trend_costs_points() -> None:
    steady = book(late=5)
    worse = [f for f in steady if not (f.kind == "applied" and f.on > AS_OF - timedelta(90))]
    for f in steady:
        if f.kind == "applied" and f.on > AS_OF - timedelta(90):
            worse.append(
                Fact(
                    "applied",
                    f.ref,
                    f.on,
                    ref2=f.ref2,
                    currency="CNY",
                    amount_minor=f.amount_minor,
                    due=f.due,
                    days_late=30,
                )
            )
    trend = {f.code: f for f in score(build_profile(worse, AS_OF)).factors}["trend"]
    assert trend.points == 0
    assert trend.reason.startswith("paying later")
