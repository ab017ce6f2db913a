-- Dunning: policies, per-customer state, invoices' steps, reminders and their deliveries,
-- promises to pay and collector tasks.

ALTER TABLE contact ADD COLUMN country text;

-- Policies per tenant, versioned: a PUT adds a version, the latest is in force.
CREATE TABLE dunning_policy (
    tenant      text NOT NULL,
    policy_id   text NOT NULL,
    version     integer NOT NULL,
    grades      text[] NOT NULL,
    steps       jsonb NOT NULL,
    created_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant, policy_id, version)
);

-- One row per customer reminders knows: the row the scheduler locks (SKIP LOCKED).
CREATE TABLE dunning_customer (
    tenant          text NOT NULL,
    customer_id     text NOT NULL,
    grade           text,
    pinned_policy   text,
    paused_until    date,
    pause_reason    text,
    PRIMARY KEY (tenant, customer_id)
);

ALTER TABLE chased_invoice
    ADD COLUMN disputed  boolean NOT NULL DEFAULT false,
    ADD COLUMN closed    boolean NOT NULL DEFAULT false,
    ADD COLUMN cycle     integer NOT NULL DEFAULT 1,
    ADD COLUMN escalate  integer NOT NULL DEFAULT 0;

-- What each payment applied to each invoice (to reopen it if the payment is reversed).
CREATE TABLE applied_payment (
    tenant          text NOT NULL,
    payment_id      text NOT NULL,
    invoice_id      text NOT NULL,
    amount_minor    bigint NOT NULL,
    PRIMARY KEY (tenant, payment_id, invoice_id)
);

-- Steps already taken per invoice and cycle: never the same step twice in one cycle.
CREATE TABLE invoice_step (
    tenant       text NOT NULL,
    invoice_id   text NOT NULL,
    cycle        integer NOT NULL,
    step         text NOT NULL,
    taken_on     date NOT NULL,
    PRIMARY KEY (tenant, invoice_id, cycle, step)
);

-- A reminder is recorded (status pending) before it is delivered; `idempotency_key`
-- (customer + step + cycle + channel + currency) is unique.
CREATE TABLE reminder (
    reminder_id      uuid PRIMARY KEY,
    tenant           text NOT NULL,
    customer_id      text NOT NULL,
    idempotency_key  text NOT NULL,
    policy_id        text NOT NULL,
    policy_version   integer NOT NULL,
    step             text NOT NULL,
    channel          text NOT NULL,
    recipient        text,
    language         text NOT NULL,
    subject          text NOT NULL,
    body             text NOT NULL,
    invoices         jsonb NOT NULL,
    currency         text NOT NULL,
    residual_minor   bigint NOT NULL,
    as_of            date NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'sent', 'failed', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    last_error       text,
    created_at       timestamptz NOT NULL,
    sent_at          timestamptz,
    UNIQUE (tenant, idempotency_key)
);
CREATE INDEX reminder_pending ON reminder (next_attempt_at) WHERE status = 'pending';
CREATE INDEX reminder_by_customer ON reminder (tenant, customer_id, created_at);

CREATE TABLE delivery_attempt (
    reminder_id   uuid NOT NULL REFERENCES reminder (reminder_id),
    attempt       integer NOT NULL,
    at            timestamptz NOT NULL,
    ok            boolean NOT NULL,
    error         text,
    PRIMARY KEY (reminder_id, attempt)
);

CREATE TABLE promise (
    tenant          text NOT NULL,
    promise_id      text NOT NULL,
    customer_id     text NOT NULL,
    currency        text NOT NULL,
    amount_minor    bigint NOT NULL,
    promised_date   date NOT NULL,
    grace_days      integer NOT NULL,
    made_on         date NOT NULL,
    invoice_ids     text[] NOT NULL,
    taken_by        text NOT NULL,
    paid_minor      bigint NOT NULL DEFAULT 0,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'kept', 'broken')),
    judged_on       date,
    PRIMARY KEY (tenant, promise_id)
);
CREATE INDEX promise_by_customer ON promise (tenant, customer_id);

CREATE TABLE task (
    task_id         uuid PRIMARY KEY,
    tenant          text NOT NULL,
    customer_id     text NOT NULL,
    idempotency_key text NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('call', 'visit', 'legal')),
    owner           text,
    step            text NOT NULL,
    due_on          date NOT NULL,
    invoice_ids     text[] NOT NULL,
    currency        text NOT NULL,
    residual_minor  bigint NOT NULL,
    grade           text,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    outcome         text,
    note            text,
    completed_on    date,
    UNIQUE (tenant, idempotency_key)
);
CREATE INDEX task_by_owner ON task (tenant, owner, due_on) WHERE status = 'open';
