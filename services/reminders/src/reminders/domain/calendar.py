"""When a customer may be contacted: working days of the customer's country within the send
window, in the customer's time zone. The `holidays` package knows each country's working
days: its own weekend (Friday and Saturday in Saudi Arabia), its public holidays, and the
weekend days worked in their place (China's 调休: Sunday 2025-01-26 was a working day).
Without a country (or one the package does not know), Monday to Friday. Pure: the instant is
always given."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays


@dataclass(frozen=True, slots=True)
class Window:
    start: time = time(9, 0)
    end: time = time(18, 0)

    def contains(self, t: time) -> bool:
        return self.start <= t < self.end


def zone(name: str | None, fallback: str = "Asia/Shanghai") -> ZoneInfo:
    for candidate in (name, fallback):
        if candidate:
            with contextlib.suppress(ZoneInfoNotFoundError, ValueError):
                return ZoneInfo(candidate)
    return ZoneInfo("UTC")


@lru_cache(maxsize=256)
def _holidays(country: str, year: int) -> holidays.HolidayBase | None:
    try:
        return holidays.country_holidays(country, years=year)
    except NotImplementedError:
        return None


def is_business_day(day: date, country: str | None) -> bool:
    """A working day of `country` (ISO 3166 code): not its weekend unless worked in place of
    a holiday, not a public holiday."""
    table = _holidays(country.upper(), day.year) if country else None
    if table is None:
        return day.weekday() < 5
    return bool(table.is_working_day(day))


def local(at: datetime, timezone: str | None, fallback: str = "Asia/Shanghai") -> datetime:
    if at.tzinfo is None:
        raise ValueError("an aware instant is needed")
    return at.astimezone(zone(timezone, fallback))


def may_send(
    at: datetime,
    timezone: str | None,
    country: str | None,
    window: Window,
    fallback_zone: str = "Asia/Shanghai",
) -> bool:
    """True when `at` is a business day of the customer's country inside the send window,
    both judged in the customer's time zone."""
    here = local(at, timezone, fallback_zone)
    return is_business_day(here.date(), country) and window.contains(here.time())
