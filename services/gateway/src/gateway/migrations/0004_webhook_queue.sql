-- The dispatcher's work list: one row per (subscription, customer) with pending deliveries,
-- saying when its head (the earliest pending delivery) is due. A claim reads the due rows
-- of this table and the head of each (the first entry of webhook_delivery_queue), never
-- the deliveries queued behind the heads, so its cost does not grow with the backlog of a
-- dead receiver.
--
-- `appended` counts the deliveries the consumer and redeliveries queued here: a dispatcher
-- that has finished the head removes the row only when no delivery is pending and the
-- count is the one it read at its claim (a queueing that raced with it keeps the row).
CREATE TABLE webhook_queue (
    subscription_id  uuid NOT NULL REFERENCES webhook_subscription (subscription_id),
    subject          text NOT NULL,
    tenant           text NOT NULL,
    next_attempt_at  timestamptz NOT NULL,
    appended         bigint NOT NULL DEFAULT 1,
    PRIMARY KEY (subscription_id, subject)
);
CREATE INDEX webhook_queue_due ON webhook_queue (next_attempt_at);

INSERT INTO webhook_queue (subscription_id, subject, tenant, next_attempt_at)
SELECT DISTINCT ON (subscription_id, subject) subscription_id, subject, tenant, next_attempt_at
FROM webhook_delivery
WHERE state = 'pending'
ORDER BY subscription_id, subject, position;
