"""Two stacks on one broker are two deployments: each has its own Kafka namespace
(`KAFKA_TOPIC_PREFIX`), so neither's consumers ever see the other's events.

The same tenant id lives on both stacks, with a webhook subscription on each (so the
gateway's consumer would admit its events), and each stack gets an invoice of its own
customer. Each stack's credit, reminders and gateway consumers apply their own stack's
events; once both pipelines have read everything they read (no lag, empty outboxes), none
of them has recorded, derived from or fanned out an event of the other stack. With shared
topics, each stack would score the other's customer and queue webhooks for it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import pytest

from huikuan_dev.stack import Stack
from tests.support import Api, eventually, infra_env, query, start_stack

pytestmark = pytest.mark.e2e

CONSUMERS = ("credit", "reminders", "gateway")
# Accepted as a public address; never connected to (every test stack is confined to this
# machine), and the consumers' work is done before any delivery is attempted.
HOOK = "http://1.1.1.1/hook"


@pytest.fixture(scope="module")
def other() -> Iterator[Stack]:
    """A second stack on the session's broker, beside the session's own."""
    env = infra_env()
    if env is None:
        pytest.skip("needs DATABASE_URL and KAFKA_BOOTSTRAP_SERVERS (make test sets them)")
    yield from start_stack(*env)


def _ledger_events(stack: Stack, tenant: str) -> set[str] | None:
    """The ids of `tenant`'s events in the stack's ledger outbox, once both (the customer's
    and the invoice's) are published; None before."""
    rows = query(
        stack.env["DATABASE_URL"],
        """SELECT event_id::text AS id, published_at IS NOT NULL AS published
           FROM ledger.outbox_event
           WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1""",
        tenant,
    )
    return {r["id"] for r in rows} if len(rows) == 2 and all(r["published"] for r in rows) else None


def _processed(stack: Stack, consumer: str, ids: set[str]) -> set[str]:
    """Which of the event `ids` the stack's `consumer` has recorded as processed."""
    rows = query(
        stack.env["DATABASE_URL"],
        f"SELECT event_id::text AS id FROM {consumer}.processed_event "
        "WHERE event_id = ANY($1::uuid[])",
        sorted(ids),
    )
    return {r["id"] for r in rows}


def _applied_all(stack: Stack, consumer: str, ids: set[str]) -> bool:
    return _processed(stack, consumer, ids) == ids


def _outbox_subjects(stack: Stack, service: str, tenant: str) -> set[str]:
    """The customers of `tenant` that the stack's `service` wrote events about."""
    rows = query(
        stack.env["DATABASE_URL"],
        f"""SELECT DISTINCT convert_from(payload, 'UTF8')::jsonb ->> 'subject' AS subject
            FROM {service}.outbox_event
            WHERE convert_from(payload, 'UTF8')::jsonb ->> 'tenant' = $1""",
        tenant,
    )
    return {r["subject"] for r in rows}


def _delivery_subjects(stack: Stack, tenant: str) -> set[str]:
    """The customers of `tenant` whose events the stack's gateway queued for its webhooks."""
    rows = query(
        stack.env["DATABASE_URL"],
        "SELECT DISTINCT subject FROM gateway.webhook_delivery WHERE tenant = $1",
        tenant,
    )
    return {r["subject"] for r in rows}


def _settled(api: Api) -> dict[str, Any] | None:
    """The stack's pipeline once every consumer group has read all it reads and every
    outbox is published; None before."""
    response = api.get("/ops/pipeline")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    groups = {c["service"] for c in body["consumers"]}
    idle = all(c["lag"] == 0 for c in body["consumers"])
    drained = all(o["backlog"] == 0 for o in body["outboxes"])
    return body if groups >= set(CONSUMERS) and idle and drained else None


@dataclass(frozen=True)
class Side:
    """One stack as the test uses it: its API for the tenant, and the tenant's customer."""

    stack: Stack
    api: Api
    customer: str


def _side(stack: Stack, tenant: str, customer: str) -> Side:
    """The tenant on `stack` with a webhook subscription, and an invoice of `customer`."""
    api = Api(stack.gateway_url, stack.create_tenant_key(tenant, f"Tenant {tenant}"))
    subscribed = api.http.post("/webhooks", json={"url": HOOK})  # every event type
    assert subscribed.status_code == 201, subscribed.text
    assert api.put_customer(customer).status_code == 201
    posted = api.post_invoice(f"I-{customer}", customer, amount="2500.00")
    assert posted.status_code == 201, posted.text
    return Side(stack, api, customer)


def _scored(side: Side, tenant: str) -> bool:
    return side.customer in _outbox_subjects(side.stack, "credit", tenant)


def _queued(side: Side, tenant: str) -> bool:
    return side.customer in _delivery_subjects(side.stack, tenant)


def test_two_stacks_on_one_broker_never_see_each_others_events(stack: Stack, other: Stack) -> None:
    assert stack.namespace.prefix and other.namespace.prefix
    assert stack.namespace != other.namespace
    tenant = f"t-ns-{secrets.token_hex(4)}"
    sides = [_side(stack, tenant, "C-FIRST"), _side(other, tenant, "C-SECOND")]
    events = [
        eventually(partial(_ledger_events, side.stack, tenant), what=f"{side.customer} published")
        for side in sides
    ]

    # Each stack's consumers apply its own events: both pipelines work.
    for side, own in zip(sides, events, strict=True):
        for consumer in CONSUMERS:
            eventually(
                partial(_applied_all, side.stack, consumer, own),
                what=f"{consumer} applied {side.customer}'s events on its own stack",
            )
        eventually(
            partial(_scored, side, tenant), what=f"credit scored {side.customer} on its own stack"
        )
        eventually(
            partial(_queued, side, tenant),
            what=f"the gateway queued {side.customer}'s webhooks on its own stack",
        )

    # Everything either stack reads has been read: had the other's events been on its
    # topics, they would have been applied by now.
    for side in sides:
        eventually(partial(_settled, side.api), timeout=120, what=f"{side.customer}'s pipeline")

    for side, foreign, foreign_events in zip(sides, sides[::-1], events[::-1], strict=True):
        for consumer in CONSUMERS:
            assert _processed(side.stack, consumer, foreign_events) == set(), consumer
        for service in ("credit", "reminders"):
            assert foreign.customer not in _outbox_subjects(side.stack, service, tenant), service
        assert _delivery_subjects(side.stack, tenant) == {side.customer}
        credit = side.api.get(f"/customers/{foreign.customer}/credit")
        assert credit.status_code == 404, credit.text
