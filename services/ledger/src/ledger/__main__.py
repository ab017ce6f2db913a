"""`python -m ledger api|relay|migrate|overdue-scan`."""

from __future__ import annotations

from huikuan_runtime.migrations import package_migrations
from huikuan_runtime.service import ServiceSpec, main
from ledger.api.app import create_app
from ledger.config import get_settings
from ledger.service.overdue import run_periodically

SPEC = ServiceSpec(
    name="ledger",
    settings=get_settings,
    app=create_app,
    migrations=package_migrations("ledger"),
    extra_modes={"overdue-scan": run_periodically},
    no_projection="the ledger is the system of record: it consumes no topic, and the events "
    "the other services rebuild from are its own. Restore it from a PostgreSQL backup "
    "(docs/operations.md).",
)

if __name__ == "__main__":
    main(SPEC)
