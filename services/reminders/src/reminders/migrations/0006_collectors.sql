-- The collector directory (per tenant): who a collector is and who their manager is. A
-- task left open past its grace is escalated to the owner's manager: `escalated_to`.
CREATE TABLE collector (
    tenant        text NOT NULL,
    collector_id  text NOT NULL,
    name          text NOT NULL,
    email         text,
    manager       text,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant, collector_id),
    CHECK (manager IS NULL OR manager <> collector_id)
);

ALTER TABLE task ADD COLUMN escalated_to text;
CREATE INDEX task_by_escalated_to ON task (tenant, escalated_to, due_on)
    WHERE status = 'open' AND escalated_to IS NOT NULL;
