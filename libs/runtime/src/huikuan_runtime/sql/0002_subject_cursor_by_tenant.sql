-- A consumer with an `admit` hook forgets the cursors of the tenants whose records it
-- passed over, once per fetch from Kafka: found by consumer and tenant.
CREATE INDEX subject_cursor_by_tenant ON subject_cursor (consumer, tenant);
