#include "sla.h"
#include "tf_log.h"
#include "tf_mask.h"
#include "tf_ticket.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sla_t {
    tf_db_t *db;
    sla_settings_t settings;
};


//  How far back the reconciler looks for accepts whose claim was lost, in
//  seconds: a claim is lost for seconds, not hours; and a timer about to
//  breach is met before each breach pass whenever the accept came.
#define SLA_MEET_LOOKBACK "3600"

//  When a ticket was first answered (the dispatcher sets both at accept).
#define RESPONDED "coalesce (t.first_response_at, t.accepted_at)"

//  The clock an answer meets: the response deadline (and its warning).
#define RESPONSE_KINDS "('response')"

//  The acknowledgement of an assigned agent and the hand-over to the
//  second line are the dispatcher's clocks (the same words as the
//  predicate of the index sla_timers_open, so the planner uses it).
#define SLA_KINDS "s.kind NOT IN ('acknowledgement', 'hand_over')"

//  Timers for the picked tickets (tf_ticket_clocks, deploy/sql/008: the
//  manuals' deadlines on the service hours of the ticket's department or
//  channel, from when the customer made contact), the ticket's mirror
//  columns, and response clocks met by an accept, in one statement. The
//  tickets are locked first (the same order as the handlers: ticket, then
//  its timers), so two instances never insert for one ticket at once;
//  UNIQUE (ticket_id, kind, round) with ON CONFLICT DO NOTHING makes a
//  repeat a no-op, and a reopened ticket (a new round) gets a new
//  resolution deadline from its reopening. A response clock is born met
//  when the accept came before its due time; every clock of a ticket
//  already on hold is born paused, with its open time left.
#define TRACK_SQL(ticket_filter)                                                                      \
    "WITH picked AS (SELECT t.id, t.status, " RESPONDED " AS responded, t.reopen_count, t.priority,"   \
    "       least (coalesce (t.contacted_at, t.created_at), t.created_at) AS started,"                 \
    "       CASE WHEN t.reopen_count > 0 THEN (SELECT max (e.at) FROM ticket_events e"                 \
    "            WHERE e.ticket_id = t.id AND e.kind = 'reopened') END AS reopened_at,"               \
    "       t.accepted_at, x.response_minutes, x.resolution, x.hand_over_hours,"                                         \
    "       tf_hours_scope (coalesce (t.department, x.first_owner), t.channel) AS scope"               \
    "  FROM tickets t LEFT JOIN taxonomy x ON x.subcategory = t.subcategory " ticket_filter "),"      \
    " planned AS (SELECT p.id, p.status, p.responded, c.kind, c.round, c.due_at, c.warn_at, c.calendar"          \
    "  FROM picked p CROSS JOIN LATERAL tf_ticket_clocks (p.started, p.reopened_at, p.reopen_count,"  \
    "       p.priority, p.response_minutes, p.resolution, p.scope, p.accepted_at, p.hand_over_hours) c),"                \
    " timers AS ("                                                                                    \
    "  INSERT INTO sla_timers (ticket_id, kind, round, due_at, warn_at, calendar, met_at, paused_at,"  \
    "                          remaining_seconds, warn_remaining_seconds)"                             \
    "  SELECT id, kind, round, due_at, warn_at, calendar,"                                            \
    "         CASE WHEN kind IN " RESPONSE_KINDS " AND responded <= due_at THEN responded END,"       \
    "         CASE WHEN status = 'on_hold' THEN tf_now () END,"                                       \
    "         CASE WHEN status = 'on_hold' THEN tf_business_seconds (tf_now (), due_at, calendar) END," \
    "         CASE WHEN status = 'on_hold' THEN tf_business_seconds (tf_now (), warn_at, calendar) END" \
    "  FROM planned ORDER BY id, kind, round"                                                         \
    "  ON CONFLICT (ticket_id, kind, round) DO NOTHING RETURNING ticket_id),"                         \
    /* the deadlines per ticket for the mirror columns: the timers made    */                        \
    /* before (looked up per ticket, by the unique index, whatever the     */                        \
    /* statistics say), else the planned ones; a new round's resolution    */                        \
    /* deadline replaces the last one                                      */                        \
    " due AS (SELECT p.id AS ticket_id, coalesce (x.response, n.response) AS response,"               \
    "                CASE WHEN x.resolution IS NULL OR n.round > x.round THEN n.resolution"           \
    "                     ELSE x.resolution END AS resolution"                                        \
    "  FROM picked p LEFT JOIN (SELECT id, max (due_at) FILTER (WHERE kind = 'response') AS response," \
    "                                  max (due_at) FILTER (WHERE kind = 'resolution') AS resolution," \
    "                                  max (round) FILTER (WHERE kind = 'resolution') AS round"        \
    "                           FROM planned GROUP BY id) n ON n.id = p.id"                            \
    "  CROSS JOIN LATERAL (SELECT max (s.due_at) FILTER (WHERE s.kind = 'response') AS response,"      \
    "         (array_agg (s.due_at ORDER BY s.round DESC) FILTER (WHERE s.kind = 'resolution')) [1]"  \
    "                                 AS resolution,"                                                 \
    "         max (s.round) FILTER (WHERE s.kind = 'resolution') AS round"                             \
    "         FROM sla_timers s WHERE s.ticket_id = p.id) x),"                                        \
    " mirror AS ("                                                                                    \
    "  UPDATE tickets t SET response_due_at = coalesce (d.response, t.response_due_at),"              \
    "                       resolve_due_at = coalesce (d.resolution, t.resolve_due_at)"               \
    "  FROM due d WHERE t.id = d.ticket_id AND (d.response IS NOT NULL OR d.resolution IS NOT NULL)"  \
    "  AND (t.response_due_at IS DISTINCT FROM coalesce (d.response, t.response_due_at)"              \
    "       OR t.resolve_due_at IS DISTINCT FROM coalesce (d.resolution, t.resolve_due_at))"          \
    "  RETURNING t.id),"                                                                              \
    " met AS ("                                                                                       \
    "  UPDATE sla_timers s SET met_at = m.responded"                                                  \
    "  FROM (SELECT x.id, p.responded FROM picked p CROSS JOIN LATERAL"                              \
    "          (SELECT s.id FROM sla_timers s WHERE s.ticket_id = p.id AND s.kind IN " RESPONSE_KINDS \
    "           AND s.met_at IS NULL AND (p.responded <= s.due_at OR s.breached_at IS NOT NULL)) x"    \
    "        WHERE p.responded IS NOT NULL) m"                                                        \
    "  WHERE s.id = m.id RETURNING s.id) "                                                            \
    "SELECT (SELECT count (*) FROM picked), (SELECT count (DISTINCT ticket_id) FROM timers),"         \
    "       (SELECT count (*) FROM mirror), (SELECT count (*) FROM met)"

