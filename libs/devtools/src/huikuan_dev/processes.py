"""Every process type of the system, in one table: what `make run` starts, what the Helm
chart deploys, what the compose file runs and what the image test starts from an installed
image — `make lint` holds the chart and the compose file to this list
(`tools/chart_check.py`, `tools/compose_check.py`), and a test holds it to the modes each
service's `python -m <service>` offers.

A process type is one service's package run in one mode: `python -m <service> <mode>`.
`migrate` is not one: it runs to completion before the others start.
"""

from __future__ import annotations

from dataclasses import dataclass

SERVICES = ("ledger", "credit", "reminders", "gateway")


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    name: str
    service: str
    mode: str
    periodic: bool = False
    """A scheduled loop (scans, rescoring, the dunning scheduler): acts on "now", so the
    test stacks leave it out and trigger its jobs explicitly."""

    @property
    def is_api(self) -> bool:
        """An HTTP API on the service's port; every other process serves its health on
        `<SERVICE>_HEALTH_PORT`."""
        return self.mode == "api"


PROCESS_TYPES: tuple[ProcessSpec, ...] = (
    ProcessSpec("ledger-api", "ledger", "api"),
    ProcessSpec("ledger-relay", "ledger", "relay"),
    ProcessSpec("credit-api", "credit", "api"),
    ProcessSpec("credit-consume", "credit", "consume"),
    ProcessSpec("credit-relay", "credit", "relay"),
    ProcessSpec("reminders-api", "reminders", "api"),
    ProcessSpec("reminders-consume", "reminders", "consume"),
    ProcessSpec("reminders-relay", "reminders", "relay"),
    ProcessSpec("gateway-api", "gateway", "api"),
    ProcessSpec("gateway-consume", "gateway", "consume"),
    ProcessSpec("gateway-dispatch", "gateway", "dispatch"),
    ProcessSpec("ledger-overdue", "ledger", "overdue-scan", periodic=True),
    ProcessSpec("credit-rescore", "credit", "rescore", periodic=True),
    ProcessSpec("reminders-schedule", "reminders", "schedule", periodic=True),
)
