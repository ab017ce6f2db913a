-- Outbound webhooks: subscriptions of a tenant to event types, and one delivery row per
-- (subscription, event) written by the gateway's consumer in the transaction that records
-- the event as processed. The signing secret is kept so deliveries can be signed; the API
-- returns it only once, when the subscription is created.
CREATE TABLE webhook_subscription (
    subscription_id  uuid PRIMARY KEY,
    tenant           text NOT NULL,
    url              text NOT NULL,
    event_types      text[] NOT NULL,          -- '{*}': every event type
    description      text NOT NULL DEFAULT '',
    secret           text NOT NULL,
    created_at       timestamptz NOT NULL,
    disabled_at      timestamptz
);
CREATE INDEX webhook_subscription_by_tenant
    ON webhook_subscription (tenant, subscription_id) WHERE disabled_at IS NULL;

-- `position` is the order deliveries were written in; for one (subscription, subject) it
-- follows the customer's event order, and only the earliest pending delivery of such a
-- pair is attempted (per-customer order). A redelivery is a new row (`redelivery_of`).
CREATE TABLE webhook_delivery (
    delivery_id      uuid PRIMARY KEY,
    position         bigserial NOT NULL UNIQUE,
    subscription_id  uuid NOT NULL REFERENCES webhook_subscription (subscription_id),
    tenant           text NOT NULL,
    event_id         uuid NOT NULL,
    event_type       text NOT NULL,
    subject          text NOT NULL,
    payload          bytea NOT NULL,           -- the CloudEvents envelope, as sent
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    next_attempt_at  timestamptz,              -- null once delivered or failed
    last_attempt_at  timestamptz,
    last_status      integer,
    last_error       text,
    delivered_at     timestamptz,
    redelivery_of    uuid REFERENCES webhook_delivery (delivery_id)
);
CREATE UNIQUE INDEX webhook_delivery_once
    ON webhook_delivery (subscription_id, event_id) WHERE redelivery_of IS NULL;
CREATE INDEX webhook_delivery_queue
    ON webhook_delivery (subscription_id, subject, position) WHERE state = 'pending';
CREATE INDEX webhook_delivery_log ON webhook_delivery (subscription_id, position);
CREATE INDEX webhook_delivery_failing ON webhook_delivery (tenant, state, last_attempt_at);
