"""Automatic credit holds: which causes hold a customer under a tenant's policy.

Causes: `overdue_days` (oldest invoice more than N days past due), `over_limit` (exposure
above the limit in force in some currency), `grade_e`, `broken_promise` (a promise broken
with no payment since), `dunning` (dunning asked for a hold and those invoices are still
unpaid). An automatic hold is released as soon as its cause is gone; a `manual` hold only
by hand.
"""

from __future__ import annotations

from dataclasses import dataclass

from credit.domain.profile import RiskProfile
from credit.domain.scorecard import Grade

MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class HoldPolicy:
    max_days_overdue: int | None = 30  # None: never hold for overdue days
    over_limit: bool = True
    grade_e: bool = True
    broken_promise: bool = True
    dunning: bool = True
    order_validity_days: int = 30  # how long an approved order counts in exposure


@dataclass(frozen=True, slots=True)
class Exposure:
    currency: str
    exposure_minor: int
    limit_minor: int | None


def automatic_causes(
    profile: RiskProfile, grade: Grade, exposures: list[Exposure], policy: HoldPolicy
) -> dict[str, str]:
    """cause -> detail, for every automatic cause that holds now."""
    causes: dict[str, str] = {}
    n = policy.max_days_overdue
    if n is not None and profile.max_days_overdue > n:
        causes["overdue_days"] = (
            f"an invoice is {profile.max_days_overdue} days overdue (policy: more than {n})"
        )
    if policy.over_limit:
        over = [
            e for e in exposures if e.limit_minor is not None and e.exposure_minor > e.limit_minor
        ]
        if over:
            causes["over_limit"] = "exposure above the credit limit in " + ", ".join(
                e.currency for e in over
            )
    if policy.grade_e and grade == "E":
        causes["grade_e"] = "grade E: cash before delivery"
    if policy.broken_promise and profile.unpaid_broken_promise is not None:
        causes["broken_promise"] = (
            f"promise {profile.unpaid_broken_promise} was broken and nothing paid since"
        )
    if policy.dunning and profile.dunning_hold is not None:
        causes["dunning"] = profile.dunning_hold
    return causes


def transitions(
    active_automatic: dict[str, str], wanted: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """(to place, to release) given the automatic holds in force and the causes now."""
    place = {c: d for c, d in wanted.items() if c not in active_automatic}
    release = {c: d for c, d in active_automatic.items() if c not in wanted}
    return place, release
