#include "notifier.h"
#include "tf_private.h"
#include "tf_log.h"
#include "tf_mask.h"
#include "tf_ticket.h"
#include <czmq.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *channel;              //  "*" for the rest
    size_t sink;                //  index into sinks
} route_t;

struct notifier_t {
    tf_db_t *db;
    int max_attempts;
    int retry_seconds;
    notifier_sink_t **sinks;
    size_t nsinks;
    route_t *routes;
    size_t nroutes;
    char *quiet_starts, *quiet_ends;    //  "21:00", "09:00"; NULL: never quiet
    int lease_seconds;
    int close_days;
    char *digest_at;            //  NULL: no digest
    char *sink_names;           //  text[] literal: the staff rows this instance delivers
    char *channels;             //  text[] literal: the customer channels it delivers; NULL: all
};

//  Retries back off exponentially up to a day.
#define NOTIFIER_MAX_DELAY     86400
//  The resolution summary quoted to the customer, in characters.
#define NOTIFIER_SUMMARY_CHARS 200
#define NOTIFIER_STR_(x) #x
#define NOTIFIER_STR(x) NOTIFIER_STR_(x)

//  --------------------------------------------------------------------------
//  SQL

//  A resolved ticket's request, once per round (reopen_count + 1), with
//  the history note that says it was asked. The text is the template's.
static const char *SQL_QUEUE =
    "WITH t AS (SELECT id, reopen_count + 1 AS round,"
    "                  rtrim (left (coalesce (resolution_summary, ''), " NOTIFIER_STR (NOTIFIER_SUMMARY_CHARS) "),"
    "                         ' 。.!!') AS summary"
    "           FROM tickets WHERE id = ANY ($1::int8[]) AND status = 'resolved'),"
    " q AS (SELECT * FROM tf_customer_messages ('confirm_request', (SELECT array_agg (id ORDER BY id) FROM t),"
    "         (SELECT array_agg (jsonb_build_object ('summary', summary) ORDER BY id) FROM t),"
    "         (SELECT array_agg (round::text ORDER BY id) FROM t))) "
    "INSERT INTO ticket_events (ticket_id, kind, actor, note, data) "
    "SELECT q.ticket_id, 'confirmation_requested', 'notifier', '已请客户确认处理结果并评分',"
    "       jsonb_build_object ('round', t.round, 'outbox_id', q.outbox_id) "
    "FROM q JOIN t ON t.id = q.ticket_id";

//  Resolved tickets waiting without the request of their current round.
static const char *SQL_LOCK_UNREQUESTED =
    "SELECT t.id FROM tickets t"
    " WHERE t.status = 'resolved'"
    "   AND t.status_changed_at <= tf_now () - make_interval (secs => $1::int)"
    "   AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = 'confirm_request:' || t.id || ':'"
    "                   || (t.reopen_count + 1))"
    " ORDER BY t.status_changed_at, t.id LIMIT $2::int FOR UPDATE OF t SKIP LOCKED";

//  Takes due rows and leases them: no other instance takes them until the
//  lease ($2 seconds from claimed_at) runs out. The lease touches only
//  claimed_at, which no index holds, so the row is updated in place (HOT). A staff row is taken by an instance that has the
//  sink it names ($5), a customer row by one that serves its channel ($6). `before` says a notifier had claimed it and never
//  recorded the outcome (it crashed). A customer message gets the
//  customer's contact details for the sink that needs one (a digest has no
//  ticket: the customer's latest). $3, $4: the quiet hours.
static const char *SQL_CLAIM =
    "WITH d AS (SELECT id, claimed_at AS before FROM outbox"
    "           WHERE status IN ('queued', 'failed') AND next_attempt_at <= tf_now ()"
    "           AND (claimed_at IS NULL OR claimed_at <= tf_now () - make_interval (secs => $2::int))"
    "           AND (sink = ANY ($5::text[]) OR (sink = 'customer' AND ($6::text[] IS NULL OR channel = ANY ($6))))"
    "           ORDER BY next_attempt_at, id LIMIT $1::int FOR UPDATE SKIP LOCKED),"
    " c AS (UPDATE outbox o SET claimed_at = tf_now ()"
    "       FROM d WHERE o.id = d.id"
    "       RETURNING o.id, o.sink, o.channel, o.attempts, d.before IS NOT NULL AS in_doubt,"
    "                 o.audience = 'customer' AND coalesce (o.priority, '') <> 'P1' AS may_wait,"
    "                 o.audience, o.ticket_id, o.customer_ref,"
    "                 (o.payload || jsonb_build_object ('message_id', o.id, 'kind', o.kind))::text AS body),"
    " r AS (SELECT c.id, c.sink, coalesce (c.channel, '') AS channel, c.attempts, c.in_doubt, c.may_wait, c.body,"
    "              pgp_sym_decrypt (x.phone_sealed, $7) AS phone, pgp_sym_decrypt (x.email_sealed, $7) AS email,"
    "              c.audience = 'customer' AS to_customer, x.ticket_id AS read_ticket"
    "       FROM c LEFT JOIN ticket_contacts x ON c.audience = 'customer' AND x.ticket_id = coalesce (c.ticket_id,"
    "            (SELECT max (ticket_id) FROM ticket_contacts y WHERE y.customer_ref = c.customer_ref))),"
    //  the read is on the record: one row for the batch, with its tickets
    " a AS (INSERT INTO contact_reads (reader, purpose, ticket_ids)"
    "       SELECT current_user, 'delivery', array_agg (DISTINCT read_ticket) FROM r"
    "       WHERE read_ticket IS NOT NULL HAVING count (*) > 0) "
    "SELECT id, sink, channel, attempts, in_doubt, may_wait, body, phone, email,"
    "       tf_quiet_until ($3::time, $4::time), to_customer "
    "FROM r ORDER BY id";

