-- 009: customers and owners hear from us. A ticket's thread, customer
-- messages rendered from operators' templates (deploy/messages.json,
-- loaded by ticketflow-migrate), delivery state per message, the daily
-- digest, closing without confirmation, follow-up tasks and surveys.

-- A ticket's thread: what the customer wrote (any channel), the agents'
-- public replies, internal notes (never sent out). Masked text only.
CREATE TABLE ticket_messages (
    id              bigserial PRIMARY KEY,
    ticket_id       bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    direction       text NOT NULL CHECK (direction IN ('in', 'out', 'note')),
    author          text NOT NULL,              -- 'customer' or the agent
    channel         text,
    body            text NOT NULL,
    outbox_id       bigint,                     -- an 'out' message's delivery
    at              timestamptz NOT NULL DEFAULT tf_now ()
);
CREATE INDEX ticket_messages_ticket ON ticket_messages (ticket_id, id);

-- an adapter's own conversation id (a WeChat session, a mail thread)
CREATE TABLE ticket_threads (
    channel         text NOT NULL,
    thread_id       text NOT NULL,
    ticket_id       bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    PRIMARY KEY (channel, thread_id)
);
CREATE INDEX ticket_threads_ticket ON ticket_threads (ticket_id);

-- a customer's tickets: threading by order, the history on a ticket, the digest
CREATE INDEX tickets_customer ON tickets (customer_ref, created_at);
CREATE INDEX tickets_customer_open ON tickets (customer_ref)
    WHERE status IN ('received', 'triage', 'classified', 'assigned', 'accepted', 'in_progress',
                     'on_hold', 'reopened', 'resolved');
CREATE INDEX ticket_contacts_customer ON ticket_contacts (customer_ref);

ALTER TABLE tickets
    ADD COLUMN awaiting_customer boolean NOT NULL DEFAULT false,   -- on hold for the customer's answer
    ADD COLUMN tags              text[] NOT NULL DEFAULT '{}',
    DROP CONSTRAINT tickets_status_known,
    ADD CONSTRAINT tickets_status_known CHECK (status IN (
        'received', 'triage', 'classified', 'assigned', 'accepted', 'in_progress',
        'on_hold', 'resolved', 'confirmed', 'reopened', 'closed', 'auto_closed', 'archived'));

-- Templates: one row per message kind and channel ('*' for every channel
-- without its own). `variables` of message_kinds is what the code fills
-- in; the loader refuses a template that uses anything else.
CREATE TABLE message_kinds (
    kind            text PRIMARY KEY,
    audience        text NOT NULL DEFAULT 'customer' CHECK (audience IN ('customer', 'staff')),
    variables       text[] NOT NULL,
    meaning         text NOT NULL
);
CREATE TABLE message_templates (
    kind            text NOT NULL REFERENCES message_kinds (kind),
    channel         text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    text            text NOT NULL CHECK (text <> ''),
    PRIMARY KEY (kind, channel)
);

-- what every ticket message may say about its ticket
INSERT INTO message_kinds (kind, variables, meaning) VALUES
    ('receipt', '{ticket_no,subject,first_answer_by,greeting}',
     'The ticket is stored: its number and when the first answer comes.'),
    ('out_of_hours', '{ticket_no,subject,opens_at,first_answer_by,greeting}',
     'Stored outside service hours: when the desk opens.'),
    ('info_request', '{ticket_no,subject,agent,question,greeting}',
     'An agent needs more information; the ticket waits for the answer.'),
    ('reply', '{ticket_no,subject,agent,text,greeting}',
     'An agent''s public reply.'),
    ('progress', '{ticket_no,subject,agent,step,resolve_by,progress_phrase}',
     'A step an agent recorded as public.'),
    ('still_working', '{ticket_no,subject,days,resolve_by,progress_phrase}',
     'A long ticket: at least every 3 days, where it stands.'),
    ('digest', '{count,items,date}',
     'The 17:00 digest: one per customer with open tickets.'),
    ('digest_item', '{ticket_no,subject,status,last_step,resolve_by}',
     'One ticket''s line in the digest.'),
    ('confirm_request', '{ticket_no,subject,summary,closing,agent}',
     'The ticket is resolved: did it solve the problem, and a score.'),
    ('auto_closed', '{ticket_no,subject,days}',
     'No answer to the confirmation request: closed without confirmation.'),
    ('survey', '{ticket_no,subject,agent}',
     'The follow-up survey: CSAT, NPS, efficiency, attitude, result.');

