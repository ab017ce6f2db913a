-- Which facts a customer's state was derived from: the XOR of their event ids (NULL for
-- states written before this column). The consumer keeps each customer's facts in memory
-- between runs and trusts that copy only while its digest matches this one, so a run rolled
-- back, or facts added by another replica, make it read the facts again.
ALTER TABLE credit_state ADD COLUMN facts_digest uuid;

-- The JSON columns held their documents encoded once more, as JSON strings; from now on
-- they hold the documents themselves.
UPDATE credit_state SET factors = (factors #>> '{}')::jsonb WHERE jsonb_typeof(factors) = 'string';
UPDATE credit_state SET reasons = (reasons #>> '{}')::jsonb WHERE jsonb_typeof(reasons) = 'string';
UPDATE credit_state SET profile = (profile #>> '{}')::jsonb WHERE jsonb_typeof(profile) = 'string';
UPDATE score_history SET reasons = (reasons #>> '{}')::jsonb
    WHERE jsonb_typeof(reasons) = 'string';
