-- 002: what the flow after intake needs: the taxonomy and SLA policy as
-- data, deadline rows, feedback, the outbound message outbox, corrections.
-- The taxonomy rows are loaded from deploy/taxonomy/taxonomy.json by
-- bin/ticketflow-migrate (every run, upsert), not written here.

CREATE TABLE departments (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z_]{2,20}$'),
    name        text NOT NULL,
    name_en     text
);

CREATE TABLE taxonomy (
    subcategory         text PRIMARY KEY,            -- name as the manuals write it: 功能操作
    code                text NOT NULL UNIQUE,        -- how_to
    category            text NOT NULL,               -- 产品使用
    category_code       text NOT NULL,
    name_en             text,
    category_en         text,
    first_owner         text NOT NULL REFERENCES departments (code),
    department          text NOT NULL REFERENCES departments (code),
    response_minutes    integer NOT NULL CHECK (response_minutes > 0),
    resolve_minutes     integer NOT NULL CHECK (resolve_minutes > 0),
    deadline_text       text,
    default_priority    text NOT NULL CHECK (default_priority IN ('P1', 'P2', 'P3')),
    keywords            text[] NOT NULL DEFAULT '{}',
    third_levels        jsonb NOT NULL DEFAULT '[]',  -- [{code, name, keywords}]
    solution_steps      jsonb NOT NULL DEFAULT '[]',  -- ["1. ...", ...]
    phrases             jsonb NOT NULL DEFAULT '{}',  -- {greeting, empathy, progress, closing}
    example             text
);

-- response and resolution deadlines per priority (manuals 001-003)
CREATE TABLE sla_policy (
    priority            text PRIMARY KEY CHECK (priority IN ('P1', 'P2', 'P3')),
    name                text NOT NULL,
    response_minutes    integer NOT NULL CHECK (response_minutes > 0),
    resolve_minutes     integer NOT NULL CHECK (resolve_minutes > 0)
);

ALTER TABLE tickets
    ADD COLUMN priority_reasons  text[] NOT NULL DEFAULT '{}',
    ADD COLUMN sentiment         real,
    ADD COLUMN hold_reason       text,
    ADD COLUMN hold_until        timestamptz,
    ADD COLUMN reopen_count      integer NOT NULL DEFAULT 0,
    ADD COLUMN accepted_at       timestamptz,
    ADD COLUMN confirmed_at      timestamptz,
    ADD COLUMN response_breached boolean NOT NULL DEFAULT false,
    ADD COLUMN resolve_breached  boolean NOT NULL DEFAULT false;

CREATE INDEX tickets_department_status ON tickets (department, status);

-- deadlines are rows: the sla service keeps only the next window in memory
CREATE TABLE sla_timers (
    id              bigserial PRIMARY KEY,
    ticket_id       bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('response', 'resolution')),
    due_at          timestamptz NOT NULL,
    paused_at       timestamptz,                    -- on hold: the clock stops
    met_at          timestamptz,
    breached_at     timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ticket_id, kind)
);
CREATE INDEX sla_timers_open ON sla_timers (due_at)
    WHERE met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL;

-- the customer's answers to resolved tickets (stored by intake, acted on by notifier)
CREATE TABLE feedback (
    id              bigserial PRIMARY KEY,
    ticket_id       bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    solved          boolean NOT NULL,
    csat            smallint CHECK (csat IS NULL OR csat BETWEEN 1 AND 5),
    comment         text,                           -- masked
    received_at     timestamptz NOT NULL DEFAULT now(),
    processed_at    timestamptz,
    outcome         text                            -- confirmed | reopened | ignored
);
CREATE INDEX feedback_waiting ON feedback (received_at) WHERE processed_at IS NULL;

-- every outbound message goes through here: retry with back-off, then dead
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    ticket_id       bigint REFERENCES tickets (id) ON DELETE CASCADE,
    kind            text NOT NULL,                  -- confirm_request, breach_alert, ...
    sink            text NOT NULL,                  -- file, webhook, ...
    payload         jsonb NOT NULL,
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    last_error      text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    UNIQUE (ticket_id, kind, sink, payload)
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';

-- a person's classification of a ticket: training data for the next model
CREATE TABLE classification_corrections (
    id                  bigserial PRIMARY KEY,
    ticket_id           bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    predicted           text,
    corrected           text NOT NULL,
    actor               text NOT NULL,
    text                text NOT NULL,              -- the masked text the model saw
    at                  timestamptz NOT NULL DEFAULT now()
);
