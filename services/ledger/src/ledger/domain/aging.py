"""Receivables reports without I/O: aging buckets, countback DSO, CEI, ADD and provision.

Every figure is per currency (currencies are never added together) and amounts are signed
integer minor units. Balances as of a date are sums of journal postings whose business
date (`effective_date`) is on or before that date, so postings entered later with an
earlier date (back-dated payments, credit notes, ERP migrations) count where they belong.

Definitions
-----------
- **Residual of an invoice as of D**: the sum of its receivable postings dated <= D.
- **Days past due** as of D: ``D - due_date`` in days. Zero or less is *current* (not yet
  due): an invoice due today is current.
- **Aging buckets** are given by the upper bounds of the past-due buckets, strictly
  increasing positive days; the default ``30,60,90,180,365,730`` gives ``current``,
  ``1-30``, ``31-60``, ``61-90``, ``91-180``, ``181-365``, ``366-730`` and ``>730``.
  An invoice is in the first bucket whose upper bound is >= its days past due.
- **Sales** are invoices issued, net of voids, by business date (the credit to the
  `revenue` account). Credit notes are returns, not negative sales.
- **DSO (countback)**: start from the receivable at the end of the period and walk back
  month by month from the period end (the first step is the period end's month up to the
  period end, then whole calendar months), taking away each month's sales until the
  receivable is used up. DSO is the days of the months used up completely plus the share
  of the last month's days that its sales were needed for. A month with no (or negative)
  sales takes nothing away but its days count. The walk stops after
  `MAX_COUNTBACK_MONTHS` months; if the receivable is still not used up then, DSO is every
  day walked (`complete` is false).
- **CEI** (collection effectiveness index) = (opening receivable + sales - closing
  receivable) / (opening receivable + sales - closing current receivable) * 100, where
  opening is the receivable at the end of the day before the period starts and closing at
  the end of its last day; undefined when the denominator is not positive.
- **BPDSO** (best possible DSO) = closing current receivable / sales in the period *
  days in the period; undefined without positive sales.
- **ADD** (average days delinquent) = DSO - BPDSO.
- **Provision** of a bucket = its amount * its rate (a percentage), rounded half away
  from zero to the currency's minor unit; the total is the sum of the rounded buckets.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import overload

DEFAULT_BOUNDS: tuple[int, ...] = (30, 60, 90, 180, 365, 730)
DEFAULT_RATES: tuple[Decimal, ...] = tuple(
    Decimal(r) for r in ("0", "1", "5", "10", "25", "50", "80", "100")
)
MAX_BOUNDS = 24
MAX_DAYS = 36_500
MAX_COUNTBACK_MONTHS = 120

_INT = re.compile(r"^[0-9]{1,6}$")
_RATE = re.compile(r"^[0-9]{1,3}(\.[0-9]{1,4})?$")


class ReportInputError(ValueError):
    """A report parameter that cannot be used; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# --- buckets -------------------------------------------------------------------------------


def days_past_due(due_date: date, as_of: date) -> int:
    """``as_of - due_date`` in days; zero or negative means not yet due."""
    return (as_of - due_date).days


@dataclass(frozen=True, slots=True)
class Bucket:
    key: str
    min_days: int | None  # smallest days past due in the bucket; None: no lower limit
    max_days: int | None  # largest days past due in the bucket; None: no upper limit


