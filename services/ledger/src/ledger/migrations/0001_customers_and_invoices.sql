CREATE TABLE customer (
    tenant              text NOT NULL,
    customer_id         text NOT NULL,
    name                text NOT NULL,
    email               text,
    phone               text,
    country             text,
    currency            text NOT NULL,
    payment_terms_days  integer NOT NULL CHECK (payment_terms_days >= 0),
    owner               text,
    segment             text,
    region              text,
    language            text,
    timezone            text,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    PRIMARY KEY (tenant, customer_id)
);

CREATE TABLE invoice (
    tenant        text NOT NULL,
    invoice_id    text NOT NULL,
    customer_id   text NOT NULL,
    number        text NOT NULL,
    issue_date    date NOT NULL,
    due_date      date NOT NULL CHECK (due_date >= issue_date),
    currency      text NOT NULL,
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    fingerprint   text NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant, invoice_id),
    FOREIGN KEY (tenant, customer_id) REFERENCES customer (tenant, customer_id)
);
CREATE INDEX invoice_by_customer ON invoice (tenant, customer_id, due_date);
