-- The double-entry journal and everything that posts to it.

-- Owner history: reassigning a customer's salesperson keeps who had it before.
CREATE TABLE customer_owner (
    tenant       text NOT NULL,
    customer_id  text NOT NULL,
    owner        text,
    assigned_at  timestamptz NOT NULL,
    FOREIGN KEY (tenant, customer_id) REFERENCES customer (tenant, customer_id)
);
CREATE INDEX customer_owner_by_customer ON customer_owner (tenant, customer_id, assigned_at);
INSERT INTO customer_owner (tenant, customer_id, owner, assigned_at)
SELECT tenant, customer_id, owner, created_at FROM customer;

-- Invoices keep a cached residual (the journal is the truth; tests check they agree).
ALTER TABLE invoice
    ADD COLUMN residual_minor  bigint,
    ADD COLUMN voided_on       date,
    ADD COLUMN void_reason     text,
    ADD COLUMN written_off_on  date,
    ADD COLUMN settled_on      date,
    ADD COLUMN overdue_at      timestamptz;
UPDATE invoice SET residual_minor = amount_minor;
ALTER TABLE invoice
    ALTER COLUMN residual_minor SET NOT NULL,
    ADD CONSTRAINT invoice_residual_range CHECK (residual_minor BETWEEN 0 AND amount_minor);
CREATE INDEX invoice_open_by_customer ON invoice (tenant, customer_id, currency, due_date)
    WHERE residual_minor > 0 AND voided_on IS NULL;

CREATE TABLE journal_entry (
    entry_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant          text NOT NULL,
    kind            text NOT NULL,
    reference       text NOT NULL,
    effective_date  date NOT NULL,
    posted_at       timestamptz NOT NULL
);
CREATE INDEX journal_entry_by_reference ON journal_entry (tenant, reference);

CREATE TABLE journal_line (
    entry_id        bigint NOT NULL REFERENCES journal_entry (entry_id),
    line_no         smallint NOT NULL,
    tenant          text NOT NULL,
    account         text NOT NULL,
    currency        text NOT NULL,
    amount_minor    bigint NOT NULL,
    effective_date  date NOT NULL,
    customer_id     text,
    invoice_id      text,
    payment_id      text,
    PRIMARY KEY (entry_id, line_no)
);
CREATE INDEX journal_line_by_customer
    ON journal_line (tenant, customer_id, account, effective_date) WHERE customer_id IS NOT NULL;
CREATE INDEX journal_line_by_invoice
    ON journal_line (tenant, invoice_id, effective_date) WHERE invoice_id IS NOT NULL;

-- Posted entries are never changed: corrections are new entries.
CREATE FUNCTION journal_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'journal entries are append-only (% on %)', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER journal_entry_append_only BEFORE UPDATE OR DELETE ON journal_entry
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();
CREATE TRIGGER journal_line_append_only BEFORE UPDATE OR DELETE ON journal_line
    FOR EACH ROW EXECUTE FUNCTION journal_is_append_only();

-- Invoices issued before the journal existed get their opening entry now.
WITH issued AS (
    INSERT INTO journal_entry (tenant, kind, reference, effective_date, posted_at)
    SELECT tenant, 'invoice', invoice_id, issue_date, created_at FROM invoice
    RETURNING entry_id, tenant, reference
)
INSERT INTO journal_line (entry_id, line_no, tenant, account, currency, amount_minor,
                          effective_date, customer_id, invoice_id)
SELECT e.entry_id, l.line_no, e.tenant, l.account, i.currency, l.sign * i.amount_minor,
       i.issue_date, CASE WHEN l.line_no = 1 THEN i.customer_id END,
       CASE WHEN l.line_no = 1 THEN i.invoice_id END
FROM issued e
JOIN invoice i ON i.tenant = e.tenant AND i.invoice_id = e.reference
CROSS JOIN (VALUES (1, 'receivable', 1), (2, 'revenue', -1)) AS l (line_no, account, sign);

CREATE TABLE payment (
    tenant          text NOT NULL,
    payment_id      text NOT NULL,
    customer_id     text NOT NULL,
    currency        text NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    unapplied_minor bigint NOT NULL CHECK (unapplied_minor >= 0),
    received_on     date NOT NULL,
    method          text NOT NULL,
    reference       text,
    fingerprint     text NOT NULL,
    reversed_on     date,
    reversal_reason text,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant, payment_id),
    FOREIGN KEY (tenant, customer_id) REFERENCES customer (tenant, customer_id),
    CHECK (unapplied_minor <= amount_minor)
);
CREATE INDEX payment_unapplied ON payment (tenant, customer_id, currency, received_on)
    WHERE unapplied_minor > 0 AND reversed_on IS NULL;

CREATE TABLE allocation (
    allocation_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant         text NOT NULL,
    payment_id     text NOT NULL,
    invoice_id     text NOT NULL,
    amount_minor   bigint NOT NULL CHECK (amount_minor > 0),
    applied_on     date NOT NULL,
    days_late      integer NOT NULL,
    reversed_on    date,
    created_at     timestamptz NOT NULL,
    FOREIGN KEY (tenant, payment_id) REFERENCES payment (tenant, payment_id),
    FOREIGN KEY (tenant, invoice_id) REFERENCES invoice (tenant, invoice_id)
);
CREATE INDEX allocation_by_invoice ON allocation (tenant, invoice_id);
CREATE INDEX allocation_by_payment ON allocation (tenant, payment_id);

CREATE TABLE credit_note (
    tenant          text NOT NULL,
    credit_note_id  text NOT NULL,
    invoice_id      text NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    reason          text NOT NULL,
    note            text,
    issued_on       date NOT NULL,
    fingerprint     text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant, credit_note_id),
    FOREIGN KEY (tenant, invoice_id) REFERENCES invoice (tenant, invoice_id)
);
CREATE INDEX credit_note_by_invoice ON credit_note (tenant, invoice_id);

CREATE TABLE write_off (
    tenant          text NOT NULL,
    invoice_id      text NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    reason          text NOT NULL,
    approver        text NOT NULL,
    written_off_on  date NOT NULL,
    fingerprint     text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant, invoice_id),
    FOREIGN KEY (tenant, invoice_id) REFERENCES invoice (tenant, invoice_id)
);

CREATE TABLE dispute (
    tenant          text NOT NULL,
    dispute_id      text NOT NULL,
    invoice_id      text NOT NULL,
    reason          text NOT NULL,
    amount_minor    bigint NOT NULL CHECK (amount_minor > 0),
    opened_on       date NOT NULL,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'accepted', 'rejected')),
    resolved_on     date,
    credit_note_id  text,
    resolution_note text,
    fingerprint     text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (tenant, dispute_id),
    FOREIGN KEY (tenant, invoice_id) REFERENCES invoice (tenant, invoice_id)
);
-- At most one open dispute per invoice.
CREATE UNIQUE INDEX dispute_one_open ON dispute (tenant, invoice_id) WHERE status = 'open';