static const char *SQL_TRACK_IDS =
    TRACK_SQL ("WHERE t.id = ANY ($1::int8[]) AND t.priority IS NOT NULL"
               " AND t.status = ANY ($2::text[]) ORDER BY t.id FOR UPDATE OF t");

//  Tickets without timers have no response deadline yet (tickets_untracked);
//  one whose timers exist gets its mirror set and is not picked again
static const char *SQL_TRACK_MISSING =
    TRACK_SQL ("WHERE t.priority IS NOT NULL AND t.response_due_at IS NULL AND t.status = ANY ($2::text[])"
               " AND EXISTS (SELECT 1 FROM sla_policy sp WHERE sp.priority = t.priority)"
               " ORDER BY t.id LIMIT $1::int FOR UPDATE OF t SKIP LOCKED");

//  The reconciler: tickets accepted in the last $1 seconds whose claim was
//  lost (the dispatcher sets accepted_at; a progress note meets the timer itself)
static const char *SQL_MEET_ACCEPTED =
    "UPDATE sla_timers s SET met_at = " RESPONDED " FROM tickets t "
    "WHERE t.accepted_at >= tf_now () - make_interval (secs => $1::int) "
    "AND s.ticket_id = t.id AND s.kind IN " RESPONSE_KINDS " AND s.met_at IS NULL "
    "AND (" RESPONDED " <= s.due_at OR s.breached_at IS NOT NULL)";

//  The same for one ticket, after a progress note or a resolve.
static const char *SQL_MEET_TICKET =
    "UPDATE sla_timers s SET met_at = " RESPONDED " FROM tickets t "
    "WHERE s.ticket_id = t.id AND t.id = $1 AND s.kind IN " RESPONSE_KINDS " AND s.met_at IS NULL "
    "AND " RESPONDED " IS NOT NULL AND (" RESPONDED " <= s.due_at OR s.breached_at IS NOT NULL)";

//  The due timers are taken soonest first through sla_timers_open, so a
//  pass costs the batch, not the backlog, with what decides each one
//  (sla_fire_due). Timers and tickets are both taken with SKIP LOCKED: a
//  ticket a handler holds is left for the next pass, so a pass never
//  waits on a lock and never deadlocks with a handler (which locks the
//  ticket, then its timers).
static const char *SQL_DUE =
    "SELECT s.id, s.ticket_id, s.kind, s.round,"
    "       to_char (s.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), t.ticket_no,"
    "       coalesce (t.department, ''), coalesce (t.priority, ''), t.status,"
    "       coalesce (" RESPONDED " <= s.due_at, false), " RESPONDED " IS NOT NULL, t.reopen_count,"
    "       coalesce (t.assignee, ''), t.escalation_level, s.due_at, s.next_at < s.due_at AND s.due_at > tf_now () "
    "FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id "
    "WHERE s.met_at IS NULL AND s.breached_at IS NULL AND s.paused_at IS NULL AND s.next_at <= tf_now () "
    "AND " SLA_KINDS " ORDER BY s.next_at, s.id LIMIT $1::int FOR NO KEY UPDATE OF s, t SKIP LOCKED";

//  Clocks whose condition held when they fell due (a response clock
//  answered: met when answered)
static const char *SQL_MET =
    "UPDATE sla_timers s SET met_at = CASE WHEN s.kind IN " RESPONSE_KINDS
    "                                      THEN least (coalesce (" RESPONDED ", tf_now ()), tf_now ())"
    "                                      ELSE tf_now () END "
    "FROM tickets t WHERE s.id = ANY ($1::int8[]) AND t.id = s.ticket_id";

//  Warnings that went out (the row's next_at moves on to its due time)
static const char *SQL_WARNED =
    "UPDATE sla_timers SET warned_at = tf_now () WHERE id = ANY ($1::int8[]) AND warned_at IS NULL";

//  Clocks that went off: breached_at is when (only where still NULL, so
//  one instance wins)
static const char *SQL_FIRED =
    "UPDATE sla_timers SET breached_at = tf_now () WHERE id = ANY ($1::int8[]) AND breached_at IS NULL";

//  The progress cadence goes round again: every 4 h of open time, every
//  hour around the clock for P1
#define CADENCE_SECONDS "CASE WHEN t.priority = 'P1' THEN 3600 ELSE 14400 END"
static const char *SQL_REARM =
    "UPDATE sla_timers s SET due_at = tf_business_add (tf_now (), " CADENCE_SECONDS ", s.calendar) "
    "FROM tickets t WHERE s.id = ANY ($1::int8[]) AND t.id = s.ticket_id";

//  Per fired clock ($1 ticket, $2 timer kind, $3 history event, $4 due):
//  the ticket's breach flags, a history row, and a message (the
//  templates of deploy/messages.json: reminder_*, owner_sms) to the person
//  it concerns (its handler, else the department's team lead on duty) in
//  the outbox: reminders and warnings on the staff sink ($5), the SMS of a
//  red complaint on the SMS sink ($6) whether or not anyone is on the
//  roster (the sink reaches the department then).
static const char *SQL_RECORD_FIRED =
    "WITH f AS (SELECT * FROM unnest ($1::int8[], $2::text[], $3::text[], $4::timestamptz[])"
    "           AS f (ticket_id, kind, event, due_at)),"
    " flags AS (UPDATE tickets t SET response_breached = t.response_breached OR x.response,"
    "                                resolve_breached = t.resolve_breached OR x.resolution,"
    "                                updated_at = tf_now ()"
    "           FROM (SELECT ticket_id, bool_or (kind = 'response') AS response,"
    "                        bool_or (kind = 'resolution') AS resolution FROM f"
    "                 WHERE kind IN ('response', 'resolution') GROUP BY ticket_id) x"
    "           WHERE t.id = x.ticket_id RETURNING t.id),"
    " notes AS (INSERT INTO ticket_events (ticket_id, kind, actor, data)"
    "           SELECT ticket_id, event, 'sla', jsonb_build_object ('kind', kind, 'due_at', due_at)"
    "           FROM f RETURNING id),"
    " who AS (SELECT f.*, t.ticket_no, t.department, t.priority, p.name, p.contact"
    "         FROM f JOIN tickets t ON t.id = f.ticket_id"
    "         LEFT JOIN LATERAL (SELECT a.name, a.contact FROM agents a WHERE a.name = t.assignee"
    "                            UNION ALL SELECT * FROM tf_person (t.department, 'team_lead')"
    "                            WHERE t.assignee IS NULL) p ON true"
    "         WHERE f.kind = 'red_untouched' OR (p.name IS NOT NULL AND f.kind <> 'manager_call')),"
    " messages AS (INSERT INTO outbox (ticket_id, kind, sink, payload)"
    "   SELECT ticket_id, CASE WHEN kind = 'red_untouched' THEN 'owner_sms' ELSE 'staff_reminder' END,"
    "          CASE WHEN kind = 'red_untouched' THEN $6 ELSE $5 END,"
    "          jsonb_strip_nulls (jsonb_build_object ('to_agent', name, 'to', contact,"
    "            'department', department, 'ticket_no', ticket_no, 'priority', priority, 'clock', kind,"
    "            'due_at', due_at, 'message', tf_staff_text (CASE"
    "              WHEN kind = 'red_untouched' THEN 'owner_sms'"
    "              WHEN kind IN ('progress', 'response_warning', 'resolution_warning', 'verification')"
    "              THEN 'reminder_' || kind ELSE 'reminder_overdue' END,"
    "              jsonb_build_object ('ticket_no', ticket_no, 'agent', name, 'department', department,"
    "                                  'priority', priority, 'due_at', tf_local_text (due_at), 'clock', kind))))"
    "   FROM who ON CONFLICT DO NOTHING RETURNING id) "
    "SELECT (SELECT count (*) FROM flags), (SELECT count (*) FROM notes), (SELECT count (*) FROM messages)";

