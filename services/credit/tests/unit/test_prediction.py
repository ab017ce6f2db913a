"""Payment-date prediction: shrinkage, and accuracy on a held-out synthetic book.

Accuracy measurement (deterministic, seed 2026): 120 customers in four segments (prompt,
steady, slow, troubled — mean lateness -2 / 5 / 25 / 50 days with per-customer variation and
per-invoice noise), monthly invoices on 30-day terms for up to 12 months, some customers new
(thin history). The model learns from payments made before the cut-off (month 9) and
predicts the payment date of every invoice issued after it; the error is compared with the
naive "pays on the due date" and with the customer's own mean without shrinkage.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from credit.domain.prediction import Prior, choose_prior, habit, own_payments, predicted_on
from credit.domain.profile import Fact

SEGMENTS = {
    "prompt": (-2.0, 3.0),
    "steady": (5.0, 6.0),
    "slow": (25.0, 10.0),
    "troubled": (50.0, 20.0),
}
START = date(2025, 12, 1)
CUTOFF = date(2026, 9, 1)


def test_shrinkage_toward_the_prior() -> None:
    prior = Prior(20.0, 500, "tenant")
    assert habit([], prior).expected_days_late == 20.0  # no history: the prior
    assert habit([0], prior).expected_days_late == 16.0  # (1*0 + 4*20) / 5
    many = habit([0] * 96, prior).expected_days_late
    assert 0 < many < 1  # plenty of history: almost the customer's own
    assert choose_prior((10.0, 25), (20.0, 500)).source == "segment"
    assert choose_prior((10.0, 5), (20.0, 500)) == Prior(20.0, 500, "tenant")
    assert choose_prior(None, None) == Prior(0.0, 0, "none")
    # an overdue invoice past its predicted date is expected now, not in the past
    assert predicted_on(date(2026, 1, 1), 10, date(2026, 3, 1)) == date(2026, 3, 1)
    assert predicted_on(date(2026, 1, 1), 10.4, date(2025, 12, 1)) == date(2026, 1, 11)


def test_reversed_payments_and_old_payments_are_not_history() -> None:
    facts = [
        Fact("applied", "I1", date(2026, 5, 1), ref2="P1", days_late=10),
        Fact("applied", "I2", date(2026, 5, 2), ref2="P2", days_late=90),
        Fact("reversed", "P2", date(2026, 5, 3)),
        Fact("applied", "I0", date(2025, 1, 1), ref2="P0", days_late=300),
    ]
    assert own_payments(facts, date(2026, 6, 1)) == [10]


@dataclass(frozen=True)
class Invoice:
    customer: str
    segment: str
    due: date
    late: int


def _book(rng: random.Random) -> list[Invoice]:
    out = []
    for c in range(120):
        segment = rng.choice(list(SEGMENTS))
        mean, sd = SEGMENTS[segment]
        mine = mean + rng.gauss(0, 5)
        first = rng.choice([0, 0, 0, 3, 6, 8])  # some customers are new: thin history
        for month in range(first, 12):
            issued = START + timedelta(days=30 * month + rng.randrange(0, 10))
            late = round(rng.gauss(mine, sd))
            out.append(Invoice(f"C{c}", segment, issued + timedelta(days=30), late))
    return out


def measure(seed: int = 2026) -> dict[str, float]:
    book = _book(random.Random(seed))
    paid_before = [i for i in book if i.due + timedelta(days=i.late) <= CUTOFF]
    held_out = [i for i in book if i.due - timedelta(days=30) >= CUTOFF]
    everyone = [i.late for i in paid_before]
    tenant = (sum(everyone) / len(everyone), len(everyone))
    per_segment = {s: [i.late for i in paid_before if i.segment == s] for s in SEGMENTS}
    errors = {"model": 0.0, "naive": 0.0, "unshrunk": 0.0}
    thin = {"model": 0.0, "unshrunk": 0.0, "n": 0.0}
    for inv in held_out:
        own = [i.late for i in paid_before if i.customer == inv.customer]
        seg = per_segment[inv.segment]
        prior = choose_prior((sum(seg) / len(seg), len(seg)) if seg else None, tenant)
        expected = habit(own, prior).expected_days_late
        actual = inv.due + timedelta(days=inv.late)
        model = abs((predicted_on(inv.due, expected, CUTOFF) - actual).days)
        unshrunk = abs(round(sum(own) / len(own) if own else 0) - inv.late)
        errors["model"] += model
        errors["naive"] += abs(inv.late)
        errors["unshrunk"] += unshrunk
        if len(own) <= 2:
            thin["model"] += model
            thin["unshrunk"] += unshrunk
            thin["n"] += 1
    n = len(held_out)
    return {
        "held_out": n,
        "mae_model": errors["model"] / n,
        "mae_naive": errors["naive"] / n,
        "mae_unshrunk": errors["unshrunk"] / n,
        "thin_n": thin["n"],
        "thin_mae_model": thin["model"] / thin["n"],
        "thin_mae_unshrunk": thin["unshrunk"] / thin["n"],
    }


def test_the_model_beats_paying_on_the_due_date_on_held_out_invoices() -> None:
    m = measure()
    print(m)  # the figures quoted in services/credit/README.md (pytest -s)
    assert m["held_out"] > 200
    assert m["mae_model"] < 0.5 * m["mae_naive"]
    assert m["mae_model"] <= m["mae_unshrunk"]
    assert m["thin_n"] > 10
    assert m["thin_mae_model"] < m["thin_mae_unshrunk"]