//  The batch's deliveries: $1 ids, $2 the sink each went to. The row is
//  the record (the ticket shows its messages and their states): no
//  history row per message, which cost a fifth of a ticket's writes.
static const char *SQL_SENT =
    "UPDATE outbox o SET status = 'sent', sent_at = tf_now (), attempts = attempts + 1,"
    "                    last_error = NULL, claimed_at = NULL, delivered_via = v.sink"
    " FROM unnest ($1::int8[], $2::text[]) AS v (id, sink)"
    " WHERE o.id = v.id AND o.status IN ('queued', 'failed')";

//  $3: max attempts, $4: the delay before the next one, $5: the sink
static const char *SQL_FAILED =
    "WITH o AS (UPDATE outbox SET attempts = attempts + 1, last_error = left ($2, 500), claimed_at = NULL,"
    "             delivered_via = $5,"
    "             status = CASE WHEN attempts + 1 >= $3::int THEN 'dead' ELSE 'failed' END,"
    "             next_attempt_at = CASE WHEN attempts + 1 >= $3::int THEN tf_now ()"
    "                               ELSE tf_now () + make_interval (secs => $4::int) END"
    "           WHERE id = $1 AND status IN ('queued', 'failed')"
    "           RETURNING id, ticket_id, kind, attempts, status)"
    "INSERT INTO ticket_events (ticket_id, kind, actor, note, data)"
    " SELECT ticket_id, 'notification_dead', 'notifier', left ($2, 500),"
    "        jsonb_build_object ('outbox_id', id, 'kind', kind, 'sink', $5, 'attempts', attempts)"
    " FROM o WHERE status = 'dead' AND ticket_id IS NOT NULL";

//  Back to waiting, untried: due again at $2 (NULL: at once)
static const char *SQL_RELEASE =
    "UPDATE outbox SET next_attempt_at = coalesce ($2::timestamptz, tf_now ()), claimed_at = NULL"
    " WHERE id = ANY ($1::int8[]) AND status IN ('queued', 'failed')";

//  The customers of the auto-closed tickets are told; their follow-up opens
static const char *SQL_CLOSED_NOTICE =
    "WITH t AS (SELECT id, reopen_count FROM tickets WHERE id = ANY ($1::int8[])),"
    " m AS (SELECT * FROM tf_customer_messages ('auto_closed', (SELECT array_agg (id ORDER BY id) FROM t),"
    "         (SELECT array_agg (jsonb_build_object ('days', $2::int) ORDER BY id) FROM t),"
    "         (SELECT array_agg (reopen_count::text ORDER BY id) FROM t))) "
    "SELECT count (tf_open_followup (t.id)), (SELECT count (*) FROM m) FROM t";

//  Today in the desk's time zone, and whether the digest time has passed
static const char *SQL_DIGEST_DUE =
    "SELECT to_char (l, 'YYYY-MM-DD'), l::time >= $1::time"
    " FROM (SELECT tf_now () AT TIME ZONE tf_desk_timezone () AS l) x";

static const char *SQL_DIGEST_CLAIM =
    "INSERT INTO digest_runs (day, customers) VALUES ($1::date, 0) ON CONFLICT DO NOTHING RETURNING day";

//  One message per customer with tickets open or awaiting their answer,
//  a line per ticket (the digest_item template) with its last public step
static const char *SQL_DIGEST =
    "WITH item AS (SELECT subject, text FROM message_templates WHERE kind = 'digest_item' AND channel = '*'),"
    " whole AS (SELECT subject, text FROM message_templates WHERE kind = 'digest' AND channel = '*'),"
    " z AS (SELECT tf_desk_timezone () AS tz),"
    " open AS (SELECT t.id, t.customer_ref, t.channel,"
    "                 tf_render ((SELECT text FROM item), tf_ticket_vars (t, x.phrases, z.tz) || jsonb_build_object ("
    "                   'status', tf_status_text (t.status),"
    "                   'last_step', coalesce ((SELECT m.body FROM ticket_messages m WHERE m.ticket_id = t.id"
    "                                           AND m.direction = 'out' ORDER BY m.id DESC LIMIT 1), '正在处理'))) AS line"
    "          FROM tickets t CROSS JOIN z LEFT JOIN taxonomy x ON x.subcategory = t.subcategory"
    "          WHERE tf_threadable (t.status) AND t.source = 'customer'),"
    " per AS (SELECT customer_ref, count (*) AS n, (array_agg (channel ORDER BY id DESC)) [1] AS channel,"
    "                string_agg (line, E'\\n' ORDER BY id) AS lines"
    "         FROM open GROUP BY customer_ref),"
    " ins AS (INSERT INTO outbox (kind, sink, audience, channel, customer_ref, dedupe_key, payload)"
    "         SELECT 'digest', 'customer', 'customer', per.channel, per.customer_ref,"
    "                'digest:' || $1 || ':' || per.customer_ref,"
    "                jsonb_build_object ('customer_id', per.customer_ref, 'channel', per.channel,"
    "                  'tickets', per.n, 'date', $1,"
    "                  'subject', tf_render (w.subject, jsonb_build_object ('count', per.n, 'date', $1)),"
    "                  'message', tf_render (w.text, jsonb_build_object ('count', per.n, 'date', $1,"
    "                                                                     'items', per.lines)))"
    "         FROM per, whole w ON CONFLICT DO NOTHING RETURNING 1) "
    "UPDATE digest_runs SET customers = (SELECT count (*) FROM ins) WHERE day = $1::date RETURNING customers";

