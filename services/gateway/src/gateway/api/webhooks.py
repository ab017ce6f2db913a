"""`/v1/webhooks`: subscriptions of the caller's tenant to event types, their delivery
logs and redelivery. Served by the gateway itself (it owns the subscriptions); the
deliveries are written by the gateway's consumer and sent by its dispatcher
(gateway.events.webhooks, gateway.service.dispatcher).

Every call is the caller's tenant's only: another tenant's subscription or delivery is a
404, as if it did not exist. The signing secret is in the answer to the POST that creates
the subscription or rotates its secret (and their Idempotency-Key replays) and nowhere
else.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated, Literal

import asyncpg
from fastapi import APIRouter, Depends, Path, Query, Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field

from gateway.api.deps import Config, IdempotencyKey, Idempotent, require_scope
from gateway.api.responses import errors
from gateway.domain.keys import Principal
from gateway.domain.webhooks import (
    ALL_EVENTS,
    MAX_URL_LENGTH,
    DeliveryState,
    normalise_event_types,
    url_problem,
)
from gateway.service import webhooks
from huikuan_events.registry import EVENT_TYPES
from huikuan_runtime.addresses import literal_problem
from huikuan_runtime.deps import Clock, Pool
from huikuan_runtime.pagination import Cursor
from huikuan_runtime.problems import InvalidInput

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

WebhooksRead = Annotated[Principal, Depends(require_scope("webhooks:read"))]
WebhooksWrite = Annotated[Principal, Depends(require_scope("webhooks:write"))]
WebhookId = Annotated[uuid.UUID, Path(description="the subscription's id, as created")]
DeliveryId = Annotated[uuid.UUID, Path(description="a delivery's id, as listed")]
PageSize = Annotated[int, Query(ge=1, le=200, description="page size")]
EVENT_TYPE_NAMES = sorted(EVENT_TYPES)
EventType = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        examples=["ledger.invoice_issued.v1"],
        description=f"an event type, or '*' for all: {', '.join(EVENT_TYPE_NAMES)}",
    ),
]


class WebhookCreate(BaseModel):
    url: str = Field(
        min_length=1,
        max_length=MAX_URL_LENGTH,
        examples=["https://erp.example.com/hooks/huikuan"],
        description="where events are POSTed: an http or https URL",
    )
    event_types: list[EventType] = Field(
        default_factory=lambda: [ALL_EVENTS],
        min_length=1,
        max_length=len(EVENT_TYPES) + 1,
        examples=[["ledger.invoice_issued.v1", "credit.hold_placed.v1"]],
    )
    description: str = Field("", max_length=500, examples=["ERP sync"])


class WebhookPublic(BaseModel):
    webhook_id: uuid.UUID
    url: str
    event_types: list[str] = Field(description="['*'] for every event type")
    description: str
    created_at: datetime


class WebhookCreated(WebhookPublic):
    secret: str = Field(
        description="signs every delivery, per Standard Webhooks: `whsec_` and the base64 of "
        "the HMAC-SHA256 key (`webhook-signature: v1,<base64 HMAC-SHA256 of "
        "'<webhook-id>.<webhook-timestamp>.<body>'>`); shown in this answer only, never again"
    )


class WebhookSecretRotated(BaseModel):
    webhook_id: uuid.UUID
    secret: str = Field(
        description="the new signing secret; shown in this answer only, never again"
    )
    previous_secret_expires_at: datetime = Field(
        description="until then deliveries carry two signatures, the new secret's first and "
        "the replaced secret's second (`webhook-signature: v1,<new> v1,<old>`); then only "
        "the new one's"
    )


class WebhookPage(BaseModel):
    items: list[WebhookPublic]
    next_cursor: str | None = None


class DeliveryPublic(BaseModel):
    delivery_id: uuid.UUID = Field(description="sent as the `Webhook-Id` header")
    webhook_id: uuid.UUID
    event_id: uuid.UUID = Field(description="the event's `id`; the same on every redelivery")
    event_type: str
    customer_id: str = Field(
        description="the event's subject; one customer's deliveries "
        "are sent in order, each after the one before it ended"
    )
    state: DeliveryState
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="null once delivered or failed")
    last_attempt_at: datetime | None
    last_status_code: int | None = Field(description="the receiver's last HTTP status")
    last_error: str | None
    delivered_at: datetime | None
    redelivery_of: uuid.UUID | None = Field(description="the delivery this one repeats")


class DeliveryPage(BaseModel):
    items: list[DeliveryPublic]
    next_cursor: str | None = None


class RedeliverFailed(BaseModel):
    since: AwareDatetime = Field(
        description="redeliver the failed deliveries written at or after this instant",
        examples=["2026-11-20T00:00:00Z"],
    )


class Redelivered(BaseModel):
    items: list[DeliveryPublic] = Field(description="the new deliveries, oldest event first")


def _webhook(row: asyncpg.Record) -> WebhookPublic:
    return WebhookPublic(
        webhook_id=row["subscription_id"],
        url=row["url"],
        event_types=row["event_types"],
        description=row["description"],
        created_at=row["created_at"],
    )


def _delivery(row: asyncpg.Record) -> DeliveryPublic:
    return DeliveryPublic(
        delivery_id=row["delivery_id"],
        webhook_id=row["subscription_id"],
        event_id=row["event_id"],
        event_type=row["event_type"],
        customer_id=row["subject"],
        state=row["state"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        next_attempt_at=row["next_attempt_at"],
        last_attempt_at=row["last_attempt_at"],
        last_status_code=row["last_status"],
        last_error=row["last_error"],
        delivered_at=row["delivered_at"],
        redelivery_of=row["redelivery_of"],
    )


@router.post(
    "",
    response_model=WebhookCreated,
    status_code=201,
    responses=errors(),
    openapi_extra={"x-required-scope": "webhooks:write"},
    summary="Subscribe a URL to event types",
)
async def create_webhook(
    body: WebhookCreate,
    who: WebhooksWrite,
    pool: Pool,
    clock: Clock,
    settings: Config,
    once: Idempotent,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Every event of the caller's tenant whose type is subscribed is POSTed to `url` as
    its CloudEvents envelope (`application/cloudevents+json`), at least once, one
    customer's events in order, signed per Standard Webhooks: the headers `webhook-id`
    (the delivery's id, the same on each retry), `webhook-timestamp` (Unix seconds) and
    `webhook-signature` (`v1,` and the base64 HMAC-SHA256 of `<id>.<timestamp>.<body>`
    keyed with the bytes the `whsec_` secret encodes), so any Standard Webhooks library
    verifies it (`Webhook(secret).verify(body, headers)`). A 2xx answer is a
    delivery; anything else is retried with exponential backoff for up to a day (the
    gateway's setting), then the delivery is failed. The secret is in this answer only.
    A URL naming `localhost` or a loopback, private, link-local or otherwise non-public IP
    address is refused (422), and a delivery whose host resolves to one fails."""
    errors_found = []
    allow_private = settings.webhook_allow_private_addresses
    if (problem := url_problem(body.url)) is not None or (
        not allow_private and (problem := literal_problem(body.url)) is not None
    ):
        errors_found.append({"field": "url", "message": problem})
    try:
        event_types = normalise_event_types(body.event_types, EVENT_TYPES)
    except ValueError as exc:
        errors_found.append({"field": "event_types", "message": str(exc)})
    if errors_found:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors_found)
        raise InvalidInput(detail, errors=errors_found)

    async def create() -> Response:
        row, secret = await webhooks.create_subscription(
            pool, who.tenant, body.url, event_types, body.description, clock.now()
        )
        created = WebhookCreated(**_webhook(row).model_dump(), secret=secret)
        return JSONResponse(created.model_dump(mode="json"), status_code=201)

    return await once(who.tenant, idempotency_key, body.model_dump(mode="json"), create)


