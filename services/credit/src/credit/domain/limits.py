"""Recommended credit limits: what the customer bills in a month, times a multiple by grade.

recommended(currency) = invoiced in the last 12 months / calendar months in which something
was invoiced (a typical month of buying) x multiple, rounded down to a whole unit of the
currency. Multiples: A 3, B 2, C 1.5, D 0.75, E 0.
A manual limit, when set, wins until it is cleared.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from credit.domain.profile import RiskProfile
from credit.domain.scorecard import Grade
from huikuan_contracts.money import exponent

MULTIPLE: dict[Grade, float] = {"A": 3.0, "B": 2.0, "C": 1.5, "D": 0.75, "E": 0.0}


@dataclass(frozen=True, slots=True)
class Limit:
    currency: str
    recommended_minor: int | None
    manual_minor: int | None = None
    manual_reason: str | None = None
    manual_set_by: str | None = None

    @property
    def in_force_minor(self) -> int | None:
        return self.manual_minor if self.manual_minor is not None else self.recommended_minor

    @property
    def source(self) -> str:
        return "manual" if self.manual_minor is not None else "recommended"


def recommended(profile: RiskProfile, grade: Grade) -> dict[str, int]:
    out: dict[str, int] = {}
    for currency, line in profile.currencies.items():
        unit = 10 ** exponent(currency)
        monthly = line.invoiced_12m_minor / max(1, line.months_billed_12m)
        out[currency] = math.floor(monthly * MULTIPLE[grade] / unit) * unit
    return out
