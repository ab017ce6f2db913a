"""Statement lines and positions from journal entries, without a database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ledger.service.statements import Position, build, confirmation_status

POSTED = datetime(2026, 12, 1, tzinfo=UTC)


def entry(kind: str, receivable: int, unapplied: int, currency: str = "CNY") -> dict[str, Any]:
    return {
        "kind": kind,
        "reference": f"R-{kind}",
        "effective_date": date(2026, 11, 3),
        "posted_at": POSTED,
        "currency": currency,
        "receivable_minor": receivable,
        "unapplied_minor": unapplied,
        "invoice_id": None,
        "payment_id": None,
    }


def test_lines_carry_a_running_balance_and_matching_moves_only_the_split() -> None:
    entries = [
        entry("invoice", 50_000, 0),
        entry("payment", 0, 80_000),  # received: held, the balance drops
        entry("allocation", -50_000, -50_000),  # matched: the balance stays
        entry("credit_note", -1_000, 0, currency="USD"),
        entry("payment_reversal", 0, -30_000),
    ]
    [cny] = build(["CNY"], {"CNY": Position(10_000, 0)}, entries)
    assert [(line.kind.value, line.change, line.balance) for line in cny.lines] == [
        ("invoice", 50_000, 60_000),
        ("payment", -80_000, -20_000),
        ("payment_reversal", 30_000, 10_000),
    ]
    assert cny.closing == Position(10_000, 0)
    assert (cny.debits, cny.credits) == (80_000, 80_000)


def test_a_currency_without_entries_keeps_its_opening() -> None:
    [usd, eur] = build(["USD", "EUR"], {"USD": Position(500, 200)}, [])
    assert (usd.opening, usd.closing, usd.lines) == (Position(500, 200), Position(500, 200), ())
    assert eur.closing.balance == 0


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["invoice", "payment", "allocation", "write_off"]),
            st.integers(-(10**9), 10**9),
            st.integers(-(10**9), 10**9),
        ),
        max_size=30,
    ),
    st.integers(0, 10**9),
    st.integers(0, 10**9),
)
def test_closing_is_opening_plus_every_entry(
    raw: list[tuple[str, int, int]], receivable: int, unapplied: int
) -> None:
    entries = [entry(kind, r, u) for kind, r, u in raw]
    [part] = build(["CNY"], {"CNY": Position(receivable, unapplied)}, entries)
    assert part.closing.receivable == receivable + sum(r for _, r, _ in raw)
    assert part.closing.unapplied == unapplied + sum(u for _, _, u in raw)
    matching = sum(r - u for kind, r, u in raw if kind == "allocation")
    assert part.opening.balance + part.debits - part.credits + matching == part.closing.balance


def test_confirmation_status() -> None:
    assert confirmation_status(100, 100) == "confirmed"
    assert confirmation_status(100, 99) == "discrepancy"
    assert confirmation_status(-5, -5) == "confirmed"