@dataclass(frozen=True, slots=True)
class Buckets:
    """Aging buckets from the upper bounds of the past-due buckets (days, increasing).

    With bounds ``b1 < b2 < … < bn`` the buckets are current (≤ 0 days past due),
    ``1-b1``, ``b1+1-b2`` … and ``>bn``: ``n + 2`` buckets. No bounds at all gives just
    ``current`` and ``>0``.
    """

    bounds: tuple[int, ...] = DEFAULT_BOUNDS

    def __post_init__(self) -> None:
        if len(self.bounds) > MAX_BOUNDS:
            raise ReportInputError("buckets", f"at most {MAX_BOUNDS} bounds")
        previous = 0
        for bound in self.bounds:
            if bound <= previous:
                raise ReportInputError(
                    "buckets", "bounds must be positive whole days, strictly increasing"
                )
            previous = bound
        if previous > MAX_DAYS:
            raise ReportInputError("buckets", f"bounds must be at most {MAX_DAYS} days")

    @classmethod
    def parse(cls, text: str | None) -> Buckets:
        """``"30,60,90"`` -> bounds (30, 60, 90); None -> the default buckets."""
        if text is None:
            return cls()
        parts = [p.strip() for p in text.split(",")]
        if any(not _INT.match(p) for p in parts):
            raise ReportInputError(
                "buckets", f"{text!r} is not a comma list of whole days like '30,60,90'"
            )
        return cls(tuple(int(p) for p in parts))

    @property
    def thresholds(self) -> tuple[int, ...]:
        """Zero then the bounds: a bucket's index is how many thresholds are below the days
        past due (the store computes it as ``width_bucket(days - 1, thresholds)``)."""
        return (0, *self.bounds)

    def index(self, days: int) -> int:
        """The bucket (0 = current) of an invoice `days` past due."""
        return bisect_left(self.thresholds, days)

    def __len__(self) -> int:
        return len(self.bounds) + 2

    @property
    def definitions(self) -> tuple[Bucket, ...]:
        result = [Bucket("current", None, 0)]
        lower = 1
        for bound in self.bounds:
            result.append(Bucket(f"{lower}-{bound}", lower, bound))
            lower = bound + 1
        result.append(Bucket(f">{lower - 1}", lower, None))
        return tuple(result)

    @property
    def is_default(self) -> bool:
        return self.bounds == DEFAULT_BOUNDS


def parse_rates(text: str | None, buckets: Buckets) -> tuple[Decimal, ...]:
    """Provision rates in percent, one per bucket in bucket order (``"0,1,5,…,100"``).

    Without `text` the default rates apply, which fit the default buckets only.
    """
    keys = ", ".join(b.key for b in buckets.definitions)
    if text is None:
        if not buckets.is_default:
            raise ReportInputError(
                "rates", f"give {len(buckets)} rates, one per bucket ({keys}), with buckets"
            )
        return DEFAULT_RATES
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != len(buckets):
        raise ReportInputError(
            "rates", f"{len(parts)} rates for {len(buckets)} buckets ({keys}); give one each"
        )
    rates = []
    for part in parts:
        if not _RATE.match(part) or Decimal(part) > 100:
            raise ReportInputError(
                "rates", f"{part!r} is not a percentage from 0 to 100 (at most 4 decimals)"
            )
        rates.append(Decimal(part))
    return tuple(rates)


# --- aging ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Posting:
    """One receivable posting of an invoice."""

    invoice_id: str
    effective_date: date
    amount_minor: int


def residuals_as_of(postings: Iterable[Posting], as_of: date) -> dict[str, int]:
    """What each invoice still owed at the end of `as_of` (invoices owing nothing left out)."""
    owed: dict[str, int] = defaultdict(int)
    for posting in postings:
        if posting.effective_date <= as_of:
            owed[posting.invoice_id] += posting.amount_minor
    return {invoice_id: amount for invoice_id, amount in owed.items() if amount != 0}


@dataclass(frozen=True, slots=True)
class OpenItem:
    """An invoice with something owed, and the group it is reported under."""

    currency: str
    key: str | None
    name: str | None
    due_date: date
    residual_minor: int


@dataclass(frozen=True, slots=True)
class AgingCell:
    """Residuals of one currency, group and bucket added up (the store's answer)."""

    currency: str
    key: str | None
    name: str | None
    bucket: int
    amount_minor: int
    invoices: int


@dataclass(frozen=True, slots=True)
class Unapplied:
    """Money received from a group's customers and not yet matched to invoices."""

    currency: str
    key: str | None
    name: str | None
    amount_minor: int


def age(items: Iterable[OpenItem], as_of: date, buckets: Buckets) -> list[AgingCell]:
    """Put open items in buckets and add them up per currency, group and bucket.

    This is the rule the store's SQL implements in one grouped query.
    """
    sums: dict[tuple[str, str | None, str | None, int], list[int]] = {}
    for item in items:
        where = (
            item.currency,
            item.key,
            item.name,
            buckets.index(days_past_due(item.due_date, as_of)),
        )
        cell = sums.setdefault(where, [0, 0])
        cell[0] += item.residual_minor
        cell[1] += 1
    return [AgingCell(c, k, n, b, amount, count) for (c, k, n, b), (amount, count) in sums.items()]


