"""`python -m gateway api|migrate|consume|dispatch`."""

from __future__ import annotations

from gateway.api.app import create_app
from gateway.config import get_settings
from gateway.events.webhooks import consume
from gateway.service.dispatcher import run as dispatch
from huikuan_runtime.migrations import package_migrations
from huikuan_runtime.service import ServiceSpec, main

SPEC = ServiceSpec(
    name="gateway",
    settings=get_settings,
    app=create_app,
    migrations=package_migrations("gateway"),
    # The gateway's consumer is its own loop (gateway.events.webhooks), not the default.
    extra_modes={"consume": consume, "dispatch": dispatch},
)

if __name__ == "__main__":
    main(SPEC)
