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
};


//  How far back the reconciler looks for accepts whose claim was lost, in
//  seconds: a claim is lost for seconds, not hours; and a timer about to
//  breach is met before each breach pass whenever the accept came.
#define SLA_MEET_LOOKBACK "3600"

//  When a ticket was first answered (the dispatcher sets both at accept).
#define RESPONDED "coalesce (t.first_response_at, t.accepted_at)"

//  Timers for the picked tickets, the ticket's mirror columns, and response
//  timers met by an accept, in one statement. The tickets are locked first
//  (the same order as the handlers: ticket, then its timers), so two
//  instances never insert for one ticket at once; UNIQUE (ticket_id, kind)
//  with ON CONFLICT DO NOTHING makes a repeat a no-op. A new response timer
//  is born met when the accept came before its due time; a new resolution
//  timer of a ticket already on hold is born paused.
#define TRACK_SQL(ticket_filter)                                                                      \
    "WITH picked AS (SELECT t.id, t.created_at, t.priority, t.status, " RESPONDED " AS responded"      \
    "  FROM tickets t " ticket_filter "),"                                                            \
    " planned AS (SELECT p.*, k.kind, p.created_at + make_interval (mins => CASE k.kind"              \
    "         WHEN 'response' THEN sp.response_minutes ELSE sp.resolve_minutes END) AS due_at"       \
    "  FROM picked p JOIN sla_policy sp ON sp.priority = p.priority"                                  \
    "  CROSS JOIN (VALUES ('response'), ('resolution')) k (kind)),"                                   \
    " timers AS ("                                                                                    \
    "  INSERT INTO sla_timers (ticket_id, kind, due_at, met_at, paused_at)"                           \
    "  SELECT id, kind, due_at,"                                                                      \
    "         CASE WHEN kind = 'response' AND responded <= due_at THEN responded END,"                \
    "         CASE WHEN kind = 'resolution' AND status = 'on_hold' THEN now () END"                   \
    "  FROM planned ORDER BY id, kind"                                                                \
    "  ON CONFLICT (ticket_id, kind) DO NOTHING RETURNING ticket_id, kind, due_at),"                  \
    /* the deadlines per ticket for the mirror columns: the timers made    */                        \
    /* before (looked up per ticket, by the unique index, whatever the     */                        \
    /* statistics say), else the planned ones                             */                        \
    " due AS (SELECT p.id AS ticket_id, coalesce (x.response, n.response) AS response,"               \
    "                coalesce (x.resolution, n.resolution) AS resolution"                              \
    "  FROM picked p LEFT JOIN (SELECT id, max (due_at) FILTER (WHERE kind = 'response') AS response," \
    "                                  max (due_at) FILTER (WHERE kind = 'resolution') AS resolution"  \
    "                           FROM planned GROUP BY id) n ON n.id = p.id"                            \
    "  CROSS JOIN LATERAL (SELECT max (s.due_at) FILTER (WHERE s.kind = 'response') AS response,"      \
    "                             max (s.due_at) FILTER (WHERE s.kind = 'resolution') AS resolution"   \
    "                      FROM sla_timers s WHERE s.ticket_id = p.id) x),"                            \
    " mirror AS ("                                                                                    \
    "  UPDATE tickets t SET response_due_at = coalesce (d.response, t.response_due_at),"              \
    "                       resolve_due_at = coalesce (d.resolution, t.resolve_due_at)"               \
    "  FROM due d WHERE t.id = d.ticket_id AND (d.response IS NOT NULL OR d.resolution IS NOT NULL)"  \
    "  RETURNING t.id),"                                                                              \
    " met AS ("                                                                                       \
    "  UPDATE sla_timers s SET met_at = m.responded"                                                  \
    "  FROM (SELECT x.id, p.responded FROM picked p CROSS JOIN LATERAL"                              \
    "          (SELECT s.id FROM sla_timers s WHERE s.ticket_id = p.id AND s.kind = 'response'"         \
    "           AND s.met_at IS NULL AND (p.responded <= s.due_at OR s.breached_at IS NOT NULL) LIMIT 1) x" \
    "        WHERE p.responded IS NOT NULL) m"                                                        \
    "  WHERE s.id = m.id RETURNING s.id) "                                                            \
    "SELECT (SELECT count (*) FROM picked), (SELECT count (DISTINCT ticket_id) FROM timers),"         \
    "       (SELECT count (*) FROM mirror), (SELECT count (*) FROM met)"

static const char *SQL_TRACK_IDS =
    TRACK_SQL ("WHERE t.id = ANY ($1::int8[]) AND t.priority IS NOT NULL"
               " AND t.status = ANY ($2::text[]) ORDER BY t.id FOR UPDATE");

//  Tickets without timers have no response deadline yet (tickets_untracked);
//  one whose timers exist gets its mirror set and is not picked again
static const char *SQL_TRACK_MISSING =
    TRACK_SQL ("WHERE t.priority IS NOT NULL AND t.response_due_at IS NULL AND t.status = ANY ($2::text[])"
               " AND EXISTS (SELECT 1 FROM sla_policy sp WHERE sp.priority = t.priority)"
               " ORDER BY t.id LIMIT $1::int FOR UPDATE SKIP LOCKED");