@dataclass(frozen=True, slots=True)
class AgingLine:
    """One group's (or the currency's total) amounts and invoice counts per bucket."""

    key: str | None
    name: str | None
    amounts: tuple[int, ...]
    invoices: tuple[int, ...]
    unapplied_minor: int = 0

    @property
    def total_minor(self) -> int:
        return sum(self.amounts)

    @property
    def invoice_count(self) -> int:
        return sum(self.invoices)


@dataclass(frozen=True, slots=True)
class CurrencyAging:
    currency: str
    total: AgingLine
    groups: tuple[AgingLine, ...] = field(default_factory=tuple)


def _group_order(line: AgingLine) -> tuple[bool, str]:
    return (line.key is None, line.key or "")


def tabulate(
    cells: Iterable[AgingCell], buckets: Buckets, unapplied: Iterable[Unapplied] = ()
) -> list[CurrencyAging]:
    """Cells into one table per currency: groups ordered by key (no key last) and a total.

    A group that only holds unapplied cash appears with zero in every bucket.
    """
    size = len(buckets)
    # (currency, key, name) -> [amounts per bucket, invoices per bucket, unapplied cash]
    rows: dict[tuple[str, str | None, str | None], tuple[list[int], list[int], list[int]]] = {}

    def row(
        currency: str, key: str | None, name: str | None
    ) -> tuple[list[int], list[int], list[int]]:
        found = rows.get((currency, key, name))
        if found is None:
            found = rows[(currency, key, name)] = ([0] * size, [0] * size, [0])
        return found

    for cell in cells:
        if not 0 <= cell.bucket < size:
            raise ValueError(f"bucket {cell.bucket} outside 0..{size - 1}")
        amounts, invoices, _ = row(cell.currency, cell.key, cell.name)
        amounts[cell.bucket] += cell.amount_minor
        invoices[cell.bucket] += cell.invoices
    for cash in unapplied:
        row(cash.currency, cash.key, cash.name)[2][0] += cash.amount_minor
    per_currency: dict[str, list[AgingLine]] = defaultdict(list)
    for (currency, key, name), (amounts, invoices, held) in rows.items():
        per_currency[currency].append(
            AgingLine(key, name, tuple(amounts), tuple(invoices), held[0])
        )
    tables = []
    for currency in sorted(per_currency):
        groups = sorted(per_currency[currency], key=_group_order)
        total = AgingLine(
            None,
            None,
            tuple(map(sum, zip(*(g.amounts for g in groups), strict=True))),
            tuple(map(sum, zip(*(g.invoices for g in groups), strict=True))),
            sum(g.unapplied_minor for g in groups),
        )
        tables.append(CurrencyAging(currency, total, tuple(groups)))
    return tables


# --- provision -----------------------------------------------------------------------------


def round_half_away(value: Fraction) -> int:
    """To the nearest integer; halves go away from zero (2.5 -> 3, -2.5 -> -3)."""
    magnitude = (abs(value.numerator) * 2 + value.denominator) // (2 * value.denominator)
    return magnitude if value >= 0 else -magnitude


def provide(amount_minor: int, rate_percent: Decimal) -> int:
    """`amount_minor` * `rate_percent` / 100, rounded to a whole minor unit."""
    return round_half_away(Fraction(amount_minor) * Fraction(rate_percent) / 100)


@dataclass(frozen=True, slots=True)
class CurrencyProvision:
    currency: str
    amounts: tuple[int, ...]
    rates: tuple[Decimal, ...]
    provisions: tuple[int, ...]

    @property
    def total_minor(self) -> int:
        return sum(self.amounts)

    @property
    def provision_minor(self) -> int:
        return sum(self.provisions)


def provision(tables: Iterable[CurrencyAging], rates: Sequence[Decimal]) -> list[CurrencyProvision]:
    """The provision per bucket of each currency's aging total."""
    result = []
    for table in tables:
        if len(rates) != len(table.total.amounts):
            raise ValueError(f"{len(rates)} rates for {len(table.total.amounts)} buckets")
        provisions = tuple(provide(a, r) for a, r in zip(table.total.amounts, rates, strict=True))
        result.append(
            CurrencyProvision(table.currency, table.total.amounts, tuple(rates), provisions)
        )
    return result


