#include "sla.h"
#include "tf_log.h"
#include "tf_mask.h"
#include "tf_ticket.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct sla_t {
    tf_db_t *db;
};

#define OPEN_STATUSES "'received','triage','classified','assigned','accepted','in_progress','on_hold','reopened'"

//  Timers for the given tickets (ids as int8[]), then the ticket's mirror
//  columns, then response timers met by an accept. One statement, so two
//  instances racing insert each timer once (the UNIQUE (ticket_id, kind)).
#define TRACK_SQL(ticket_filter) \
    "WITH picked AS (SELECT t.id, t.created_at, t.priority FROM tickets t " ticket_filter "),"           \
    " timers AS ("                                                                                    \
    "  INSERT INTO sla_timers (ticket_id, kind, due_at)"                                              \
    "  SELECT p.id, k.kind, p.created_at + make_interval (mins => CASE k.kind"                        \
    "         WHEN 'response' THEN sp.response_minutes ELSE sp.resolve_minutes END)"                  \
    "  FROM picked p JOIN sla_policy sp ON sp.priority = p.priority"                                  \
    "  CROSS JOIN (VALUES ('response'), ('resolution')) k (kind)"                                     \
    "  ON CONFLICT (ticket_id, kind) DO NOTHING RETURNING ticket_id, kind, due_at),"                  \
    " mirror AS ("                                                                                    \
    "  UPDATE tickets t SET"                                                                          \
    "    response_due_at = coalesce ((SELECT due_at FROM timers x WHERE x.ticket_id = t.id"           \
    "                                 AND x.kind = 'response'), t.response_due_at),"                  \
    "    resolve_due_at = coalesce ((SELECT due_at FROM timers x WHERE x.ticket_id = t.id"            \
    "                                AND x.kind = 'resolution'), t.resolve_due_at)"                  \
    "  WHERE t.id IN (SELECT ticket_id FROM timers) RETURNING t.id),"                                 \
    " met AS ("                                                                                       \
    "  UPDATE sla_timers s SET met_at = coalesce (t.first_response_at, t.accepted_at)"                \
    "  FROM tickets t WHERE s.ticket_id = t.id AND t.id IN (SELECT id FROM picked)"                   \
    "  AND s.kind = 'response' AND s.met_at IS NULL"                                                  \
    "  AND coalesce (t.first_response_at, t.accepted_at) IS NOT NULL RETURNING s.id)"                 \
    "SELECT (SELECT count (DISTINCT ticket_id) FROM timers), (SELECT count (*) FROM met)"

static const char *SQL_TRACK_IDS =
    TRACK_SQL ("WHERE t.id = ANY ($1::int8[]) AND t.priority IS NOT NULL");

static const char *SQL_TRACK_MISSING =
    TRACK_SQL ("WHERE t.priority IS NOT NULL AND t.status IN (" OPEN_STATUSES ")"
               " AND NOT EXISTS (SELECT 1 FROM sla_timers s WHERE s.ticket_id = t.id)"
               " ORDER BY t.id LIMIT $1::int");

//  Response timers of tickets accepted since their timers were made
static const char *SQL_MEET_RESPONSES =
    "UPDATE sla_timers s SET met_at = coalesce (t.first_response_at, t.accepted_at) FROM tickets t "
    "WHERE s.ticket_id = t.id AND s.kind = 'response' AND s.met_at IS NULL "
    "AND coalesce (t.first_response_at, t.accepted_at) IS NOT NULL";

static const char *SQL_BREACH =
    "WITH due AS (SELECT id FROM sla_timers WHERE met_at IS NULL AND breached_at IS NULL"
    "             AND paused_at IS NULL AND due_at <= now () ORDER BY due_at LIMIT $1::int"
    "             FOR UPDATE SKIP LOCKED),"
    " b AS (UPDATE sla_timers s SET breached_at = now () FROM due WHERE s.id = due.id"
    "       RETURNING s.ticket_id, s.kind, s.due_at),"
    " flags AS (UPDATE tickets t SET response_breached = t.response_breached OR x.response,"
    "                                resolve_breached = t.resolve_breached OR x.resolution"
    "           FROM (SELECT ticket_id, bool_or (kind = 'response') AS response,"
    "                        bool_or (kind = 'resolution') AS resolution FROM b GROUP BY ticket_id) x"
    "           WHERE t.id = x.ticket_id RETURNING t.id),"
    " notes AS (INSERT INTO ticket_events (ticket_id, kind, actor, data)"
    "           SELECT ticket_id, 'sla_breached', 'sla', jsonb_build_object ('kind', kind, 'due_at', due_at)"
    "           FROM b RETURNING id) "
    "SELECT b.ticket_id, t.ticket_no, b.kind,"
    "       to_char (b.due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "       coalesce (t.department, ''), coalesce (t.priority, ''), (SELECT count (*) FROM flags),"
    "       (SELECT count (*) FROM notes)"
    "FROM b JOIN tickets t ON t.id = b.ticket_id ORDER BY b.due_at";

