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
)

if __name__ == "__main__":
    main(SPEC)
