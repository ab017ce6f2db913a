"""Public routes the ledger owns: customers, invoices, payments (its contract's `BOOK`)."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.proxy import mount
from huikuan_contracts.ledger.routes import BOOK

router = APIRouter()
mount(router, BOOK)