static const char *SQL_WINDOW =
    "SELECT (extract (epoch FROM due_at) * 1000)::int8 FROM sla_timers "
    "WHERE met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL "
    "AND due_at <= now () + make_interval (secs => $1::int) ORDER BY due_at LIMIT $2::int";

static const char *SQL_EXPIRED_HOLDS =
    "SELECT id FROM tickets WHERE status = 'on_hold' AND hold_until <= now () "
    "ORDER BY hold_until LIMIT 100 FOR UPDATE SKIP LOCKED";

static const char *SQL_ASSIGNEE =
    "SELECT coalesce (assignee, 'agent') FROM tickets WHERE id = $1";

static const char *SQL_SET_HOLD =
    "WITH t AS (UPDATE tickets SET hold_reason = $2, hold_until = $3::timestamptz WHERE id = $1 RETURNING id) "
    "UPDATE sla_timers SET paused_at = now () WHERE ticket_id = $1 AND kind = 'resolution' "
    "AND met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL";

//  resume: the resolution deadline moves by the time spent on hold
static const char *SQL_RESUME =
    "WITH s AS (UPDATE sla_timers SET due_at = due_at + (now () - paused_at), paused_at = NULL "
    "           WHERE ticket_id = $1 AND paused_at IS NOT NULL RETURNING kind, due_at) "
    "UPDATE tickets SET hold_reason = NULL, hold_until = NULL,"
    "  resolve_due_at = coalesce ((SELECT due_at FROM s WHERE kind = 'resolution'), resolve_due_at) "
    "WHERE id = $1";

static const char *SQL_RESOLVE =
    "WITH t AS (UPDATE tickets SET resolution_summary = $2, resolved_at = now () WHERE id = $1 RETURNING id) "
    "UPDATE sla_timers SET met_at = now () WHERE ticket_id = $1 AND met_at IS NULL";

static const char *SQL_FIRST_RESPONSE =
    "UPDATE tickets SET first_response_at = coalesce (first_response_at, now ()) WHERE id = $1";

sla_t *
sla_new (tf_db_t *db)
{
    sla_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    if (tf_ticket_prepare (db)
    ||  tf_db_prepare (db, "sla_track_ids", SQL_TRACK_IDS, 1)
    ||  tf_db_prepare (db, "sla_track_missing", SQL_TRACK_MISSING, 1)
    ||  tf_db_prepare (db, "sla_meet_responses", SQL_MEET_RESPONSES, 0)
    ||  tf_db_prepare (db, "sla_breach", SQL_BREACH, 1)
    ||  tf_db_prepare (db, "sla_window", SQL_WINDOW, 2)
    ||  tf_db_prepare (db, "sla_expired_holds", SQL_EXPIRED_HOLDS, 0)
    ||  tf_db_prepare (db, "sla_assignee", SQL_ASSIGNEE, 1)
    ||  tf_db_prepare (db, "sla_set_hold", SQL_SET_HOLD, 3)
    ||  tf_db_prepare (db, "sla_resume", SQL_RESUME, 1)
    ||  tf_db_prepare (db, "sla_resolve", SQL_RESOLVE, 2)
    ||  tf_db_prepare (db, "sla_first_response", SQL_FIRST_RESPONSE, 1))
        sla_destroy (&self);
    return self;
}

