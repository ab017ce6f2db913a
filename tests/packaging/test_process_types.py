"""The table of process types (`huikuan_dev.processes`) — what the chart, the compose file,
`make run` and the image test run — is every long-running mode of every service: a mode
added to a service and not to the table (so deployed nowhere) fails here."""

from __future__ import annotations

import importlib

from huikuan_dev.processes import PROCESS_TYPES, SERVICES
from huikuan_runtime.service import ServiceSpec


def test_the_process_types_are_the_modes_every_service_runs() -> None:
    modes = set()
    for service in SERVICES:
        spec = importlib.import_module(f"{service}.__main__").SPEC
        assert isinstance(spec, ServiceSpec)
        modes |= {(service, mode) for mode in spec.modes if mode != "migrate"}
    assert {(p.service, p.mode) for p in PROCESS_TYPES} == modes
    assert len({p.name for p in PROCESS_TYPES}) == len(PROCESS_TYPES)
