-- Idempotency-Key on POST: the first request's response is kept and replayed for the same
-- key and body; the same key with another body is refused. Kept across restarts.
CREATE TABLE idempotency_key (
    tenant        text NOT NULL,
    key           text NOT NULL,
    fingerprint   text NOT NULL,
    status        integer,
    content_type  text,
    body          bytea,
    created_at    timestamptz NOT NULL,
    completed_at  timestamptz,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX idempotency_key_by_age ON idempotency_key (created_at);
