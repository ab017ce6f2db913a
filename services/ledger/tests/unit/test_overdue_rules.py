"""Which date an invoice is judged by in the overdue scan, and when it is overdue."""

from __future__ import annotations

from datetime import UTC, date, datetime

from ledger.__main__ import SPEC
from ledger.service.overdue import is_overdue, judged_on, run_periodically

EVENING = datetime(2026, 11, 10, 20, 0, tzinfo=UTC)


def test_the_callers_date_wins() -> None:
    assert judged_on(date(2026, 11, 1), EVENING, "Asia/Shanghai", "UTC") == date(2026, 11, 1)


def test_an_instant_is_read_in_the_customers_zone_else_the_fallback() -> None:
    assert judged_on(None, EVENING, "Asia/Shanghai", "UTC") == date(2026, 11, 11)
    assert judged_on(None, EVENING, "America/Los_Angeles", "Asia/Tokyo") == date(2026, 11, 10)
    assert judged_on(None, EVENING, None, "Asia/Tokyo") == date(2026, 11, 11)
    assert judged_on(None, EVENING, None, "UTC") == date(2026, 11, 10)
    assert judged_on(None, EVENING, "Mars/Olympus_Mons", "UTC") == date(2026, 11, 10)


def test_overdue_the_day_after_the_due_date() -> None:
    due = date(2026, 11, 10)
    assert not is_overdue(due, date(2026, 11, 10))
    assert is_overdue(due, date(2026, 11, 11))


def test_the_periodic_scan_is_a_mode_of_the_ledger() -> None:
    assert SPEC.extra_modes["overdue-scan"] is run_periodically
