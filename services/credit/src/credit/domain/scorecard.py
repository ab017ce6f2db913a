"""The credit scorecard, version `2026-11.1`: points per factor, 0-1000, and grades A-E.

factor          measured as of `as_of`                          points
--------------  ----------------------------------------------  ------------------------------
days_late       amount-weighted average days late of payments   0 days 250, <=5 220, <=15 170,
                applied in the last 12 months (early counts 0)  <=30 110, <=60 50, more 0;
                                                                no payments yet 130
on_time_share   share of the amount paid in the last 12 months  150 x share;
                that was not late                               no payments yet 75
overdue         days the oldest open invoice is past due        none 200, <=15 150, <=30 100,
                                                                <=60 50, <=90 20, more 0
trend           average days late, last 3 months vs the 9       better by >=5 days 100, within
                months before                                   5 days 70, worse by <=15 35,
                                                                worse by more 0; too little
                                                                history 70
promises        promises to pay broken in the last 90 days      none 150, one 75, two+ 0
disputes        open disputes                                   none 50, one 30, two+ 0
tenure          days since the first invoice                    <90 0, <365 30, <730 60,
                                                                more 100

The maximum is 1000. Grades: A ≥ 850, B ≥ 700, C ≥ 550, D ≥ 400, E below 400. A new customer
with no history scores 675 (C). Reasons are the (at most three) factors that cost the most
points, worst first, each with a code and a sentence naming the measurement; a customer who
lost no points gets the single reason `good_standing`.

Change the points or bands only together with `VERSION`: every stored score names the
version that computed it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from credit.domain.profile import RiskProfile

VERSION = "2026-11.1"

Grade = Literal["A", "B", "C", "D", "E"]
BANDS: tuple[tuple[int, Grade], ...] = ((850, "A"), (700, "B"), (550, "C"), (400, "D"))
MAX_REASONS = 3


@dataclass(frozen=True, slots=True)
class Factor:
    code: str
    value: str  # the measurement, for people
    points: int
    max_points: int
    reason: str  # why points were lost (or the good news when none were)

    @property
    def lost(self) -> int:
        return self.max_points - self.points

    def to_json(self) -> dict[str, str | int]:
        return {
            "code": self.code,
            "value": self.value,
            "points": self.points,
            "max_points": self.max_points,
            "reason": self.reason,
            "lost": self.lost,
        }


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "text": self.text}


@dataclass(frozen=True, slots=True)
class Score:
    score: int
    grade: Grade
    factors: tuple[Factor, ...]
    reasons: tuple[Reason, ...]
    version: str = VERSION


def grade_for(score: int) -> Grade:
    for floor, grade in BANDS:
        if score >= floor:
            return grade
    return "E"


def _step(value: float, steps: tuple[tuple[float, int], ...], otherwise: int) -> int:
    for limit, points in steps:
        if value <= limit:
            return points
    return otherwise


def _days(n: float) -> str:
    return f"{n:.0f} day" if round(n) == 1 else f"{n:.0f} days"


def _days_late(p: RiskProfile) -> Factor:
    if p.avg_days_late_12m is None:
        return Factor("days_late", "no payments yet", 130, 250, "no payment history yet")
    late = p.avg_days_late_12m
    points = _step(late, ((0, 250), (5, 220), (15, 170), (30, 110), (60, 50)), 0)
    return Factor("days_late", _days(late), points, 250, f"paid {_days(late)} late on average")


def _on_time(p: RiskProfile) -> Factor:
    if p.on_time_share_12m is None:
        return Factor("on_time_share", "no payments yet", 75, 150, "no payment history yet")
    share = p.on_time_share_12m
    pct = f"{share * 100:.0f}%"
    return Factor(
        "on_time_share", pct, round(150 * share), 150, f"only {pct} of payments were on time"
    )


def _overdue(p: RiskProfile) -> Factor:
    days = p.max_days_overdue
    points = _step(days, ((0, 200), (15, 150), (30, 100), (60, 50), (90, 20)), 0)
    return Factor("overdue", _days(days), points, 200, f"an invoice is {_days(days)} overdue")


def _trend(p: RiskProfile) -> Factor:
    recent, before = p.avg_days_late_recent, p.avg_days_late_before
    if recent is None or before is None:
        return Factor("trend", "too little history", 70, 100, "too little history for a trend")
    change = recent - before
    points = _step(change, ((-5, 100), (5, 70), (15, 35)), 0)
    return Factor(
        "trend",
        f"{change:+.0f} days",
        points,
        100,
        f"paying later: {_days(recent)} late in the last 3 months vs {_days(before)} before",
    )


def _promises(p: RiskProfile) -> Factor:
    n = p.broken_promises_90d
    points = 150 if n == 0 else 75 if n == 1 else 0
    noun = "promise" if n == 1 else "promises"
    return Factor("promises", f"{n} broken", points, 150, f"{n} broken {noun} in 90 days")


def _disputes(p: RiskProfile) -> Factor:
    n = p.open_disputes
    points = 50 if n == 0 else 30 if n == 1 else 0
    noun = "dispute" if n == 1 else "disputes"
    return Factor("disputes", f"{n} open", points, 50, f"{n} open {noun}")


def _tenure(p: RiskProfile) -> Factor:
    days = p.tenure_days
    if days is None:
        return Factor("tenure", "no invoices yet", 0, 100, "no trading history yet")
    points = _step(days, ((89, 0), (364, 30), (729, 60)), 100)
    return Factor("tenure", _days(days), points, 100, f"a customer for only {_days(days)}")


FACTORS = (_days_late, _on_time, _overdue, _trend, _promises, _disputes, _tenure)


def score(profile: RiskProfile) -> Score:
    factors = tuple(f(profile) for f in FACTORS)
    total = max(0, min(1000, sum(f.points for f in factors)))
    losers = sorted((f for f in factors if f.lost > 0), key=lambda f: (-f.lost, f.code))
    reasons = tuple(Reason(f.code, f.reason) for f in losers[:MAX_REASONS]) or (
        Reason("good_standing", "pays on time with nothing overdue"),
    )
    return Score(total, grade_for(total), factors, reasons)
