CREATE TABLE tenant (
    tenant_id   text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL
);

-- API keys are shown once; only a SHA-256 of the whole key is kept.
CREATE TABLE api_key (
    key_id      uuid PRIMARY KEY,
    tenant_id   text NOT NULL REFERENCES tenant (tenant_id),
    name        text NOT NULL,
    prefix      text NOT NULL,
    key_hash    bytea NOT NULL UNIQUE,
    scopes      text[] NOT NULL,
    created_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX api_key_by_tenant ON api_key (tenant_id);