//  One escalation step per ($1 ticket, $2 level): the level's person
//  (tf_person: 1 组长, 2 主管 of the ticket's department, on duty first; 3
//  the on-duty manager, else a manager of the department), the ticket's
//  level and holder, the next step's timer ($4 minutes on) below the top,
//  a history row, a message to the person, and one row back per step for
//  sla.escalated. $3 says why (the clock that fired).
static const char *SQL_ESCALATE =
    "WITH e AS (SELECT DISTINCT ON (ticket_id) * FROM unnest ($1::int8[], $2::int[], $3::text[])"
    "           AS e (ticket_id, level, reason) ORDER BY ticket_id, level DESC),"
    " pick AS (SELECT e.*, (ARRAY ['team_lead', 'supervisor', 'manager']) [e.level] AS role,"
    "                 t.ticket_no, t.department, t.priority, p.name, p.contact"
    "          FROM e JOIN tickets t ON t.id = e.ticket_id AND t.escalation_level < e.level"
    "          LEFT JOIN LATERAL tf_person (t.department,"
    "                                       (ARRAY ['team_lead', 'supervisor', 'manager']) [e.level]) p ON true),"
    " moved AS (UPDATE tickets t SET escalation_level = pick.level, escalated_to = pick.name,"
    "                                updated_at = tf_now ()"
    "           FROM pick WHERE t.id = pick.ticket_id RETURNING t.id),"
    " next AS (INSERT INTO sla_timers (ticket_id, kind, round, due_at)"
    "          SELECT ticket_id, 'escalation', level + 1, tf_now () + make_interval (mins => $4::int)"
    "          FROM pick WHERE level < 3 ON CONFLICT (ticket_id, kind, round) DO NOTHING RETURNING id),"
    " notes AS (INSERT INTO ticket_events (ticket_id, kind, actor, note, data)"
    "           SELECT ticket_id, 'escalated', 'sla',"
    "                  'level ' || level || ' (' || role || '): ' || coalesce (name, 'nobody on the roster'),"
    "                  jsonb_build_object ('level', level, 'role', role, 'to', name, 'reason', reason)"
    "           FROM pick RETURNING id),"
    " messages AS (INSERT INTO outbox (ticket_id, kind, sink, payload)"
    "   SELECT ticket_id, 'escalation', $5, jsonb_strip_nulls (jsonb_build_object ('to_agent', name,"
    "          'to', contact, 'role', role, 'level', level, 'department', department,"
    "          'ticket_no', ticket_no, 'priority', priority, 'reason', reason,"
    "          'message', tf_staff_text ('escalation', jsonb_build_object ('ticket_no', ticket_no,"
    "            'department', department, 'priority', priority, 'level', level, 'role', role, 'reason', reason))))"
    "   FROM pick WHERE name IS NOT NULL ON CONFLICT DO NOTHING RETURNING id) "
    "SELECT ticket_id, ticket_no, coalesce (department, ''), coalesce (priority, ''), level, role,"
    "       coalesce (name, ''), reason, (SELECT count (*) FROM moved), (SELECT count (*) FROM next),"
    "       (SELECT count (*) FROM notes), (SELECT count (*) FROM messages) FROM pick ORDER BY ticket_id";

//  Milliseconds until due by the database's clock, so this host's clock
//  (which may jump) only ever measures the wait, never the deadline.
static const char *SQL_WINDOW =
    "SELECT (extract (epoch FROM next_at - tf_now ()) * 1000)::int8 FROM sla_timers s "
    "WHERE met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL AND " SLA_KINDS
    " AND next_at <= tf_now () + make_interval (secs => $1::int) ORDER BY next_at LIMIT $2::int";

static const char *SQL_EXPIRED_HOLDS =
    "SELECT id FROM tickets WHERE status = 'on_hold' AND hold_until <= tf_now () "
    "ORDER BY hold_until, id LIMIT $1::int FOR UPDATE SKIP LOCKED";

//  The handlers' first statement: the ticket, locked for the transaction.
static const char *SQL_LOCK_TICKET =
    "SELECT id, status, coalesce (assignee, 'agent') FROM tickets WHERE ticket_no = $1 FOR UPDATE";

static const char *SQL_FIRST_RESPONSE =
    "UPDATE tickets SET first_response_at = coalesce (first_response_at, tf_now ()) WHERE id = $1";

//  A hold's expected resume time is in the future by the one clock
static const char *SQL_IN_FUTURE =
    "SELECT $1::timestamptz > tf_now ()";

//  A message in the thread ($2 direction out|note, $3 author, $4 masked
//  text) and, for one the customer reads, its message of kind $5 with
//  variables $6 in the outbox (the thread row keeps its outbox id; a NULL
//  kind has no template: a note queues nothing)
static const char *SQL_SAY =
    "WITH id AS (SELECT nextval ('ticket_messages_id_seq') AS id),"
    " o AS (SELECT * FROM tf_customer_messages ($5, ARRAY [$1::int8], ARRAY [$6::jsonb],"
    "                                           ARRAY [(SELECT id FROM id)::text])) "
    "INSERT INTO ticket_messages (id, ticket_id, direction, author, channel, body, outbox_id) "
    "SELECT (SELECT id FROM id), t.id, $2, $3, t.channel, $4, (SELECT outbox_id FROM o) FROM tickets t WHERE t.id = $1";

//  What each move sets on the ticket, in the statement that moves it
static const tf_ticket_columns_t s_started = {
    "sla_started", ", first_response_at = coalesce (t.first_response_at, tf_now ())", (const char *[]) { NULL }
};
static const tf_ticket_columns_t s_held = {
    "sla_held", ", hold_reason = u.c1, hold_until = u.c2", (const char *[]) { "text", "timestamptz", NULL }
};
//  A request for information: on hold for the customer's answer, 3 days at most
static const tf_ticket_columns_t s_awaiting = {
    "sla_awaiting", ", hold_reason = u.c1, hold_until = tf_now () + interval '3 days', awaiting_customer = true",
    (const char *[]) { "text", NULL }
};
static const tf_ticket_columns_t s_resolved = {
    "sla_resolved", ", resolution_summary = u.c1, resolved_at = tf_now (),"
    " first_response_at = coalesce (t.first_response_at, tf_now ())", (const char *[]) { "text", NULL }
};

