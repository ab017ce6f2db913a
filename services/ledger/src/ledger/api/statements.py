"""`/customers/{customer_id}/statement` and its confirmations."""

from __future__ import annotations

from typing import Annotated

import asyncpg
from fastapi import APIRouter, Query, Response, status

from huikuan_contracts.ledger.statements import (
    ConfirmationCreate,
    ConfirmationPage,
    ConfirmationPublic,
    ConfirmationsQuery,
    CurrencyStatement,
    StatementBalance,
    StatementLine,
    StatementPublic,
    StatementQuery,
)
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.http import IdPath, TenantId
from ledger.api.mapping import text
from ledger.service import statements as service

router = APIRouter(prefix="/customers", tags=["statements"])


def _balance(position: service.Position, currency: str) -> StatementBalance:
    return StatementBalance(
        balance=text(position.balance, currency),
        receivable=text(position.receivable, currency),
        unapplied_cash=text(position.unapplied, currency),
    )


def _currency(part: service.CurrencyStatement) -> CurrencyStatement:
    c = part.currency
    return CurrencyStatement(
        currency=c,
        opening=_balance(part.opening, c),
        lines=[
            StatementLine(
                effective_date=line.effective_date,
                kind=line.kind,
                reference=line.reference,
                invoice_id=line.invoice_id,
                payment_id=line.payment_id,
                posted_at=line.posted_at,
                debit=text(max(line.change, 0), c),
                credit=text(max(-line.change, 0), c),
                balance=text(line.balance, c),
            )
            for line in part.lines
        ],
        total_debit=text(part.debits, c),
        total_credit=text(part.credits, c),
        closing=_balance(part.closing, c),
    )


def _confirmation(row: asyncpg.Record) -> ConfirmationPublic:
    c = row["currency"]
    return ConfirmationPublic(
        confirmation_id=row["confirmation_id"],
        customer_id=row["customer_id"],
        period_from=row["period_from"],
        period_to=row["period_to"],
        currency=c,
        our_balance=text(row["our_balance_minor"], c),
        their_balance=text(row["their_balance_minor"], c),
        difference=text(row["difference_minor"], c),
        status=row["status"],
        note=row["note"],
        created_at=row["created_at"],
    )


@router.get("/{customer_id}/statement", response_model=StatementPublic)
async def get_statement(
    customer_id: IdPath,
    query: Annotated[StatementQuery, Query()],
    tenant: TenantId,
    pool: Pool,
) -> StatementPublic:
    """Opening position, the period's lines with a running balance, closing position;
    per currency, from the journal by effective date."""
    found = await service.statement(
        pool,
        tenant,
        customer_id,
        period_from=query.period_from,
        period_to=query.to,
        currency=query.currency,
    )
    return StatementPublic(
        customer_id=found.customer_id,
        period_from=found.period_from,
        period_to=found.period_to,
        currencies=[_currency(part) for part in found.currencies],
    )


@router.post(
    "/{customer_id}/statement-confirmations", response_model=ConfirmationPublic, status_code=201
)
async def post_confirmation(
    customer_id: IdPath,
    body: ConfirmationCreate,
    tenant: TenantId,
    pool: Pool,
    clock: Clock,
    response: Response,
) -> ConfirmationPublic:
    """Record the balance the customer acknowledges; compared with ours at period_to."""
    result = await service.confirm_statement(
        pool,
        tenant,
        customer_id,
        confirmation_id=body.confirmation_id,
        period_from=body.period_from,
        period_to=body.period_to,
        their_balance=body.their_money(),
        note=body.note,
        at=clock.now(),
    )
    if not result.created:
        response.status_code = status.HTTP_200_OK
    return _confirmation(result.row)


@router.get("/{customer_id}/statement-confirmations", response_model=ConfirmationPage)
async def list_confirmations(
    customer_id: IdPath,
    query: Annotated[ConfirmationsQuery, Query()],
    tenant: TenantId,
    pool: Pool,
) -> ConfirmationPage:
    page = await service.confirmations(
        pool,
        tenant,
        customer_id,
        currency=query.currency,
        limit=query.limit,
        cursor=query.cursor,
    )
    return ConfirmationPage(
        items=[_confirmation(r) for r in page.rows], next_cursor=page.next_cursor
    )