//  The reconciler: tickets accepted in the last $1 seconds whose claim was
//  lost (the dispatcher sets accepted_at; a progress note meets the timer itself)
static const char *SQL_MEET_ACCEPTED =
    "UPDATE sla_timers s SET met_at = " RESPONDED " FROM tickets t "
    "WHERE t.accepted_at >= now () - make_interval (secs => $1::int) "
    "AND s.ticket_id = t.id AND s.kind = 'response' AND s.met_at IS NULL "
    "AND (" RESPONDED " <= s.due_at OR s.breached_at IS NOT NULL)";

//  The same for one ticket, after a progress note or a resolve.
static const char *SQL_MEET_TICKET =
    "UPDATE sla_timers s SET met_at = " RESPONDED " FROM tickets t "
    "WHERE s.ticket_id = t.id AND t.id = $1 AND s.kind = 'response' AND s.met_at IS NULL "
    "AND " RESPONDED " IS NOT NULL AND (" RESPONDED " <= s.due_at OR s.breached_at IS NOT NULL)";

//  The due timers are taken soonest first through sla_timers_open, so a
//  pass costs the batch, not the backlog. A response timer whose answer
//  came before it was due is met, the rest breach: a late answer lets it
//  breach first and is recorded afterwards. Timers and tickets are both
//  taken with SKIP LOCKED: a ticket a handler holds is left for the next
//  pass, so a breach never waits on a lock and never deadlocks with a
//  handler (which locks the ticket, then its timers). One row at least:
//  the first column counts what was taken, met or breached.
#define ANSWERED_IN_TIME "(due.kind = 'response' AND due.responded IS NOT NULL AND due.responded <= due.due_at)"
static const char *SQL_BREACH =
    "WITH due AS (SELECT s.id, s.kind, s.due_at, " RESPONDED " AS responded"
    "             FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id"
    "             WHERE s.met_at IS NULL AND s.breached_at IS NULL AND s.paused_at IS NULL"
    "             AND s.due_at <= now () ORDER BY s.due_at, s.id LIMIT $1::int"
    "             FOR NO KEY UPDATE OF s, t SKIP LOCKED),"
    " met AS (UPDATE sla_timers s SET met_at = due.responded FROM due"
    "         WHERE s.id = due.id AND " ANSWERED_IN_TIME " RETURNING s.id),"
    " b AS (UPDATE sla_timers s SET breached_at = now () FROM due"
    "       WHERE s.id = due.id AND NOT " ANSWERED_IN_TIME
    "       AND s.breached_at IS NULL AND s.met_at IS NULL"
    "       RETURNING s.ticket_id, s.kind, s.due_at),"
    " flags AS (UPDATE tickets t SET response_breached = t.response_breached OR x.response,"
    "                                resolve_breached = t.resolve_breached OR x.resolution,"
    "                                updated_at = now ()"
    "           FROM (SELECT ticket_id, bool_or (kind = 'response') AS response,"
    "                        bool_or (kind = 'resolution') AS resolution FROM b GROUP BY ticket_id) x"
    "           WHERE t.id = x.ticket_id RETURNING t.id),"
    " notes AS (INSERT INTO ticket_events (ticket_id, kind, actor, data)"
    "           SELECT ticket_id, 'sla_breached', 'sla',"
    "                  jsonb_build_object ('kind', kind, 'due_at', due_at) FROM b RETURNING id) "
    "SELECT c.taken, b.ticket_id, t.ticket_no, b.kind,"
    "       to_char (b.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "       coalesce (t.department, ''), coalesce (t.priority, ''),"
    "       (SELECT count (*) FROM flags), (SELECT count (*) FROM notes), (SELECT count (*) FROM met) "
    "FROM (SELECT count (*) AS taken FROM due) c"
    " LEFT JOIN (b JOIN tickets t ON t.id = b.ticket_id) ON true ORDER BY b.due_at";

//  Milliseconds until due by the database's clock, so this host's clock
//  (which may jump) only ever measures the wait, never the deadline.
static const char *SQL_WINDOW =
    "SELECT (extract (epoch FROM due_at - now ()) * 1000)::int8 FROM sla_timers "
    "WHERE met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL "
    "AND due_at <= now () + make_interval (secs => $1::int) ORDER BY due_at LIMIT $2::int";

static const char *SQL_EXPIRED_HOLDS =
    "SELECT id FROM tickets WHERE status = 'on_hold' AND hold_until <= now () "
    "ORDER BY hold_until, id LIMIT $1::int FOR UPDATE SKIP LOCKED";

//  The handlers' first statement: the ticket, locked for the transaction.
static const char *SQL_LOCK_TICKET =
    "SELECT id, status, coalesce (assignee, 'agent') FROM tickets WHERE ticket_no = $1 FOR UPDATE";

static const char *SQL_FIRST_RESPONSE =
    "UPDATE tickets SET first_response_at = coalesce (first_response_at, now ()) WHERE id = $1";