//  The handler touched it: the red complaint's 2 h clock is met and the
//  progress cadence starts over
static const char *SQL_TOUCH =
    "UPDATE sla_timers s SET met_at = CASE WHEN s.kind = 'red_untouched' THEN tf_now () END,"
    "  due_at = CASE WHEN s.kind = 'progress' THEN tf_business_add (tf_now (), " CADENCE_SECONDS ", s.calendar)"
    "                ELSE s.due_at END "
    "FROM tickets t WHERE t.id = $1 AND s.ticket_id = t.id AND s.kind IN ('red_untouched', 'progress') "
    "AND s.met_at IS NULL AND s.breached_at IS NULL AND s.paused_at IS NULL";

//  hold: every clock stops, keeping the open time it had left
static const char *SQL_PAUSE =
    "UPDATE sla_timers s SET paused_at = tf_now (),"
    "  remaining_seconds = tf_business_seconds (tf_now (), due_at, calendar),"
    "  warn_remaining_seconds = CASE WHEN warned_at IS NULL AND warn_at IS NOT NULL"
    "                                THEN tf_business_seconds (tf_now (), warn_at, calendar) END "
    "WHERE ticket_id = $1 AND met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL AND " SLA_KINDS;

//  resume: a paused clock gets back the open time it had left
static const char *SQL_RESUME =
    "WITH s AS (UPDATE sla_timers SET due_at = tf_business_add (tf_now (), remaining_seconds, calendar),"
    "                  warn_at = CASE WHEN warn_remaining_seconds IS NOT NULL"
    "                                 THEN tf_business_add (tf_now (), warn_remaining_seconds, calendar)"
    "                                 ELSE warn_at END,"
    "                  paused_at = NULL, remaining_seconds = NULL, warn_remaining_seconds = NULL"
    "           WHERE ticket_id = ANY ($1::int8[]) AND paused_at IS NOT NULL"
    "           RETURNING ticket_id, kind, round, due_at) "
    "UPDATE tickets t SET hold_reason = NULL, hold_until = NULL, awaiting_customer = false,"
    "  response_due_at = coalesce ((SELECT due_at FROM s WHERE s.ticket_id = t.id AND kind = 'response'),"
    "                              response_due_at),"
    "  resolve_due_at = coalesce ((SELECT due_at FROM s WHERE s.ticket_id = t.id AND kind = 'resolution'"
    "                              ORDER BY round DESC LIMIT 1), resolve_due_at) "
    "WHERE t.id = ANY ($1::int8[])";

//  resolve: every clock of the handling is met, and the customer is to be
//  contacted within an hour (open time; around the clock for P1)
static const char *SQL_RESOLVE =
    "WITH met AS (UPDATE sla_timers SET met_at = tf_now () WHERE ticket_id = $1 AND met_at IS NULL"
    "             AND breached_at IS NULL AND kind <> 'verification' RETURNING id) "
    "INSERT INTO sla_timers (ticket_id, kind, round, due_at, calendar) "
    "SELECT t.id, 'verification', t.reopen_count, tf_business_add (tf_now (), 3600, c.calendar), c.calendar "
    "FROM tickets t CROSS JOIN LATERAL (SELECT CASE WHEN t.priority = 'P1' THEN NULL"
    "                                   ELSE tf_hours_scope (t.department, t.channel) END AS calendar) c "
    "WHERE t.id = $1 ON CONFLICT (ticket_id, kind, round) DO NOTHING";

sla_t *
sla_new (tf_db_t *db)
{
    assert (db);
    sla_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    sla_configure (self, &(sla_settings_t) { 30, "file", "sms" });
    if (tf_db_prepare (db, "sla_track_ids", SQL_TRACK_IDS, 2)
    ||  tf_db_prepare (db, "sla_track_missing", SQL_TRACK_MISSING, 2)
    ||  tf_db_prepare (db, "sla_meet_accepted", SQL_MEET_ACCEPTED, 1)
    ||  tf_db_prepare (db, "sla_meet_ticket", SQL_MEET_TICKET, 1)
    ||  tf_db_prepare (db, "sla_due", SQL_DUE, 1)
    ||  tf_db_prepare (db, "sla_met", SQL_MET, 1)
    ||  tf_db_prepare (db, "sla_fired", SQL_FIRED, 1)
    ||  tf_db_prepare (db, "sla_warned", SQL_WARNED, 1)
    ||  tf_db_prepare (db, "sla_rearm", SQL_REARM, 1)
    ||  tf_db_prepare (db, "sla_record_fired", SQL_RECORD_FIRED, 6)
    ||  tf_db_prepare (db, "sla_escalate", SQL_ESCALATE, 5)
    ||  tf_db_prepare (db, "sla_in_future", SQL_IN_FUTURE, 1)
    ||  tf_db_prepare (db, "sla_touch", SQL_TOUCH, 1)
    ||  tf_db_prepare (db, "sla_window", SQL_WINDOW, 2)
    ||  tf_db_prepare (db, "sla_expired_holds", SQL_EXPIRED_HOLDS, 1)
    ||  tf_db_prepare (db, "sla_lock_ticket", SQL_LOCK_TICKET, 1)
    ||  tf_db_prepare (db, "sla_first_response", SQL_FIRST_RESPONSE, 1)
    ||  tf_db_prepare (db, "sla_pause", SQL_PAUSE, 1)
    ||  tf_db_prepare (db, "sla_resume", SQL_RESUME, 1)
    ||  tf_db_prepare (db, "sla_resolve", SQL_RESOLVE, 1)
    ||  tf_db_prepare (db, "sla_say", SQL_SAY, 6))
        sla_destroy (&self);
    return self;
}

void
sla_configure (sla_t *self, const sla_settings_t *settings)
{
    assert (self && settings);
    self->settings = *settings;
    if (self->settings.escalation_step_minutes < 1)
        self->settings.escalation_step_minutes = 1;
}

