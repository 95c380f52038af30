#include "notifier.h"
#include "tf_log.h"
#include "tf_mask.h"
#include "tf_ticket.h"
#include <czmq.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct notifier_t {
    tf_db_t *db;
    int max_attempts;
    int retry_seconds;
    notifier_sink_t **sinks;
    size_t nsinks;
    char *sink_names;           //  text[] literal of the sink names: {"file","webhook"}
    char *sink_contacts;        //  text[] literal of what each needs: {"","phone"}
};

//  How long a claimed outbox row stays invisible to other instances while
//  this one delivers it; a crash mid-delivery delays it by this much.
#define NOTIFIER_LEASE_SECONDS 60
//  Retries back off exponentially up to a day.
#define NOTIFIER_MAX_DELAY     86400
//  The resolution summary quoted to the customer, in characters: the whole
//  payload must fit the outbox's unique index (a btree entry < 2704 bytes).
#define NOTIFIER_SUMMARY_CHARS 200
#define NOTIFIER_STR_(x) #x
#define NOTIFIER_STR(x) NOTIFIER_STR_(x)

//  --------------------------------------------------------------------------
//  SQL

//  One outbox row per sink of this instance for a resolved ticket. The
//  payload is the same for a repeat of this resolution (UNIQUE (ticket_id,
//  kind, sink, payload)), new for the next one ("round" = reopen_count + 1).
//  A sink that needs a contact detail the ticket lacks gets no row.
static const char *SQL_QUEUE =
    "WITH t AS ("
    "  SELECT t.id, t.ticket_no, t.channel, t.customer_ref, t.reopen_count + 1 AS round, t.resolved_at,"
    "         rtrim (left (coalesce (t.resolution_summary, ''), " NOTIFIER_STR (NOTIFIER_SUMMARY_CHARS) "),"
    "                ' 。.!!') AS summary,"
    "         coalesce (nullif (x.phrases->>'closing', ''),"
    "                   '请问问题是否已经解决?对本次处理结果是否满意?') AS closing,"
    "         c.phone, c.email"
    "  FROM tickets t"
    "  LEFT JOIN taxonomy x ON x.subcategory = t.subcategory"
    "  LEFT JOIN ticket_contacts c ON c.ticket_id = t.id"
    "  WHERE t.id = $1 AND t.status = 'resolved'),"
    " p AS ("
    "  SELECT t.*, jsonb_build_object ("
    "    'kind', 'confirm_request',"
    "    'ticket_no', t.ticket_no,"
    "    'channel', t.channel,"
    "    'customer_id', t.customer_ref,"
    "    'round', t.round,"
    "    'resolved_at', t.resolved_at,"
    "    'resolution_summary', t.summary,"
    "    'message', '您好,您反馈的问题(工单号 ' || t.ticket_no || ')已处理完毕。'"
    "               || CASE WHEN t.summary <> '' THEN '处理结果:' || t.summary || '。' ELSE '' END"
    "               || t.closing"
    "               || ' 请回复问题是否已解决(是/否),并为本次服务打分(1-5分,5分为非常满意)。',"
    "    'reply', jsonb_build_object ("
    "      'request', 'ticket.feedback',"
    "      'ticket_no', t.ticket_no,"
    "      'solved', 'true: solved, false: not solved (the ticket is reopened)',"
    "      'csat', 'optional: 1 (不满意) to 5 (非常满意)',"
    "      'comment', 'optional: free text')"
    "  ) AS body FROM t),"
    " s AS (SELECT * FROM unnest ($2::text[], $3::text[]) AS s (name, contact))"
    "INSERT INTO outbox (ticket_id, kind, sink, payload)"
    " SELECT p.id, 'confirm_request', s.name,"
    "        p.body || CASE s.contact WHEN 'phone' THEN jsonb_build_object ('to', p.phone)"
    "                                 WHEN 'email' THEN jsonb_build_object ('to', p.email)"
    "                                 ELSE '{}'::jsonb END"
    " FROM p, s"
    " WHERE s.contact = '' OR (s.contact = 'phone' AND p.phone IS NOT NULL)"
    "    OR (s.contact = 'email' AND p.email IS NOT NULL)"
    " ON CONFLICT (ticket_id, kind, sink, payload) DO NOTHING"
    " RETURNING sink, (payload->>'round')::int";

