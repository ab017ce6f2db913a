-- Runtime tables present in every service schema.

-- Transactional outbox: rows are written in the same transaction as the state change
-- and published by the relay. `position` gives the publishing order.
CREATE TABLE outbox_event (
    position      bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    topic         text NOT NULL,
    key           bytea NOT NULL,
    payload       bytea NOT NULL,
    headers       jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    published_at  timestamptz
);
CREATE INDEX outbox_event_unpublished ON outbox_event (position) WHERE published_at IS NULL;

-- Per-subject sequence numbers assigned by the producing service.
CREATE TABLE event_sequence (
    tenant      text NOT NULL,
    subject     text NOT NULL,
    last_value  bigint NOT NULL,
    PRIMARY KEY (tenant, subject)
);

-- Idempotent consumers: an event id is recorded in the same transaction as its effects.
CREATE TABLE processed_event (
    consumer      text NOT NULL,
    event_id      uuid NOT NULL,
    event_type    text NOT NULL,
    topic         text NOT NULL,
    partition     integer NOT NULL,
    "offset"      bigint NOT NULL,
    processed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (consumer, event_id)
);

-- The highest sequence seen per producer and subject, to detect gaps and reordering.
CREATE TABLE subject_cursor (
    consumer       text NOT NULL,
    source         text NOT NULL,
    tenant         text NOT NULL,
    subject        text NOT NULL,
    last_sequence  bigint NOT NULL,
    gaps           bigint NOT NULL DEFAULT 0,
    out_of_order   bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (consumer, source, tenant, subject)
);
