-- 010: who may do what (issue 10).

-- HTTP bearer tokens: only their SHA-256 is kept. A name may hold several
-- (one per integration); a revoked one stays, with when, for the audit.
CREATE TABLE api_tokens (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL CHECK (length (name) BETWEEN 1 AND 64),
    role            text NOT NULL CHECK (role IN ('adapter', 'agent', 'lead', 'operator')),
    department      text CHECK ((department IS NOT NULL) = (role IN ('agent', 'lead'))),
    channel         text CHECK ((channel IS NOT NULL) = (role = 'adapter')),
    token_hash      bytea NOT NULL UNIQUE,
    created_at      timestamptz NOT NULL DEFAULT now (),
    last_used_at    timestamptz,
    revoked_at      timestamptz
);
CREATE INDEX api_tokens_name ON api_tokens (name) WHERE revoked_at IS NULL;
