-- The set-based run records what a reminder says (step, policy version, invoices and their
-- residuals, as_of, language) without its text; the text is rendered from that record when
-- the reminder is first delivered and kept as sent. A pending reminder may have no text yet.
ALTER TABLE reminder ALTER COLUMN subject DROP NOT NULL, ALTER COLUMN body DROP NOT NULL;