//  Resolved tickets waiting without the request of their current round.
static const char *SQL_LOCK_UNREQUESTED =
    "SELECT t.id FROM tickets t"
    " WHERE t.status = 'resolved'"
    "   AND t.status_changed_at <= tf_now () - make_interval (secs => $1::int)"
    "   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ticket_id = t.id AND o.kind = 'confirm_request'"
    "                   AND o.payload->'round' = to_jsonb (t.reopen_count + 1))"
    " ORDER BY t.status_changed_at, t.id LIMIT $2::int FOR UPDATE OF t SKIP LOCKED";

//  Takes due rows of our sinks and leases them: they stay pending, but no
//  other instance sees them due until the lease runs out.
static const char *SQL_CLAIM =
    "UPDATE outbox o SET next_attempt_at = tf_now () + make_interval (secs => $3::int)"
    " FROM (SELECT id FROM outbox"
    "       WHERE status = 'pending' AND next_attempt_at <= tf_now () AND sink = ANY ($1::text[])"
    "       ORDER BY next_attempt_at, id LIMIT $2::int FOR UPDATE SKIP LOCKED) d"
    " WHERE o.id = d.id"
    " RETURNING o.id, o.sink, o.attempts,"
    "   (o.payload || jsonb_build_object ('message_id', o.id, 'kind', o.kind))::text";

static const char *SQL_SENT =
    "WITH o AS (UPDATE outbox SET status = 'sent', sent_at = tf_now (), attempts = attempts + 1,"
    "                  last_error = NULL"
    "           WHERE id = $1 AND status = 'pending' RETURNING id, ticket_id, kind, sink, attempts)"
    "INSERT INTO ticket_events (ticket_id, kind, actor, data)"
    " SELECT ticket_id, 'notification_sent', 'notifier',"
    "        jsonb_build_object ('outbox_id', id, 'kind', kind, 'sink', sink, 'attempts', attempts)"
    " FROM o WHERE ticket_id IS NOT NULL";

//  $3: max attempts, $4: the delay before the next one
static const char *SQL_FAILED =
    "WITH o AS (UPDATE outbox SET attempts = attempts + 1, last_error = left ($2, 500),"
    "             status = CASE WHEN attempts + 1 >= $3::int THEN 'dead' ELSE 'pending' END,"
    "             next_attempt_at = CASE WHEN attempts + 1 >= $3::int THEN tf_now ()"
    "                               ELSE tf_now () + make_interval (secs => $4::int) END"
    "           WHERE id = $1 AND status = 'pending'"
    "           RETURNING id, ticket_id, kind, sink, attempts, status)"
    "INSERT INTO ticket_events (ticket_id, kind, actor, note, data)"
    " SELECT ticket_id, 'notification_dead', 'notifier', left ($2, 500),"
    "        jsonb_build_object ('outbox_id', id, 'kind', kind, 'sink', sink, 'attempts', attempts)"
    " FROM o WHERE status = 'dead' AND ticket_id IS NOT NULL";

static const char *SQL_RELEASE =
    "UPDATE outbox SET next_attempt_at = tf_now () WHERE id = $1 AND status = 'pending'";

#define FEEDBACK_COLUMNS \
    "SELECT f.id, f.ticket_id, t.ticket_no, f.solved, f.csat, f.comment" \
    " FROM feedback f JOIN tickets t ON t.id = f.ticket_id"

static const char *SQL_FEEDBACK_OF =
    FEEDBACK_COLUMNS
    " WHERE f.ticket_id = ANY ($1::int8[]) AND f.processed_at IS NULL"
    " ORDER BY f.received_at, f.id LIMIT $2::int FOR UPDATE OF f SKIP LOCKED";

static const char *SQL_FEEDBACK_STALE =
    FEEDBACK_COLUMNS
    " WHERE f.processed_at IS NULL AND f.received_at <= tf_now () - make_interval (secs => $1::int)"
    " ORDER BY f.received_at, f.id LIMIT $2::int FOR UPDATE OF f SKIP LOCKED";

//  The customer's answer is the contact sla's verification clock waits
//  for (within an hour of the fix): it is met
static const char *SQL_FEEDBACK_DONE =
    "WITH f AS (UPDATE feedback SET processed_at = tf_now (), outcome = $2 WHERE id = $1 RETURNING ticket_id) "
    "UPDATE sla_timers s SET met_at = tf_now () FROM f WHERE s.ticket_id = f.ticket_id"
    " AND s.kind = 'verification' AND s.met_at IS NULL AND s.breached_at IS NULL AND $2 <> 'ignored'";