void
sla_destroy (sla_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

//  Runs a prepared statement whose first row's column `col` is a count.
static int
s_count (sla_t *self, const char *name, int n, const char *const *params, int col)
{
    PGresult *res = tf_db_run (self->db, name, n, params);
    int rc = -1;
    if (tf_db_ok (self->db, res, name) && PQntuples (res) > 0 && PQnfields (res) > col)
        rc = atoi (PQgetvalue (res, 0, col));
    PQclear (res);
    return rc;
}

//  --------------------------------------------------------------------------
//  Deadlines

int
sla_track (sla_t *self, const int64_t *ids, size_t n)
{
    assert (self);
    if (n == 0)
        return 0;
    char *array = tf_db_id_array (ids, n);
    char open [256];
    tf_ticket_status_array (tf_status_open (), open, sizeof open);
    int rc = s_count (self, "sla_track_ids", 2, (const char *[]) { array, open }, 1);
    free (array);
    return rc;
}

int
sla_track_missing (sla_t *self, size_t limit)
{
    assert (self);
    char count [24], open [256];
    snprintf (count, sizeof count, "%zu", limit);
    tf_ticket_status_array (tf_status_open (), open, sizeof open);
    return s_count (self, "sla_track_missing", 2, (const char *[]) { count, open }, 0);
}

int
sla_meet_responses (sla_t *self)
{
    assert (self);
    return tf_db_command (self->db, "sla_meet_accepted", 1, (const char *[]) { SLA_MEET_LOOKBACK });
}

//  What a due clock does, by kind: the history event it writes when it
//  goes off, and the signal it sends
typedef enum { CLOCK_MET, CLOCK_BREACH, CLOCK_WARN, CLOCK_REMIND, CLOCK_MANAGER, CLOCK_PASS, CLOCK_SMS,
               CLOCK_ESCALATE } clock_action_t;

//  Decides one due clock from its row of SQL_DUE.
static clock_action_t
s_decide (PGresult *res, int row)
{
    const char *kind = PQgetvalue (res, row, 2);
    int round = atoi (PQgetvalue (res, row, 3));
    tf_status_t status = tf_status_lookup (PQgetvalue (res, row, 8));
    bool in_time = *PQgetvalue (res, row, 9) == 't';
    bool answered = *PQgetvalue (res, row, 10) == 't';
    int reopened = atoi (PQgetvalue (res, row, 11));
    bool settled = !(tf_status_open () & TF_FROM_SET (status));
    bool handling = status == TF_STATUS_ACCEPTED || status == TF_STATUS_IN_PROGRESS;
    //  a deadline's warning at 80 %: an answer or a fix before it meets the deadline
    bool warning = *PQgetvalue (res, row, 15) == 't';
    if (!strcmp (kind, "response"))
        return warning? (answered? CLOCK_MET: CLOCK_WARN): in_time? CLOCK_MET: CLOCK_BREACH;
    if (!strcmp (kind, "resolution"))
        return settled? CLOCK_MET: warning? CLOCK_WARN: CLOCK_BREACH;
    if (!strcmp (kind, "progress"))
        return handling? CLOCK_REMIND: CLOCK_MET;
    if (!strcmp (kind, "verification"))
        return status == TF_STATUS_RESOLVED && reopened == round? CLOCK_BREACH: CLOCK_MET;
    //  the P1 watch: at 5 minutes unaccepted the on-duty manager is called
    //  (accepted, it passes on), at 2 hours unhandled its owner gets an SMS
    if (!strcmp (kind, "red_untouched") && warning)
        return answered? CLOCK_PASS: CLOCK_MANAGER;
    if (!strcmp (kind, "red_untouched"))
        return settled || status == TF_STATUS_IN_PROGRESS || status == TF_STATUS_ON_HOLD? CLOCK_MET: CLOCK_SMS;
    if (!strcmp (kind, "escalation"))
        return settled? CLOCK_MET: CLOCK_ESCALATE;
    return CLOCK_MET;
}

static void
s_fired_from_row (sla_fired_t *f, sla_signal_t signal, PGresult *res, int row)
{
    memset (f, 0, sizeof *f);
    f->signal = signal;
    f->ticket_id = strtoll (PQgetvalue (res, row, 1), NULL, 10);
    snprintf (f->kind, sizeof f->kind, "%s", PQgetvalue (res, row, 2));
    snprintf (f->due_at, sizeof f->due_at, "%s", PQgetvalue (res, row, 4));
    snprintf (f->ticket_no, sizeof f->ticket_no, "%s", PQgetvalue (res, row, 5));
    snprintf (f->department, sizeof f->department, "%s", PQgetvalue (res, row, 6));
    snprintf (f->priority, sizeof f->priority, "%s", PQgetvalue (res, row, 7));
    snprintf (f->assignee, sizeof f->assignee, "%s", PQgetvalue (res, row, 12));
}

//  The arrays of one pass's statements
typedef struct {
    tf_db_array_t *met, *fired, *rearm, *warned;                //  timer ids
    tf_db_array_t *ticket, *kind, *event, *due;                 //  SQL_RECORD_FIRED
    tf_db_array_t *up_ticket, *up_level, *up_reason;            //  SQL_ESCALATE
} pass_t;

static void
s_escalate_later (pass_t *p, int64_t ticket_id, int level, const char *reason)
{
    char id [24], lvl [8];
    snprintf (id, sizeof id, "%lld", (long long) ticket_id);
    snprintf (lvl, sizeof lvl, "%d", level);
    tf_db_array_add (p->up_ticket, id);
    tf_db_array_add (p->up_level, lvl);
    tf_db_array_add (p->up_reason, reason);
}

//  Inside the pass's transaction: the escalation steps, each filling one
//  sla_fired_t. Returns how many, or -1.
static int
s_escalate (sla_t *self, pass_t *p, sla_fired_t *out)
{
    if (tf_db_array_count (p->up_ticket) == 0)
        return 0;
    char step [16];
    snprintf (step, sizeof step, "%d", self->settings.escalation_step_minutes);
    PGresult *res = tf_db_run (self->db, "sla_escalate", 5, (const char *[]) {
        tf_db_array_text (p->up_ticket), tf_db_array_text (p->up_level), tf_db_array_text (p->up_reason),
        step, self->settings.owner_sink });
    if (!tf_db_ok (self->db, res, "escalate")) {
        PQclear (res);
        return -1;
    }
    int n = PQntuples (res);
    for (int i = 0; i < n; i++) {
        sla_fired_t *f = &out [i];
        memset (f, 0, sizeof *f);
        f->signal = SLA_ESCALATED;
        f->ticket_id = strtoll (PQgetvalue (res, i, 0), NULL, 10);
        snprintf (f->ticket_no, sizeof f->ticket_no, "%s", PQgetvalue (res, i, 1));
        snprintf (f->department, sizeof f->department, "%s", PQgetvalue (res, i, 2));
        snprintf (f->priority, sizeof f->priority, "%s", PQgetvalue (res, i, 3));
        f->level = atoi (PQgetvalue (res, i, 4));
        snprintf (f->role, sizeof f->role, "%s", PQgetvalue (res, i, 5));
        snprintf (f->escalated_to, sizeof f->escalated_to, "%s", PQgetvalue (res, i, 6));
        snprintf (f->kind, sizeof f->kind, "%s", PQgetvalue (res, i, 7));
    }
    PQclear (res);
    return n;
}

//  Inside the pass's transaction: decides each due clock and fills out[].
//  Returns how many signals, or -1.
static int
s_fire (sla_t *self, PGresult *due, pass_t *p, sla_fired_t *out)
{
    int n = 0;
    for (int row = 0; row < PQntuples (due); row++) {
        clock_action_t action = s_decide (due, row);
        const char *id = PQgetvalue (due, row, 0);
        if (action == CLOCK_MET) {
            tf_db_array_add (p->met, id);
            continue;
        }
        //  a warning stage (a deadline's 80 %, the P1 watch's 5 minutes) is
        //  marked warned and the row runs on to its due time
        bool stage = action == CLOCK_WARN || action == CLOCK_PASS || action == CLOCK_MANAGER;
        tf_db_array_add (action == CLOCK_REMIND? p->rearm: stage? p->warned: p->fired, id);
        if (action == CLOCK_PASS)
            continue;
        const char *event = action == CLOCK_WARN || action == CLOCK_REMIND? "sla_warning"
                          : action == CLOCK_SMS? "owner_sms"
                          : action == CLOCK_MANAGER? "manager_called"
                          : action == CLOCK_ESCALATE? NULL: "sla_breached";
        //  a warning is named after its deadline: response_warning, resolution_warning
        char kind [32];
        //  (the P1 watch's first stage is the manager's call)
        snprintf (kind, sizeof kind, "%s%s", action == CLOCK_MANAGER? "manager_call": PQgetvalue (due, row, 2),
                  action == CLOCK_WARN? "_warning": "");
        if (event) {
            tf_db_array_add (p->ticket, PQgetvalue (due, row, 1));
            tf_db_array_add (p->kind, kind);
            tf_db_array_add (p->event, event);
            tf_db_array_add (p->due, PQgetvalue (due, row, 14));
        }
        int64_t ticket_id = strtoll (PQgetvalue (due, row, 1), NULL, 10);
        int level = atoi (PQgetvalue (due, row, 13));
        if (action == CLOCK_BREACH || action == CLOCK_WARN || action == CLOCK_REMIND) {
            s_fired_from_row (&out [n], action == CLOCK_BREACH? SLA_BREACHED: SLA_WARNING, due, row);
            snprintf (out [n++].kind, sizeof out [0].kind, "%s", kind);
        }
        //  a missed response or resolution deadline starts the climb (once:
        //  a ticket already escalated goes on at its own pace)
        if (action == CLOCK_BREACH && level == 0 && !!strcmp (PQgetvalue (due, row, 2), "verification"))
            s_escalate_later (p, ticket_id, 1, PQgetvalue (due, row, 2));
        if (action == CLOCK_MANAGER)
            s_escalate_later (p, ticket_id, 3, "manager_call");
        if (action == CLOCK_ESCALATE)
            s_escalate_later (p, ticket_id, atoi (PQgetvalue (due, row, 3)), "escalation");
    }
    const char *record [] = { tf_db_array_text (p->ticket), tf_db_array_text (p->kind),
                              tf_db_array_text (p->event), tf_db_array_text (p->due),
                              self->settings.owner_sink, self->settings.sms_sink };
    if ((tf_db_array_count (p->met)
         && tf_db_command (self->db, "sla_met", 1, (const char *[]) { tf_db_array_text (p->met) }) < 0)
    ||  (tf_db_array_count (p->fired)
         && tf_db_command (self->db, "sla_fired", 1, (const char *[]) { tf_db_array_text (p->fired) }) < 0)
    ||  (tf_db_array_count (p->rearm)
         && tf_db_command (self->db, "sla_rearm", 1, (const char *[]) { tf_db_array_text (p->rearm) }) < 0)
    ||  (tf_db_array_count (p->warned)
         && tf_db_command (self->db, "sla_warned", 1, (const char *[]) { tf_db_array_text (p->warned) }) < 0)
    ||  (tf_db_array_count (p->ticket) && tf_db_command (self->db, "sla_record_fired", 6, record) < 0))
        return -1;
    int escalated = s_escalate (self, p, out + n);
    return escalated < 0? -1: n + escalated;
}

int
sla_fire_due (sla_t *self, sla_fired_t *out, size_t limit, size_t *taken)
{
    assert (self);
    assert (taken);
    *taken = 0;
    if (limit == 0)
        return 0;
    char count [24];
    snprintf (count, sizeof count, "%zu", limit);
    if (tf_db_begin (self->db))
        return -1;
    PGresult *due = tf_db_run (self->db, "sla_due", 1, (const char *[]) { count });
    if (!tf_db_ok (self->db, due, "take due clocks")) {
        PQclear (due);
        return tf_db_finish (self->db, -1);
    }
    pass_t p;
    tf_db_array_t **arrays [] = { &p.met, &p.fired, &p.rearm, &p.warned, &p.ticket, &p.kind, &p.event, &p.due,
                                  &p.up_ticket, &p.up_level, &p.up_reason };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays [0]; i++)
        *arrays [i] = tf_db_array_new ();
    int n = s_fire (self, due, &p, out);
    size_t rows = (size_t) PQntuples (due);
    PQclear (due);
    for (size_t i = 0; i < sizeof arrays / sizeof arrays [0]; i++)
        tf_db_array_destroy (arrays [i]);
    n = tf_db_finish (self->db, n);
    if (n >= 0)
        *taken = rows;
    return n;
}

