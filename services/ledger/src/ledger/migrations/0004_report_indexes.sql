-- Reports read the journal across all of a tenant's customers, by business date.
--
-- Receivable postings by date: aging takes each invoice's postings dated after the
-- report date off its current balance (none at all for a report as of today), DSO sums
-- the receivable up to a date.
CREATE INDEX journal_line_receivable_by_date
    ON journal_line (tenant, effective_date) INCLUDE (invoice_id, amount_minor, currency)
    WHERE account = 'receivable';

-- DSO adds up sales (the credit to revenue) per currency over a range of dates.
CREATE INDEX journal_line_revenue_by_date
    ON journal_line (tenant, effective_date) INCLUDE (currency, amount_minor)
    WHERE account = 'revenue';

-- Aging shows each group's unapplied cash: the unapplied-cash postings per customer up to
-- a date (often none at all; without this index finding none means reading the journal).
CREATE INDEX journal_line_unapplied_by_customer
    ON journal_line (tenant, customer_id) INCLUDE (effective_date, amount_minor, currency)
    WHERE account = 'unapplied_cash';
