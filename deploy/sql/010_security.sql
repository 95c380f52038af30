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

-- Contact details sealed at rest: pgp_sym_encrypt with a key that lives in
-- a file outside the database (KEYS_DIR/private.key) and comes with each
-- statement that writes or reads them. The plain columns stay only for rows
-- written before this migration; bin/ticketflow-migrate seals those (it
-- has the key) and empties them.
CREATE EXTENSION IF NOT EXISTS pgcrypto;
ALTER TABLE ticket_contacts
    ADD COLUMN name_sealed  bytea,
    ADD COLUMN phone_sealed bytea,
    ADD COLUMN email_sealed bytea;

-- Every read of contact details: who read them, why, for which tickets.
CREATE TABLE contact_reads (
    id          bigserial PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now (),
    reader      text NOT NULL,              -- the database role
    purpose     text NOT NULL,
    ticket_ids  bigint[] NOT NULL
);
CREATE INDEX contact_reads_at ON contact_reads (at);