int
sla_window (sla_t *self, int window_seconds, int64_t *due_in_ms, size_t cap)
{
    assert (self);
    char window [16], limit [24];
    snprintf (window, sizeof window, "%d", window_seconds);
    snprintf (limit, sizeof limit, "%zu", cap);
    PGresult *res = tf_db_run (self->db, "sla_window", 2, (const char *[]) { window, limit });
    if (!tf_db_ok (self->db, res, "load due timers")) {
        PQclear (res);
        return -1;
    }
    int n = PQntuples (res);
    for (int i = 0; i < n && (size_t) i < cap; i++)
        due_in_ms [i] = strtoll (PQgetvalue (res, i, 0), NULL, 10);
    PQclear (res);
    return n;
}

//  --------------------------------------------------------------------------
//  Handling

typedef struct {
    int64_t id;
    char id_text [24];
    tf_status_t status;
    char actor [80];
} ticket_t;

//  Inside the transaction: find and lock the ticket and name the actor
//  (the request's, else the assignee).
static int
s_lock (sla_t *self, const tf_msg_t *request, tf_field_id_t no_field, tf_field_id_t actor_field,
        ticket_t *t, tf_error_t *err)
{
    memset (t, 0, sizeof *t);
    char number [40];
    tf_ticket_no_copy (request, no_field, number, sizeof number);
    PGresult *res = tf_db_run (self->db, "sla_lock_ticket", 1, (const char *[]) { number });
    int rc = -1;
    if (!tf_db_ok (self->db, res, "lock ticket"))
        tf_error_unavailable (err);
    else
    if (PQntuples (res) == 0)
        tf_error_set (err, TF_ERR_NOT_FOUND, "ticket_no", "no ticket %s", number);
    else {
        t->id = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
        snprintf (t->id_text, sizeof t->id_text, "%lld", (long long) t->id);
        t->status = tf_status_lookup (PQgetvalue (res, 0, 1));
        snprintf (t->actor, sizeof t->actor, "%s", PQgetvalue (res, 0, 2));
        const tf_value_t *actor = &request->v [actor_field];
        if (actor->present)
            snprintf (t->actor, sizeof t->actor, "%.*s", (int) actor->len, actor->str);
        rc = 0;
    }
    PQclear (res);
    return rc;
}

