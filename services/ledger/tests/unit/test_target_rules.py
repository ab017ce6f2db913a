"""Collection target arithmetic: months, share of target, what remains."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from huikuan_runtime.problems import InvalidInput
from ledger.service.targets import period_bounds, remaining, share


def test_months_have_their_own_length() -> None:
    assert period_bounds("2026-11") == (date(2026, 11, 1), date(2026, 11, 30))
    assert period_bounds("2028-02") == (date(2028, 2, 1), date(2028, 2, 29))
    assert period_bounds("2026-12") == (date(2026, 12, 1), date(2026, 12, 31))


@pytest.mark.parametrize("period", ["2026-13", "2026-00", "2026-1", "2026/11", "0000-05", ""])
def test_not_a_month(period: str) -> None:
    with pytest.raises(InvalidInput):
        period_bounds(period)


@pytest.mark.parametrize(
    ("collected", "target", "expected"),
    [
        (0, 100, "0.00"),
        (1, 3, "33.33"),
        (2, 3, "66.67"),  # rounded half up
        (1, 8, "12.50"),
        (1, 40_000, "0.00"),  # 0.0025 %
        (1, 20_000, "0.01"),  # 0.005 %: half up
        (150, 100, "150.00"),
    ],
)
def test_share_of_target(collected: int, target: int, expected: str) -> None:
    assert share(collected, target) == expected


@given(st.integers(0, 10**15), st.integers(1, 10**15))
def test_share_is_the_rounded_percentage(collected: int, target: int) -> None:
    whole, frac = share(collected, target).split(".")
    hundredths = int(whole) * 100 + int(frac)
    exact = collected * 10_000  # hundredths of a percent, times target
    assert abs(hundredths * target - exact) * 2 <= target
    assert remaining(collected, target) == max(0, target - collected)


def test_a_zero_target_has_no_share() -> None:
    with pytest.raises(ValueError):
        share(1, 0)
