-- The steps taken are recorded once per customer and run instead of once per invoice: a
-- run writes one row per customer it decided something for, listing each invoice, its
-- cycle and the step it took, as parallel arrays (a first run over a book of 1,000,000
-- open invoices wrote 1,000,000 rows and index entries here; now one per customer).
-- "Never the same step twice for an invoice in one cycle" is checked by the run against
-- these rows; the reminders and tasks keep their unique idempotency keys.
CREATE TABLE step_taken (
    tenant       text NOT NULL,
    customer_id  text NOT NULL,
    id           bigint GENERATED ALWAYS AS IDENTITY,
    taken_on     date NOT NULL,
    invoice_ids  text[] NOT NULL,
    cycles       integer[] NOT NULL,
    steps        text[] NOT NULL,
    PRIMARY KEY (tenant, customer_id, id),
    CHECK (cardinality(invoice_ids) = cardinality(cycles)
           AND cardinality(invoice_ids) = cardinality(steps))
);

INSERT INTO step_taken (tenant, customer_id, taken_on, invoice_ids, cycles, steps)
SELECT s.tenant, i.customer_id, s.taken_on, array_agg(s.invoice_id ORDER BY s.invoice_id),
       array_agg(s.cycle ORDER BY s.invoice_id), array_agg(s.step ORDER BY s.invoice_id)
FROM invoice_step s
JOIN chased_invoice i ON i.tenant = s.tenant AND i.invoice_id = s.invoice_id
GROUP BY s.tenant, i.customer_id, s.taken_on;

DROP TABLE invoice_step;

-- The per-invoice reading of the same facts, for tools and ad hoc queries.
CREATE VIEW invoice_step AS
SELECT t.tenant, x.invoice_id, x.cycle, x.step, t.taken_on, t.customer_id
FROM step_taken t
CROSS JOIN LATERAL unnest(t.invoice_ids, t.cycles, t.steps) AS x(invoice_id, cycle, step);

-- A run looks up, for each chunk of customers, their open tasks not yet escalated: by
-- customer, not by scanning every open task of the tenant once per customer.
CREATE INDEX task_to_escalate ON task (tenant, customer_id, due_on)
    WHERE status = 'open' AND escalated_on IS NULL;
