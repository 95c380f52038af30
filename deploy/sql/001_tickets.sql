-- 001: tickets, their contacts, their append-only history, daily serials.
-- Applied once by bin/ticketflow-migrate (tf_db_migrate), inside a transaction.

CREATE TABLE tickets (
    id                  bigserial PRIMARY KEY,
    ticket_no           text NOT NULL UNIQUE,
    channel             text NOT NULL,
    external_id         text,
    source              text NOT NULL,
    customer_ref        text NOT NULL,          -- the channel's customer id; contact data is in ticket_contacts
    customer_type       text,
    subject             text,                   -- masked
    body                text NOT NULL,          -- masked
    order_no            text,
    product             text,
    wants               text,
    expected_at         timestamptz,
    error_text          text,                   -- masked
    steps               text,                   -- masked
    alert_type          text,
    alert_scope         text,
    status              text NOT NULL DEFAULT 'received',
    category            text,
    subcategory         text,
    third_level         text,
    priority            text,
    confidence          real,
    department          text,
    assignee            text,
    response_due_at     timestamptz,
    resolve_due_at      timestamptz,
    first_response_at   timestamptz,
    resolved_at         timestamptz,
    closed_at           timestamptz,
    resolution_summary  text,
    csat                smallint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    status_changed_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tickets_status_known CHECK (status IN (
        'received', 'triage', 'classified', 'assigned', 'accepted', 'in_progress',
        'on_hold', 'resolved', 'confirmed', 'reopened', 'closed', 'archived')),
    CONSTRAINT tickets_priority_known CHECK (priority IS NULL OR priority IN ('P1', 'P2', 'P3')),
    CONSTRAINT tickets_csat_range CHECK (csat IS NULL OR csat BETWEEN 1 AND 5)
);

-- idempotent intake: one ticket per (channel, channel message id)
CREATE UNIQUE INDEX tickets_channel_external_id ON tickets (channel, external_id)
    WHERE external_id IS NOT NULL;
-- reconcilers: "tickets waiting in status S since before T"
CREATE INDEX tickets_status_waiting ON tickets (status, status_changed_at);

-- contact details live apart from ticket text, so the text tables can be
-- read, exported and logged without personal data
CREATE TABLE ticket_contacts (
    ticket_id       bigint PRIMARY KEY REFERENCES tickets (id) ON DELETE CASCADE,
    customer_ref    text NOT NULL,
    name            text,
    phone           text,
    email           text
);

-- append-only history: what happened, when, by which service or person
CREATE TABLE ticket_events (
    id              bigserial PRIMARY KEY,
    ticket_id       bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT clock_timestamp(),
    kind            text NOT NULL,
    from_status     text,
    to_status       text,
    actor           text NOT NULL,
    note            text,
    data            jsonb
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, id);
CREATE INDEX ticket_events_kind_at ON ticket_events (kind, at);

CREATE FUNCTION ticket_events_append_only () RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ticket_events is append-only (% refused)', TG_OP;
END $$;
CREATE TRIGGER ticket_events_no_update BEFORE UPDATE ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION ticket_events_append_only ();

-- daily serials for ticket numbers: one row per business day, bumped under
-- its row lock, so concurrent intake instances never hand out one number twice
CREATE TABLE ticket_serials (
    day             date PRIMARY KEY,
    last_serial     integer NOT NULL
);