//  Open tickets 3 days old or more, nothing sent to their customer for 3
//  days: one message per 3 days of age
static const char *SQL_STILL_WORKING =
    "WITH t AS (SELECT t.id, floor (extract (epoch FROM tf_now () - t.created_at) / 86400)::int AS days"
    "           FROM tickets t WHERE t.status IN ('assigned', 'accepted', 'in_progress', 'on_hold', 'reopened')"
    "           AND t.source = 'customer' AND t.created_at <= tf_now () - interval '3 days'"
    "           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.ticket_id = t.id AND o.audience = 'customer'"
    "                           AND o.created_at > tf_now () - interval '3 days')"
    "           ORDER BY t.id LIMIT $1::int) "
    "SELECT count (*) FROM tf_customer_messages ('still_working', (SELECT array_agg (id ORDER BY id) FROM t),"
    "         (SELECT array_agg (jsonb_build_object ('days', days) ORDER BY id) FROM t),"
    "         (SELECT array_agg ((days / 3)::text ORDER BY id) FROM t))";

static const char *SQL_FOLLOWUPS =
    "SELECT coalesce (jsonb_agg (x ORDER BY x.due_at, x.ticket_no), '[]')::text FROM ("
    "  SELECT t.ticket_no, f.kind, f.department, f.assignee, f.opens_at, f.due_at, t.priority, t.status, t.csat"
    "  FROM followups f JOIN tickets t ON t.id = f.ticket_id"
    "  WHERE f.done_at IS NULL AND f.opens_at <= tf_now ()"
    "    AND ($1::text IS NULL OR f.department = $1) AND ($2::text IS NULL OR f.assignee = $2)"
    "  ORDER BY f.due_at LIMIT $3::int) x";

//  $1 ticket_no, $2 kind, $3 actor, $4 note, $5-$9 the survey answers
static const char *SQL_FOLLOWUP_DONE =
    "WITH f AS (UPDATE followups f SET done_at = tf_now (), done_by = coalesce ($3, f.assignee, 'notifier'), result = $4"
    "           FROM tickets t WHERE t.ticket_no = $1 AND f.ticket_id = t.id AND f.kind = $2 AND f.done_at IS NULL"
    "           RETURNING f.ticket_id, f.done_by, t.status),"
    " s AS (INSERT INTO surveys (ticket_id, csat, nps, efficiency, attitude, result, comment, source)"
    "       SELECT ticket_id, $5::smallint, $6::smallint, $7::smallint, $8::smallint, $9::smallint, $4, done_by"
    "       FROM f WHERE coalesce ($5::int, $6::int, $7::int, $8::int, $9::int) IS NOT NULL RETURNING ticket_id),"
    " e AS (INSERT INTO ticket_events (ticket_id, kind, actor, note, data)"
    "       SELECT ticket_id, 'followup_done', done_by, $4, jsonb_strip_nulls (jsonb_build_object ('kind', $2,"
    "              'csat', $5::int, 'nps', $6::int, 'efficiency', $7::int, 'attitude', $8::int, 'result', $9::int))"
    "       FROM f RETURNING id) "
    "SELECT f.status, tf_ticket_scored (f.ticket_id, $5::int) FROM f";

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
//  for (within an hour of the fix): it is met. A confirmed ticket's score
//  tags it or opens a review, and its follow-up opens.
static const char *SQL_FEEDBACK_DONE =
    "WITH f AS (UPDATE feedback SET processed_at = tf_now (), outcome = $2 WHERE id = $1 RETURNING ticket_id, csat),"
    " v AS (UPDATE sla_timers s SET met_at = tf_now () FROM f WHERE s.ticket_id = f.ticket_id"
    "       AND s.kind = 'verification' AND s.met_at IS NULL AND s.breached_at IS NULL AND $2 <> 'ignored') "
    "SELECT tf_ticket_scored (ticket_id, csat), tf_open_followup (ticket_id) FROM f WHERE $2 = 'confirmed'";

//  What the answer sets on the ticket with its status
static const tf_ticket_columns_t s_confirmed = {
    "notifier_confirmed", ", csat = coalesce (u.c1, t.csat), confirmed_at = tf_now ()", (const char *[]) { "smallint", NULL }
};
static const tf_ticket_columns_t s_reopened = {
    "notifier_reopened", ", reopen_count = t.reopen_count + 1", (const char *[]) { NULL }
};
static const tf_ticket_columns_t s_auto_closed = {
    "notifier_auto_closed", ", closed_at = tf_now ()", (const char *[]) { NULL }
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
    self->lease_seconds = 60;
    self->close_days = 3;
    self->sink_names = strdup ("{}");
    if (tf_db_prepare (db, "notifier_queue", SQL_QUEUE, 1)
    ||  tf_db_prepare (db, "notifier_lock_unrequested", SQL_LOCK_UNREQUESTED, 2)
    ||  tf_db_prepare (db, "notifier_claim", SQL_CLAIM, 7)
    ||  tf_db_prepare (db, "notifier_sent", SQL_SENT, 2)
    ||  tf_db_prepare (db, "notifier_failed", SQL_FAILED, 5)
    ||  tf_db_prepare (db, "notifier_release", SQL_RELEASE, 2)
    ||  tf_db_prepare (db, "notifier_feedback_of", SQL_FEEDBACK_OF, 2)
    ||  tf_db_prepare (db, "notifier_feedback_stale", SQL_FEEDBACK_STALE, 2)
    ||  tf_db_prepare (db, "notifier_feedback_done", SQL_FEEDBACK_DONE, 2)
    ||  tf_db_prepare (db, "notifier_closed_notice", SQL_CLOSED_NOTICE, 2)
    ||  tf_db_prepare (db, "notifier_digest_due", SQL_DIGEST_DUE, 1)
    ||  tf_db_prepare (db, "notifier_digest_claim", SQL_DIGEST_CLAIM, 1)
    ||  tf_db_prepare (db, "notifier_digest", SQL_DIGEST, 1)
    ||  tf_db_prepare (db, "notifier_still_working", SQL_STILL_WORKING, 1)
    ||  tf_db_prepare (db, "notifier_followups", SQL_FOLLOWUPS, 3)
    ||  tf_db_prepare (db, "notifier_followup_done", SQL_FOLLOWUP_DONE, 9))
        notifier_destroy (&self);
    return self;
}

