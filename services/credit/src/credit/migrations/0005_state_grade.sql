-- The customers of one grade in id order, for `GET /customers?grade=` (the gateway's grade
-- filter on its customer list): a keyset page is one range scan.
CREATE INDEX credit_state_grade ON credit_state (tenant, grade, customer_id);