//  What each move sets on the ticket, in the statement that moves it
static const tf_ticket_columns_t s_started = {
    "sla_started", ", first_response_at = coalesce (t.first_response_at, now ())", (const char *[]) { NULL }
};
static const tf_ticket_columns_t s_held = {
    "sla_held", ", hold_reason = u.c1, hold_until = u.c2", (const char *[]) { "text", "timestamptz", NULL }
};
static const tf_ticket_columns_t s_resolved = {
    "sla_resolved", ", resolution_summary = u.c1, resolved_at = now (),"
    " first_response_at = coalesce (t.first_response_at, now ())", (const char *[]) { "text", NULL }
};

//  hold: the resolution clock stops
static const char *SQL_PAUSE =
    "UPDATE sla_timers SET paused_at = now () WHERE ticket_id = $1 AND kind = 'resolution' "
    "AND met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL";

//  resume: a paused deadline moves by the time spent on hold
static const char *SQL_RESUME =
    "WITH s AS (UPDATE sla_timers SET due_at = due_at + (now () - paused_at), paused_at = NULL "
    "           WHERE ticket_id = ANY ($1::int8[]) AND paused_at IS NOT NULL RETURNING ticket_id, kind, due_at) "
    "UPDATE tickets t SET hold_reason = NULL, hold_until = NULL,"
    "  response_due_at = coalesce ((SELECT due_at FROM s WHERE s.ticket_id = t.id AND kind = 'response'),"
    "                              response_due_at),"
    "  resolve_due_at = coalesce ((SELECT due_at FROM s WHERE s.ticket_id = t.id AND kind = 'resolution'),"
    "                             resolve_due_at) "
    "WHERE t.id = ANY ($1::int8[])";

static const char *SQL_RESOLVE =
    "UPDATE sla_timers SET met_at = now () WHERE ticket_id = $1 AND kind = 'resolution' "
    "AND met_at IS NULL";

sla_t *
sla_new (tf_db_t *db)
{
    assert (db);
    sla_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    if (tf_db_prepare (db, "sla_track_ids", SQL_TRACK_IDS, 2)
    ||  tf_db_prepare (db, "sla_track_missing", SQL_TRACK_MISSING, 2)
    ||  tf_db_prepare (db, "sla_meet_accepted", SQL_MEET_ACCEPTED, 1)
    ||  tf_db_prepare (db, "sla_meet_ticket", SQL_MEET_TICKET, 1)
    ||  tf_db_prepare (db, "sla_breach", SQL_BREACH, 1)
    ||  tf_db_prepare (db, "sla_window", SQL_WINDOW, 2)
    ||  tf_db_prepare (db, "sla_expired_holds", SQL_EXPIRED_HOLDS, 1)
    ||  tf_db_prepare (db, "sla_lock_ticket", SQL_LOCK_TICKET, 1)
    ||  tf_db_prepare (db, "sla_first_response", SQL_FIRST_RESPONSE, 1)
    ||  tf_db_prepare (db, "sla_pause", SQL_PAUSE, 1)
    ||  tf_db_prepare (db, "sla_resume", SQL_RESUME, 1)
    ||  tf_db_prepare (db, "sla_resolve", SQL_RESOLVE, 1))
        sla_destroy (&self);
    return self;
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

int
sla_breach_due (sla_t *self, sla_breach_t *out, size_t cap, size_t *taken)
{
    assert (self);
    assert (taken);
    *taken = 0;
    if (cap == 0)
        return 0;
    char limit [24];
    snprintf (limit, sizeof limit, "%zu", cap);
    PGresult *res = tf_db_run (self->db, "sla_breach", 1, (const char *[]) { limit });
    if (!tf_db_ok (self->db, res, "mark breaches")) {
        PQclear (res);
        return -1;
    }
    int n = 0;
    for (int i = 0; i < PQntuples (res); i++) {
        *taken = strtoull (PQgetvalue (res, i, 0), NULL, 10);
        if (PQgetisnull (res, i, 1))
            continue;           //  nothing breached: the one row of the count
        sla_breach_t *b = &out [n++];
        b->ticket_id = strtoll (PQgetvalue (res, i, 1), NULL, 10);
        snprintf (b->ticket_no, sizeof b->ticket_no, "%s", PQgetvalue (res, i, 2));
        snprintf (b->kind, sizeof b->kind, "%s", PQgetvalue (res, i, 3));
        snprintf (b->due_at, sizeof b->due_at, "%s", PQgetvalue (res, i, 4));
        snprintf (b->department, sizeof b->department, "%s", PQgetvalue (res, i, 5));
        snprintf (b->priority, sizeof b->priority, "%s", PQgetvalue (res, i, 6));
    }
    PQclear (res);
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
        rc = s_step (self, "sla_pause", t->id_text, err);
    }
    free (data);
    free (reason);
    return rc;
}

int
sla_hold (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
          tf_error_t *err)
{
    assert (self && request && request->type == TF_MSG_HOLD);
    //  the codec checked that reason and until are present and well-formed
    if (request->v [TF_F_HOLD_UNTIL].i <= (int64_t) time (NULL))
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
