-- Who reminders may contact, learnt from ledger events.
CREATE TABLE contact (
    tenant       text NOT NULL,
    customer_id  text NOT NULL,
    name         text NOT NULL,
    email        text,
    phone        text,
    language     text,
    timezone     text,
    owner        text,
    PRIMARY KEY (tenant, customer_id)
);

-- Open invoices to chase, one row per invoice.
CREATE TABLE chased_invoice (
    tenant          text NOT NULL,
    invoice_id      text NOT NULL,
    customer_id     text NOT NULL,
    number          text NOT NULL,
    due_date        date NOT NULL,
    currency        text NOT NULL,
    residual_minor  bigint NOT NULL,
    PRIMARY KEY (tenant, invoice_id)
);
CREATE INDEX chased_invoice_by_customer ON chased_invoice (tenant, customer_id, due_date);
