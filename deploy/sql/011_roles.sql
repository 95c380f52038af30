-- 011: one database role per service, each granted only what its stage
-- needs (a map of every statement each service runs, checked by running
-- the whole system and its timed work as these roles):
--   ticketflow_intake, _classifier, _dispatcher, _sla, _notifier,
--   _reporting   LOGIN; ticketflow-migrate gives each a generated password
--                (KEYS_DIR/pgpass) and the services use them (tf_engine);
--   ticketflow_owner   NOLOGIN: owns every table, sequence and function.
-- The history (ticket_events) is insert-only for every role: no UPDATE
-- (the trigger refuses it anyway), no DELETE, no TRUNCATE, and no role may
-- delete tickets (the cascade would). Reporting reads, and writes only its
-- confirmed -> closed move, that move's history row and a token's last use.
-- Nobody but the notifier reads contact details; they are sealed anyway.
-- A later migration that adds a table or function grants it here too.
--
-- Where the migrating user may not create roles (a managed server), this
-- does nothing and the services keep the user of their DATABASE_URL.
DO $roles$
DECLARE
    r text;
    o record;
BEGIN
    IF NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        RAISE NOTICE 'not a superuser: no per-service roles; the services use the user of their DATABASE_URL';
        RETURN;
    END IF;
    FOREACH r IN ARRAY ARRAY['ticketflow_intake', 'ticketflow_classifier', 'ticketflow_dispatcher',
                             'ticketflow_sla', 'ticketflow_notifier', 'ticketflow_reporting'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format ('CREATE ROLE %I LOGIN', r);
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ticketflow_owner') THEN
        CREATE ROLE ticketflow_owner NOLOGIN;
    END IF;

    -- the owner owns what the migrations made (not what extensions brought)
    FOR o IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
             AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e') LOOP
        EXECUTE format ('ALTER TABLE %s OWNER TO ticketflow_owner', o.name);
    END LOOP;
    FOR o IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = 'public' AND c.relkind = 'S'
             AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('e', 'a')) LOOP
        EXECUTE format ('ALTER SEQUENCE %s OWNER TO ticketflow_owner', o.name);
    END LOOP;
    FOR o IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = 'public'
             AND NOT EXISTS (SELECT FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e') LOOP
        EXECUTE format ('ALTER FUNCTION %s OWNER TO ticketflow_owner', o.name);
    END LOOP;

    REVOKE CREATE, USAGE ON SCHEMA public FROM PUBLIC;
    GRANT CREATE, USAGE ON SCHEMA public TO ticketflow_owner;     -- foreign-key checks run as the owner
    REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;  REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM PUBLIC;
    REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA public FROM PUBLIC;
    -- every service process: engine waiting gauges, tf_policy.c, tf_token.c, tf_ticket.c moves + history
    GRANT USAGE ON SCHEMA public TO ticketflow_intake, ticketflow_classifier, ticketflow_dispatcher, ticketflow_sla, ticketflow_notifier, ticketflow_reporting;
    GRANT SELECT ON tickets TO ticketflow_intake, ticketflow_classifier, ticketflow_dispatcher, ticketflow_sla, ticketflow_notifier, ticketflow_reporting;
    GRANT INSERT ON ticket_events TO ticketflow_intake, ticketflow_classifier, ticketflow_dispatcher, ticketflow_sla, ticketflow_notifier, ticketflow_reporting;
    GRANT USAGE ON SEQUENCE ticket_events_id_seq
      TO ticketflow_intake, ticketflow_classifier, ticketflow_dispatcher, ticketflow_sla, ticketflow_notifier, ticketflow_reporting;
    GRANT SELECT (name, role, department, channel, token_hash, revoked_at), UPDATE (last_used_at) ON api_tokens
      TO ticketflow_intake, ticketflow_classifier, ticketflow_dispatcher, ticketflow_sla, ticketflow_notifier, ticketflow_reporting;
    GRANT EXECUTE ON FUNCTION tf_now (), tf_clock_timestamp ()
      TO ticketflow_intake, ticketflow_classifier, ticketflow_dispatcher, ticketflow_sla, ticketflow_notifier, ticketflow_reporting;
    GRANT SELECT (name, department) ON agents TO ticketflow_classifier, ticketflow_reporting;   -- tf_policy.c:155 only
    -- intake
    GRANT INSERT, UPDATE (awaiting_customer, hold_until, updated_at, tags) ON tickets TO ticketflow_intake;
    GRANT SELECT, INSERT, UPDATE ON ticket_serials TO ticketflow_intake;
    GRANT INSERT (ticket_id, customer_ref, name_sealed, phone_sealed, email_sealed) ON ticket_contacts TO ticketflow_intake;
    GRANT EXECUTE ON FUNCTION pgp_sym_encrypt (text, text) TO ticketflow_intake;
    GRANT SELECT ON ticket_events, sla_timers, taxonomy, message_templates, service_hours, calendar_days, agents TO ticketflow_intake;
    GRANT SELECT, INSERT ON ticket_threads, ticket_messages, outbox, feedback, surveys, followups TO ticketflow_intake;
    GRANT INSERT (name, role, department, channel, token_hash), UPDATE (revoked_at) ON api_tokens TO ticketflow_intake;
    GRANT USAGE ON SEQUENCE tickets_id_seq, ticket_messages_id_seq, outbox_id_seq, feedback_id_seq, surveys_id_seq, followups_id_seq,
      api_tokens_id_seq TO ticketflow_intake;
    GRANT EXECUTE ON FUNCTION tf_threadable (text), tf_message_in (bigint, text, text, text), tf_ticket_opened (bigint[], text[], text[]),
      tf_customer_messages (text, bigint[], jsonb[], text[], timestamptz[]), tf_ticket_vars (tickets, jsonb, text), tf_phrase (text),
      tf_render (text, jsonb), tf_desk_timezone (), tf_local_text (timestamptz), tf_business_add (timestamptz, double precision, text),
      tf_working_day (date), tf_ticket_scored (bigint, integer), tf_person (text, text), tf_status_text (text) TO ticketflow_intake;
    -- classifier
    GRANT UPDATE (status, status_changed_at, updated_at, category, subcategory, third_level, priority, confidence, priority_reasons,
      sentiment, text_signature, incident_id, signature_seq) ON tickets TO ticketflow_classifier;
    GRANT SELECT ON taxonomy TO ticketflow_classifier;
    GRANT SELECT, INSERT, UPDATE (ticket_count, last_ticket_at) ON incidents TO ticketflow_classifier;
    GRANT INSERT ON classification_corrections TO ticketflow_classifier;
    GRANT USAGE ON SEQUENCE tickets_signature_seq, incidents_id_seq, classification_corrections_id_seq TO ticketflow_classifier;
    -- dispatcher
    GRANT UPDATE (status, status_changed_at, updated_at, department, assignee, assigned_at, accepted_at, first_response_at)
      ON tickets TO ticketflow_dispatcher;
    GRANT SELECT ON departments, taxonomy, service_hours, calendar_days, message_templates TO ticketflow_dispatcher;
    GRANT SELECT, INSERT, UPDATE ON agents TO ticketflow_dispatcher;
    GRANT SELECT, INSERT, UPDATE (met_at, breached_at) ON sla_timers TO ticketflow_dispatcher;
    GRANT INSERT ON outbox TO ticketflow_dispatcher;
    GRANT USAGE ON SEQUENCE agents_id_seq, sla_timers_id_seq, outbox_id_seq TO ticketflow_dispatcher;
    GRANT EXECUTE ON FUNCTION tf_staff_text (text, jsonb), tf_render (text, jsonb), tf_person (text, text),
      tf_business_add (timestamptz, double precision, text), tf_working_day (date), tf_hours_scope (text, text) TO ticketflow_dispatcher;
    -- sla
    GRANT UPDATE (status, status_changed_at, updated_at, first_response_at, hold_reason, hold_until, awaiting_customer, resolution_summary,
      resolved_at, response_due_at, resolve_due_at, response_breached, resolve_breached, escalation_level, escalated_to) ON tickets TO ticketflow_sla;
    GRANT SELECT ON ticket_events, taxonomy, sla_policy, service_hours, calendar_days, agents, message_templates TO ticketflow_sla;
    GRANT SELECT, INSERT, UPDATE (met_at, warned_at, breached_at, due_at, warn_at, paused_at, remaining_seconds, warn_remaining_seconds)
      ON sla_timers TO ticketflow_sla;
    GRANT SELECT (id, ticket_id), INSERT ON outbox TO ticketflow_sla;
    GRANT INSERT ON ticket_messages TO ticketflow_sla;
    GRANT USAGE ON SEQUENCE sla_timers_id_seq, outbox_id_seq, ticket_messages_id_seq TO ticketflow_sla;
    GRANT EXECUTE ON FUNCTION tf_hours_scope (text, text), tf_business_add (timestamptz, double precision, text),
      tf_ticket_clocks (timestamptz, timestamptz, integer, text, integer, jsonb, text, timestamptz, integer),
      tf_business_seconds (timestamptz, timestamptz, text), tf_working_day (date), tf_person (text, text), tf_staff_text (text, jsonb),
      tf_render (text, jsonb), tf_local_text (timestamptz), tf_desk_timezone (), tf_customer_messages (text, bigint[], jsonb[], text[], timestamptz[]),
      tf_ticket_vars (tickets, jsonb, text), tf_phrase (text) TO ticketflow_sla;
    -- notifier
    GRANT UPDATE (status, status_changed_at, updated_at, csat, confirmed_at, reopen_count, closed_at, tags) ON tickets TO ticketflow_notifier;
    GRANT SELECT (ticket_id, customer_ref, phone_sealed, email_sealed) ON ticket_contacts TO ticketflow_notifier;
    GRANT INSERT (reader, purpose, ticket_ids) ON contact_reads TO ticketflow_notifier;
    GRANT USAGE ON SEQUENCE contact_reads_id_seq TO ticketflow_notifier;
    GRANT EXECUTE ON FUNCTION pgp_sym_decrypt (bytea, text) TO ticketflow_notifier;
    GRANT SELECT ON ticket_messages, taxonomy, message_templates, service_hours, calendar_days, agents TO ticketflow_notifier;
    GRANT SELECT (id) ON ticket_events TO ticketflow_notifier;                -- notifier.c:191-194 INSERT … RETURNING id
    GRANT SELECT, INSERT, UPDATE (status, sent_at, attempts, last_error, claimed_at, delivered_via, next_attempt_at) ON outbox TO ticketflow_notifier;
    GRANT SELECT, UPDATE (processed_at, outcome) ON feedback TO ticketflow_notifier;
    GRANT SELECT (id, ticket_id, kind, met_at, breached_at), UPDATE (met_at) ON sla_timers TO ticketflow_notifier;
    GRANT SELECT, INSERT, UPDATE (done_at, done_by, result) ON followups TO ticketflow_notifier;
    GRANT SELECT (ticket_id), INSERT ON surveys TO ticketflow_notifier;
    GRANT SELECT, INSERT, UPDATE (customers) ON digest_runs TO ticketflow_notifier;
    GRANT USAGE ON SEQUENCE outbox_id_seq, followups_id_seq, surveys_id_seq TO ticketflow_notifier;
    GRANT EXECUTE ON FUNCTION tf_customer_messages (text, bigint[], jsonb[], text[], timestamptz[]), tf_ticket_vars (tickets, jsonb, text),
      tf_phrase (text), tf_render (text, jsonb), tf_desk_timezone (), tf_open_followup (bigint), tf_ticket_scored (bigint, integer),
      tf_person (text, text), tf_business_add (timestamptz, double precision, text), tf_working_day (date), tf_quiet_until (time, time),
      tf_status_text (text), tf_threadable (text) TO ticketflow_notifier;
    -- reporting: read-mostly; its only writes are the confirmed→closed move, its history row, and api_tokens.last_used_at (above)
    GRANT UPDATE (status, status_changed_at, updated_at, closed_at) ON tickets TO ticketflow_reporting;
    GRANT SELECT (status) ON outbox TO ticketflow_reporting;
END
$roles$;
