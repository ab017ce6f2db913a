-- Credit's risk projection: facts learnt from events, and what credit derives from them.
-- Aggregates are always recomputed from the facts (never incremented), so duplicates and
-- out-of-order events cannot corrupt them and a replay rebuilds the same rows.

-- The running totals of 0001 are replaced by facts (`credit_fact`).
DROP TABLE exposure;

ALTER TABLE customer_profile ADD COLUMN segment text;

-- One row per consumed event that matters to the risk profile, keyed by its event id.
-- kind: invoice, applied, adjusted, voided, written_off, reversed, dispute_opened,
-- dispute_resolved, promise_made, promise_kept, promise_broken, dunning_hold.
CREATE TABLE credit_fact (
    tenant        text NOT NULL,
    event_id      uuid NOT NULL,
    customer_id   text NOT NULL,
    kind          text NOT NULL,
    ref           text NOT NULL,
    ref2          text,
    currency      text,
    amount_minor  bigint,
    on_date       date NOT NULL,
    due_date      date,
    days_late     integer,
    ids           text[] NOT NULL DEFAULT '{}',
    note          text,
    PRIMARY KEY (tenant, event_id)
);
CREATE INDEX credit_fact_customer ON credit_fact (tenant, customer_id);

-- The current score, grade and factors per customer (derived; rebuilt from the facts).
CREATE TABLE credit_state (
    tenant             text NOT NULL,
    customer_id        text NOT NULL,
    as_of              date NOT NULL,
    score              integer NOT NULL,
    grade              text NOT NULL,
    scorecard_version  text NOT NULL,
    factors            jsonb NOT NULL,
    reasons            jsonb NOT NULL,
    profile            jsonb NOT NULL,
    PRIMARY KEY (tenant, customer_id)
);

-- Every score change, oldest first.
CREATE TABLE score_history (
    tenant             text NOT NULL,
    customer_id        text NOT NULL,
    position           bigserial,
    as_of              date NOT NULL,
    old_score          integer,
    new_score          integer NOT NULL,
    old_grade          text,
    new_grade          text NOT NULL,
    scorecard_version  text NOT NULL,
    reasons            jsonb NOT NULL,
    changed_at         timestamptz NOT NULL,
    PRIMARY KEY (tenant, customer_id, position)
);

-- Limits per customer and currency: the recommended one, and a manual one that wins.
CREATE TABLE credit_limit (
    tenant              text NOT NULL,
    customer_id         text NOT NULL,
    currency            text NOT NULL,
    recommended_minor   bigint,
    manual_minor        bigint,
    manual_reason       text,
    manual_set_by       text,
    manual_set_at       timestamptz,
    PRIMARY KEY (tenant, customer_id, currency)
);

-- Active holds, one per cause (`manual` for a hold placed by hand).
CREATE TABLE credit_hold (
    tenant       text NOT NULL,
    customer_id  text NOT NULL,
    cause        text NOT NULL,
    manual       boolean NOT NULL,
    detail       text NOT NULL,
    placed_on    date NOT NULL,
    placed_by    text,
    PRIMARY KEY (tenant, customer_id, cause)
);

-- Per-tenant automatic hold policy (defaults apply when a tenant has no row).
CREATE TABLE hold_policy (
    tenant                text PRIMARY KEY,
    max_days_overdue      integer,
    over_limit            boolean NOT NULL,
    grade_e               boolean NOT NULL,
    broken_promise        boolean NOT NULL,
    dunning               boolean NOT NULL,
    order_validity_days   integer NOT NULL,
    updated_at            timestamptz NOT NULL
);

-- Orders approved by credit checks: part of exposure until they expire or are invoiced.
CREATE TABLE credit_approval (
    tenant        text NOT NULL,
    check_id      uuid NOT NULL,
    customer_id   text NOT NULL,
    order_id      text,
    currency      text NOT NULL,
    amount_minor  bigint NOT NULL,
    approved_on   date NOT NULL,
    expires_on    date NOT NULL,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant, check_id)
);
CREATE UNIQUE INDEX credit_approval_order ON credit_approval (tenant, order_id)
    WHERE order_id IS NOT NULL;
CREATE INDEX credit_approval_customer ON credit_approval (tenant, customer_id);
