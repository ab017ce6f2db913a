"""Calendar: weekends, public holidays of the customer's country, the send window, zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

from reminders.domain.calendar import Window, is_business_day, may_send

WINDOW = Window(time(9, 0), time(18, 0))


def test_weekend_and_holiday() -> None:
    assert is_business_day(date(2026, 11, 27), "CN")  # a Friday
    assert not is_business_day(date(2026, 11, 28), "CN")  # Saturday
    assert not is_business_day(date(2026, 10, 1), "CN")  # National Day, a Thursday
    assert is_business_day(date(2026, 10, 1), "US")


def test_working_days_follow_each_countrys_own_rules() -> None:
    # China's make-up working days (调休): the weekend days worked for a long holiday.
    assert is_business_day(date(2025, 1, 26), "CN")  # a Sunday, worked for Spring Festival
    assert is_business_day(date(2025, 2, 8), "cn")  # a Saturday, likewise
    assert is_business_day(date(2025, 10, 11), "CN")  # a Saturday worked for National Day
    assert not is_business_day(date(2025, 10, 12), "CN")  # the Sunday after: off
    assert not is_business_day(date(2025, 1, 28), "CN")  # New Year's Eve, a Tuesday
    # A Friday-Saturday weekend.
    assert not is_business_day(date(2025, 3, 7), "SA")  # Friday
    assert not is_business_day(date(2025, 3, 8), "SA")  # Saturday
    assert is_business_day(date(2025, 3, 9), "SA")  # Sunday
    # No country, or one the package does not know: Monday to Friday.
    assert is_business_day(date(2025, 1, 24), None) and not is_business_day(date(2025, 1, 26), None)
    assert not is_business_day(date(2025, 1, 26), "XX")
    assert not is_business_day(date(2026, 7, 3), "US")  # Independence Day observed
    assert is_business_day(date(2026, 10, 1), None)  # no country: weekends only


def test_window_is_judged_in_the_customers_zone() -> None:
    at = datetime(2026, 11, 27, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, 21:00 Thu in New York
    assert may_send(at, "Asia/Shanghai", "CN", WINDOW)
    assert not may_send(at, "America/New_York", "US", WINDOW)
    assert may_send(datetime(2026, 11, 27, 15, 0, tzinfo=UTC), "America/New_York", "US", WINDOW)


def test_window_edges_and_date_line() -> None:
    assert not may_send(datetime(2026, 11, 27, 0, 59, tzinfo=UTC), "Asia/Shanghai", "CN", WINDOW)
    assert may_send(datetime(2026, 11, 27, 1, 0, tzinfo=UTC), "Asia/Shanghai", "CN", WINDOW)
    assert not may_send(datetime(2026, 11, 27, 10, 0, tzinfo=UTC), "Asia/Shanghai", "CN", WINDOW)
    # Friday 20:00 UTC is Saturday 09:00 in Shanghai: a weekend there.
    assert not may_send(datetime(2026, 11, 27, 20, 0, tzinfo=UTC), "Asia/Shanghai", "CN", WINDOW)
    # An unknown zone falls back to Shanghai.
    assert may_send(datetime(2026, 11, 27, 2, 0, tzinfo=UTC), "Mars/Olympus", "CN", WINDOW)
