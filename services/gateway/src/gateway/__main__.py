"""`python -m gateway api|migrate|consume|dispatch`."""

from __future__ import annotations

from gateway.api.app import create_app
from gateway.config import get_settings
from gateway.events.webhooks import CONSUMER
from gateway.service.dispatcher import run as dispatch
from huikuan_runtime.migrations import package_migrations
from huikuan_runtime.service import ServiceSpec, main

SPEC = ServiceSpec(
    name="gateway",
    settings=get_settings,
    app=create_app,
    migrations=package_migrations("gateway"),
    consumer=lambda settings: CONSUMER,
    extra_modes={"dispatch": dispatch},
    relay=False,  # the gateway publishes no events
)

if __name__ == "__main__":
    main(SPEC)
