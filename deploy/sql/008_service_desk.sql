-- 008: the service desk's clock and its people.
--
-- One clock. Every service reads the time from the database (tf_now ()),
-- never from its host: now () moved by the setting ticketflow.clock_shift
-- (seconds; unset, so zero, in production). A test moves it to drive a
-- business week in seconds: SET on its own connection, or ALTER DATABASE
-- ... SET for the services that connect after. A setting rather than a
-- row, so that the functions are inlined into every statement: read from
-- a table, the clock cost a scan per call, twenty calls per ticket.
CREATE FUNCTION tf_now () RETURNS timestamptz LANGUAGE sql STABLE PARALLEL SAFE AS
$$ SELECT now () + make_interval (secs => coalesce (nullif (current_setting ('ticketflow.clock_shift', true), ''),
                                                   '0')::double precision) $$;

-- the same, moving within a transaction (history rows are ordered by it)
CREATE FUNCTION tf_clock_timestamp () RETURNS timestamptz LANGUAGE sql VOLATILE AS
$$ SELECT clock_timestamp () + make_interval (secs => coalesce (nullif (current_setting ('ticketflow.clock_shift', true), ''),
                                                                '0')::double precision) $$;

ALTER TABLE tickets ALTER created_at SET DEFAULT tf_now (),
                    ALTER updated_at SET DEFAULT tf_now (),
                    ALTER status_changed_at SET DEFAULT tf_now ();
ALTER TABLE ticket_events ALTER at SET DEFAULT tf_clock_timestamp ();
ALTER TABLE sla_timers ALTER created_at SET DEFAULT tf_now ();
ALTER TABLE feedback ALTER received_at SET DEFAULT tf_now ();
ALTER TABLE outbox ALTER next_attempt_at SET DEFAULT tf_now (),
                   ALTER created_at SET DEFAULT tf_now ();
ALTER TABLE classification_corrections ALTER at SET DEFAULT tf_now ();
ALTER TABLE incidents ALTER opened_at SET DEFAULT tf_now (),
                      ALTER last_ticket_at SET DEFAULT tf_now ();

