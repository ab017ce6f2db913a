-- A suspended tenant (suspended_at set): its API keys and tokens are refused and its
-- webhook deliveries are held — their queue rows (`held`) are left out of the dispatcher's
-- claims, until the tenant is active again. Nothing is failed meanwhile.
ALTER TABLE tenant ADD COLUMN suspended_at timestamptz;

ALTER TABLE webhook_queue ADD COLUMN held boolean NOT NULL DEFAULT false;
DROP INDEX webhook_queue_due;
CREATE INDEX webhook_queue_due ON webhook_queue (next_attempt_at) WHERE NOT held;
CREATE INDEX webhook_queue_by_tenant ON webhook_queue (tenant);