//  Moves the locked ticket, with the move's columns from one-element arrays.
static int
s_move (sla_t *self, const ticket_t *t, tf_move_t move, const char *note, const char *data,
        const tf_ticket_columns_t *columns, const char *const *values, tf_error_t *err)
{
    tf_ticket_move_t item = { .id = t->id, .move = move, .actor = t->actor, .note = note, .data = data };
    char *arrays [4] = { NULL };
    for (int c = 0; columns && columns->types [c] && c < 4; c++) {
        tf_db_array_t *array = tf_db_array_new ();
        tf_db_array_add (array, values [c]);
        arrays [c] = strdup (tf_db_array_text (array));
        tf_db_array_destroy (&array);
    }
    int moved = tf_ticket_move (self->db, TF_SVC_SLA, &item, 1, columns, (const char *const *) arrays, false, err);
    for (int c = 0; c < 4; c++)
        free (arrays [c]);
    return moved == 1? 0: -1;
}

//  A statement that must succeed inside a handler's transaction.
static int
s_step (sla_t *self, const char *name, const char *id_text, tf_error_t *err)
{
    return tf_db_command (self->db, name, 1, (const char *[]) { id_text }) < 0? tf_error_unavailable (err): 0;
}

static char *
s_masked (const tf_msg_t *m, tf_field_id_t f)
{
    char *text = tf_mask_text (m->v [f].str, m->v [f].len, NULL);
    assert (text);
    return text;
}

//  A thread message (direction "out" or "note") with, for "out", the
//  customer's message of `kind` whose variable `variable` is the text
static int
s_say (sla_t *self, const ticket_t *t, const char *direction, const char *text, const char *kind,
       const char *variable, tf_error_t *err)
{
    json_t *vars = json_object ();
    if (variable)
        json_object_set_new (vars, variable, json_string (text));
    char *vars_text = json_dumps (vars, JSON_COMPACT);
    json_decref (vars);
    const char *params [] = { t->id_text, direction, t->actor, text, kind, vars_text };
    int rc = tf_db_command (self->db, "sla_say", 6, params) < 0? tf_error_unavailable (err): 0;
    free (vars_text);
    return rc;
}

//  One request in one transaction: lock, act, commit. The status it leaves
//  goes to status_out.
typedef int (handler_fn) (sla_t *self, const tf_msg_t *request, ticket_t *t, tf_error_t *err);

static int
s_handle (sla_t *self, const tf_msg_t *request, tf_field_id_t no_field, tf_field_id_t actor_field,
          handler_fn *handler, int64_t *ticket_id, char *status_out, tf_error_t *err)
{
    ticket_t t;
    if (tf_db_begin (self->db))
        return tf_error_unavailable (err);
    tf_error_t inner = { 0 };
    int rc = s_lock (self, request, no_field, actor_field, &t, &inner);
    //  the deadlines exist before anything meets, pauses or moves them,
    //  even when this request overtook the ticket.claimed that makes them
    if (rc == 0 && sla_track (self, &t.id, 1) < 0)
        rc = tf_error_unavailable (&inner);
    if (rc == 0)
        rc = handler (self, request, &t, &inner);
    if (tf_db_finish (self->db, rc) < 0) {
        if (rc == 0)
            tf_error_unavailable (&inner);
        *err = inner;
        return -1;
    }
    *ticket_id = t.id;
    snprintf (status_out, 16, "%s", tf_status_name (t.status));
    return 0;
}

static int
s_progress (sla_t *self, const tf_msg_t *request, ticket_t *t, tf_error_t *err)
{
    char *note = s_masked (request, TF_F_PROGRESS_NOTE);
    int rc;
    if (t->status == TF_STATUS_IN_PROGRESS)
        //  a further note: history only, the ticket is locked and stays in_progress
        rc = tf_ticket_note (self->db, t->id, "progress", t->actor, note, NULL)? tf_error_unavailable (err): 0;
    else
        //  the first note starts the handling and is a response to the customer
        rc = s_move (self, t, TF_MOVE_START, note, NULL, &s_started, NULL, err);
    if (rc == 0) {
        t->status = TF_STATUS_IN_PROGRESS;
        rc = s_step (self, "sla_first_response", t->id_text, err);
    }
    if (rc == 0)
        rc = s_step (self, "sla_meet_ticket", t->id_text, err);
    if (rc == 0)
        rc = s_step (self, "sla_touch", t->id_text, err);
    if (rc == 0 && tf_msg_bool (request, TF_F_PROGRESS_PUBLIC))
        rc = s_say (self, t, "out", note, "progress", "step", err);
    free (note);
    return rc;
}

int
sla_progress (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
              tf_error_t *err)
{
    assert (self && request && request->type == TF_MSG_PROGRESS);
    return s_handle (self, request, TF_F_PROGRESS_TICKET_NO, TF_F_PROGRESS_ACTOR, s_progress,
                     ticket_id, status_out, err);
}

static int
s_hold (sla_t *self, const tf_msg_t *request, ticket_t *t, tf_error_t *err)
{
    char *reason = s_masked (request, TF_F_HOLD_REASON);
    char until [64];
    snprintf (until, sizeof until, "%.*s", (int) request->v [TF_F_HOLD_UNTIL].len,
              request->v [TF_F_HOLD_UNTIL].str);
    json_t *json = json_pack ("{s:s}", "until", until);
    char *data = json? json_dumps (json, JSON_COMPACT): NULL;
    json_decref (json);
    int rc = s_move (self, t, TF_MOVE_HOLD, reason, data, &s_held, (const char *[]) { reason, until }, err);
    if (rc == 0) {
        t->status = TF_STATUS_ON_HOLD;
        rc = s_step (self, "sla_touch", t->id_text, err);
    }
    if (rc == 0)
        rc = s_step (self, "sla_pause", t->id_text, err);
    free (data);
    free (reason);
    return rc;
}

