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
    no_projection="the gateway keeps no projection. Its tables are its own records (tenants, "
    "API keys, idempotency keys, webhook subscriptions) and the webhook deliveries its "
    "consumer queued: replaying the topics would queue every event's webhooks again and send "
    "them to the tenants' receivers. Redeliver what a receiver missed instead "
    "(POST /v1/webhooks/{id}/redeliver-failed, .../deliveries/{delivery_id}/redeliver).",
)

if __name__ == "__main__":
    main(SPEC)
