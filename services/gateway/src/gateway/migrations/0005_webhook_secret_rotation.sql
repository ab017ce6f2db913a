-- Rotating a subscription's signing secret: the replaced secret still signs deliveries (a
-- second signature beside the new one's) until `previous_secret_until`, so a receiver can
-- switch to the new secret without refusing deliveries meanwhile. Kept like `secret`:
-- never returned by the API, never logged.
ALTER TABLE webhook_subscription
    ADD COLUMN previous_secret        text,
    ADD COLUMN previous_secret_until  timestamptz;