//  What the answer sets on the ticket with its status
static const tf_ticket_columns_t s_confirmed = {
    "notifier_confirmed", ", csat = coalesce (u.c1, t.csat), confirmed_at = tf_now ()", (const char *[]) { "smallint", NULL }
};
static const tf_ticket_columns_t s_reopened = {
    "notifier_reopened", ", reopen_count = t.reopen_count + 1", (const char *[]) { NULL }
};

//  --------------------------------------------------------------------------

notifier_t *
notifier_new (tf_db_t *db, int max_attempts, int retry_seconds)
{
    assert (db);
    notifier_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    self->max_attempts = max_attempts > 0? max_attempts: 1;
    self->retry_seconds = retry_seconds > 0? retry_seconds: 1;
    self->sink_names = strdup ("{}");
    self->sink_contacts = strdup ("{}");
    if (tf_db_prepare (db, "notifier_queue", SQL_QUEUE, 3)
    ||  tf_db_prepare (db, "notifier_lock_unrequested", SQL_LOCK_UNREQUESTED, 2)
    ||  tf_db_prepare (db, "notifier_claim", SQL_CLAIM, 3)
    ||  tf_db_prepare (db, "notifier_sent", SQL_SENT, 1)
    ||  tf_db_prepare (db, "notifier_failed", SQL_FAILED, 4)
    ||  tf_db_prepare (db, "notifier_release", SQL_RELEASE, 1)
    ||  tf_db_prepare (db, "notifier_feedback_of", SQL_FEEDBACK_OF, 2)
    ||  tf_db_prepare (db, "notifier_feedback_stale", SQL_FEEDBACK_STALE, 2)
    ||  tf_db_prepare (db, "notifier_feedback_done", SQL_FEEDBACK_DONE, 2))
        notifier_destroy (&self);
    return self;
}

void
notifier_destroy (notifier_t **self_p)
{
    notifier_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->nsinks; i++)
        notifier_sink_destroy (&self->sinks [i]);
    free (self->sinks);
    free (self->sink_names);
    free (self->sink_contacts);
    free (self);
    *self_p = NULL;
}

//  A PostgreSQL array literal of strings. The caller frees.
static char *
s_array_literal (const char *const *items, size_t n)
{
    tf_db_array_t *array = tf_db_array_new ();
    for (size_t i = 0; i < n; i++)
        tf_db_array_add (array, items [i]);
    char *text = strdup (tf_db_array_text (array));
    tf_db_array_destroy (&array);
    return text;
}

int
notifier_add_sink (notifier_t *self, notifier_sink_t *sink)
{
    assert (sink);
    for (size_t i = 0; i < self->nsinks; i++)
        if (streq (notifier_sink_name (self->sinks [i]), notifier_sink_name (sink))) {
            tf_error ("two sinks named '%s'", notifier_sink_name (sink));
            notifier_sink_destroy (&sink);
            return -1;
        }
    self->sinks = realloc (self->sinks, (self->nsinks + 1) * sizeof *self->sinks);
    assert (self->sinks);
    self->sinks [self->nsinks++] = sink;
    const char *names [self->nsinks], *contacts [self->nsinks];
    for (size_t i = 0; i < self->nsinks; i++) {
        names [i] = notifier_sink_name (self->sinks [i]);
        const char *contact = notifier_sink_contact (self->sinks [i]);
        contacts [i] = contact? contact: "";
    }
    free (self->sink_names);
    free (self->sink_contacts);
    self->sink_names = s_array_literal (names, self->nsinks);
    self->sink_contacts = s_array_literal (contacts, self->nsinks);
    return 0;
}

size_t
notifier_sink_count (const notifier_t *self)
{
    return self->nsinks;
}

char *
notifier_file_path (const tf_config_t *cfg)
{
    if (cfg->notifier_file && *cfg->notifier_file)
        return strdup (cfg->notifier_file);
    char *path = NULL;
    if (asprintf (&path, "%s/var/notifications.jsonl", tf_home ()) < 0)
        return NULL;
    return path;
}

