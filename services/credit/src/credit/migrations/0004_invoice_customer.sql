-- Which customer an invoice belongs to, for one invoice's payment-date prediction
-- (`GET /invoices/{invoice_id}/prediction`): the invoice fact names it.
CREATE INDEX credit_fact_invoice ON credit_fact (tenant, ref) WHERE kind = 'invoice';