@router.get(
    "",
    response_model=WebhookPage,
    responses=errors(),
    openapi_extra={"x-required-scope": "webhooks:read"},
    summary="The tenant's webhook subscriptions",
)
async def list_webhooks(
    who: WebhooksRead, pool: Pool, limit: PageSize = 50, cursor: Cursor = None
) -> WebhookPage:
    """Oldest first, without their secrets."""
    rows, next_cursor = await webhooks.list_subscriptions(pool, who.tenant, cursor, limit)
    return WebhookPage(items=[_webhook(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/{webhook_id}",
    response_model=WebhookPublic,
    responses=errors(404),
    openapi_extra={"x-required-scope": "webhooks:read"},
    summary="One webhook subscription",
)
async def get_webhook(webhook_id: WebhookId, who: WebhooksRead, pool: Pool) -> WebhookPublic:
    return _webhook(await webhooks.get_subscription(pool, who.tenant, webhook_id))


@router.delete(
    "/{webhook_id}",
    status_code=204,
    responses=errors(404),
    openapi_extra={"x-required-scope": "webhooks:write"},
    summary="Delete a webhook subscription",
)
async def delete_webhook(
    webhook_id: WebhookId, who: WebhooksWrite, pool: Pool, clock: Clock
) -> Response:
    """Nothing more is sent to it; its pending deliveries end as failed. Its delivery log
    goes with it."""
    await webhooks.delete_subscription(pool, who.tenant, webhook_id, clock.now())
    return Response(status_code=204)


@router.post(
    "/{webhook_id}/rotate-secret",
    response_model=WebhookSecretRotated,
    responses=errors(404),
    openapi_extra={"x-required-scope": "webhooks:write"},
    summary="Replace a subscription's signing secret",
)
async def rotate_secret(
    webhook_id: WebhookId,
    who: WebhooksWrite,
    pool: Pool,
    clock: Clock,
    settings: Config,
    once: Idempotent,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A new signing secret, in this answer only (and its Idempotency-Key replays). The
    secret it replaces keeps signing beside it for the gateway's overlap (a day by
    default, `previous_secret_expires_at`): meanwhile every delivery's `webhook-signature`
    holds two signatures, space-separated, the new secret's first — a receiver accepts a
    delivery when any of them verifies with the secret it holds, so it can switch to the
    new secret at any time within the overlap. Rotating again within the overlap drops
    the older secret at once (only the one just replaced keeps signing). This is also how
    a subscription made before secrets were standard base64 gets one (see the gateway
    README: such a secret verifies as its UTF-8 bytes until then)."""
    overlap = timedelta(seconds=settings.webhook_secret_overlap_seconds)

    async def rotate() -> Response:
        row, secret = await webhooks.rotate_secret(
            pool, who.tenant, webhook_id, clock.now(), overlap
        )
        rotated = WebhookSecretRotated(
            webhook_id=row["subscription_id"],
            secret=secret,
            previous_secret_expires_at=row["previous_secret_until"],
        )
        return JSONResponse(rotated.model_dump(mode="json"))

    return await once(who.tenant, idempotency_key, None, rotate)


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveryPage,
    responses=errors(404),
    openapi_extra={"x-required-scope": "webhooks:read"},
    summary="The delivery log of a subscription",
)
async def list_deliveries(
    webhook_id: WebhookId,
    who: WebhooksRead,
    pool: Pool,
    state: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(description="only these")
    ] = None,
    limit: PageSize = 50,
    cursor: Cursor = None,
) -> DeliveryPage:
    """Newest first: each event sent to the subscription, with its attempts, the last
    status code or error, and when it is tried next."""
    rows, next_cursor = await webhooks.list_deliveries(
        pool, who.tenant, webhook_id, state, cursor, limit
    )
    return DeliveryPage(items=[_delivery(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/{webhook_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryPublic,
    status_code=202,
    responses=errors(404, 409),
    openapi_extra={"x-required-scope": "webhooks:write"},
    summary="Send one delivery's event again",
)
async def redeliver(
    webhook_id: WebhookId,
    delivery_id: DeliveryId,
    who: WebhooksWrite,
    pool: Pool,
    clock: Clock,
    once: Idempotent,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A new delivery of the same event (same body and event `id`, a new `Webhook-Id`),
    queued behind the customer's pending ones. A delivery still pending cannot be
    redelivered (409): it is being sent."""

    async def again() -> Response:
        new = await webhooks.redeliver(pool, who.tenant, webhook_id, delivery_id, clock.now())
        return JSONResponse(_delivery(new).model_dump(mode="json"), status_code=202)

    return await once(who.tenant, idempotency_key, None, again)


@router.post(
    "/{webhook_id}/redeliver-failed",
    response_model=Redelivered,
    status_code=202,
    responses=errors(404),
    openapi_extra={"x-required-scope": "webhooks:write"},
    summary="Send every failed delivery since an instant again",
)
async def redeliver_failed(
    webhook_id: WebhookId,
    body: RedeliverFailed,
    who: WebhooksWrite,
    pool: Pool,
    clock: Clock,
    once: Idempotent,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A new delivery for each failed one written at or after `since` that was not
    redelivered yet, oldest first (so each customer's events keep their order); at most
    1,000 a call — call again for the rest."""

    async def again() -> Response:
        rows = await webhooks.redeliver_failed(
            pool, who.tenant, webhook_id, body.since, clock.now()
        )
        result = Redelivered(items=[_delivery(r) for r in rows])
        return JSONResponse(result.model_dump(mode="json"), status_code=202)

    return await once(who.tenant, idempotency_key, body.model_dump(mode="json"), again)
