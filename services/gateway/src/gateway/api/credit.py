"""Public routes credit owns: the credit view, history, limits, holds, checks, rescore."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.proxy import mount
from huikuan_contracts.credit.routes import ROUTES

router = APIRouter()
mount(router, ROUTES)
