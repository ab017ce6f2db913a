"""Public routes the ledger owns: disputes, statements, targets and the overdue scan job."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.proxy import mount
from huikuan_contracts.ledger.routes import ACCOUNTS, JOBS

router = APIRouter()
mount(router, ACCOUNTS)
mount(router, JOBS)
