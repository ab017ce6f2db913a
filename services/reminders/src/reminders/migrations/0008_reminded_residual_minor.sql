-- A reminder's invoices keep their residual in minor units (`residual_minor`, an integer),
-- formatted for the API, templates and webhooks by the service; earlier rows held it as the
-- decimal text the run statement used to format. That text always has exactly the
-- currency's minor digits after the point (none when it has none), so removing the point
-- gives the minor units back.
UPDATE reminder r
   SET invoices = (
       SELECT jsonb_agg(
                  (i - 'residual')
                  || jsonb_build_object('residual_minor', replace(i ->> 'residual', '.', '')::bigint)
                  ORDER BY n)
         FROM jsonb_array_elements(r.invoices) WITH ORDINALITY AS x(i, n))
 WHERE EXISTS (SELECT 1 FROM jsonb_array_elements(r.invoices) AS x(i) WHERE i ? 'residual');
