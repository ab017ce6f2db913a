-- What credit knows of each customer, learnt from ledger events only.
CREATE TABLE customer_profile (
    tenant              text NOT NULL,
    customer_id         text NOT NULL,
    name                text NOT NULL,
    payment_terms_days  integer NOT NULL,
    first_seen_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant, customer_id)
);

-- Open receivables per customer and currency: the ledger part of exposure.
CREATE TABLE exposure (
    tenant             text NOT NULL,
    customer_id        text NOT NULL,
    currency           text NOT NULL,
    open_invoices      integer NOT NULL DEFAULT 0,
    open_amount_minor  bigint NOT NULL DEFAULT 0,
    updated_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant, customer_id, currency)
);
