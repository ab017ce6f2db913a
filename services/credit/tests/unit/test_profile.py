"""The projection depends on the set of facts only: order and duplicates change nothing."""

from __future__ import annotations

import random
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from credit.domain.profile import Fact, build_profile

AS_OF = date(2026, 11, 30)

FACTS = [
    Fact(
        "invoice",
        "I1",
        date(2026, 9, 1),
        ref2="N1",
        currency="CNY",
        amount_minor=10_000,
        due=date(2026, 10, 1),
    ),
    Fact(
        "invoice",
        "I2",
        date(2026, 10, 1),
        ref2="N2",
        currency="CNY",
        amount_minor=20_000,
        due=date(2026, 10, 31),
    ),
    Fact(
        "invoice",
        "I3",
        date(2026, 10, 5),
        ref2="N3",
        currency="USD",
        amount_minor=5_000,
        due=date(2026, 11, 4),
    ),
    Fact(
        "applied",
        "I1",
        date(2026, 10, 11),
        ref2="P1",
        currency="CNY",
        amount_minor=10_000,
        due=date(2026, 10, 1),
        days_late=10,
    ),
    Fact(
        "applied",
        "I2",
        date(2026, 11, 10),
        ref2="P2",
        currency="CNY",
        amount_minor=5_000,
        due=date(2026, 10, 31),
        days_late=10,
    ),
    Fact("reversed", "P2", date(2026, 11, 12), currency="CNY", amount_minor=5_000, ids=("I2",)),
    Fact("adjusted", "I2", date(2026, 11, 13), ref2="CN1", currency="CNY", amount_minor=1_000),
    Fact("dispute_opened", "D1", date(2026, 11, 14), ref2="I3", currency="USD", amount_minor=1_000),
    Fact("promise_made", "PR1", date(2026, 11, 20), currency="CNY", amount_minor=1_000),
    Fact("promise_broken", "PR1", date(2026, 11, 25), currency="CNY", amount_minor=1_000),
]


def test_residuals_overdue_and_reversal() -> None:
    p = build_profile(FACTS, AS_OF)
    cny, usd = p.currencies["CNY"], p.currencies["USD"]
    # I1 paid; I2: 20000 - (5000 reversed) - 1000 credit note = 19000, overdue since 10-31
    assert (cny.open_invoices, cny.open_minor, cny.overdue_minor) == (1, 19_000, 19_000)
    assert (usd.open_minor, usd.overdue_minor) == (5_000, 5_000)
    assert p.max_days_overdue == 30  # I2 due 10-31, as of 11-30
    assert p.avg_days_late_12m == 10
    assert p.payments_12m == 1  # the reversed payment does not count
    assert p.open_disputes == 1
    assert p.unpaid_broken_promise == "PR1"
    assert p.broken_promises_90d == 1


@given(st.randoms(use_true_random=False), st.integers(min_value=0, max_value=5))
def test_order_and_duplicates_do_not_matter(rng: random.Random, dups: int) -> None:
    # Redeliveries of one event are dropped by event id in the store; facts keyed by their
    # own id (invoices, disputes, promises, reversals) also survive a copy under another id.
    keyed = [f for f in FACTS if f.kind not in ("applied", "adjusted")]
    shuffled = FACTS + [rng.choice(keyed) for _ in range(dups)]
    rng.shuffle(shuffled)
    assert build_profile(shuffled, AS_OF).to_json() == build_profile(FACTS, AS_OF).to_json()