-- what the clock says to staff (sla, the dispatcher): one channel, '*'
INSERT INTO message_kinds (kind, audience, variables, meaning) VALUES
    ('reminder_progress', 'staff', '{ticket_no,agent,department,priority,due_at}',
     'In hand: time for a progress note (every 4 h of service time, P1 every hour).'),
    ('reminder_response_warning', 'staff', '{ticket_no,agent,department,priority,due_at}',
     '80 % of the time to the first response is used.'),
    ('reminder_resolution_warning', 'staff', '{ticket_no,agent,department,priority,due_at}',
     '80 % of the time to the resolution is used.'),
    ('reminder_verification', 'staff', '{ticket_no,agent,department,priority,due_at}',
     'An hour since the fix and the customer has not confirmed: call them.'),
    ('reminder_overdue', 'staff', '{ticket_no,agent,department,priority,due_at,clock}',
     'A deadline passed (the handler, else the team lead).'),
    ('owner_sms', 'staff', '{ticket_no,department,priority,due_at}',
     'A red complaint (P1) untouched for 2 hours: an SMS to its owner.'),
    ('escalation', 'staff', '{ticket_no,department,priority,level,role,reason}',
     'The ticket climbed to this person (组长, 主管, 经理).'),
    ('acknowledgement_missed', 'staff', '{ticket_no,department,assignee,outcome}',
     'An agent let an assigned ticket wait 15 minutes: to the team lead.');

-- {name} → vars->>name; a name vars lacks stays as it is
CREATE FUNCTION tf_render (template text, vars jsonb) RETURNS text LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    k text;
    v text;
BEGIN
    FOR k, v IN SELECT * FROM jsonb_each_text (vars) LOOP
        template := replace (template, '{' || k || '}', coalesce (v, ''));
    END LOOP;
    RETURN template;
END $$;

-- A staff message's text: its kind's template with vars (the kind's name
-- and the ticket when an operator removed the template)
CREATE FUNCTION tf_staff_text (kind text, vars jsonb) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT tf_render (coalesce ((SELECT m.text FROM message_templates m
                                 WHERE m.kind = tf_staff_text.kind AND m.channel = '*'),
                                kind || ' {ticket_no}'), vars)
$$;

-- a template's variables that its kind does not have (the loader's check)
CREATE FUNCTION tf_template_unknown (kind text, text text) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT string_agg (DISTINCT m [1], ', ')
    FROM regexp_matches (text, '\{([a-z_]+)\}', 'g') m
    WHERE NOT m [1] = ANY ((SELECT variables FROM message_kinds k WHERE k.kind = tf_template_unknown.kind)::text[])
$$;

-- the desk's time zone: what customers read times in
CREATE FUNCTION tf_desk_timezone () RETURNS text LANGUAGE sql STABLE AS $$
    SELECT coalesce ((SELECT timezone FROM service_hours WHERE scope = 'default'), 'Asia/Shanghai')
$$;

