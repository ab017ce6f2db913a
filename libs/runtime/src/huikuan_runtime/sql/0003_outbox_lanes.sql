-- Per-subject order with any number of relays. Every outbox row falls in one of 64 lanes by
-- a hash of its key (tenant/subject: a subject's events share a lane). A relay publishes a
-- lane only while it holds that lane's transaction-level advisory lock, in position order,
-- so no two relays ever publish events of one subject at the same time (huikuan_runtime.
-- relay). An expression index over the unpublished rows only: no rewrite of the table.
CREATE FUNCTION outbox_lane(key bytea) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (hashtextextended(encode(key, 'escape'), 0) & 63)::integer $$;

CREATE INDEX outbox_event_unpublished_by_lane ON outbox_event (outbox_lane(key), position)
    WHERE published_at IS NULL;