-- Calendars, loaded from deploy/calendar.json by ticketflow-migrate.
-- A scope is 'default' (the service desk), 'back_office' (what "working
-- days" count on), 'department:<code>' or 'channel:<code>'.
CREATE TABLE service_hours (
    scope               text PRIMARY KEY CHECK (scope ~ '^(default|back_office|department:[a-z_]+|channel:[a-z_]+)$'),
    timezone            text NOT NULL,
    opens               time NOT NULL,
    closes              time NOT NULL CHECK (closes > opens),
    working_days_only   boolean NOT NULL     -- false: every day of the year
);

-- the exceptions to "Monday to Friday": public holidays and the weekend
-- days worked in their place (调休)
CREATE TABLE calendar_days (
    day                 date PRIMARY KEY,
    working             boolean NOT NULL,
    name                text NOT NULL
);

CREATE FUNCTION tf_working_day (d date) RETURNS boolean LANGUAGE sql STABLE AS
$$ SELECT coalesce ((SELECT working FROM calendar_days WHERE day = d), extract (isodow FROM d) < 6) $$;

-- The scope whose hours a ticket's clocks run on: its department's, else
-- its channel's, else the desk's.
CREATE FUNCTION tf_hours_scope (department text, channel text) RETURNS text LANGUAGE sql STABLE AS
$$ SELECT coalesce ((SELECT scope FROM service_hours WHERE scope = 'department:' || department),
                    (SELECT scope FROM service_hours WHERE scope = 'channel:' || channel),
                    'default') $$;

-- `start` plus `seconds` of open time in `scope`: time outside the hours
-- (and, for a working-days scope, on days off) does not count, so a start
-- out of hours begins at the next opening. A NULL or unknown scope counts
-- around the clock.
CREATE FUNCTION tf_business_add (start timestamptz, seconds double precision, scope text)
RETURNS timestamptz LANGUAGE plpgsql STABLE AS $$
DECLARE
    h service_hours;
    t timestamp;
    d date;
    left_over interval := make_interval (secs => greatest (seconds, 0));
    open_at timestamp;
    close_at timestamp;
BEGIN
    SELECT * INTO h FROM service_hours s WHERE s.scope = tf_business_add.scope;
    IF NOT FOUND THEN
        RETURN start + left_over;
    END IF;
    t := start AT TIME ZONE h.timezone;
    FOR i IN 1 .. 4000 LOOP             -- ten years of days: never reached
        d := t::date;
        IF NOT h.working_days_only OR tf_working_day (d) THEN
            open_at := d + h.opens;
            close_at := d + h.closes;
            IF t < open_at THEN
                t := open_at;
            END IF;
            IF t < close_at THEN
                IF left_over <= close_at - t THEN
                    RETURN (t + left_over) AT TIME ZONE h.timezone;
                END IF;
                left_over := left_over - (close_at - t);
            END IF;
        END IF;
        t := (d + 1)::timestamp;
    END LOOP;
    RETURN NULL;
END $$;

-- The open seconds of `scope` between two instants (0 when b <= a).
CREATE FUNCTION tf_business_seconds (a timestamptz, b timestamptz, scope text)
RETURNS double precision LANGUAGE plpgsql STABLE AS $$
DECLARE
    h service_hours;
    t timestamp;
    stop timestamp;
    d date;
    total interval := '0';
BEGIN
    IF b <= a THEN
        RETURN 0;
    END IF;
    SELECT * INTO h FROM service_hours s WHERE s.scope = tf_business_seconds.scope;
    IF NOT FOUND THEN
        RETURN extract (epoch FROM b - a);
    END IF;
    t := a AT TIME ZONE h.timezone;
    stop := b AT TIME ZONE h.timezone;
    WHILE t < stop LOOP
        d := t::date;
        IF NOT h.working_days_only OR tf_working_day (d) THEN
            total := total + greatest (least (stop, d + h.closes) - greatest (t, d + h.opens), '0');
        END IF;
        t := (d + 1)::timestamp;
    END LOOP;
    RETURN extract (epoch FROM total);
END $$;

-- The deadlines of the manuals' table, per sub-category: response in
-- business minutes of the desk, resolution as {"business_minutes": n},
-- {"hours": n} (around the clock), {"working_days": n} (back office) or
-- hours then working days (退换货: 48 h review, refund in 3 working days).
ALTER TABLE taxonomy ADD COLUMN resolution jsonb,
    ALTER resolve_minutes DROP NOT NULL,
    -- how long the front line may keep it before the second line takes it
    -- over by itself (物流信息更新延迟: 48 h without a logistics update)
    ADD COLUMN hand_over_hours integer CHECK (hand_over_hours > 0);

-- The roster: one row per person. skills are sub-category codes (empty:
-- every one of the department); capacity is the most tickets they hold
-- open at once. Exactly one on-duty manager is on shift at a time.
CREATE TABLE agents (
    id              bigserial PRIMARY KEY,
    name            text NOT NULL UNIQUE CHECK (length (name) BETWEEN 1 AND 64),
    department      text NOT NULL REFERENCES departments (code),
    role            text NOT NULL CHECK (role IN ('agent', 'team_lead', 'supervisor', 'manager')),
    skills          text[] NOT NULL DEFAULT '{}',
    capacity        integer NOT NULL DEFAULT 10 CHECK (capacity BETWEEN 0 AND 1000),
    on_duty         boolean NOT NULL DEFAULT false,
    duty_manager    boolean NOT NULL DEFAULT false,
    contact         text,                       -- where owner messages go (SMS number, chat id)
    updated_at      timestamptz NOT NULL DEFAULT tf_now ()
);
CREATE UNIQUE INDEX agents_one_duty_manager ON agents ((true)) WHERE duty_manager;
CREATE INDEX agents_department_role ON agents (department, role);

-- Who of `role` a department's ticket goes to: on duty first; for a
-- manager, the shift's on-duty manager whatever the department.
CREATE FUNCTION tf_person (department text, role text) RETURNS TABLE (name text, contact text)
LANGUAGE sql STABLE AS $$
    SELECT a.name, a.contact FROM agents a
    WHERE a.role = tf_person.role
      AND (a.department = tf_person.department OR (tf_person.role = 'manager' AND a.duty_manager))
    ORDER BY (tf_person.role = 'manager' AND a.duty_manager) DESC, a.on_duty DESC, a.id LIMIT 1
$$;

ALTER TABLE tickets
    ADD COLUMN contacted_at      timestamptz,   -- when the customer wrote or called (the clocks start there)
    ADD COLUMN assigned_at       timestamptz,   -- when the current assignee was given it
    ADD COLUMN escalation_level  smallint NOT NULL DEFAULT 0,   -- 0 handler, 1 组长, 2 主管, 3 经理
    ADD COLUMN escalated_to      text;
-- an agent's load: their open tickets
CREATE INDEX tickets_assignee_open ON tickets (assignee) WHERE assignee IS NOT NULL
    AND status IN ('assigned', 'accepted', 'in_progress', 'on_hold', 'reopened');

-- Timers: every clock of a ticket is a row: the two deadlines (each with
-- its warning at 80 %, warn_at, on the same row: a row per warning made a
-- third more WAL per ticket), the progress cadence, the verification
-- after a fix, the P1 watch (one row: the on-duty manager at 5 minutes,
-- as its warn_at, then the owner's SMS at 2 hours), each escalation step (round = the level it climbs to);
-- and the dispatcher's two: the acknowledgement of an assigned agent and
-- the hand-over to the second line. round counts reopenings for the
-- resolution clocks. next_at is when the row next needs sla: its warning
-- until that went out, then its due time.
ALTER TABLE sla_timers DROP CONSTRAINT sla_timers_kind_check,
    ADD CONSTRAINT sla_timers_kind_check CHECK (kind IN ('response', 'resolution', 'progress', 'verification',
        'red_untouched', 'escalation', 'acknowledgement', 'hand_over')),
    DROP CONSTRAINT sla_timers_ticket_id_kind_key,
    ADD COLUMN round integer NOT NULL DEFAULT 0,
    ADD COLUMN calendar text,                   -- the hours it counts in; NULL: around the clock
    ADD COLUMN warn_at timestamptz,             -- the warning at 80 % of a deadline; the P1 watch's 5 minutes
    ADD COLUMN warned_at timestamptz,
    ADD COLUMN remaining_seconds double precision,       -- on hold: the open time that was left
    ADD COLUMN warn_remaining_seconds double precision,  -- on hold: the same to the warning
    ADD COLUMN next_at timestamptz GENERATED ALWAYS AS
        (CASE WHEN warned_at IS NULL AND warn_at < due_at THEN warn_at ELSE due_at END) STORED,
    ADD CONSTRAINT sla_timers_ticket_kind_round UNIQUE (ticket_id, kind, round);

-- The clocks a ticket gets when sla tracks it, for round `for_round` (its
-- reopen count): round 0 has the response clocks; every round has a
-- resolution clock; an accepted ticket has its progress cadence; a
-- sub-category with hand_over_hours has the hand-over to its second line
-- (the dispatcher's clock). P1 runs around the clock (its policy row:
-- respond 15 min, resolve 2 h) and has its watch: the on-duty manager at 5
-- minutes unaccepted, the owner's SMS at 2 h untouched. Every other ticket
-- counts open time of `scope`; its resolution follows the sub-category's
-- rule (the SLA policy of its priority when it has none). Each deadline
-- comes with its warning at 80 % of the time (warn_at).
CREATE FUNCTION tf_ticket_clocks (started timestamptz, reopened_at timestamptz, for_round integer,
                                  priority text, response_minutes integer, resolution jsonb,
                                  scope text, accepted_at timestamptz, hand_over_hours integer)
RETURNS TABLE (kind text, round integer, due_at timestamptz, warn_at timestamptz, calendar text)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    p1 boolean := priority = 'P1';
    cal text := CASE WHEN priority = 'P1' THEN NULL ELSE scope END;
    policy sla_policy;
    seconds double precision;
    spec jsonb;
    hours double precision;
    days double precision;
    day_seconds double precision;
    start_r timestamptz := CASE WHEN for_round > 0 THEN coalesce (reopened_at, tf_now ()) ELSE started END;
    middle timestamptz;
    due timestamptz;
BEGIN
    SELECT * INTO policy FROM sla_policy s WHERE s.priority = tf_ticket_clocks.priority;
    IF for_round = 0 THEN
        seconds := 60 * CASE WHEN p1 THEN policy.response_minutes
                             ELSE coalesce (response_minutes, policy.response_minutes) END;
        RETURN QUERY VALUES ('response', 0, tf_business_add (started, seconds, cal),
                             tf_business_add (started, 0.8 * seconds, cal), cal);
        IF p1 THEN
            RETURN QUERY VALUES ('red_untouched', 0, started + interval '2 hours', started + interval '5 minutes',
                                 NULL::text);
        END IF;
        IF hand_over_hours IS NOT NULL THEN
            RETURN QUERY VALUES ('hand_over', 0, started + make_interval (hours => hand_over_hours),
                                 NULL::timestamptz, NULL::text);
        END IF;
    END IF;
    spec := CASE WHEN p1 OR resolution IS NULL
                 THEN jsonb_build_object ('business_minutes', policy.resolve_minutes) ELSE resolution END;
    IF spec ? 'business_minutes' THEN
        seconds := 60 * (spec->>'business_minutes')::double precision;
        RETURN QUERY VALUES ('resolution', for_round, tf_business_add (start_r, seconds, cal),
                             tf_business_add (start_r, 0.8 * seconds, cal), cal);
    ELSE
        hours := coalesce ((spec->>'hours')::double precision, 0);
        days := coalesce ((spec->>'working_days')::double precision, 0);
        SELECT extract (epoch FROM closes - opens) INTO day_seconds FROM service_hours WHERE service_hours.scope = 'back_office';
        day_seconds := coalesce (day_seconds, 86400);
        middle := start_r + make_interval (secs => hours * 3600);
        IF days > 0 THEN
            due := tf_business_add (middle, days * day_seconds, 'back_office');
            RETURN QUERY VALUES ('resolution', for_round, due,
                CASE WHEN hours = 0 THEN tf_business_add (start_r, 0.8 * days * day_seconds, 'back_office')
                     ELSE start_r + 0.8 * (due - start_r) END, 'back_office'::text);
        ELSE
            RETURN QUERY VALUES ('resolution', for_round, middle,
                                 start_r + make_interval (secs => 0.8 * hours * 3600), NULL::text);
        END IF;
    END IF;
    IF accepted_at IS NOT NULL THEN
        RETURN QUERY VALUES ('progress', for_round,
                             tf_business_add (greatest (accepted_at, start_r), CASE WHEN p1 THEN 3600 ELSE 14400 END, cal),
                             NULL::timestamptz, cal);
    END IF;
END $$;

-- sla walks its clocks, the dispatcher its own two
DROP INDEX sla_timers_open;
CREATE INDEX sla_timers_open ON sla_timers (next_at)
    WHERE met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL
    AND kind NOT IN ('acknowledgement', 'hand_over');
CREATE INDEX sla_timers_dispatcher ON sla_timers (kind, due_at)
    WHERE met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL
    AND kind IN ('acknowledgement', 'hand_over');

-- a department's pool: assigned tickets no agent holds, most urgent first
CREATE INDEX tickets_pool ON tickets (department, priority, created_at, id)
    WHERE status = 'assigned' AND assignee IS NULL;
