"""Public report routes the ledger owns: aging, DSO / CEI / ADD, bad-debt provision."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.proxy import mount
from huikuan_contracts.ledger.routes import REPORTS

router = APIRouter()
mount(router, REPORTS)
