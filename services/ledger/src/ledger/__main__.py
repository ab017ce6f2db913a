"""`python -m ledger api|relay|migrate|overdue-scan`."""

from __future__ import annotations

from pathlib import Path

from huikuan_runtime.service import ServiceSpec, main
from ledger.api.app import create_app
from ledger.config import get_settings
from ledger.service.overdue import run_periodically

SPEC = ServiceSpec(
    name="ledger",
    settings=get_settings,
    app=create_app,
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    extra_modes={"overdue-scan": run_periodically},
)

if __name__ == "__main__":
    main(SPEC)