# --- DSO, CEI, ADD -------------------------------------------------------------------------


def month_start(day: date) -> date:
    return day.replace(day=1)


def countback_months(end: date, months: int = MAX_COUNTBACK_MONTHS) -> list[tuple[date, date]]:
    """(first, last) day of each countback step, newest first: `end`'s month up to `end`,
    then whole calendar months before it."""
    steps = [(month_start(end), end)]
    while len(steps) < months:
        last = steps[-1][0] - timedelta(days=1)
        steps.append((month_start(last), last))
    return steps


@dataclass(frozen=True, slots=True)
class CountbackStep:
    first: date
    last: date
    sales_minor: int
    consumed_minor: int  # the part of the receivable this month's sales account for
    days: Fraction  # days this month adds to DSO


@dataclass(frozen=True, slots=True)
class Countback:
    receivable_minor: int
    dso: Fraction
    steps: tuple[CountbackStep, ...]
    complete: bool


def countback_dso(
    receivable_minor: int,
    end: date,
    monthly_sales: Mapping[date, int],
    months: int = MAX_COUNTBACK_MONTHS,
) -> Countback:
    """DSO by the countback method; `monthly_sales` is keyed by the first day of the month
    and holds only sales dated on or before `end`."""
    remaining, dso, steps = receivable_minor, Fraction(0), []
    for first, last in countback_months(end, months):
        if remaining <= 0:
            break
        days = (last - first).days + 1
        sales = monthly_sales.get(first, 0)
        if sales > 0 and remaining <= sales:
            share = Fraction(remaining, sales) * days
            steps.append(CountbackStep(first, last, sales, remaining, share))
            dso += share
            remaining = 0
            break
        taken = max(sales, 0)
        steps.append(CountbackStep(first, last, sales, taken, Fraction(days)))
        dso += days
        remaining -= taken
    return Countback(receivable_minor, dso, tuple(steps), remaining <= 0)


@dataclass(frozen=True, slots=True)
class PeriodFigures:
    """One currency's receivable around a period and its sales in it (minor units)."""

    currency: str
    opening_minor: int  # receivable at the end of the day before the period
    sales_minor: int  # invoiced, net of voids, dated within the period
    closing_minor: int  # receivable at the end of the period's last day
    closing_current_minor: int  # the part of closing not yet due on the last day


def period_days(first: date, last: date) -> int:
    return (last - first).days + 1


def cei(f: PeriodFigures) -> Fraction | None:
    """Collected of what was collectible, in percent."""
    collectible = f.opening_minor + f.sales_minor - f.closing_current_minor
    if collectible <= 0:
        return None
    return Fraction(f.opening_minor + f.sales_minor - f.closing_minor, collectible) * 100


def best_possible_dso(f: PeriodFigures, days: int) -> Fraction | None:
    if f.sales_minor <= 0:
        return None
    return Fraction(f.closing_current_minor, f.sales_minor) * days


@dataclass(frozen=True, slots=True)
class CurrencyDso:
    figures: PeriodFigures
    days: int
    countback: Countback
    best_possible_dso: Fraction | None
    average_days_delinquent: Fraction | None
    cei: Fraction | None

    @property
    def dso(self) -> Fraction:
        return self.countback.dso


def dso_report(
    figures: PeriodFigures, first: date, last: date, monthly_sales: Mapping[date, int]
) -> CurrencyDso:
    """DSO, BPDSO, ADD and CEI of one currency for the period `first`..`last`."""
    days = period_days(first, last)
    countback = countback_dso(figures.closing_minor, last, monthly_sales)
    best = best_possible_dso(figures, days)
    return CurrencyDso(
        figures=figures,
        days=days,
        countback=countback,
        best_possible_dso=best,
        average_days_delinquent=countback.dso - best if best is not None else None,
        cei=cei(figures),
    )


@overload
def two_places(value: Fraction) -> Decimal: ...
@overload
def two_places(value: Fraction | None) -> Decimal | None: ...


def two_places(value: Fraction | None) -> Decimal | None:
    """A ratio as a decimal with two places, rounded half away from zero."""
    if value is None:
        return None
    return Decimal(round_half_away(value * 100)).scaleb(-2)