void
sla_destroy (sla_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

//  Runs a prepared statement that returns nothing the caller needs.
static int
s_run (sla_t *self, const char *name, int n, const char *const *params)
{
    PGresult *res = tf_db_run (self->db, name, n, params);
    int rc = tf_db_ok (self->db, res, name)? 0: -1;
    PQclear (res);
    return rc;
}

int
sla_track (sla_t *self, const int64_t *ids, size_t n)
{
    if (n == 0)
        return 0;
    char *array = tf_db_id_array (ids, n);
    int rc = s_run (self, "sla_track_ids", 1, (const char *[]) { array });
    free (array);
    return rc;
}

int
sla_track_missing (sla_t *self, size_t limit)
{
    char count [24];
    snprintf (count, sizeof count, "%zu", limit);
    PGresult *res = tf_db_run (self->db, "sla_track_missing", 1, (const char *[]) { count });
    int rc = tf_db_ok (self->db, res, "track missing timers")? atoi (PQgetvalue (res, 0, 0)): -1;
    PQclear (res);
    if (rc >= 0 && s_run (self, "sla_meet_responses", 0, NULL))
        rc = -1;
    return rc;
}

int
sla_breach_due (sla_t *self, sla_breach_t *out, size_t cap)
{
    char limit [24];
    snprintf (limit, sizeof limit, "%zu", cap);
    //  an accept since the last look meets the response timer before it can breach
    if (s_run (self, "sla_meet_responses", 0, NULL))
        return -1;
    PGresult *res = tf_db_run (self->db, "sla_breach", 1, (const char *[]) { limit });
    if (!tf_db_ok (self->db, res, "mark breaches")) {
        PQclear (res);
        return -1;
    }
    int n = PQntuples (res);
    for (int i = 0; i < n; i++) {
        sla_breach_t *b = &out [i];
        b->ticket_id = strtoll (PQgetvalue (res, i, 0), NULL, 10);
        snprintf (b->ticket_no, sizeof b->ticket_no, "%s", PQgetvalue (res, i, 1));
        snprintf (b->kind, sizeof b->kind, "%s", PQgetvalue (res, i, 2));
        snprintf (b->due_at, sizeof b->due_at, "%s", PQgetvalue (res, i, 3));
        snprintf (b->department, sizeof b->department, "%s", PQgetvalue (res, i, 4));
        snprintf (b->priority, sizeof b->priority, "%s", PQgetvalue (res, i, 5));
    }
    PQclear (res);
    return n;
}

int
sla_window (sla_t *self, int window_seconds, int64_t *due, size_t cap)
{
    char window [16], limit [24];
    snprintf (window, sizeof window, "%d", window_seconds);
    snprintf (limit, sizeof limit, "%zu", cap);
    PGresult *res = tf_db_run (self->db, "sla_window", 2, (const char *[]) { window, limit });
    if (!tf_db_ok (self->db, res, "load due timers")) {
        PQclear (res);
        return -1;
    }
    int n = PQntuples (res);
    for (int i = 0; i < n; i++)
        due [i] = strtoll (PQgetvalue (res, i, 0), NULL, 10);
    PQclear (res);
    return n;
}

//  --------------------------------------------------------------------------
//  Handling

typedef struct {
    int64_t id;
    char status [32];
    char actor [80];
    char id_text [24];
} ticket_t;

//  BEGIN, find the ticket, name the actor (the request's, else the assignee)
static int
s_begin (sla_t *self, const tf_msg_t *request, tf_field_id_t no_field, tf_field_id_t actor_field,
         ticket_t *t, tf_error_t *err)
{
    if (tf_db_exec (self->db, "BEGIN"))
        return tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
    const tf_value_t *no = &request->v [no_field];
    if (tf_ticket_find (self->db, no->str, no->len, &t->id, t->status, sizeof t->status, err)) {
        tf_db_exec (self->db, "ROLLBACK");
        return -1;
    }
    snprintf (t->id_text, sizeof t->id_text, "%lld", (long long) t->id);
    if (tf_msg_has (request, actor_field))
        snprintf (t->actor, sizeof t->actor, "%.*s", (int) request->v [actor_field].len,
                  request->v [actor_field].str);
    else {
        PGresult *res = tf_db_run (self->db, "sla_assignee", 1, (const char *[]) { t->id_text });
        snprintf (t->actor, sizeof t->actor, "%s",
                  tf_db_ok (self->db, res, "assignee") && PQntuples (res)? PQgetvalue (res, 0, 0): "agent");
        PQclear (res);
    }
    return 0;
}

static int
s_commit (sla_t *self, int rc, const char *status, char *status_out, tf_error_t *err)
{
    if (rc == 0 && tf_db_exec (self->db, "COMMIT") == 0) {
        snprintf (status_out, 16, "%s", status);
        return 0;
    }
    tf_db_exec (self->db, "ROLLBACK");
    if (rc == 0)
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
    return -1;
}

static char *
s_masked (const tf_msg_t *m, tf_field_id_t f)
{
    return tf_mask_text (m->v [f].str, m->v [f].len, NULL);
}

int
sla_progress (sla_t *self, const tf_msg_t *request, char *status_out, tf_error_t *err)
{
    ticket_t t;
    if (s_begin (self, request, TF_F_PROGRESS_TICKET_NO, TF_F_PROGRESS_ACTOR, &t, err))
        return -1;
    char *note = s_masked (request, TF_F_PROGRESS_NOTE);
    int rc;
    if (streq (t.status, "in_progress"))
        rc = tf_ticket_note (self->db, t.id, "progress", t.actor, note, NULL)
           ? tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available"): 0;
    else
        //  the first note starts handling (and fails cleanly from any other status)
        rc = tf_ticket_transition (self->db, t.id, "accepted", "in_progress", "progress", t.actor,
                                   note, NULL, err);
    if (rc == 0)
        rc = s_run (self, "sla_first_response", 1, (const char *[]) { t.id_text });
    free (note);
    return s_commit (self, rc, "in_progress", status_out, err);
}

int
sla_hold (sla_t *self, const tf_msg_t *request, char *status_out, tf_error_t *err)
{
    if (request->v [TF_F_HOLD_UNTIL].i <= (int64_t) time (NULL))
        return tf_error_set (err, TF_ERR_BAD_VALUE, "until", "'until' must be in the future");
    ticket_t t;
    if (s_begin (self, request, TF_F_HOLD_TICKET_NO, TF_F_HOLD_ACTOR, &t, err))
        return -1;
    char *reason = s_masked (request, TF_F_HOLD_REASON);
    char until [48];
    snprintf (until, sizeof until, "%.*s", (int) request->v [TF_F_HOLD_UNTIL].len,
              request->v [TF_F_HOLD_UNTIL].str);
    char *data = zsys_sprintf ("{\"until\": \"%s\"}", until);
    int rc = tf_ticket_transition (self->db, t.id, "accepted,in_progress", "on_hold", "hold", t.actor,
                                   reason, data, err);
    if (rc == 0)
        rc = s_run (self, "sla_set_hold", 3, (const char *[]) { t.id_text, reason, until });
    zstr_free (&data);
    free (reason);
    return s_commit (self, rc, "on_hold", status_out, err);
}

static int
s_resume (sla_t *self, ticket_t *t, const char *event, tf_error_t *err)
{
    int rc = tf_ticket_transition (self->db, t->id, "on_hold", "in_progress", event, t->actor,
                                   NULL, NULL, err);
    if (rc == 0)
        rc = s_run (self, "sla_resume", 1, (const char *[]) { t->id_text });
    return rc;
}

int
sla_resume (sla_t *self, const tf_msg_t *request, char *status_out, tf_error_t *err)
{
    ticket_t t;
    if (s_begin (self, request, TF_F_RESUME_TICKET_NO, TF_F_RESUME_ACTOR, &t, err))
        return -1;
    return s_commit (self, s_resume (self, &t, "resumed", err), "in_progress", status_out, err);
}

int
sla_resolve (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out, tf_error_t *err)
{
    ticket_t t;
    if (s_begin (self, request, TF_F_RESOLVE_TICKET_NO, TF_F_RESOLVE_ACTOR, &t, err))
        return -1;
    char *summary = s_masked (request, TF_F_RESOLVE_SUMMARY);
    int rc = tf_ticket_transition (self->db, t.id, "accepted,in_progress", "resolved", "resolved",
                                   t.actor, summary, NULL, err);
    if (rc == 0)
        rc = s_run (self, "sla_resolve", 2, (const char *[]) { t.id_text, summary });
    if (rc == 0)
        rc = s_run (self, "sla_first_response", 1, (const char *[]) { t.id_text });
    free (summary);
    *ticket_id = t.id;
    return s_commit (self, rc, "resolved", status_out, err);
}

int
sla_expire_holds (sla_t *self)
{
    if (tf_db_exec (self->db, "BEGIN"))
        return -1;
    PGresult *res = tf_db_run (self->db, "sla_expired_holds", 0, NULL);
    if (!tf_db_ok (self->db, res, "expired holds")) {
        PQclear (res);
        tf_db_exec (self->db, "ROLLBACK");
        return -1;
    }
    int n = PQntuples (res), done = 0;
    for (int i = 0; i < n; i++) {
        ticket_t t = { .id = strtoll (PQgetvalue (res, i, 0), NULL, 10) };
        snprintf (t.id_text, sizeof t.id_text, "%lld", (long long) t.id);
        snprintf (t.actor, sizeof t.actor, "sla");
        tf_error_t err;
        if (s_resume (self, &t, "hold_expired", &err) == 0)
            done++;
    }
    PQclear (res);
    if (tf_db_exec (self->db, "COMMIT")) {
        tf_db_exec (self->db, "ROLLBACK");
        return -1;
    }
    return done;
}
