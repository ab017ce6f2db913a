-- Statement confirmations, collection targets, and the indexes the overdue scan and the
-- target report read (the dispute table itself came with 0002).

-- A customer's answer to a statement of account: the balance they acknowledge at the end
-- of the period beside ours at the time of the answer (net: receivable minus unapplied cash).
CREATE TABLE statement_confirmation (
    tenant               text NOT NULL,
    confirmation_id      text NOT NULL,
    customer_id          text NOT NULL,
    period_from          date NOT NULL,
    period_to            date NOT NULL,
    currency             text NOT NULL,
    our_balance_minor    bigint NOT NULL,
    their_balance_minor  bigint NOT NULL,
    difference_minor     bigint NOT NULL,
    status               text NOT NULL CHECK (status IN ('confirmed', 'discrepancy')),
    note                 text,
    fingerprint          text NOT NULL,
    created_at           timestamptz NOT NULL,
    PRIMARY KEY (tenant, confirmation_id),
    FOREIGN KEY (tenant, customer_id) REFERENCES customer (tenant, customer_id),
    CHECK (period_from <= period_to),
    CHECK (difference_minor = our_balance_minor - their_balance_minor),
    CHECK ((status = 'confirmed') = (difference_minor = 0))
);
CREATE INDEX statement_confirmation_by_customer
    ON statement_confirmation (tenant, customer_id, period_to, confirmation_id);

-- What an owner (salesperson) is to collect in a calendar month; one target per owner.
CREATE TABLE collection_target (
    tenant        text NOT NULL,
    period        text NOT NULL CHECK (period ~ '^[0-9]{4}-(0[1-9]|1[0-2])$'),
    owner         text NOT NULL,
    currency      text NOT NULL,
    amount_minor  bigint NOT NULL CHECK (amount_minor > 0),
    created_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant, period, owner)
);

-- The target report sums allocations applied in a month.
CREATE INDEX allocation_by_applied_on ON allocation (tenant, applied_on) WHERE reversed_on IS NULL;

-- The overdue scan walks unflagged open invoices in due-date order and stops at the
-- first one not yet due.
CREATE INDEX invoice_overdue_candidates ON invoice (due_date, tenant, invoice_id)
    WHERE overdue_at IS NULL AND residual_minor > 0 AND voided_on IS NULL
      AND written_off_on IS NULL;