static void
s_routes_clear (notifier_t *self)
{
    for (size_t i = 0; i < self->nroutes; i++)
        free (self->routes [i].channel);
    free (self->routes);
    self->routes = NULL;
    self->nroutes = 0;
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
    s_routes_clear (self);
    free (self->quiet_starts);
    free (self->quiet_ends);
    free (self->digest_at);
    free (self->sink_names);
    free (self->channels);
    free (self);
    *self_p = NULL;
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
    tf_db_array_t *names = tf_db_array_new ();
    for (size_t i = 0; i < self->nsinks; i++)
        tf_db_array_add (names, notifier_sink_name (self->sinks [i]));
    free (self->sink_names);
    self->sink_names = strdup (tf_db_array_text (names));
    tf_db_array_destroy (&names);
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

static bool
s_set (const char *value)
{
    return value && *value;
}

int
notifier_add_config_sinks (notifier_t *self, const tf_config_t *cfg)
{
    char *path = notifier_file_path (cfg);
    notifier_sink_t *file = path? notifier_sink_file_new ("file", path): NULL;
    free (path);
    if (!file || notifier_add_sink (self, file))
        return -1;
    const char *secret = cfg->notifier_webhook_secret;
    notifier_sink_t *sink;
    if (s_set (cfg->notifier_webhook_url)) {
        sink = notifier_sink_webhook_new ("webhook", cfg->notifier_webhook_url, 5000, secret);
        if (!sink || notifier_add_sink (self, sink))
            return -1;
        notifier_sink_set_quiet (sink, true);       //  push to a customer's phone
    }
    if (s_set (cfg->notifier_sms_url)) {
        //  an SMS gateway: the webhook with the phone number as "to"
        sink = notifier_sink_webhook_new ("sms", cfg->notifier_sms_url, 5000, secret);
        if (!sink || notifier_add_sink (self, sink))
            return -1;
        notifier_sink_set_contact (sink, "phone");
        notifier_sink_set_quiet (sink, true);
    }
    if (s_set (cfg->notifier_smtp_url)) {
        sink = notifier_sink_smtp_new ("email", cfg->notifier_smtp_url, cfg->notifier_smtp_from, 10000);
        if (!sink || notifier_add_sink (self, sink))
            return -1;
    }
    notifier_policy_t policy = {
        .routes = cfg->notifier_routes, .quiet_hours = cfg->notifier_quiet_hours,
        .rate_limits = cfg->notifier_rate_limits, .lease_seconds = cfg->notifier_lease_seconds,
        .close_days = cfg->notifier_close_days, .digest_at = cfg->notifier_digest_at,
        .channels = cfg->notifier_channels
    };
    return notifier_configure (self, &policy);
}

static notifier_sink_t *
s_sink_named (const notifier_t *self, const char *name, size_t *index)
{
    for (size_t i = 0; name && i < self->nsinks; i++)
        if (streq (notifier_sink_name (self->sinks [i]), name)) {
            if (index)
                *index = i;
            return self->sinks [i];
        }
    return NULL;
}

//  "HH:MM" → true
static bool
s_clock_time (const char *text, size_t len)
{
    int h, m, n = 0;
    char copy [8];
    if (len != 5)
        return false;
    memcpy (copy, text, 5);
    copy [5] = 0;
    return sscanf (copy, "%2d:%2d%n", &h, &m, &n) == 2 && n == 5 && h >= 0 && h < 24 && m >= 0 && m < 60;
}

//  Calls fn for each "key=value" of a comma-separated list; -1 when one is
//  not of that form or fn refuses it.
typedef int (pair_fn) (notifier_t *self, const char *key, const char *value);

static int
s_pairs (notifier_t *self, const char *list, const char *what, pair_fn *fn)
{
    char *copy = strdup (list? list: "");
    int rc = 0;
    char *save = NULL;
    for (char *item = strtok_r (copy, ",", &save); item && rc == 0; item = strtok_r (NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        char *eq = strchr (item, '=');
        if (!eq || eq == item || !eq [1]) {
            tf_error ("%s: '%s' is not name=value", what, item);
            rc = -1;
            break;
        }
        *eq = 0;
        rc = fn (self, item, eq + 1);
    }
    free (copy);
    return rc;
}

static int
s_add_route (notifier_t *self, const char *channel, const char *sink)
{
    size_t index;
    if (!s_sink_named (self, sink, &index) && !s_sink_named (self, "file", &index))
        return 0;               //  neither configured: the "*" route or the file sink carries it
    self->routes = realloc (self->routes, (self->nroutes + 1) * sizeof *self->routes);
    assert (self->routes);
    self->routes [self->nroutes++] = (route_t) { strdup (channel), index };
    return 0;
}

static int
s_add_rate (notifier_t *self, const char *sink, const char *value)
{
    char *end;
    double rate = strtod (value, &end);
    notifier_sink_t *target = s_sink_named (self, sink, NULL);
    if (*end || rate < 0) {
        tf_error ("notifier-rate-limits: '%s' is not a number of messages per second", value);
        return -1;
    }
    if (target)
        notifier_sink_set_rate (target, rate);
    return 0;
}

int
notifier_configure (notifier_t *self, const notifier_policy_t *policy)
{
    s_routes_clear (self);
    if (s_pairs (self, policy->routes, "notifier-routes", s_add_route)
    ||  s_pairs (self, policy->rate_limits, "notifier-rate-limits", s_add_rate))
        return -1;
    free (self->quiet_starts);
    free (self->quiet_ends);
    self->quiet_starts = self->quiet_ends = NULL;
    const char *quiet = policy->quiet_hours;
    if (s_set (quiet)) {
        const char *dash = strchr (quiet, '-');
        if (!dash || !s_clock_time (quiet, (size_t) (dash - quiet)) || !s_clock_time (dash + 1, strlen (dash + 1))) {
            tf_error ("notifier-quiet-hours: '%s' is not HH:MM-HH:MM", quiet);
            return -1;
        }
        self->quiet_starts = strndup (quiet, (size_t) (dash - quiet));
        self->quiet_ends = strdup (dash + 1);
    }
    free (self->digest_at);
    self->digest_at = NULL;
    if (s_set (policy->digest_at)) {
        if (!s_clock_time (policy->digest_at, strlen (policy->digest_at))) {
            tf_error ("notifier-digest-at: '%s' is not HH:MM", policy->digest_at);
            return -1;
        }
        self->digest_at = strdup (policy->digest_at);
    }
    free (self->channels);
    self->channels = NULL;
    if (s_set (policy->channels) && !streq (policy->channels, "*")) {
        tf_db_array_t *channels = tf_db_array_new ();
        char *copy = strdup (policy->channels), *save = NULL;
        for (char *c = strtok_r (copy, ", ", &save); c; c = strtok_r (NULL, ", ", &save))
            tf_db_array_add (channels, c);
        self->channels = strdup (tf_db_array_text (channels));
        tf_db_array_destroy (&channels);
        free (copy);
    }
    if (policy->lease_seconds > 0)
        self->lease_seconds = policy->lease_seconds;
    if (policy->close_days > 0)
        self->close_days = policy->close_days;
    return 0;
}

//  The index of the sink for (sink, channel); nsinks when there is none
static size_t
s_route (const notifier_t *self, const char *sink, const char *channel)
{
    size_t index;
    if (s_sink_named (self, sink, &index))
        return index;
    const route_t *any = NULL;
    for (size_t i = 0; i < self->nroutes; i++) {
        if (streq (self->routes [i].channel, channel))
            return self->routes [i].sink;
        if (streq (self->routes [i].channel, "*"))
            any = &self->routes [i];
    }
    if (any)
        return any->sink;
    return s_sink_named (self, "file", &index)? index: self->nsinks;
}

const char *
notifier_route (const notifier_t *self, const char *sink, const char *channel)
{
    size_t index = s_route (self, sink, channel);
    return index < self->nsinks? notifier_sink_name (self->sinks [index]): NULL;
}

//  --------------------------------------------------------------------------
//  Confirmation requests

//  Queues the requests of locked[0..n) in the open transaction: how many
//  got one (a ticket asked already this round gets nothing), or -1.
static int
s_queue_locked (notifier_t *self, const int64_t *locked, int n)
{
    if (n == 0)
        return 0;
    char *array = tf_db_id_array (locked, (size_t) n);
    int rc = tf_db_command (self->db, "notifier_queue", 1, (const char *[]) { array });
    free (array);
    return rc;
}

int
notifier_request_confirmation (notifier_t *self, const int64_t *ids, size_t n)
{
    if (n == 0)
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

//  Runs a locking statement (params $1 int, $2 limit) in an open
//  transaction; the ids it returns (caller frees), their number in *n, or NULL
static int64_t *
s_lock_ids (notifier_t *self, const char *statement, int value, size_t limit, int *n)
{
    char text [16], count [24];
    snprintf (text, sizeof text, "%d", value);
    snprintf (count, sizeof count, "%zu", limit);
    PGresult *res = tf_db_run (self->db, statement, 2, (const char *[]) { text, count });
    if (!tf_db_ok (self->db, res, statement)) {
        PQclear (res);
        return NULL;
    }
    *n = PQntuples (res);
    int64_t *ids = calloc ((size_t) *n + 1, sizeof *ids);
    assert (ids);
    for (int i = 0; i < *n; i++)
        ids [i] = strtoll (PQgetvalue (res, i, 0), NULL, 10);
    PQclear (res);
    return ids;
}

int
notifier_reconcile_resolved (notifier_t *self, int stale_seconds, size_t limit)
{
    if (limit == 0)
        return 0;
    if (tf_db_begin (self->db))
        return -1;
    int n = 0;
    int64_t *locked = s_lock_ids (self, "notifier_lock_unrequested", stale_seconds, limit, &n);
    int rc = tf_db_finish (self->db, locked? s_queue_locked (self, locked, n): -1);
    free (locked);
    return rc;
}

//  --------------------------------------------------------------------------
//  Delivery

typedef struct {
    int64_t id;
    size_t sink;                //  index into self->sinks
    int attempts;               //  before this one
    bool in_doubt;              //  claimed before by a notifier that never said how it went
    bool may_wait;              //  a customer message, not P1: quiet hours hold it
    char *json;                 //  the message as the sink gets it
    size_t len;
    const char *missing;        //  the contact detail the sink needs and the customer lacks
} claimed_t;

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

//  The text as it leaves: the masked message and subject, and for a sink
//  that needs a contact detail the customer's, as "to". NULL on a payload
//  that is not a JSON object (cannot happen: the database built it).
static char *
s_outgoing (const char *payload, const char *contact, const char *phone, const char *email,
            bool customer, const char **missing)
{
    json_t *json = json_loads (payload, 0, NULL);
    if (!json_is_object (json)) {
        json_decref (json);
        return NULL;
    }
    const char *fields [] = { "message", "subject" };
    for (size_t i = 0; i < 2; i++) {
        json_t *value = json_object_get (json, fields [i]);
        if (!json_is_string (value))
            continue;
        char *masked = tf_mask_text (json_string_value (value), json_string_length (value), NULL);
        json_object_set_new (json, fields [i], json_string (masked? masked: ""));
        free (masked);
    }
    *missing = NULL;
    if (customer && contact) {
        const char *to = streq (contact, "phone")? phone: streq (contact, "email")? email: NULL;
        if (to && *to)
            json_object_set_new (json, "to", json_string (to));
        else
            *missing = streq (contact, "phone")? "the customer left no phone number":
                       streq (contact, "email")? "the customer left no e-mail address": "no contact";
    }
    char *text = json_dumps (json, JSON_COMPACT);
    json_decref (json);
    return text;
}

//  One failed attempt: retried later, or dead (at once when retrying
//  cannot help).
static void
s_failed (notifier_t *self, const claimed_t *r, const char *error, bool hopeless, notifier_delivery_t *stats)
{
    const char *sink = notifier_sink_name (self->sinks [r->sink]);
    int attempt = r->attempts + 1;
    int max_attempts = hopeless? attempt: self->max_attempts;
    char id_text [24], max [16], delay [16];
    snprintf (id_text, sizeof id_text, "%lld", (long long) r->id);
    snprintf (max, sizeof max, "%d", max_attempts);
    snprintf (delay, sizeof delay, "%d", s_backoff (self->retry_seconds, r->attempts));
    const char *p [] = { id_text, error, max, delay, sink };
    s_run_update (self, "notifier_failed", 5, p, "mark message failed");
    if (attempt >= max_attempts) {
        stats->dead++;
        tf_warn ("message %lld via %s is dead after %d attempt(s): %s", (long long) r->id, sink, attempt, error);
    }
    else {
        stats->retried++;
        tf_warn ("message %lld via %s failed (attempt %d of %d, next in %s s): %s",
                 (long long) r->id, sink, attempt, max_attempts, delay, error);
    }
}

//  Rows back to waiting without an attempt, due at `at` (NULL: now)
static void
s_release (notifier_t *self, tf_db_array_t *ids, size_t n, const char *at)
{
    if (n == 0)
        return;
    const char *p [] = { tf_db_array_text (ids), at };
    s_run_update (self, "notifier_release", 2, p, "release messages");
}

//  Reads the claimed rows; rows[i].json is the outgoing text
static int
s_read_claimed (notifier_t *self, PGresult *res, claimed_t *rows, char *quiet_until, size_t quiet_size)
{
    int n = PQntuples (res);
    int m = 0;
    *quiet_until = 0;
    for (int i = 0; i < n; i++) {
        claimed_t *r = &rows [m];
        memset (r, 0, sizeof *r);
        r->id = strtoll (PQgetvalue (res, i, 0), NULL, 10);
        r->sink = s_route (self, PQgetvalue (res, i, 1), PQgetvalue (res, i, 2));
        r->attempts = atoi (PQgetvalue (res, i, 3));
        r->in_doubt = *PQgetvalue (res, i, 4) == 't';
        r->may_wait = *PQgetvalue (res, i, 5) == 't';
        if (!PQgetisnull (res, i, 9))
            snprintf (quiet_until, quiet_size, "%s", PQgetvalue (res, i, 9));
        if (r->sink == self->nsinks)
            continue;           //  no sinks at all: notifier_deliver does not claim then
        notifier_sink_t *sink = self->sinks [r->sink];
        r->json = s_outgoing (PQgetvalue (res, i, 6), notifier_sink_contact (sink),
                              PQgetisnull (res, i, 7)? NULL: PQgetvalue (res, i, 7),
                              PQgetisnull (res, i, 8)? NULL: PQgetvalue (res, i, 8),
                              *PQgetvalue (res, i, 10) == 't', &r->missing);
        if (!r->json)
            continue;
        r->len = strlen (r->json);
        m++;
    }
    return m;
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
    snprintf (lease, sizeof lease, "%d", self->lease_seconds);
    const char *params [] = { count, lease, self->quiet_starts, self->quiet_ends, self->sink_names, self->channels,
                              tf_private_key () };
    PGresult *res = tf_db_run (self->db, "notifier_claim", 7, params);
    if (!tf_db_ok (self->db, res, "claim due messages")) {
        PQclear (res);
        return -1;
    }
    int n = PQntuples (res);
    claimed_t *rows = calloc ((size_t) n + 1, sizeof *rows);
    assert (rows);
    char quiet_until [64];
    int m = s_read_claimed (self, res, rows, quiet_until, sizeof quiet_until);
    PQclear (res);
    stats->claimed = n;

    tf_db_array_t *sent = tf_db_array_new (), *via = tf_db_array_new ();
    tf_db_array_t *later = tf_db_array_new (), *held = tf_db_array_new ();
    size_t nsent = 0, nlater = 0, nheld = 0;
    int64_t spent [self->nsinks];
    memset (spent, 0, sizeof spent);
    for (int i = 0; i < m; i++) {
        claimed_t *r = &rows [i];
        notifier_sink_t *sink = self->sinks [r->sink];
        const char *name = notifier_sink_name (sink);
        if (r->in_doubt && notifier_sink_seen (sink, r->id) == 1) {
            //  delivered before a crash took the notifier: record it, do not repeat it
            tf_db_array_add_int (sent, r->id);
            tf_db_array_add (via, name);
            nsent++;
            stats->recovered++;
            continue;
        }
        if (*quiet_until && r->may_wait && notifier_sink_quiet (sink)) {
            tf_db_array_add_int (held, r->id);
            nheld++;
            continue;
        }
        if (r->missing) {
            s_failed (self, r, r->missing, true, stats);
            continue;
        }
        if (spent [r->sink] >= budget_ms || !notifier_sink_admit (sink, zclock_mono ())) {
            //  this sink is slow today, or at its rate: the next round
            tf_db_array_add_int (later, r->id);
            nlater++;
            continue;
        }
        char error [512];
        int64_t start = zclock_mono ();
        int rc = notifier_sink_deliver (sink, r->json, r->len, error, sizeof error);
        spent [r->sink] += zclock_mono () - start;
        if (rc == 0) {
            tf_db_array_add_int (sent, r->id);
            tf_db_array_add (via, name);
            nsent++;
        }
        else
            s_failed (self, r, error, false, stats);
    }
    if (nsent > 0) {
        const char *p [] = { tf_db_array_text (sent), tf_db_array_text (via) };
        s_run_update (self, "notifier_sent", 2, p, "mark messages sent");
    }
    s_release (self, later, nlater, NULL);
    s_release (self, held, nheld, quiet_until);
    stats->sent = (int) nsent - stats->recovered;
    stats->deferred = (int) nlater;
    stats->quiet = (int) nheld;
    if (nheld > 0)
        tf_info ("%zu message(s) to customers held for the quiet hours until %s", nheld, quiet_until);
    tf_db_array_destroy (&sent);
    tf_db_array_destroy (&via);
    tf_db_array_destroy (&later);
    tf_db_array_destroy (&held);
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

//  --------------------------------------------------------------------------
//  Closing, the digest, long tickets

int
notifier_close_unconfirmed (notifier_t *self, size_t limit)
{
    if (limit == 0)
        return 0;
    if (tf_db_begin (self->db))
        return -1;
    //  resolved, and unanswered since, for close_days
    int64_t *locked = calloc (limit, sizeof *locked);
    assert (locked);
    int n = tf_ticket_lock_waiting (self->db, TF_FROM (RESOLVED), self->close_days * 86400, limit, locked);
    if (n < 0) {
        free (locked);
        return tf_db_finish (self->db, -1);
    }
    tf_ticket_move_t *items = calloc ((size_t) n + 1, sizeof *items);
    int64_t *moved_ids = calloc ((size_t) n + 1, sizeof *moved_ids);
    assert (items && moved_ids);
    char data [64];
    snprintf (data, sizeof data, "{\"days\": %d}", self->close_days);
    for (int i = 0; i < n; i++)
        items [i] = (tf_ticket_move_t) { .id = locked [i], .move = TF_MOVE_AUTO_CLOSE, .note = "客户未确认,自动关闭",
                                         .data = data };
    int moved = n > 0? tf_ticket_move (self->db, TF_SVC_NOTIFIER, items, (size_t) n, &s_auto_closed,
                                       (const char *[]) { NULL }, true, NULL): 0;
    size_t k = 0;
    for (int i = 0; i < n; i++)
        if (items [i].moved)
            moved_ids [k++] = items [i].id;
    int rc = moved;
    if (rc > 0) {
        char *array = tf_db_id_array (moved_ids, k);
        char days [16];
        snprintf (days, sizeof days, "%d", self->close_days);
        PGresult *res = tf_db_run (self->db, "notifier_closed_notice", 2, (const char *[]) { array, days });
        if (!tf_db_ok (self->db, res, "tell the customers of auto-closed tickets"))
            rc = -1;
        PQclear (res);
        free (array);
    }
    free (items);
    free (moved_ids);
    free (locked);
    rc = tf_db_finish (self->db, rc);
    if (rc > 0)
        tf_info ("%d ticket(s) closed without confirmation after %d days", rc, self->close_days);
    return rc;
}

//  A one-value statement's answer: 0 with the value in out, or -1
static int
s_value (notifier_t *self, const char *statement, int nparams, const char *const *params, int column,
         char *out, size_t size, bool *found)
{
    PGresult *res = tf_db_run (self->db, statement, nparams, params);
    if (!tf_db_ok (self->db, res, statement)) {
        PQclear (res);
        return -1;
    }
    *found = PQntuples (res) > 0;
    snprintf (out, size, "%s", *found? PQgetvalue (res, 0, column): "");
    PQclear (res);
    return 0;
}

//  Today in the desk's time zone (16 bytes), and whether it is past digest_at
static int
s_today (notifier_t *self, char *today, bool *past)
{
    const char *p [] = { self->digest_at? self->digest_at: "00:00" };
    PGresult *res = tf_db_run (self->db, "notifier_digest_due", 1, p);
    bool ok = tf_db_ok (self->db, res, "today's date") && PQntuples (res) == 1;
    if (ok) {
        snprintf (today, 16, "%s", PQgetvalue (res, 0, 0));
        *past = *PQgetvalue (res, 0, 1) == 't';
    }
    PQclear (res);
    return ok? 0: -1;
}

int
notifier_digest (notifier_t *self, const char *day)
{
    char today [16];
    bool past;
    if (!day) {
        if (!self->digest_at)
            return 0;
        if (s_today (self, today, &past))
            return -1;
        if (!past)
            return 0;
        day = today;
    }
    if (tf_db_begin (self->db))
        return -1;
    char customers [24] = "";
    bool found;
    int rc = s_value (self, "notifier_digest_claim", 1, (const char *[]) { day }, 0, customers,
                      sizeof customers, &found);
    //  not found: another instance (or an earlier pass) made that day's
    if (rc == 0 && found)
        rc = s_value (self, "notifier_digest", 1, (const char *[]) { day }, 0, customers, sizeof customers, &found);
    rc = tf_db_finish (self->db, rc == 0 && found? atoi (customers): rc);
    if (rc > 0)
        tf_info ("digest of %s: %d customer(s)", day, rc);
    return rc;
}

int
notifier_digest_now (notifier_t *self, char *day_out)
{
    bool past;
    if (s_today (self, day_out, &past))
        return -1;
    return notifier_digest (self, day_out);
}

int
notifier_still_working (notifier_t *self, size_t limit)
{
    char count [24], queued [24];
    snprintf (count, sizeof count, "%zu", limit);
    bool found;
    if (s_value (self, "notifier_still_working", 1, (const char *[]) { count }, 0, queued, sizeof queued, &found))
        return -1;
    return atoi (queued);
}

//  --------------------------------------------------------------------------
//  Follow-up

//  The field's text, or NULL when absent (caller frees)
static char *
s_text (const tf_msg_t *m, tf_field_id_t f)
{
    return tf_msg_has (m, f)? tf_msg_strdup (m, f): NULL;
}

char *
notifier_followups (notifier_t *self, const tf_msg_t *request)
{
    assert (request->type == TF_MSG_FOLLOWUP_LIST);
    char *department = s_text (request, TF_F_FOLLOWUP_LIST_DEPARTMENT);
    char *agent = s_text (request, TF_F_FOLLOWUP_LIST_AGENT);
    char limit [16];
    snprintf (limit, sizeof limit, "%d", tf_msg_has (request, TF_F_FOLLOWUP_LIST_LIMIT)?
              (int) tf_msg_int (request, TF_F_FOLLOWUP_LIST_LIMIT): 100);
    PGresult *res = tf_db_run (self->db, "notifier_followups", 3, (const char *[]) { department, agent, limit });
    char *json = tf_db_ok (self->db, res, "list follow-ups") && PQntuples (res) == 1?
                 strdup (PQgetvalue (res, 0, 0)): NULL;
    PQclear (res);
    free (department);
    free (agent);
    return json;
}

int
notifier_followup_done (notifier_t *self, const tf_msg_t *request, char *status_out, tf_error_t *err)
{
    assert (request->type == TF_MSG_FOLLOWUP_DONE);
    char number [40];
    tf_ticket_no_copy (request, TF_F_FOLLOWUP_DONE_TICKET_NO, number, sizeof number);
    char *kind = s_text (request, TF_F_FOLLOWUP_DONE_KIND);
    char *actor = s_text (request, TF_F_FOLLOWUP_DONE_ACTOR);
    char *note = NULL;
    if (tf_msg_has (request, TF_F_FOLLOWUP_DONE_NOTE))
        note = tf_mask_text (request->v [TF_F_FOLLOWUP_DONE_NOTE].str, request->v [TF_F_FOLLOWUP_DONE_NOTE].len, NULL);
    const tf_field_id_t scores [] = { TF_F_FOLLOWUP_DONE_CSAT, TF_F_FOLLOWUP_DONE_NPS, TF_F_FOLLOWUP_DONE_EFFICIENCY,
                                      TF_F_FOLLOWUP_DONE_ATTITUDE, TF_F_FOLLOWUP_DONE_RESULT };
    char values [5][24];
    const char *params [9] = { number, kind? kind: "call", actor, note };
    for (int i = 0; i < 5; i++)
        params [4 + i] = tf_msg_int_param (request, scores [i], values [i], sizeof values [i]);
    bool found = false;
    int query = -1, rc = -1;
    if (tf_db_begin (self->db) == 0) {
        query = s_value (self, "notifier_followup_done", 9, params, 0, status_out, 16, &found);
        rc = tf_db_finish (self->db, query == 0 && found? 0: -1);
    }
    if (query == 0 && !found)
        tf_error_set (err, TF_ERR_NOT_FOUND, "ticket_no", "no open %s follow-up on %s", kind? kind: "call", number);
    else
    if (rc)
        tf_error_unavailable (err);
    free (kind);
    free (actor);
    free (note);
    return rc;
}
