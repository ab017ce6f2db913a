"""The credit check at order time: approve, review or reject, with reasons."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from credit.domain.scorecard import Grade

Decision = Literal["approve", "review", "reject"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    decision: Decision
    reasons: tuple[str, ...]
    available_minor: int  # before this order; never negative


def decide(
    *,
    known: bool,
    grade: Grade | None,
    holds: dict[str, str],
    limit_minor: int | None,
    exposure_minor: int,
    amount_minor: int,
    currency: str,
) -> CheckResult:
    available = max(0, (limit_minor or 0) - exposure_minor)
    if holds:
        return CheckResult("reject", tuple(f"on hold: {d}" for _, d in sorted(holds.items())), 0)
    if grade == "E":
        return CheckResult("reject", ("grade E: cash before delivery",), 0)
    if not known or grade is None:
        return CheckResult("review", ("credit has no history for this customer yet",), 0)
    if limit_minor is None:
        return CheckResult("review", (f"no credit limit in {currency}",), 0)
    if amount_minor > available:
        return CheckResult(
            "review", (f"the order exceeds the available credit in {currency}",), available
        )
    if grade == "D":
        return CheckResult("review", ("grade D: orders on credit need approval",), available)
    return CheckResult("approve", (f"grade {grade}, within the available credit",), available)