int
sla_hold (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
          tf_error_t *err)
{
    assert (self && request && request->type == TF_MSG_HOLD);
    //  the codec checked that reason and until are present and well-formed;
    //  the future is the database clock's
    char until [64];
    snprintf (until, sizeof until, "%.*s", (int) request->v [TF_F_HOLD_UNTIL].len,
              request->v [TF_F_HOLD_UNTIL].str);
    PGresult *res = tf_db_run (self->db, "sla_in_future", 1, (const char *[]) { until });
    bool ok = tf_db_ok (self->db, res, "check the resume time");
    bool future = ok && PQntuples (res) == 1 && *PQgetvalue (res, 0, 0) == 't';
    PQclear (res);
    if (!ok)
        return tf_error_unavailable (err);
    if (!future)
        return tf_error_set (err, TF_ERR_BAD_VALUE, "until",
                             "'until' (the expected resume time) must be in the future");
    return s_handle (self, request, TF_F_HOLD_TICKET_NO, TF_F_HOLD_ACTOR, s_hold, ticket_id, status_out, err);
}

static int
s_resume_timers (sla_t *self, const int64_t *ids, size_t n, tf_error_t *err)
{
    char *array = tf_db_id_array (ids, n);
    int rc = s_step (self, "sla_resume", array, err);
    free (array);
    return rc;
}

static int
s_resume (sla_t *self, const tf_msg_t *request, ticket_t *t, tf_error_t *err)
{
    (void) request;
    int rc = s_move (self, t, TF_MOVE_RESUME, NULL, NULL, NULL, NULL, err);
    if (rc == 0) {
        t->status = TF_STATUS_IN_PROGRESS;
        rc = s_resume_timers (self, &t->id, 1, err);
    }
    return rc;
}

int
sla_resume (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
            tf_error_t *err)
{
    assert (self && request && request->type == TF_MSG_RESUME);
    return s_handle (self, request, TF_F_RESUME_TICKET_NO, TF_F_RESUME_ACTOR, s_resume, ticket_id, status_out, err);
}

static int
s_resolve (sla_t *self, const tf_msg_t *request, ticket_t *t, tf_error_t *err)
{
    char *summary = s_masked (request, TF_F_RESOLVE_SUMMARY);
    int rc = s_move (self, t, TF_MOVE_RESOLVE, summary, NULL, &s_resolved, (const char *[]) { summary }, err);
    if (rc == 0) {
        t->status = TF_STATUS_RESOLVED;
        rc = s_step (self, "sla_resolve", t->id_text, err);
    }
    if (rc == 0)
        rc = s_step (self, "sla_meet_ticket", t->id_text, err);
    free (summary);
    return rc;
}

int
sla_resolve (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
             tf_error_t *err)
{
    assert (self && request && request->type == TF_MSG_RESOLVE);
    return s_handle (self, request, TF_F_RESOLVE_TICKET_NO, TF_F_RESOLVE_ACTOR, s_resolve, ticket_id, status_out, err);
}

//  ask: an accepted or in-progress ticket goes on hold for the customer's
//  answer (3 days at most: then it resumes by itself)
static int
s_await (sla_t *self, ticket_t *t, const char *question, tf_error_t *err)
{
    char *reason = NULL;
    if (asprintf (&reason, "等待客户补充信息:%s", question) < 0)
        return tf_error_unavailable (err);
    int rc = s_move (self, t, TF_MOVE_HOLD, reason, NULL, &s_awaiting, (const char *[]) { reason }, err);
    if (rc == 0) {
        t->status = TF_STATUS_ON_HOLD;
        rc = s_step (self, "sla_pause", t->id_text, err);
    }
    free (reason);
    return rc;
}

static int
s_reply (sla_t *self, const tf_msg_t *request, ticket_t *t, tf_error_t *err)
{
    char *text = s_masked (request, TF_F_REPLY_TEXT);
    bool ask = tf_msg_bool (request, TF_F_REPLY_ASK);
    int rc = 0;
    if (ask && !tf_move_allowed (TF_MOVE_HOLD, TF_SVC_SLA, t->status))
        rc = tf_error_set (err, TF_ERR_ILLEGAL_TRANSITION, "ask",
                           "ticket is %s: only an accepted or in-progress ticket can wait for the customer",
                           tf_status_name (t->status));
    if (rc == 0 && ask)
        rc = s_await (self, t, text, err);
    else
    if (rc == 0 && (t->status == TF_STATUS_ACCEPTED || t->status == TF_STATUS_IN_PROGRESS))
        rc = s_step (self, "sla_touch", t->id_text, err);
    if (rc == 0)
        rc = tf_ticket_note (self->db, t->id, ask? "info_requested": "replied", t->actor, text, NULL)?
             tf_error_unavailable (err): 0;
    if (rc == 0)
        rc = s_say (self, t, "out", text, ask? "info_request": "reply", ask? "question": "text", err);
    free (text);
    return rc;
}

int
sla_reply (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out, tf_error_t *err)
{
    assert (self && request && request->type == TF_MSG_REPLY);
    return s_handle (self, request, TF_F_REPLY_TICKET_NO, TF_F_REPLY_ACTOR, s_reply, ticket_id, status_out, err);
}

static int
s_note (sla_t *self, const tf_msg_t *request, ticket_t *t, tf_error_t *err)
{
    char *text = s_masked (request, TF_F_NOTE_TEXT);
    int rc = tf_ticket_note (self->db, t->id, "note", t->actor, text, NULL)? tf_error_unavailable (err): 0;
    if (rc == 0)
        rc = s_say (self, t, "note", text, NULL, NULL, err);
    free (text);
    return rc;
}

int
sla_note (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out, tf_error_t *err)
{
    assert (self && request && request->type == TF_MSG_NOTE);
    return s_handle (self, request, TF_F_NOTE_TICKET_NO, TF_F_NOTE_ACTOR, s_note, ticket_id, status_out, err);
}

int
sla_expire_holds (sla_t *self, size_t limit)
{
    assert (self);
    char count [24];
    snprintf (count, sizeof count, "%zu", limit);
    if (tf_db_begin (self->db))
        return -1;
    PGresult *res = tf_db_run (self->db, "sla_expired_holds", 1, (const char *[]) { count });
    if (!tf_db_ok (self->db, res, "expired holds")) {
        PQclear (res);
        return tf_db_finish (self->db, -1);
    }
    int n = PQntuples (res);
    tf_ticket_move_t *items = calloc ((size_t) n + 1, sizeof *items);
    int64_t *ids = calloc ((size_t) n + 1, sizeof *ids);
    assert (items && ids);
    for (int i = 0; i < n; i++)
        items [i] = (tf_ticket_move_t) { .id = strtoll (PQgetvalue (res, i, 0), NULL, 10),
                                         .move = TF_MOVE_HOLD_EXPIRED };
    PQclear (res);
    int moved = tf_ticket_move (self->db, TF_SVC_SLA, items, (size_t) n, NULL, NULL, true, NULL);
    size_t k = 0;
    for (int i = 0; i < n; i++)
        if (items [i].moved)
            ids [k++] = items [i].id;
    tf_error_t err;
    int rc = moved < 0 || s_resume_timers (self, ids, k, &err)? -1: moved;
    free (items);
    free (ids);
    return tf_db_finish (self->db, rc);
}
