"""`/reports`: aging, DSO / CEI / ADD and bad-debt provision, per currency, as of a date."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from fractions import Fraction
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse

from huikuan_contracts.ledger.reports import (
    AgingQuery,
    AgingReport,
    BucketPublic,
    CountbackMonth,
    CurrencyDso,
    CurrencyProvision,
    DsoQuery,
    DsoReport,
    ProvisionBucket,
    ProvisionQuery,
    ProvisionReport,
)
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import TenantId
from ledger.api.mapping import text, texts
from ledger.domain import aging as rules
from ledger.domain.aging import Buckets, ReportInputError, parse_rates, two_places
from ledger.service import reports as service
from ledger.service.invoices import invalid

router = APIRouter(prefix="/reports", tags=["reports"])


@contextmanager
def _input() -> Iterator[None]:
    """A report parameter that cannot be used becomes a 422 naming it."""
    try:
        yield
    except ReportInputError as exc:
        raise invalid(exc.field, str(exc)) from exc


def _buckets(buckets: Buckets) -> list[BucketPublic]:
    return [
        BucketPublic(key=b.key, min_days_past_due=b.min_days, max_days_past_due=b.max_days)
        for b in buckets.definitions
    ]


def _ratio(value: Fraction) -> str:
    return format(two_places(value), "f")


def _maybe_ratio(value: Fraction | None) -> str | None:
    return None if value is None else _ratio(value)


def _aging_line(
    line: rules.AgingLine, amount: Callable[[int], str], keys: Sequence[str]
) -> dict[str, Any]:
    return {
        "total": amount(line.total_minor),
        "invoices": line.invoice_count,
        "buckets": dict(zip(keys, map(amount, line.amounts), strict=True)),
        "bucket_invoices": dict(zip(keys, line.invoices, strict=True)),
        "unapplied_cash": amount(line.unapplied_minor),
    }


def _currency_aging(table: rules.CurrencyAging, keys: Sequence[str]) -> dict[str, Any]:
    amount = texts(table.currency)
    return {
        "currency": table.currency,
        "total": _aging_line(table.total, amount, keys),
        "groups": [
            {"key": g.key, "name": g.name, **_aging_line(g, amount, keys)} for g in table.groups
        ],
    }


@router.get("/aging", response_model=AgingReport)
async def get_aging(
    query: Annotated[AgingQuery, Query()], tenant: TenantId, pool: Pool, clock: Clock
) -> JSONResponse:
    """Open receivables as of a date in buckets of days past due, one table per currency,
    one row per customer, owner or region (their current master data)."""
    as_of = query.as_of or clock.now().date()
    with _input():
        buckets = Buckets.parse(query.buckets)
        tables = await service.aging(
            pool, tenant, as_of=as_of, group_by=query.group_by, buckets=buckets
        )
    keys = [b.key for b in buckets.definitions]
    # One row per customer can make thousands of rows, built from our own values: they go
    # out as JSON in the shape of `AgingReport` (the documented answer) without building
    # and validating a model per row first.
    return JSONResponse(
        {
            "as_of": as_of.isoformat(),
            "group_by": query.group_by,
            "buckets": [b.model_dump(mode="json") for b in _buckets(buckets)],
            "currencies": [_currency_aging(t, keys) for t in tables],
        }
    )


@router.get("/provision", response_model=ProvisionReport)
async def get_provision(
    query: Annotated[ProvisionQuery, Query()], tenant: TenantId, pool: Pool, clock: Clock
) -> ProvisionReport:
    """Bad-debt provision as of a date: each aging bucket's amount times its rate."""
    as_of = query.as_of or clock.now().date()
    with _input():
        buckets = Buckets.parse(query.buckets)
        rates = parse_rates(query.rates, buckets)
        tables = await service.provision_report(
            pool, tenant, as_of=as_of, buckets=buckets, rates=rates
        )
    keys = [b.key for b in buckets.definitions]
    return ProvisionReport(
        as_of=as_of,
        buckets=_buckets(buckets),
        currencies=[
            CurrencyProvision(
                currency=p.currency,
                receivable=text(p.total_minor, p.currency),
                provision=text(p.provision_minor, p.currency),
                buckets=[
                    ProvisionBucket(
                        bucket=k,
                        amount=text(a, p.currency),
                        rate=format(r, "f"),
                        provision=text(v, p.currency),
                    )
                    for k, a, r, v in zip(keys, p.amounts, p.rates, p.provisions, strict=True)
                ],
            )
            for p in tables
        ],
    )


def _dso(d: rules.CurrencyDso) -> CurrencyDso:
    f, currency = d.figures, d.figures.currency
    return CurrencyDso(
        currency=currency,
        opening_receivable=text(f.opening_minor, currency),
        sales=text(f.sales_minor, currency),
        closing_receivable=text(f.closing_minor, currency),
        closing_current=text(f.closing_current_minor, currency),
        dso=_ratio(d.dso),
        best_possible_dso=_maybe_ratio(d.best_possible_dso),
        average_days_delinquent=_maybe_ratio(d.average_days_delinquent),
        cei=_maybe_ratio(d.cei),
        countback_complete=d.countback.complete,
        countback=[
            CountbackMonth(
                first=s.first,
                last=s.last,
                sales=text(s.sales_minor, currency),
                consumed=text(s.consumed_minor, currency),
                days=_ratio(s.days),
            )
            for s in d.countback.steps
        ],
    )


@router.get("/dso", response_model=DsoReport)
async def get_dso(query: Annotated[DsoQuery, Query()], tenant: TenantId, pool: Pool) -> DsoReport:
    """DSO (countback), best possible DSO, average days delinquent and CEI for a period."""
    with _input():
        reports = await service.dso(pool, tenant, first=query.from_, last=query.to)
    return DsoReport(
        from_=query.from_,
        to=query.to,
        days=rules.period_days(query.from_, query.to),
        currencies=[_dso(d) for d in reports],
    )