-- a time as customers read it, in the desk's time zone: 12月01日 17:00
CREATE FUNCTION tf_local_text (at timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
    SELECT to_char (at AT TIME ZONE tf_desk_timezone (), 'MM"月"DD"日" HH24:MI')
$$;

-- A standard phrase as a customer may read it: one with blanks for the
-- agent to fill ({节点}, {时间}) is not sent as it stands
CREATE FUNCTION tf_phrase (phrase text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN phrase ~ '[{}]' OR phrase = '' THEN NULL ELSE phrase END
$$;

-- The variables every ticket message has, from the ticket, its
-- sub-category's standard phrases and the desk's time zone (the caller
-- joins them once per statement: a lookup per message, made inside this
-- function, cost twice the rest of a receipt)
CREATE FUNCTION tf_ticket_vars (t tickets, phrases jsonb, tz text) RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object (
        'ticket_no', t.ticket_no,
        'subject', coalesce (nullif (t.subject, ''), left (t.body, 30)),
        'agent', coalesce (t.assignee, '客服'),
        'resolve_by', coalesce (to_char (t.resolve_due_at AT TIME ZONE tz, 'MM"月"DD"日" HH24:MI'), '尽快'),
        'greeting', coalesce (tf_phrase (phrases->>'greeting'), '您好'),
        'progress_phrase', coalesce (tf_phrase (phrases->>'progress'), ''),
        'closing', coalesce (tf_phrase (phrases->>'closing'), '请问问题是否已经解决?对本次处理结果是否满意?'))
$$;

-- Delivery state: queued (waiting for its first or next attempt), failed
-- (the last attempt failed; another is scheduled), sent, dead (gave up).
-- A customer message (audience 'customer', sink 'customer') goes to the
-- sink its channel routes to; a staff message names its sink. claimed_at:
-- a notifier took it and has not recorded the outcome (after a crash the
-- sink is asked whether it already has it). dedupe_key makes a repeat of
-- the same customer message impossible; staff messages stay unique on
-- their payload's hash (the payload itself can outgrow a btree entry).
ALTER TABLE outbox DROP CONSTRAINT outbox_status_check,
    DROP CONSTRAINT outbox_ticket_id_kind_sink_payload_key,
    ADD COLUMN audience      text NOT NULL DEFAULT 'staff' CHECK (audience IN ('customer', 'staff')),
    ADD COLUMN channel       text,
    ADD COLUMN customer_ref  text,
    ADD COLUMN priority      text,
    ADD COLUMN dedupe_key    text,
    ADD COLUMN claimed_at    timestamptz,
    ADD COLUMN delivered_via text;
UPDATE outbox SET status = 'queued' WHERE status = 'pending';
ALTER TABLE outbox ALTER status SET DEFAULT 'queued',
    ADD CONSTRAINT outbox_status_check CHECK (status IN ('queued', 'failed', 'sent', 'dead'));
CREATE UNIQUE INDEX outbox_dedupe ON outbox (dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE UNIQUE INDEX outbox_staff_unique ON outbox (ticket_id, kind, sink, md5 (payload::text))
    WHERE dedupe_key IS NULL;
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status IN ('queued', 'failed');
-- room on each page for the claim's in-place update of claimed_at
ALTER TABLE outbox SET (fillfactor = 85);

-- Customer messages of kind `kind` for the tickets ids[i] with their own
-- variables vars[i] (over the ticket's), each once per keys[i], not sent
-- before not_before[i] (NULL: now). The template is the ticket channel's,
-- else '*'. Returns the new outbox rows (ticket_id, outbox id).
CREATE FUNCTION tf_customer_messages (kind text, ids bigint[], vars jsonb[], keys text[],
                                      not_before timestamptz[] DEFAULT NULL)
RETURNS TABLE (ticket_id bigint, outbox_id bigint) LANGUAGE sql AS $$
    WITH m AS (SELECT * FROM unnest (ids, vars, keys) WITH ORDINALITY AS m (id, vars, key, n)),
    z AS (SELECT tf_desk_timezone () AS tz),
    r AS (SELECT t.id, t.ticket_no, t.channel, t.customer_ref, t.priority, m.key,
                 coalesce (not_before [m.n], tf_now ()) AS due,
                 tf_ticket_vars (t, x.phrases, z.tz) || coalesce (m.vars, '{}') AS v, p.subject, p.text
          FROM m JOIN tickets t ON t.id = m.id CROSS JOIN z
          LEFT JOIN taxonomy x ON x.subcategory = t.subcategory
          CROSS JOIN LATERAL (SELECT p.subject, p.text FROM message_templates p
                              WHERE p.kind = tf_customer_messages.kind AND p.channel IN (t.channel, '*')
                              ORDER BY p.channel = '*' LIMIT 1) p)
    INSERT INTO outbox (ticket_id, kind, sink, audience, channel, customer_ref, priority, dedupe_key,
                        next_attempt_at, payload)
    SELECT r.id, tf_customer_messages.kind, 'customer', 'customer', r.channel, r.customer_ref, r.priority,
           tf_customer_messages.kind || ':' || r.id || ':' || r.key, r.due,
           jsonb_build_object ('ticket_no', r.ticket_no, 'channel', r.channel, 'customer_id', r.customer_ref,
                               'subject', tf_render (r.subject, r.v), 'message', tf_render (r.text, r.v))
    FROM r
    ON CONFLICT DO NOTHING
    RETURNING outbox.ticket_id, outbox.id
$$;

-- The daily digest, once per day
CREATE TABLE digest_runs (
    day             date PRIMARY KEY,
    customers       integer NOT NULL,
    at              timestamptz NOT NULL DEFAULT tf_now ()
);

-- Follow-up after a ticket is settled: a call to the customer by its agent
-- (due within 24 h of the fix for P1/P2, else 1-3 days after), and a
-- review by the department's supervisor when the customer scored 1 or 2.
CREATE TABLE followups (
    id              bigserial PRIMARY KEY,
    ticket_id       bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('call', 'review')),
    department      text,
    assignee        text,
    opens_at        timestamptz NOT NULL,
    due_at          timestamptz NOT NULL,
    done_at         timestamptz,
    done_by         text,
    result          text,                       -- masked
    created_at      timestamptz NOT NULL DEFAULT tf_now (),
    UNIQUE (ticket_id, kind)
);
CREATE INDEX followups_open ON followups (due_at) WHERE done_at IS NULL;

-- The customer's survey answers (from the survey message or the call)
CREATE TABLE surveys (
    id              bigserial PRIMARY KEY,
    ticket_id       bigint NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    csat            smallint CHECK (csat BETWEEN 1 AND 5),
    nps             smallint CHECK (nps BETWEEN 0 AND 10),
    efficiency      smallint CHECK (efficiency BETWEEN 1 AND 5),
    attitude        smallint CHECK (attitude BETWEEN 1 AND 5),
    result          smallint CHECK (result BETWEEN 1 AND 5),
    comment         text,                       -- masked
    source          text NOT NULL,              -- 'customer' or the agent who called
    at              timestamptz NOT NULL DEFAULT tf_now ()
);
CREATE INDEX surveys_ticket ON surveys (ticket_id);

-- What a score means for the ticket: 4-5 tags the customer 满意; 1-2
-- opens a review for the department's supervisor (due in one working
-- day). Returns the review task's id when one was opened.
CREATE FUNCTION tf_ticket_scored (ticket bigint, csat integer) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    review bigint;
BEGIN
    IF csat >= 4 THEN
        UPDATE tickets SET tags = array_append (array_remove (tags, '满意'), '满意') WHERE id = ticket;
    ELSIF csat <= 2 THEN
        UPDATE tickets SET tags = array_remove (tags, '满意') WHERE id = ticket;
        INSERT INTO followups (ticket_id, kind, department, assignee, opens_at, due_at)
        SELECT t.id, 'review', t.department, (SELECT name FROM tf_person (t.department, 'supervisor')),
               tf_now (), tf_business_add (tf_now (), 32400, 'back_office')
        FROM tickets t WHERE t.id = ticket
        ON CONFLICT (ticket_id, kind) DO NOTHING RETURNING id INTO review;
    END IF;
    RETURN review;
END $$;

-- the loader's check: true, or an error naming the template's unknown variables
CREATE FUNCTION tf_template_check (kind text, channel text, text text) RETURNS boolean LANGUAGE plpgsql STABLE AS $$
DECLARE
    unknown text := tf_template_unknown (kind, text);
BEGIN
    IF NOT EXISTS (SELECT 1 FROM message_kinds k WHERE k.kind = tf_template_check.kind) THEN
        RAISE EXCEPTION 'template %/%: no such message kind', kind, channel;
    END IF;
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'template %/%: unknown variable(s) % (it has: %)', kind, channel, unknown,
            (SELECT array_to_string (variables, ', ') FROM message_kinds k WHERE k.kind = tf_template_check.kind);
    END IF;
    RETURN true;
END $$;

-- Customer tickets just stored (data-modifying parts of a WITH run
-- whether or not the query reads them): the adapters' thread ids, and the receipt,
-- or out of service hours the auto-reply with the next opening. Returns
-- how many messages were queued.
CREATE FUNCTION tf_ticket_opened (ids bigint[], channels text[], threads text[]) RETURNS bigint
LANGUAGE sql AS $$
    WITH th AS (INSERT INTO ticket_threads (channel, thread_id, ticket_id)
                SELECT c, h, i FROM unnest (ids, channels, threads) AS u (i, c, h) WHERE h IS NOT NULL
                ON CONFLICT DO NOTHING RETURNING ticket_id),
    o AS (SELECT tf_business_add (tf_now (), 0, 'default') AS opens,
                 tf_local_text (tf_business_add (tf_now (), 900, 'default')) AS answer_by),
    c AS (SELECT array_agg (t.id) AS ids FROM tickets t WHERE t.id = ANY (ids) AND t.source = 'customer')
    SELECT count (*)
    FROM o, c, tf_customer_messages (CASE WHEN o.opens > tf_now () THEN 'out_of_hours' ELSE 'receipt' END,
                                     c.ids,
                                     array_fill (jsonb_build_object ('opens_at', tf_local_text (o.opens),
                                                                     'first_answer_by', o.answer_by),
                                                 ARRAY [cardinality (c.ids)]),
                                     array_fill ('1'::text, ARRAY [cardinality (c.ids)]))
    WHERE cardinality (c.ids) > 0
$$;

-- The statuses a customer's new message threads into: open, or resolved
-- (awaiting their answer)
CREATE FUNCTION tf_threadable (status text) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT status IN ('received', 'triage', 'classified', 'assigned', 'accepted', 'in_progress',
                      'on_hold', 'reopened', 'resolved')
$$;

-- A customer's message into their ticket: the thread row, a history row,
-- the adapter's thread id, and a ticket waiting for this answer resumes
-- (sla's hold pass picks it up: its expected resume time is now).
CREATE FUNCTION tf_message_in (ticket bigint, channel text, thread text, body text) RETURNS boolean
LANGUAGE sql AS $$
    WITH m AS (INSERT INTO ticket_messages (ticket_id, direction, author, channel, body)
               VALUES (ticket, 'in', 'customer', channel, body) RETURNING id),
    h AS (INSERT INTO ticket_threads (channel, thread_id, ticket_id) SELECT channel, thread, ticket
          WHERE thread IS NOT NULL ON CONFLICT DO NOTHING RETURNING ticket_id),
    e AS (INSERT INTO ticket_events (ticket_id, kind, actor, note, data)
          SELECT ticket, 'customer_message', 'customer', left (body, 500),
                 jsonb_build_object ('channel', channel, 'message_id', m.id) FROM m RETURNING id),
    w AS (UPDATE tickets SET awaiting_customer = false, hold_until = tf_now (), updated_at = tf_now ()
          WHERE id = ticket AND awaiting_customer AND status = 'on_hold' RETURNING id)
    SELECT EXISTS (SELECT 1 FROM w)
$$;

-- A settled ticket's follow-up: the agent's call (opens at once and is due
-- within 24 h of the fix for P1/P2; else opens a day after the fix and is
-- due by the third, never less than a day from now) and the survey
-- message, sent when the call opens. Returns the call's id (NULL: it had one).
CREATE FUNCTION tf_open_followup (ticket bigint) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    t tickets;
    urgent boolean;
    opens timestamptz;
    call bigint;
BEGIN
    SELECT * INTO t FROM tickets WHERE id = ticket;
    urgent := t.priority IN ('P1', 'P2');
    opens := CASE WHEN urgent THEN tf_now () ELSE greatest (tf_now (), coalesce (t.resolved_at, tf_now ()) + interval '1 day') END;
    INSERT INTO followups (ticket_id, kind, department, assignee, opens_at, due_at)
    VALUES (t.id, 'call', t.department, coalesce (t.assignee, (SELECT name FROM tf_person (t.department, 'team_lead'))),
            opens, greatest (coalesce (t.resolved_at, tf_now ()) + CASE WHEN urgent THEN interval '24 hours' ELSE interval '3 days' END,
                             opens + CASE WHEN urgent THEN interval '1 hour' ELSE interval '1 day' END))
    ON CONFLICT (ticket_id, kind) DO NOTHING RETURNING id INTO call;
    IF call IS NOT NULL THEN
        PERFORM tf_customer_messages ('survey', ARRAY [t.id], ARRAY ['{}'::jsonb], ARRAY [t.reopen_count::text],
                                      ARRAY [opens]);
    END IF;
    RETURN call;
END $$;

-- When quiet hours (starts-ends, in the desk's time zone; NULL: none) are
-- on now, their end; else NULL.
CREATE FUNCTION tf_quiet_until (starts time, ends time) RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    tz text := tf_desk_timezone ();
    here timestamp := tf_now () AT TIME ZONE tz;
    quiet boolean;
    stop timestamp;
BEGIN
    IF starts IS NULL OR ends IS NULL OR starts = ends THEN
        RETURN NULL;
    END IF;
    quiet := CASE WHEN starts > ends THEN here::time >= starts OR here::time < ends
                  ELSE here::time >= starts AND here::time < ends END;
    IF NOT quiet THEN
        RETURN NULL;
    END IF;
    stop := here::date + ends;
    IF stop <= here THEN
        stop := stop + interval '1 day';
    END IF;
    RETURN stop AT TIME ZONE tz;
END $$;

-- what a customer reads for a status
CREATE FUNCTION tf_status_text (status text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE status WHEN 'received' THEN '已受理' WHEN 'triage' THEN '已受理' WHEN 'classified' THEN '已受理'
                       WHEN 'assigned' THEN '待处理' WHEN 'accepted' THEN '处理中' WHEN 'in_progress' THEN '处理中'
                       WHEN 'on_hold' THEN '挂起(等待中)' WHEN 'reopened' THEN '重新处理中'
                       WHEN 'resolved' THEN '已处理,待您确认' ELSE '已关闭' END
$$;
