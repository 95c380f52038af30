-- 004: what the trained classifier adds: mass incidents (批量投诉) and the
-- near-duplicate signature of each ticket's text.

CREATE TABLE incidents (
    id              bigserial PRIMARY KEY,
    subcategory     text,
    product         text,
    signature       bigint NOT NULL,                -- SimHash of the first ticket's text
    summary         text NOT NULL,
    status          text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    ticket_count    integer NOT NULL DEFAULT 0,
    opened_at       timestamptz NOT NULL DEFAULT now (),
    last_ticket_at  timestamptz NOT NULL DEFAULT now ()
);
CREATE INDEX incidents_open ON incidents (subcategory, last_ticket_at) WHERE status = 'open';

ALTER TABLE tickets
    ADD COLUMN text_signature bigint,              -- SimHash over character shingles
    ADD COLUMN incident_id bigint REFERENCES incidents (id);
CREATE INDEX tickets_recent_signature ON tickets (subcategory, created_at) WHERE text_signature IS NOT NULL;
CREATE INDEX tickets_incident ON tickets (incident_id) WHERE incident_id IS NOT NULL;
