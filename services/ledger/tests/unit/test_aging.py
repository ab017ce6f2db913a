"""Report rules without I/O: buckets, aging of a hand-computed book, provision, countback DSO,
CEI and ADD. Every expected number below was worked out by hand (the working is in the
comments), not by running the code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.domain import journal
from ledger.domain.aging import (
    DEFAULT_RATES,
    AgingLine,
    Buckets,
    CurrencyAging,
    OpenItem,
    PeriodFigures,
    Posting,
    ReportInputError,
    Unapplied,
    age,
    best_possible_dso,
    cei,
    countback_dso,
    days_past_due,
    dso_report,
    parse_rates,
    provide,
    provision,
    residuals_as_of,
    tabulate,
    two_places,
)

DEFAULT_KEYS = ["current", "1-30", "31-60", "61-90", "91-180", "181-365", "366-730", ">730"]

# --- buckets and rates ---------------------------------------------------------------------


def test_the_default_buckets() -> None:
    buckets = Buckets.parse(None)
    assert [b.key for b in buckets.definitions] == DEFAULT_KEYS
    assert [(b.min_days, b.max_days) for b in buckets.definitions] == [
        (None, 0),
        (1, 30),
        (31, 60),
        (61, 90),
        (91, 180),
        (181, 365),
        (366, 730),
        (731, None),
    ]
    assert len(buckets) == 8 and buckets.is_default


@pytest.mark.parametrize(
    ("days", "key"),
    [
        (-400, "current"),
        (0, "current"),
        (1, "1-30"),
        (30, "1-30"),
        (31, "31-60"),
        (90, "61-90"),
        (91, "91-180"),
        (365, "181-365"),
        (366, "366-730"),
        (730, "366-730"),
        (731, ">730"),
        (10_000, ">730"),
    ],
)
def test_bucket_boundaries(days: int, key: str) -> None:
    buckets = Buckets()
    assert buckets.definitions[buckets.index(days)].key == key


def test_days_past_due_counts_from_the_due_date() -> None:
    assert days_past_due(date(2026, 5, 31), date(2026, 6, 30)) == 30
    assert days_past_due(date(2026, 6, 30), date(2026, 6, 30)) == 0  # due today: current
    assert days_past_due(date(2024, 6, 30), date(2026, 6, 30)) == 730


def test_custom_buckets() -> None:
    buckets = Buckets.parse(" 30, 60 ")
    assert [b.key for b in buckets.definitions] == ["current", "1-30", "31-60", ">60"]
    assert buckets.thresholds == (0, 30, 60)
    assert not buckets.is_default
    assert [b.key for b in Buckets(()).definitions] == ["current", ">0"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "30,,60",
        "30,30",
        "60,30",
        "0,30",
        "-5",
        "30.5",
        "abc",
        "1e3",
        "40000",
        ",".join(str(n) for n in range(1, 26)),
    ],
)
def test_bad_buckets_are_refused_naming_the_parameter(text: str) -> None:
    with pytest.raises(ReportInputError) as caught:
        Buckets.parse(text)
    assert caught.value.field == "buckets"


def test_rates() -> None:
    assert parse_rates(None, Buckets()) == DEFAULT_RATES
    assert parse_rates("0, 2.5,100", Buckets((30,))) == (Decimal(0), Decimal("2.5"), Decimal(100))


@pytest.mark.parametrize(
    ("text", "buckets"),
    [
        (None, (30, 60)),
        ("0,1,5", (30, 60)),
        ("0,1,5,10,200", (30, 60, 90)),
        ("0,1,5,x", (30, 60)),
        ("0,1,5,-1", (30, 60)),
        ("0,1,5,1.00001", (30, 60)),
        ("0,1,5,10,25,50,80", (30, 60, 90, 180, 365, 730)),
    ],
)
def test_bad_rates_are_refused_naming_the_parameter(
    text: str | None, buckets: tuple[int, ...]
) -> None:
    with pytest.raises(ReportInputError) as caught:
        parse_rates(text, Buckets(buckets))
    assert caught.value.field == "rates"


# --- a hand-computed book ------------------------------------------------------------------
#
# Customers: C-1 (owner li, region east), C-2 (owner wang, region east), C-3 (no owner, no
# region). Amounts in fen (CNY minor units) unless said otherwise.
#
# invoice cust issued      due         amount  afterwards
# I-1     C-1  2026-06-01  2026-07-15   500.00
# I-2     C-1  2026-05-01  2026-05-31  1000.00  P-1 pays 300.00 on 2026-06-10 (partial)
# I-3     C-2  2026-04-15  2026-05-30   800.00  credit note 100.00 on 2026-06-05
# I-4     C-2  2026-03-01  2026-03-31  2000.00  P-2 pays it all on 2026-07-05 (after as_of)
# I-5     C-3  2025-11-01  2025-12-01  1500.00  P-3 pays 500.00 on 2026-06-20, posted last
#                                               (back-dated)
# I-6     C-1  2024-05-30  2024-06-29   300.00
# I-7     C-2  2024-06-01  2024-06-30   250.00
# I-8     C-3  2026-06-15  2026-06-30   400.00
# I-9     C-3  2025-01-01  2025-01-31   999.00  written off on 2026-05-15
# I-10    C-1  2026-06-01  2026-06-29   100.00 USD
# I-11    C-1  2026-06-10  2026-07-10   700.00  voided on 2026-06-20
# P-4     C-2  50.00 received 2026-06-25, not matched to any invoice (unapplied cash)


@dataclass(frozen=True)
class Terms:
    customer_id: str
    currency: str
    due_date: date


CUSTOMERS = {"C-1": ("li", "east"), "C-2": ("wang", "east"), "C-3": (None, None)}
TERMS = {
    "I-1": Terms("C-1", "CNY", date(2026, 7, 15)),
    "I-2": Terms("C-1", "CNY", date(2026, 5, 31)),
    "I-3": Terms("C-2", "CNY", date(2026, 5, 30)),
    "I-4": Terms("C-2", "CNY", date(2026, 3, 31)),
    "I-5": Terms("C-3", "CNY", date(2025, 12, 1)),
    "I-6": Terms("C-1", "CNY", date(2024, 6, 29)),
    "I-7": Terms("C-2", "CNY", date(2024, 6, 30)),
    "I-8": Terms("C-3", "CNY", date(2026, 6, 30)),
    "I-9": Terms("C-3", "CNY", date(2025, 1, 31)),
    "I-10": Terms("C-1", "USD", date(2026, 6, 29)),
    "I-11": Terms("C-1", "CNY", date(2026, 7, 10)),
}


def _book() -> list[journal.Entry]:
    """The journal of the book, in the order it was posted (P-3 last: back-dated)."""
    issued = [
        ("I-1", "C-1", 50_000, date(2026, 6, 1)),
        ("I-2", "C-1", 100_000, date(2026, 5, 1)),
        ("I-3", "C-2", 80_000, date(2026, 4, 15)),
        ("I-4", "C-2", 200_000, date(2026, 3, 1)),
        ("I-5", "C-3", 150_000, date(2025, 11, 1)),
        ("I-6", "C-1", 30_000, date(2024, 5, 30)),
        ("I-7", "C-2", 25_000, date(2024, 6, 1)),
        ("I-8", "C-3", 40_000, date(2026, 6, 15)),
        ("I-9", "C-3", 99_900, date(2025, 1, 1)),
        ("I-11", "C-1", 70_000, date(2026, 6, 10)),
    ]
    entries = [journal.invoice_issued(c, i, "CNY", a, d) for i, c, a, d in issued]
    entries.append(journal.invoice_issued("C-1", "I-10", "USD", 10_000, date(2026, 6, 1)))
    entries += [
        journal.invoice_voided("C-1", "I-11", "CNY", 70_000, date(2026, 6, 20)),
        journal.credit_note("C-2", "I-3", "CNY", 10_000, date(2026, 6, 5), "CN-1"),
        journal.write_off("C-3", "I-9", "CNY", 99_900, date(2026, 5, 15), "I-9"),
        journal.payment_received("C-1", "P-1", "CNY", 30_000, date(2026, 6, 10)),
        journal.allocation("C-1", "P-1", "I-2", "CNY", 30_000, date(2026, 6, 10), "P-1"),
        journal.payment_received("C-2", "P-2", "CNY", 200_000, date(2026, 7, 5)),
        journal.allocation("C-2", "P-2", "I-4", "CNY", 200_000, date(2026, 7, 5), "P-2"),
        journal.payment_received("C-2", "P-4", "CNY", 5_000, date(2026, 6, 25)),
        journal.payment_received("C-3", "P-3", "CNY", 50_000, date(2026, 6, 20)),
        journal.allocation("C-3", "P-3", "I-5", "CNY", 50_000, date(2026, 6, 20), "P-3"),
    ]
    return entries


def _postings(entries: list[journal.Entry]) -> list[Posting]:
    return [
        Posting(line.invoice_id, entry.effective_date, line.amount_minor)
        for entry in entries
        for line in entry.lines
        if line.account is journal.Account.RECEIVABLE and line.invoice_id is not None
    ]


def _key(customer_id: str, group_by: str) -> tuple[str | None, str | None]:
    owner, region = CUSTOMERS[customer_id]
    if group_by == "customer":
        return customer_id, f"Customer {customer_id}"
    return (owner, None) if group_by == "owner" else (region, None)


def _aging(
    as_of: date, group_by: str = "customer", buckets: Buckets | None = None
) -> list[CurrencyAging]:
    buckets = buckets or Buckets()
    entries = _book()
    items = []
    for invoice_id, residual in residuals_as_of(_postings(entries), as_of).items():
        terms = TERMS[invoice_id]
        key, name = _key(terms.customer_id, group_by)
        items.append(OpenItem(terms.currency, key, name, terms.due_date, residual))
    held: dict[str, int] = {}
    for entry in entries:
        for line in entry.lines:
            if line.account is journal.Account.UNAPPLIED_CASH and entry.effective_date <= as_of:
                assert line.customer_id is not None
                held[line.customer_id] = held.get(line.customer_id, 0) - line.amount_minor
    unapplied = [Unapplied("CNY", *_key(c, group_by), a) for c, a in held.items() if a]
    return tabulate(age(items, as_of, buckets), buckets, unapplied)


def _rows(table: CurrencyAging) -> dict[str | None, tuple[int, ...]]:
    return {g.key: g.amounts for g in table.groups}


def test_aging_by_customer_on_june_30() -> None:
    cny, usd = _aging(date(2026, 6, 30))
    assert (cny.currency, usd.currency) == ("CNY", "USD")
    # buckets: current, 1-30, 31-60, 61-90, 91-180, 181-365, 366-730, >730
    assert cny.total.amounts == (90_000, 70_000, 70_000, 0, 200_000, 100_000, 25_000, 30_000)
    # current: I-1 500 + I-8 400 (due today); 1-30: I-2 1000-300 at 30 days;
    # 31-60: I-3 800-100 at 31 days; 91-180: I-4 (P-2 comes on 07-05) at 91 days;
    # 181-365: I-5 1500-500 (back-dated P-3 counts) at 211 days; 366-730: I-7 at 730 days;
    # >730: I-6 at 731 days. I-9 is written off, I-11 void.
    assert cny.total.total_minor == 585_000
    assert cny.total.invoices == (2, 1, 1, 0, 1, 1, 1, 1)
    assert _rows(cny) == {
        "C-1": (50_000, 70_000, 0, 0, 0, 0, 0, 30_000),
        "C-2": (0, 0, 70_000, 0, 200_000, 0, 25_000, 0),
        "C-3": (40_000, 0, 0, 0, 0, 100_000, 0, 0),
    }
    assert [g.name for g in cny.groups] == ["Customer C-1", "Customer C-2", "Customer C-3"]
    assert [g.unapplied_minor for g in cny.groups] == [0, 5_000, 0]
    assert cny.total.unapplied_minor == 5_000
    # currencies are never added together: the USD invoice is in its own table
    assert usd.total.amounts == (0, 10_000, 0, 0, 0, 0, 0, 0)
    assert _rows(usd) == {"C-1": (0, 10_000, 0, 0, 0, 0, 0, 0)}


def test_aging_by_owner_and_region() -> None:
    cny = _aging(date(2026, 6, 30), "owner")[0]
    assert [(g.key, g.total_minor, g.invoice_count, g.unapplied_minor) for g in cny.groups] == [
        ("li", 150_000, 3, 0),
        ("wang", 295_000, 3, 5_000),
        (None, 140_000, 2, 0),
    ]
    cny = _aging(date(2026, 6, 30), "region")[0]
    assert [(g.key, g.total_minor) for g in cny.groups] == [("east", 445_000), (None, 140_000)]


def test_a_payment_dated_after_as_of_does_not_count_yet() -> None:
    # July 10: P-2 (07-05) has paid I-4; everything is ten days older.
    cny = _aging(date(2026, 7, 10))[0]
    assert cny.total.amounts == (50_000, 40_000, 140_000, 0, 0, 100_000, 0, 55_000)
    assert cny.total.total_minor == 585_000 - 200_000


def test_a_back_dated_payment_counts_from_its_date_only() -> None:
    # June 19: P-3 (06-20) has not paid yet, I-11 is not void yet, the credit note (06-05)
    # and P-1 (06-10) count. current: I-1 500 + I-8 400 + I-11 700; 1-30: I-2 700 (19 days)
    # + I-3 700 (20 days); 61-90: I-4 (80 days); 181-365: I-5 1500 (200 days);
    # 366-730: I-6 300 (720 days) + I-7 250 (719 days).
    cny = _aging(date(2026, 6, 19))[0]
    assert cny.total.amounts == (160_000, 140_000, 0, 200_000, 0, 150_000, 55_000, 0)
    assert cny.total.invoices == (3, 2, 0, 1, 0, 1, 2, 0)
    assert cny.total.unapplied_minor == 0  # P-4 arrives on 06-25


def test_a_written_off_invoice_ages_until_its_write_off() -> None:
    # May 1: I-9 is 455 days past due; the write-off of 05-15 has not happened.
    cny = _aging(date(2026, 5, 1))[0]
    assert {g.key: g.amounts[6] for g in cny.groups}["C-3"] == 99_900


def test_custom_buckets_on_the_book() -> None:
    cny = _aging(date(2026, 6, 30), buckets=Buckets((30, 90)))[0]
    # current 900, 1-30 700, 31-90 700, >90: 2000 + 1000 + 250 + 300
    assert cny.total.amounts == (90_000, 70_000, 70_000, 355_000)


def test_provision_of_the_book() -> None:
    [cny, usd] = provision(_aging(date(2026, 6, 30)), DEFAULT_RATES)
    # 900*0% + 700*1% + 700*5% + 0*10% + 2000*25% + 1000*50% + 250*80% + 300*100%
    assert cny.provisions == (0, 700, 3_500, 0, 50_000, 50_000, 20_000, 30_000)
    assert cny.provision_minor == 154_200
    assert cny.total_minor == 585_000
    assert usd.provision_minor == 100  # 100.00 USD at 1%
    custom = Buckets((30, 90))
    [cny, _] = provision(
        _aging(date(2026, 6, 30), buckets=custom), parse_rates("0,2,10,50", custom)
    )
    # 700*2% = 14, 700*10% = 70, 3550*50% = 1775
    assert cny.provisions == (0, 1_400, 7_000, 177_500)


def test_provision_rounds_each_bucket_half_away_from_zero() -> None:
    assert provide(1, Decimal(50)) == 1  # 0.5
    assert provide(3, Decimal(50)) == 2  # 1.5
    assert provide(-3, Decimal(50)) == -2
    assert provide(33_333, Decimal("1.5")) == 500  # 499.995
    assert provide(33_332, Decimal("1.5")) == 500  # 499.98
    assert provide(33_300, Decimal("1.5")) == 500  # 499.5
    assert provide(33_299, Decimal("1.5")) == 499  # 499.485
    assert provide(12_345, Decimal(0)) == 0


# --- DSO, CEI, ADD ---------------------------------------------------------------------------

SALES = {date(2026, 6, 1): 300_000, date(2026, 5, 1): 200_000, date(2026, 4, 1): 400_000}


def test_countback_dso() -> None:
    # 6000 owed on June 30: June's 3000 (30 days) and May's 2000 (31 days) are used up, the
    # last 1000 is a quarter of April's 4000: 30 + 31 + 30/4 = 68.5 days.
    result = countback_dso(600_000, date(2026, 6, 30), SALES)
    assert result.dso == Fraction(137, 2)
    assert result.complete
    assert [(s.first, s.consumed_minor, s.days) for s in result.steps] == [
        (date(2026, 6, 1), 300_000, 30),
        (date(2026, 5, 1), 200_000, 31),
        (date(2026, 4, 1), 100_000, Fraction(15, 2)),
    ]


def test_countback_starts_with_the_part_of_the_month_up_to_the_period_end() -> None:
    # June 1-15 sold 3000 (the store only counts sales up to the 15th); 4500 owed:
    # 15 days + 1500/2000 of May's 31 days = 15 + 23.25
    result = countback_dso(450_000, date(2026, 6, 15), SALES)
    assert result.dso == Fraction(3825, 100)
    assert result.steps[0].last == date(2026, 6, 15)


def test_countback_counts_months_without_sales_in_full() -> None:
    sales = {date(2026, 6, 1): 100_000, date(2026, 3, 1): 400_000}
    # June 30 days, May 31 and April 30 with no sales, March: 1000 of 4000 -> 31/4
    assert countback_dso(200_000, date(2026, 6, 30), sales).dso == 30 + 31 + 30 + Fraction(31, 4)


def test_countback_with_nothing_owed_is_zero_and_without_sales_runs_out() -> None:
    assert countback_dso(0, date(2026, 6, 30), SALES).dso == 0
    assert countback_dso(-500, date(2026, 6, 30), SALES).dso == 0
    exhausted = countback_dso(100, date(2026, 6, 30), {}, months=3)
    assert not exhausted.complete
    assert exhausted.dso == 30 + 31 + 30


def test_cei_bpdso_and_add() -> None:
    # Period April 1 - June 30 (91 days): opening 2500, sales 9000, closing 6000 of which
    # 2000 not yet due. CEI = (2500 + 9000 - 6000) / (2500 + 9000 - 2000) = 5500 / 9500
    # = 57.894...%; BPDSO = 2000 / 9000 * 91 = 20.222...; ADD = 68.5 - 20.222... = 48.277...
    figures = PeriodFigures("CNY", 250_000, 900_000, 600_000, 200_000)
    report = dso_report(figures, date(2026, 4, 1), date(2026, 6, 30), SALES)
    assert report.days == 91
    assert report.dso == Fraction(137, 2)
    assert report.cei == Fraction(5500, 95)
    assert report.best_possible_dso == Fraction(2000 * 91, 9000)
    assert report.average_days_delinquent == Fraction(137, 2) - Fraction(2000 * 91, 9000)
    assert [
        two_places(v)
        for v in (report.dso, report.cei, report.best_possible_dso, report.average_days_delinquent)
    ] == [
        Decimal("68.50"),
        Decimal("57.89"),
        Decimal("20.22"),
        Decimal("48.28"),
    ]


def test_undefined_ratios_are_none() -> None:
    nothing = PeriodFigures("CNY", 0, 0, 0, 0)
    assert cei(nothing) is None
    assert best_possible_dso(nothing, 30) is None
    report = dso_report(nothing, date(2026, 6, 1), date(2026, 6, 30), {})
    assert report.dso == 0
    assert report.average_days_delinquent is None
    assert two_places(None) is None
    # everything collected: CEI 100
    assert cei(PeriodFigures("CNY", 1_000, 0, 0, 0)) == 100


def test_two_places_rounds_half_away_from_zero() -> None:
    assert two_places(Fraction(1, 200)) == Decimal("0.01")
    assert two_places(Fraction(-1, 200)) == Decimal("-0.01")
    assert two_places(Fraction(1, 201)) == Decimal("0.00")
    assert format(two_places(Fraction(0)), "f") == "0.00"
    assert format(two_places(Fraction(235)), "f") == "235.00"


# --- invariants ----------------------------------------------------------------------------

items = st.builds(
    OpenItem,
    currency=st.sampled_from(["CNY", "USD", "JPY"]),
    key=st.sampled_from(["a", "b", None]),
    name=st.none(),
    due_date=st.dates(min_value=date(2020, 1, 1), max_value=date(2028, 1, 1)),
    residual_minor=st.integers(min_value=-(10**6), max_value=10**9),
)
bounds = st.lists(st.integers(min_value=1, max_value=2000), max_size=8, unique=True).map(
    lambda b: tuple(sorted(b))
)


@given(
    st.lists(items, max_size=60),
    bounds,
    st.dates(min_value=date(2020, 1, 1), max_value=date(2028, 1, 1)),
)
def test_every_item_lands_in_its_bucket_and_nothing_is_lost(
    open_items: list[OpenItem], upper: tuple[int, ...], as_of: date
) -> None:
    buckets = Buckets(upper)
    for item in open_items:
        days = days_past_due(item.due_date, as_of)
        bucket = buckets.definitions[buckets.index(days)]
        assert bucket.min_days is None or days >= bucket.min_days
        assert bucket.max_days is None or days <= bucket.max_days
    tables = tabulate(age(open_items, as_of, buckets), buckets)
    for table in tables:
        mine = [i for i in open_items if i.currency == table.currency]
        assert table.total.total_minor == sum(i.residual_minor for i in mine)
        assert table.total.invoice_count == len(mine)
        assert sum(g.total_minor for g in table.groups) == table.total.total_minor
    assert {t.currency for t in tables} == {i.currency for i in open_items}


def test_tabulate_refuses_a_bucket_out_of_range() -> None:
    from ledger.domain.aging import AgingCell

    with pytest.raises(ValueError):
        tabulate([AgingCell("CNY", "a", None, 8, 1, 1)], Buckets())


def test_a_group_with_only_unapplied_cash_shows_zero_buckets() -> None:
    [table] = tabulate([], Buckets((30,)), [Unapplied("CNY", "C-9", "Nine", 1_000)])
    assert table.groups == (AgingLine("C-9", "Nine", (0, 0, 0), (0, 0, 0), 1_000),)
    assert table.total.unapplied_minor == 1_000