int
notifier_add_config_sinks (notifier_t *self, const tf_config_t *cfg)
{
    char *path = notifier_file_path (cfg);
    notifier_sink_t *file = path? notifier_sink_file_new ("file", path): NULL;
    free (path);
    if (!file || notifier_add_sink (self, file))
        return -1;
    if (cfg->notifier_webhook_url && *cfg->notifier_webhook_url) {
        notifier_sink_t *webhook = notifier_sink_webhook_new ("webhook", cfg->notifier_webhook_url, 5000);
        if (!webhook || notifier_add_sink (self, webhook))
            return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Confirmation requests

//  Queues one locked ticket's request: 1 new rows, 0 nothing new, -1 error.
static int
s_queue (notifier_t *self, int64_t id)
{
    char id_text [24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) id);
    const char *params [] = { id_text, self->sink_names, self->sink_contacts };
    PGresult *res = tf_db_run (self->db, "notifier_queue", 3, params);
    if (!tf_db_ok (self->db, res, "queue confirmation request")) {
        PQclear (res);
        return -1;
    }
    int rows = PQntuples (res);
    int rc = 0;
    if (rows > 0) {
        //  the history says where it went, never to whom
        json_t *sinks = json_array ();
        for (int i = 0; i < rows; i++)
            json_array_append_new (sinks, json_string (PQgetvalue (res, i, 0)));
        json_t *data = json_pack ("{s:i, s:o}", "round", atoi (PQgetvalue (res, 0, 1)), "sinks", sinks);
        char *text = data? json_dumps (data, JSON_COMPACT): NULL;
        rc = text && tf_ticket_note (self->db, id, "confirmation_requested", "notifier",
                                     "已请客户确认处理结果并评分", text) == 0? 1: -1;
        free (text);
        json_decref (data);
    }
    PQclear (res);
    return rc;
}

//  Queues the requests of locked[0..n) in the open transaction.
static int
s_queue_locked (notifier_t *self, const int64_t *locked, int n)
{
    int queued = 0;
    for (int i = 0; i < n; i++) {
        int rc = s_queue (self, locked [i]);
        if (rc < 0)
            return -1;
        queued += rc;
    }
    return queued;
}

int
notifier_request_confirmation (notifier_t *self, const int64_t *ids, size_t n)
{
    if (n == 0 || self->nsinks == 0)
        return 0;
    int64_t *locked = calloc (n, sizeof *locked);
    assert (locked);
    int rc = -1;
    if (tf_db_begin (self->db) == 0) {
        int k = tf_ticket_lock_ids (self->db, TF_FROM (RESOLVED), ids, n, locked);
        rc = tf_db_finish (self->db, k < 0? -1: s_queue_locked (self, locked, k));
    }
    free (locked);
    return rc;
}

int
notifier_reconcile_resolved (notifier_t *self, int stale_seconds, size_t limit)
{
    if (limit == 0 || self->nsinks == 0)
        return 0;
    char stale [16], count [24];
    snprintf (stale, sizeof stale, "%d", stale_seconds);
    snprintf (count, sizeof count, "%zu", limit);
    const char *params [] = { stale, count };
    if (tf_db_begin (self->db))
        return -1;
    PGresult *res = tf_db_run (self->db, "notifier_lock_unrequested", 2, params);
    if (!tf_db_ok (self->db, res, "resolved tickets without a request")) {
        PQclear (res);
        return tf_db_finish (self->db, -1);
    }
    int n = PQntuples (res);
    int64_t *locked = calloc ((size_t) n + 1, sizeof *locked);
    assert (locked);
    for (int i = 0; i < n; i++)
        locked [i] = strtoll (PQgetvalue (res, i, 0), NULL, 10);
    PQclear (res);
    int rc = tf_db_finish (self->db, s_queue_locked (self, locked, n));
    free (locked);
    return rc;
}

//  --------------------------------------------------------------------------
//  Delivery

typedef struct {
    int64_t id;
    size_t sink;                //  index into self->sinks
    int attempts;               //  before this one
    char *json;
    size_t len;
} claimed_t;

static int
s_claimed_cmp (const void *a, const void *b)
{
    int64_t x = ((const claimed_t *) a)->id, y = ((const claimed_t *) b)->id;
    return x < y? -1: x > y;
}

static int
s_backoff (int retry_seconds, int attempts_before)
{
    long delay = retry_seconds;
    for (int i = 0; i < attempts_before && delay < NOTIFIER_MAX_DELAY; i++)
        delay *= 2;
    return (int) (delay < NOTIFIER_MAX_DELAY? delay: NOTIFIER_MAX_DELAY);
}

static void
s_run_update (notifier_t *self, const char *name, int nparams, const char *const *params, const char *what)
{
    PGresult *res = tf_db_run (self->db, name, nparams, params);
    tf_db_ok (self->db, res, what);
    PQclear (res);
}

int
notifier_deliver (notifier_t *self, size_t limit, int budget_ms, notifier_delivery_t *stats)
{
    notifier_delivery_t local;
    if (!stats)
        stats = &local;
    memset (stats, 0, sizeof *stats);
    if (limit == 0 || self->nsinks == 0)
        return 0;
    char count [24], lease [16];
    snprintf (count, sizeof count, "%zu", limit);
    snprintf (lease, sizeof lease, "%d", NOTIFIER_LEASE_SECONDS);
    const char *params [] = { self->sink_names, count, lease };
    PGresult *res = tf_db_run (self->db, "notifier_claim", 3, params);
    if (!tf_db_ok (self->db, res, "claim due messages")) {
        PQclear (res);
        return -1;
    }
    int n = PQntuples (res);
    claimed_t *rows = calloc ((size_t) n + 1, sizeof *rows);
    assert (rows);
    int m = 0;
    for (int i = 0; i < n; i++) {
        claimed_t *r = &rows [m];
        r->id = strtoll (PQgetvalue (res, i, 0), NULL, 10);
        r->sink = self->nsinks;
        for (size_t k = 0; k < self->nsinks; k++)
            if (streq (notifier_sink_name (self->sinks [k]), PQgetvalue (res, i, 1)))
                r->sink = k;
        if (r->sink == self->nsinks)
            continue;           //  cannot happen: the claim filters on our sinks
        r->attempts = atoi (PQgetvalue (res, i, 2));
        r->len = (size_t) PQgetlength (res, i, 3);
        r->json = malloc (r->len + 1);
        assert (r->json);
        memcpy (r->json, PQgetvalue (res, i, 3), r->len + 1);
        m++;
    }
    PQclear (res);
    qsort (rows, (size_t) m, sizeof *rows, s_claimed_cmp);
    stats->claimed = n;

    int64_t spent [self->nsinks];
    memset (spent, 0, sizeof spent);
    for (int i = 0; i < m; i++) {
        claimed_t *r = &rows [i];
        notifier_sink_t *sink = self->sinks [r->sink];
        char id_text [24];
        snprintf (id_text, sizeof id_text, "%lld", (long long) r->id);
        if (spent [r->sink] >= budget_ms) {
            //  this sink is slow today: the rest goes back for the next round
            const char *p [] = { id_text };
            s_run_update (self, "notifier_release", 1, p, "release message");
            stats->deferred++;
            continue;
        }
        char error [512];
        int64_t start = zclock_mono ();
        int rc = notifier_sink_deliver (sink, r->json, r->len, error, sizeof error);
        spent [r->sink] += zclock_mono () - start;
        if (rc == 0) {
            const char *p [] = { id_text };
            s_run_update (self, "notifier_sent", 1, p, "mark message sent");
            stats->sent++;
            tf_debug ("message %lld sent via %s", (long long) r->id, notifier_sink_name (sink));
            continue;
        }
        int attempt = r->attempts + 1;
        bool dead = attempt >= self->max_attempts;
        char max [16], delay [16];
        snprintf (max, sizeof max, "%d", self->max_attempts);
        snprintf (delay, sizeof delay, "%d", s_backoff (self->retry_seconds, r->attempts));
        const char *p [] = { id_text, error, max, delay };
        s_run_update (self, "notifier_failed", 4, p, "mark message failed");
        if (dead) {
            stats->dead++;
            tf_warn ("message %lld via %s is dead after %d attempts: %s", (long long) r->id,
                     notifier_sink_name (sink), attempt, error);
        }
        else {
            stats->retried++;
            tf_warn ("message %lld via %s failed (attempt %d of %d, next in %s s): %s",
                     (long long) r->id, notifier_sink_name (sink), attempt, self->max_attempts,
                     delay, error);
        }
    }
    for (int i = 0; i < m; i++)
        free (rows [i].json);
    free (rows);
    return n;
}

//  --------------------------------------------------------------------------
//  Feedback

//  Acts on one locked feedback row. Returns 0, or -1 on a database error.
static int
s_feedback_row (notifier_t *self, PGresult *res, int i, notifier_feedback_t *result)
{
    const char *feedback_id = PQgetvalue (res, i, 0);
    const char *ticket_id = PQgetvalue (res, i, 1);
    bool solved = streq (PQgetvalue (res, i, 3), "t");
    bool has_csat = !PQgetisnull (res, i, 4);
    const char *csat = has_csat? PQgetvalue (res, i, 4): NULL;
    memset (result, 0, sizeof *result);
    result->feedback_id = strtoll (feedback_id, NULL, 10);
    result->ticket_id = strtoll (ticket_id, NULL, 10);
    snprintf (result->ticket_no, sizeof result->ticket_no, "%s", PQgetvalue (res, i, 2));

    char data [160];
    snprintf (data, sizeof data, "{\"feedback_id\": %s, \"solved\": %s, \"csat\": %s}",
              feedback_id, solved? "true": "false", has_csat? csat: "null");
    //  intake masked the comment; masking again costs little and guards
    //  rows written by anything else
    char *note = NULL, *text = NULL;
    if (!solved && !PQgetisnull (res, i, 5)) {
        const char *comment = PQgetvalue (res, i, 5);
        note = tf_mask_text (comment, strlen (comment), NULL);
    }
    if (!solved && asprintf (&text, "客户反馈问题未解决%s%s", note && *note? ": ": "", note? note: "") < 0)
        text = NULL;
    tf_ticket_move_t item = {
        .id = result->ticket_id, .move = solved? TF_MOVE_CONFIRM: TF_MOVE_REOPEN,
        .note = solved? "客户确认问题已解决": text, .data = data
    };
    char csat_array [16];
    snprintf (csat_array, sizeof csat_array, "{%s}", has_csat? csat: "NULL");
    tf_error_t err;
    int moved = tf_ticket_move (self->db, TF_SVC_NOTIFIER, &item, 1, solved? &s_confirmed: &s_reopened,
                                (const char *[]) { csat_array }, false, &err);
    free (text);
    free (note);
    if (moved < 0)
        return -1;
    const char *outcome;
    if (moved == 1) {
        result->outcome = solved? NOTIFIER_CONFIRMED: NOTIFIER_REOPENED;
        outcome = solved? "confirmed": "reopened";
    }
    else
    if (streq (err.code, TF_ERR_ILLEGAL_TRANSITION) || streq (err.code, TF_ERR_NOT_FOUND)) {
        //  a late or repeated answer: the ticket has moved on
        result->outcome = NOTIFIER_IGNORED;
        outcome = "ignored";
        tf_info ("feedback %s on %s ignored: %s", feedback_id, result->ticket_no, err.message);
    }
    else
        return -1;
    const char *p [] = { feedback_id, outcome };
    PGresult *r = tf_db_run (self->db, "notifier_feedback_done", 2, p);
    bool ok = tf_db_ok (self->db, r, "mark feedback processed");
    PQclear (r);
    return ok? 0: -1;
}

//  Runs the locking query (already in a transaction), acts on each row,
//  commits. Returns rows processed or -1.
static int
s_feedback_tx (notifier_t *self, const char *statement, const char *const *params,
               notifier_feedback_t *results, size_t cap)
{
    if (tf_db_begin (self->db))
        return -1;
    PGresult *res = tf_db_run (self->db, statement, 2, params);
    if (!tf_db_ok (self->db, res, "lock feedback")) {
        PQclear (res);
        return tf_db_finish (self->db, -1);
    }
    int n = PQntuples (res);
    if ((size_t) n > cap)
        n = (int) cap;
    int rc = n;
    for (int i = 0; i < n && rc >= 0; i++)
        if (s_feedback_row (self, res, i, &results [i]))
            rc = -1;
    PQclear (res);
    return tf_db_finish (self->db, rc);
}

int
notifier_process_feedback (notifier_t *self, const int64_t *ids, size_t n,
                           notifier_feedback_t *results, size_t cap)
{
    if (n == 0 || cap == 0)
        return 0;
    char *array = tf_db_id_array (ids, n);
    char count [24];
    snprintf (count, sizeof count, "%zu", cap);
    const char *params [] = { array, count };
    int rc = s_feedback_tx (self, "notifier_feedback_of", params, results, cap);
    free (array);
    return rc;
}

int
notifier_reconcile_feedback (notifier_t *self, int stale_seconds, notifier_feedback_t *results, size_t cap)
{
    if (cap == 0)
        return 0;
    char stale [16], count [24];
    snprintf (stale, sizeof stale, "%d", stale_seconds);
    snprintf (count, sizeof count, "%zu", cap);
    const char *params [] = { stale, count };
    return s_feedback_tx (self, "notifier_feedback_stale", params, results, cap);
}
