"""Public routes reminders owns: policies, dunning state, pauses, promises, reminders,
the worklist and tasks, collectors, channel settings and dunning runs."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.proxy import mount
from huikuan_contracts.reminders.routes import ROUTES

router = APIRouter()
mount(router, ROUTES)
