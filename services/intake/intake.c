#include "intake.h"
#include "tf_private.h"
#include "tf_log.h"
#include "tf_mask.h"
#include "tf_ticket.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct intake_t {
    tf_db_t *db;
};

//  A submission as it is stored: masked texts, NUL-terminated copies.
typedef struct {
    char *channel, *external_id, *thread_id, *source, *customer_ref, *customer_type;
    char *subject, *body, *order_no, *product, *wants, *expected_at, *contacted_at;
    char *error_text, *steps, *alert_type, *alert_scope;
    char *name, *phone, *email;
    int masked;                 //  how many personal numbers were masked
} row_t;

//  A batch costs the same few statements whatever its size: the
//  duplicates among it, its numbers and ids, its tickets, their contacts,
//  their history rows.

//  Which of the batch's (channel, external_id) pairs are stored already:
//  a lookup per message through tickets_channel_external_id whatever the
//  statistics say: a plan made while the table was small (a hash join over
//  all tickets) would otherwise stay cached as the table grows.
static const char *SQL_DUPLICATES =
    "SELECT x.ord, t.id, t.ticket_no FROM unnest ($1::text[], $2::text[]) WITH ORDINALITY"
    "  AS x (channel, external_id, ord), "
    "LATERAL (SELECT id, ticket_no FROM tickets WHERE channel = x.channel AND external_id = x.external_id"
    "         LIMIT 1) t";

//  One number per new ticket of the batch: the day's row is bumped once,
//  under its row lock, so concurrent instances get disjoint ranges; and
//  their ids, so contacts and history can be written without a round trip
//  per ticket.
static const char *SQL_NUMBERS =
    "WITH s AS (INSERT INTO ticket_serials AS s (day, last_serial) VALUES (tf_now ()::date, $1::int) "
    "           ON CONFLICT (day) DO UPDATE SET last_serial = s.last_serial + EXCLUDED.last_serial "
    "           RETURNING to_char (day, 'YYYYMMDD') AS day, last_serial) "
    "SELECT s.day, s.last_serial, ARRAY (SELECT nextval ('tickets_id_seq') FROM generate_series (1, $1::int)) "
    "FROM s";

static const char *SQL_INSERT =
    "INSERT INTO tickets (id, ticket_no, channel, external_id, source, customer_ref, customer_type,"
    "                     subject, body, order_no, product, wants, expected_at, error_text, steps,"
    "                     alert_type, alert_scope, contacted_at) "
    "SELECT * FROM unnest ($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
    "                      $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],"
    "                      $13::timestamptz[], $14::text[], $15::text[], $16::text[], $17::text[],"
    "                      $18::timestamptz[]) "
    "ON CONFLICT (channel, external_id) WHERE external_id IS NOT NULL DO NOTHING "
    "RETURNING id";

//  The customer's open ticket each submission joins (same thread, or the
//  same order), if any: only rows with a thread id or an order number
//  look, through the customer's index.
static const char *SQL_THREADS =
    "SELECT x.ord, t.id, t.ticket_no FROM unnest ($1::text[], $2::text[], $3::text[], $4::text[])"
    "  WITH ORDINALITY AS x (channel, thread_id, customer_ref, order_no, ord), "
    "LATERAL (SELECT t.id, t.ticket_no FROM tickets t"
    "         WHERE t.customer_ref = x.customer_ref AND tf_threadable (t.status)"
    "           AND (t.id = (SELECT h.ticket_id FROM ticket_threads h"
    "                        WHERE h.channel = x.channel AND h.thread_id = x.thread_id)"
    "                OR t.order_no = x.order_no)"
    "         ORDER BY t.id DESC LIMIT 1) t "
    "WHERE x.thread_id IS NOT NULL OR x.order_no IS NOT NULL";

//  A customer's message into their ticket ($1 id, $2 channel, $3 thread, $4 masked body)
static const char *SQL_MESSAGE_IN = "SELECT tf_message_in ($1::int8, $2, $3, $4)";

//  ticket.message's ticket: by number, else thread, else the customer's
//  open ticket about the order; locked
static const char *SQL_MESSAGE_TICKET =
    "SELECT t.id, t.ticket_no, t.status, t.customer_ref FROM tickets t WHERE t.id = coalesce ("
    "  (SELECT id FROM tickets WHERE ticket_no = $1),"
    "  (SELECT ticket_id FROM ticket_threads WHERE channel = $2 AND thread_id = $3),"
    "  (SELECT id FROM tickets WHERE customer_ref = $4 AND order_no = $5 AND tf_threadable (status)"
    "   ORDER BY id DESC LIMIT 1)) FOR UPDATE";

//  New customer tickets' thread ids and receipts
static const char *SQL_OPENED = "SELECT tf_ticket_opened ($1::int8[], $2::text[], $3::text[])";

//  $1 ticket, $2-$6 the scores, $7 the masked comment
static const char *SQL_SURVEY =
    "WITH s AS (INSERT INTO surveys (ticket_id, csat, nps, efficiency, attitude, result, comment, source)"
    "           VALUES ($1, $2, $3, $4, $5, $6, $7, 'customer') RETURNING id, ticket_id),"
    " e AS (INSERT INTO ticket_events (ticket_id, kind, actor, note, data)"
    "       SELECT ticket_id, 'survey', 'customer', $7, jsonb_strip_nulls (jsonb_build_object ('survey_id', id,"
    "              'csat', $2::int, 'nps', $3::int, 'efficiency', $4::int, 'attitude', $5::int, 'result', $6::int))"
    "       FROM s) "
    "SELECT tf_ticket_scored ($1, $2::int) FROM s";

//  Contact details sealed with the private-data key ($6), never stored plain
//  What a customer sees by the public reference ($1 the ticket number)
static const char *SQL_STATUS =
    "SELECT status, tf_status_text (status), to_char (updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    "       CASE WHEN tf_threadable (status) AND status <> 'resolved'"
    "            THEN to_char (resolve_due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') END"
    " FROM tickets WHERE ticket_no = $1";

static const char *SQL_CONTACTS =
    "INSERT INTO ticket_contacts (ticket_id, customer_ref, name_sealed, phone_sealed, email_sealed) "
    "SELECT id, ref, pgp_sym_encrypt (name, $6), pgp_sym_encrypt (phone, $6), pgp_sym_encrypt (email, $6)"
    " FROM unnest ($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[]) AS c (id, ref, name, phone, email)";

static const char *SQL_TICKET_JSON =
    "SELECT (jsonb_build_object ("
    "  'ticket_no', t.ticket_no, 'ticket_id', t.id, 'status', t.status,"
    "  'channel', t.channel, 'external_id', t.external_id, 'source', t.source,"
    "  'customer_id', t.customer_ref, 'customer_type', t.customer_type,"
    "  'subject', t.subject, 'body', t.body, 'order_no', t.order_no, 'product', t.product,"
    "  'wants', t.wants, 'expected_at', t.expected_at, 'contacted_at', t.contacted_at, 'error_text', t.error_text,"
    "  'steps', t.steps, 'alert_type', t.alert_type, 'alert_scope', t.alert_scope,"
    "  'category', t.category, 'subcategory', t.subcategory, 'third_level', t.third_level,"
    "  'priority', t.priority, 'confidence', t.confidence,"
    "  'priority_reasons', to_jsonb (t.priority_reasons), 'sentiment', t.sentiment,"
    "  'incident_id', t.incident_id, 'reopen_count', t.reopen_count,"
    "  'department', t.department, 'assignee', t.assignee,"
    "  'escalation_level', t.escalation_level, 'escalated_to', t.escalated_to,"
    "  'deadline_rule', (SELECT x.deadline_text FROM taxonomy x WHERE x.subcategory = t.subcategory),"
    "  'deadlines', (SELECT coalesce (jsonb_agg (jsonb_build_object ("
    "                 'kind', s.kind, 'round', s.round, 'due_at', s.due_at,"
    "                 'state', CASE WHEN s.met_at IS NOT NULL THEN 'met' WHEN s.breached_at IS NOT NULL THEN 'breached'"
    "                               WHEN s.paused_at IS NOT NULL THEN 'paused' ELSE 'pending' END)"
    "                 ORDER BY s.due_at, s.id), '[]'::jsonb)"
    "               FROM sla_timers s WHERE s.ticket_id = t.id"
    "               AND s.kind IN ('response', 'resolution', 'verification', 'progress',"
    "                              'red_untouched', 'acknowledgement')),"
    "  'response_due_at', t.response_due_at, 'resolve_due_at', t.resolve_due_at,"
    "  'first_response_at', t.first_response_at, 'resolved_at', t.resolved_at,"
    "  'closed_at', t.closed_at, 'resolution_summary', t.resolution_summary, 'csat', t.csat,"
    "  'created_at', t.created_at, 'updated_at', t.updated_at,"
    "  'history', (SELECT coalesce (jsonb_agg (jsonb_build_object ("
    "                 'at', e.at, 'event', e.kind, 'from', e.from_status, 'to', e.to_status,"
    "                 'actor', e.actor, 'note', e.note) ORDER BY e.id), '[]'::jsonb)"
    "              FROM ticket_events e WHERE e.ticket_id = t.id)"
    ") || jsonb_build_object ("
    "  'tags', to_jsonb (t.tags), 'awaiting_customer', t.awaiting_customer,"
    "  'thread', (SELECT coalesce (jsonb_agg (jsonb_build_object ("
    "                 'at', m.at, 'direction', m.direction, 'author', m.author, 'channel', m.channel,"
    "                 'body', m.body, 'delivery', o.status) ORDER BY m.id), '[]'::jsonb)"
    "             FROM ticket_messages m LEFT JOIN outbox o ON o.id = m.outbox_id WHERE m.ticket_id = t.id),"
    "  'messages', (SELECT coalesce (jsonb_agg (jsonb_build_object ("
    "                 'id', o.id, 'kind', o.kind, 'to', o.audience, 'state', o.status, 'attempts', o.attempts,"
    "                 'sink', coalesce (o.delivered_via, o.sink), 'queued_at', o.created_at, 'sent_at', o.sent_at,"
    "                 'not_before', o.next_attempt_at, 'error', o.last_error) ORDER BY o.id), '[]'::jsonb)"
    "               FROM outbox o WHERE o.ticket_id = t.id),"
    "  'followups', (SELECT coalesce (jsonb_agg (jsonb_build_object ('kind', f.kind, 'assignee', f.assignee,"
    "                 'opens_at', f.opens_at, 'due_at', f.due_at, 'done_at', f.done_at, 'done_by', f.done_by)"
    "                 ORDER BY f.id), '[]'::jsonb) FROM followups f WHERE f.ticket_id = t.id),"
    "  'surveys', (SELECT coalesce (jsonb_agg (jsonb_strip_nulls (jsonb_build_object ('at', v.at, 'source', v.source,"
    "                 'csat', v.csat, 'nps', v.nps, 'efficiency', v.efficiency, 'attitude', v.attitude,"
    "                 'result', v.result, 'comment', v.comment)) ORDER BY v.id), '[]'::jsonb)"
    "              FROM surveys v WHERE v.ticket_id = t.id),"
    "  'customer_history', (SELECT jsonb_build_object ("
    "                 'tickets', count (*), 'open', count (*) FILTER (WHERE tf_threadable (c.status)),"
    "                 'complaints_90_days', count (*) FILTER (WHERE (c.category = '服务态度' OR c.subcategory LIKE '%投诉%')"
    "                                                          AND c.created_at > tf_now () - interval '90 days'),"
    "                 'same_problem', count (*) FILTER (WHERE c.subcategory = t.subcategory),"
    "                 'recent', coalesce ((SELECT jsonb_agg (r ORDER BY r.created_at DESC) FROM ("
    "                     SELECT r.ticket_no, r.status, r.subcategory, r.created_at, r.csat FROM tickets r"
    "                     WHERE r.customer_ref = t.customer_ref AND r.id <> t.id"
    "                     ORDER BY r.created_at DESC LIMIT 5) r), '[]'::jsonb))"
    "               FROM tickets c WHERE c.customer_ref = t.customer_ref AND c.id <> t.id)"
    "))::text FROM tickets t WHERE t.ticket_no = $1";

static const char *SQL_FEEDBACK =
    "WITH t AS (SELECT id FROM tickets WHERE id = $1 AND status = 'resolved' FOR UPDATE),"
    " f AS (INSERT INTO feedback (ticket_id, solved, csat, comment)"
    "       SELECT id, $2::boolean, $3::smallint, $4 FROM t RETURNING id, ticket_id),"
    " e AS (INSERT INTO ticket_events (ticket_id, kind, actor, note, data)"
    "       SELECT ticket_id, 'feedback_received', 'customer', $4,"
    "              jsonb_build_object ('solved', $2::boolean, 'csat', $3::int, 'feedback_id', id) FROM f)"
    "SELECT id FROM f";

intake_t *
intake_new (tf_db_t *db)
{
    if (!tf_private_key ()) {
        tf_error ("intake: no private-data key (tf_private_init): contact details could not be sealed");
        return NULL;
    }
    intake_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    if (tf_db_prepare (db, "intake_duplicates", SQL_DUPLICATES, 2)
    ||  tf_db_prepare (db, "intake_numbers", SQL_NUMBERS, 1)
    ||  tf_db_prepare (db, "intake_insert", SQL_INSERT, 17)
    ||  tf_db_prepare (db, "intake_contacts", SQL_CONTACTS, 6)
    ||  tf_db_prepare (db, "intake_ticket_json", SQL_TICKET_JSON, 1)
    ||  tf_db_prepare (db, "intake_feedback", SQL_FEEDBACK, 4)
    ||  tf_db_prepare (db, "intake_threads", SQL_THREADS, 4)
    ||  tf_db_prepare (db, "intake_message_in", SQL_MESSAGE_IN, 4)
    ||  tf_db_prepare (db, "intake_message_ticket", SQL_MESSAGE_TICKET, 5)
    ||  tf_db_prepare (db, "intake_opened", SQL_OPENED, 3)
    ||  tf_db_prepare (db, "intake_survey", SQL_SURVEY, 7)
    ||  tf_db_prepare (db, "intake_status", SQL_STATUS, 1))
        intake_destroy (&self);
    return self;
}

void
intake_destroy (intake_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

int
intake_format_ticket_no (char *out, size_t size, int year, int month, int day, long serial)
{
    if (year < 2000 || year > 9999 || month < 1 || month > 12 || day < 1 || day > 31
    ||  serial < 1 || serial > 999999)
        return -1;
    int n = snprintf (out, size, "CS%04d%02d%02d%04ld", year, month, day, serial);
    return n > 0 && (size_t) n < size? 0: -1;
}

bool
intake_ticket_no_valid (const char *s, size_t len)
{
    if (len < 14 || len > 16 || s [0] != 'C' || s [1] != 'S')
        return false;
    for (size_t i = 2; i < len; i++)
        if (s [i] < '0' || s [i] > '9')
            return false;
    return true;
}

static char *
s_copy (const tf_msg_t *m, tf_field_id_t f)
{
    return tf_msg_strdup (m, f);
}

static char *
s_masked (const tf_msg_t *m, tf_field_id_t f, int *masked)
{
    if (!tf_msg_has (m, f))
        return NULL;
    char *text = tf_mask_text (m->v [f].str, m->v [f].len, NULL);
    tf_mask_stats_t st = tf_mask_last_stats ();
    *masked += st.phones + st.id_cards + st.bank_cards + st.emails;
    return text;
}

//  An identifier as stored (tf_private_id), or NULL when absent
static char *
s_private (const tf_msg_t *m, tf_field_id_t f)
{
    return tf_msg_has (m, f)? tf_private_id (m->v [f].str, m->v [f].len): NULL;
}

static void
s_row_fill (row_t *r, const tf_msg_t *m)
{
    memset (r, 0, sizeof *r);
    r->channel = s_copy (m, TF_F_SUBMIT_CHANNEL);
    r->external_id = s_private (m, TF_F_SUBMIT_EXTERNAL_ID);
    r->thread_id = s_copy (m, TF_F_SUBMIT_THREAD_ID);
    r->source = s_copy (m, TF_F_SUBMIT_SOURCE);
    if (!r->source)
        r->source = strdup (strcmp (r->channel, "monitor") == 0? "monitor": "customer");
    r->customer_ref = s_private (m, TF_F_CUSTOMER_ID);
    r->customer_type = s_copy (m, TF_F_CUSTOMER_TYPE);
    r->subject = s_masked (m, TF_F_SUBMIT_SUBJECT, &r->masked);
    r->body = s_masked (m, TF_F_SUBMIT_BODY, &r->masked);
    r->order_no = s_private (m, TF_F_SUBMIT_ORDER_NO);
    r->product = s_masked (m, TF_F_SUBMIT_PRODUCT, &r->masked);
    r->wants = s_copy (m, TF_F_SUBMIT_WANTS);
    r->expected_at = s_copy (m, TF_F_SUBMIT_EXPECTED_AT);
    r->contacted_at = s_copy (m, TF_F_SUBMIT_CONTACTED_AT);
    r->error_text = s_masked (m, TF_F_SUBMIT_ERROR_TEXT, &r->masked);
    r->steps = s_masked (m, TF_F_SUBMIT_STEPS, &r->masked);
    r->alert_type = s_masked (m, TF_F_SUBMIT_ALERT_TYPE, &r->masked);
    r->alert_scope = s_masked (m, TF_F_SUBMIT_ALERT_SCOPE, &r->masked);
    r->name = s_copy (m, TF_F_CUSTOMER_NAME);
    r->phone = s_copy (m, TF_F_CUSTOMER_PHONE);
    r->email = s_copy (m, TF_F_CUSTOMER_EMAIL);
    //  a customer known by their phone or e-mail: that is where to reach
    //  them, kept sealed with the other contact details
    if (tf_private_is_hash (r->customer_ref)) {
        char *id = s_copy (m, TF_F_CUSTOMER_ID);
        char **slot = strchr (id, '@')? &r->email: &r->phone;
        if (!*slot)
            *slot = id;
        else
            free (id);
    }
}

static void
s_row_free (row_t *r)
{
    char **fields [] = { &r->channel, &r->external_id, &r->thread_id, &r->source, &r->customer_ref,
                         &r->customer_type, &r->subject, &r->body, &r->order_no, &r->product,
                         &r->wants, &r->expected_at, &r->contacted_at, &r->error_text, &r->steps, &r->alert_type,
                         &r->alert_scope, &r->name, &r->phone, &r->email };
    for (size_t i = 0; i < sizeof fields / sizeof fields [0]; i++) {
        free (*fields [i]);
        *fields [i] = NULL;
    }
}

//  Finds the stored duplicates among rows[0..n) (those with an external
//  id), filling their results. Returns 0 or -1.
static int
s_duplicates (intake_t *self, row_t *rows, size_t n, intake_result_t *results)
{
    tf_db_array_t *channels = tf_db_array_new (), *externals = tf_db_array_new ();
    for (size_t i = 0; i < n; i++) {
        tf_db_array_add (channels, rows [i].channel);
        tf_db_array_add (externals, rows [i].external_id);
    }
    const char *params [] = { tf_db_array_text (channels), tf_db_array_text (externals) };
    PGresult *res = tf_db_run (self->db, "intake_duplicates", 2, params);
    tf_db_array_destroy (&channels);
    tf_db_array_destroy (&externals);
    if (!tf_db_ok (self->db, res, "find duplicates")) {
        PQclear (res);
        return -1;
    }
    for (int r = 0; r < PQntuples (res); r++) {
        size_t i = (size_t) strtoll (PQgetvalue (res, r, 0), NULL, 10) - 1;
        if (i >= n)
            continue;
        results [i].ok = true;
        results [i].duplicate = true;
        results [i].ticket_id = strtoll (PQgetvalue (res, r, 1), NULL, 10);
        snprintf (results [i].ticket_no, sizeof results [i].ticket_no, "%s", PQgetvalue (res, r, 2));
    }
    PQclear (res);
    return 0;
}

//  The rows (not duplicates) that join their customer's open ticket: their
//  messages go into its thread, and results say so. Returns 0 or -1.
static int
s_threads (intake_t *self, row_t *rows, size_t n, intake_result_t *results)
{
    tf_db_array_t *a [4];
    bool any = false;
    for (int c = 0; c < 4; c++)
        a [c] = tf_db_array_new ();
    for (size_t i = 0; i < n; i++) {
        bool looks = !results [i].ok && (rows [i].thread_id || rows [i].order_no);
        any = any || looks;
        tf_db_array_add (a [0], rows [i].channel);
        tf_db_array_add (a [1], looks? rows [i].thread_id: NULL);
        tf_db_array_add (a [2], rows [i].customer_ref);
        tf_db_array_add (a [3], looks? rows [i].order_no: NULL);
    }
    PGresult *res = NULL;
    if (any) {
        const char *params [] = { tf_db_array_text (a [0]), tf_db_array_text (a [1]),
                                  tf_db_array_text (a [2]), tf_db_array_text (a [3]) };
        res = tf_db_run (self->db, "intake_threads", 4, params);
    }
    for (int c = 0; c < 4; c++)
        tf_db_array_destroy (&a [c]);
    if (!any)
        return 0;
    if (!tf_db_ok (self->db, res, "find the customers' open tickets")) {
        PQclear (res);
        return -1;
    }
    int rc = 0;
    for (int r = 0; r < PQntuples (res) && rc == 0; r++) {
        size_t i = (size_t) strtoll (PQgetvalue (res, r, 0), NULL, 10) - 1;
        if (i >= n)
            continue;
        intake_result_t *result = &results [i];
        result->ok = true;
        result->threaded = true;
        result->ticket_id = strtoll (PQgetvalue (res, r, 1), NULL, 10);
        snprintf (result->ticket_no, sizeof result->ticket_no, "%s", PQgetvalue (res, r, 2));
        const char *params [] = { PQgetvalue (res, r, 1), rows [i].channel, rows [i].thread_id, rows [i].body };
        rc = tf_db_command (self->db, "intake_message_in", 4, params) < 0? -1: 0;
    }
    PQclear (res);
    return rc;
}

//  The row of the batch that repeats row i's (channel, external_id)
//  earlier in the batch, or i itself.
static size_t
s_repeat_of (const row_t *rows, size_t i)
{
    if (!rows [i].external_id)
        return i;
    for (size_t j = 0; j < i; j++)
        if (rows [j].external_id && streq (rows [j].external_id, rows [i].external_id)
        &&  streq (rows [j].channel, rows [i].channel))
            return j;
    return i;
}

//  The batch's numbers and ids: fills ticket_no and ticket_id of the
//  `fresh` rows marked in results (ok == false). Returns 0 or -1.
static int
s_number (intake_t *self, intake_result_t *results, const bool *fresh, size_t n, size_t count)
{
    char text [24];
    snprintf (text, sizeof text, "%zu", count);
    PGresult *res = tf_db_run (self->db, "intake_numbers", 1, (const char *[]) { text });
    if (!tf_db_ok (self->db, res, "allocate ticket numbers") || PQntuples (res) != 1) {
        PQclear (res);
        return -1;
    }
    int year = 0, month = 0, mday = 0;
    sscanf (PQgetvalue (res, 0, 0), "%4d%2d%2d", &year, &month, &mday);
    long serial = strtol (PQgetvalue (res, 0, 1), NULL, 10) - (long) count;
    //  the ids: "{101,102,...}"
    const char *p = PQgetvalue (res, 0, 2);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (!fresh [i])
            continue;
        while (*p && (*p < '0' || *p > '9'))
            p++;
        char *end;
        results [i].ticket_id = strtoll (p, &end, 10);
        p = end;
        if (results [i].ticket_id <= 0
        ||  intake_format_ticket_no (results [i].ticket_no, sizeof results [i].ticket_no, year, month, mday,
                                     ++serial)) {
            tf_error ("ticket serial %ld or id out of range for %s", serial, PQgetvalue (res, 0, 0));
            rc = -1;
        }
    }
    PQclear (res);
    return rc;
}

//  Inserts the fresh tickets, their contacts and history rows. Rows
//  another instance stored meanwhile are resolved to its ticket. Returns 0 or -1.
static int
s_insert (intake_t *self, row_t *rows, intake_result_t *results, const bool *fresh, size_t n)
{
    enum { COLUMNS = 18 };
    tf_db_array_t *a [COLUMNS];
    for (int c = 0; c < COLUMNS; c++)
        a [c] = tf_db_array_new ();
    for (size_t i = 0; i < n; i++) {
        if (!fresh [i])
            continue;
        const row_t *r = &rows [i];
        tf_db_array_add_int (a [0], results [i].ticket_id);
        const char *values [COLUMNS - 1] = {
            results [i].ticket_no, r->channel, r->external_id, r->source, r->customer_ref, r->customer_type,
            r->subject, r->body, r->order_no, r->product, r->wants, r->expected_at, r->error_text,
            r->steps, r->alert_type, r->alert_scope, r->contacted_at
        };
        for (int c = 1; c < COLUMNS; c++)
            tf_db_array_add (a [c], values [c - 1]);
    }
    const char *params [COLUMNS];
    for (int c = 0; c < COLUMNS; c++)
        params [c] = tf_db_array_text (a [c]);
    PGresult *res = tf_db_run (self->db, "intake_insert", COLUMNS, params);
    for (int c = 0; c < COLUMNS; c++)
        tf_db_array_destroy (&a [c]);
    if (!tf_db_ok (self->db, res, "insert tickets")) {
        PQclear (res);
        return -1;
    }
    //  which went in: the others lost a race for their (channel, external_id)
    bool *stored = calloc (n + 1, sizeof *stored);
    assert (stored);
    size_t nstored = 0;
    for (int r = 0; r < PQntuples (res); r++) {
        int64_t id = strtoll (PQgetvalue (res, r, 0), NULL, 10);
        for (size_t i = 0; i < n; i++)
            if (fresh [i] && results [i].ticket_id == id) {
                stored [i] = true;
                nstored++;
                break;
            }
    }
    PQclear (res);
    tf_db_array_t *c [7];
    for (int k = 0; k < 7; k++)
        c [k] = tf_db_array_new ();
    int64_t *ids = calloc (nstored + 1, sizeof *ids);
    char **data = calloc (nstored + 1, sizeof *data);
    assert (ids && data);
    size_t k = 0;
    bool lost_race = false;
    for (size_t i = 0; i < n; i++) {
        if (!fresh [i])
            continue;
        if (!stored [i]) {
            lost_race = true;
            continue;
        }
        const row_t *r = &rows [i];
        tf_db_array_add_int (c [0], results [i].ticket_id);
        tf_db_array_add (c [1], r->customer_ref);
        tf_db_array_add (c [2], r->name);
        tf_db_array_add (c [3], r->phone);
        tf_db_array_add (c [4], r->email);
        tf_db_array_add (c [5], r->channel);
        tf_db_array_add (c [6], r->thread_id);
        ids [k] = results [i].ticket_id;
        json_t *json = json_pack ("{s:s, s:i}", "channel", r->channel, "masked", r->masked);
        data [k++] = json_dumps (json, JSON_COMPACT);
        json_decref (json);
        results [i].ok = true;
    }
    const char *contact_params [6];
    for (int j = 0; j < 5; j++)
        contact_params [j] = tf_db_array_text (c [j]);
    contact_params [5] = tf_private_key ();
    int rc = 0;
    const char *opened_params [] = { tf_db_array_text (c [0]), tf_db_array_text (c [5]), tf_db_array_text (c [6]) };
    if (k > 0 && (tf_db_command (self->db, "intake_contacts", 6, contact_params) < 0
              ||  tf_ticket_created (self->db, TF_SVC_INTAKE, ids, (const char *const *) data, k)
              ||  tf_db_command (self->db, "intake_opened", 3, opened_params) < 0))
        rc = -1;
    for (int j = 0; j < 7; j++)
        tf_db_array_destroy (&c [j]);
    for (size_t j = 0; j < k; j++)
        free (data [j]);
    free (data);
    free (ids);
    //  another instance stored the same (channel, external_id) meanwhile:
    //  answer with its ticket; the number drawn for this one stays unused
    if (rc == 0 && lost_race) {
        for (size_t i = 0; i < n; i++)
            if (fresh [i] && !stored [i])
                memset (&results [i], 0, sizeof results [i]);
        rc = s_duplicates (self, rows, n, results);
        for (size_t i = 0; rc == 0 && i < n; i++)
            if (fresh [i] && !results [i].ok)
                rc = -1;
    }
    free (stored);
    return rc;
}

//  The batch in one transaction; -1 when anything failed (rolled back).
static int
s_submit_tx (intake_t *self, row_t *rows, size_t n, intake_result_t *results)
{
    for (size_t i = 0; i < n; i++)
        memset (&results [i], 0, sizeof results [i]);
    if (tf_db_begin (self->db))
        return -1;
    bool *fresh = calloc (n + 1, sizeof *fresh);
    assert (fresh);
    int rc = s_duplicates (self, rows, n, results);
    if (rc == 0)
        rc = s_threads (self, rows, n, results);
    size_t count = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        fresh [i] = !results [i].ok && s_repeat_of (rows, i) == i;
        count += fresh [i];
    }
    if (rc == 0 && count > 0)
        rc = s_number (self, results, fresh, n, count);
    if (rc == 0 && count > 0)
        rc = s_insert (self, rows, results, fresh, n);
    free (fresh);
    rc = tf_db_finish (self->db, rc);
    //  a repeat within the batch answers like its first
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t first = s_repeat_of (rows, i);
        if (first != i && !results [i].ok) {
            results [i] = results [first];
            results [i].duplicate = true;
        }
    }
    return rc;
}

int
intake_submit (intake_t *self, const tf_msg_t *const *requests, size_t n, intake_result_t *results)
{
    row_t *rows = calloc (n? n: 1, sizeof *rows);
    assert (rows);
    for (size_t i = 0; i < n; i++) {
        assert (requests [i]->type == TF_MSG_SUBMIT);
        s_row_fill (&rows [i], requests [i]);
    }
    int rc = s_submit_tx (self, rows, n, results);
    if (rc && n > 1 && tf_db_conn (self->db)) {
        //  the batch failed as a whole: try each alone, so one bad ticket
        //  cannot take the others down with it
        rc = 0;
        for (size_t i = 0; i < n; i++)
            if (s_submit_tx (self, &rows [i], 1, &results [i])) {
                memset (&results [i], 0, sizeof results [i]);
                tf_error_set (&results [i].err, TF_ERR_UNAVAILABLE, NULL,
                              "the ticket could not be stored; retry later");
                rc = -1;
            }
    }
    else
    if (rc)
        for (size_t i = 0; i < n; i++) {
            memset (&results [i], 0, sizeof results [i]);
            tf_error_set (&results [i].err, TF_ERR_UNAVAILABLE, NULL,
                          "the ticket could not be stored; retry later");
        }
    for (size_t i = 0; i < n; i++)
        s_row_free (&rows [i]);
    free (rows);
    return rc;
}

int
intake_check_submit (const tf_msg_t *request, int64_t now_seconds, tf_error_t *err)
{
    assert (request->type == TF_MSG_SUBMIT);
    if (!tf_msg_has (request, TF_F_SUBMIT_CONTACTED_AT))
        return 0;
    int64_t at = request->v [TF_F_SUBMIT_CONTACTED_AT].i;
    if (at > now_seconds + 60)
        return tf_error_set (err, TF_ERR_BAD_VALUE, "contacted_at",
                             "'contacted_at' (when the customer made contact) is in the future");
    if (at < now_seconds - 7 * 86400)
        return tf_error_set (err, TF_ERR_BAD_VALUE, "contacted_at",
                             "'contacted_at' is more than 7 days ago: submit it without, the clocks start now");
    return 0;
}

char *
intake_ticket_json (intake_t *self, const char *ticket_no, size_t len, tf_error_t *err)
{
    if (!intake_ticket_no_valid (ticket_no, len)) {
        tf_error_set (err, TF_ERR_NOT_FOUND, "ticket_no", "no ticket %.*s", (int) (len > 40? 40: len), ticket_no);
        return NULL;
    }
    char number [32];
    snprintf (number, sizeof number, "%.*s", (int) len, ticket_no);
    const char *params [] = { number };
    PGresult *res = tf_db_run (self->db, "intake_ticket_json", 1, params);
    char *json = NULL;
    if (!tf_db_ok (self->db, res, "read ticket"))
        tf_error_unavailable (err);
    else
    if (PQntuples (res) == 0)
        tf_error_set (err, TF_ERR_NOT_FOUND, "ticket_no", "no ticket %s", number);
    else
        json = strdup (PQgetvalue (res, 0, 0));
    PQclear (res);
    return json;
}

int64_t
intake_feedback (intake_t *self, const tf_msg_t *request, int64_t *ticket_id, tf_error_t *err)
{
    const tf_value_t *no = &request->v [TF_F_FEEDBACK_TICKET_NO];
    tf_status_t status;
    if (tf_ticket_find (self->db, no->str, no->len, ticket_id, &status, err))
        return -1;
    //  the customer answers what the notifier asked: the moves it makes
    if (!tf_status_in (tf_moves [TF_MOVE_CONFIRM].from, status)) {
        tf_error_set (err, TF_ERR_ILLEGAL_TRANSITION, "ticket_no",
                      "ticket %.*s is %s; feedback is taken on %s tickets",
                      (int) no->len, no->str, tf_status_name (status), tf_moves [TF_MOVE_CONFIRM].from_list);
        return -1;
    }
    char id [24], csat [8];
    snprintf (id, sizeof id, "%lld", (long long) *ticket_id);
    bool has_csat = tf_msg_has (request, TF_F_FEEDBACK_CSAT);
    snprintf (csat, sizeof csat, "%d", (int) tf_msg_int (request, TF_F_FEEDBACK_CSAT));
    char *comment = NULL;
    if (tf_msg_has (request, TF_F_FEEDBACK_COMMENT))
        comment = tf_mask_text (request->v [TF_F_FEEDBACK_COMMENT].str,
                                request->v [TF_F_FEEDBACK_COMMENT].len, NULL);
    const char *params [] = { id, tf_msg_bool (request, TF_F_FEEDBACK_SOLVED)? "true": "false",
                              has_csat? csat: NULL, comment };
    PGresult *res = tf_db_run (self->db, "intake_feedback", 4, params);
    int64_t feedback_id = -1;
    if (!tf_db_ok (self->db, res, "store feedback"))
        tf_error_unavailable (err);
    else
    if (PQntuples (res) == 0)      //  it changed status meanwhile
        tf_error_set (err, TF_ERR_ILLEGAL_TRANSITION, "ticket_no",
                      "ticket %.*s is no longer resolved", (int) no->len, no->str);
    else
        feedback_id = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    free (comment);
    return feedback_id;
}

int
intake_status (intake_t *self, const char *ticket_no, tf_msg_t *reply, tf_error_t *err)
{
    const char *params [] = { ticket_no };
    PGresult *res = tf_db_run (self->db, "intake_status", 1, params);
    int rc = -1;
    if (!tf_db_ok (self->db, res, "ticket status"))
        tf_error_unavailable (err);
    else
    if (PQntuples (res) == 0)
        tf_error_set (err, TF_ERR_NOT_FOUND, "public_ref", "no ticket has this reference");
    else {
        tf_msg_set_cstr (reply, TF_F_STATUS_INFO_TICKET_NO, ticket_no);
        tf_msg_set_cstr (reply, TF_F_STATUS_INFO_STATUS, PQgetvalue (res, 0, 0));
        tf_msg_set_cstr (reply, TF_F_STATUS_INFO_STATUS_TEXT, PQgetvalue (res, 0, 1));
        tf_msg_set_cstr (reply, TF_F_STATUS_INFO_UPDATED_AT, PQgetvalue (res, 0, 2));
        if (!PQgetisnull (res, 0, 3))
            tf_msg_set_cstr (reply, TF_F_STATUS_INFO_RESOLVE_BY, PQgetvalue (res, 0, 3));
        rc = 0;
    }
    PQclear (res);
    return rc;
}

int
intake_message (intake_t *self, const tf_msg_t *request, char *ticket_no_out, char *status_out, tf_error_t *err)
{
    assert (request->type == TF_MSG_MESSAGE);
    char *no = tf_msg_strdup (request, TF_F_MESSAGE_TICKET_NO);
    char *channel = tf_msg_strdup (request, TF_F_MESSAGE_CHANNEL);
    char *thread = tf_msg_strdup (request, TF_F_MESSAGE_THREAD_ID);
    char *customer = s_private (request, TF_F_MESSAGE_CUSTOMER_ID);
    char *order = s_private (request, TF_F_MESSAGE_ORDER_NO);
    char *body = tf_mask_text (request->v [TF_F_MESSAGE_BODY].str, request->v [TF_F_MESSAGE_BODY].len, NULL);
    int rc = -1;
    if (!no && !thread && !(customer && order))
        tf_error_set (err, TF_ERR_MISSING_FIELD, "ticket_no",
                      "name the ticket: ticket_no, or thread_id, or customer_id with order_no");
    else
    if (tf_db_begin (self->db))
        tf_error_unavailable (err);
    else {
        const char *params [] = { no, channel, thread, customer, order };
        PGresult *res = tf_db_run (self->db, "intake_message_ticket", 5, params);
        if (!tf_db_ok (self->db, res, "find the message's ticket"))
            tf_error_unavailable (err);
        else
        if (PQntuples (res) == 0)
            tf_error_set (err, TF_ERR_NOT_FOUND, no? "ticket_no": thread? "thread_id": "order_no",
                          "no open ticket for this message: send ticket.submit");
        else
        if (customer && !streq (customer, PQgetvalue (res, 0, 3)))
            tf_error_set (err, TF_ERR_BAD_VALUE, "customer_id", "the ticket is another customer's");
        else
        if (!tf_status_in (tf_status_open () | TF_FROM (RESOLVED), tf_status_lookup (PQgetvalue (res, 0, 2))))
            tf_error_set (err, TF_ERR_ILLEGAL_TRANSITION, "ticket_no",
                          "ticket %s is %s: a new problem is a new ticket (ticket.submit)",
                          PQgetvalue (res, 0, 1), PQgetvalue (res, 0, 2));
        else {
            snprintf (ticket_no_out, 32, "%s", PQgetvalue (res, 0, 1));
            snprintf (status_out, 16, "%s", PQgetvalue (res, 0, 2));
            const char *in [] = { PQgetvalue (res, 0, 0), channel, thread, body };
            rc = tf_db_command (self->db, "intake_message_in", 4, in) < 0? tf_error_unavailable (err): 0;
        }
        PQclear (res);
        if (tf_db_finish (self->db, rc) < 0 && rc == 0)
            rc = tf_error_unavailable (err);
    }
    free (no);
    free (channel);
    free (thread);
    free (customer);
    free (order);
    free (body);
    return rc;
}

int
intake_survey (intake_t *self, const tf_msg_t *request, char *status_out, tf_error_t *err)
{
    assert (request->type == TF_MSG_SURVEY);
    const tf_value_t *no = &request->v [TF_F_SURVEY_TICKET_NO];
    int64_t id;
    tf_status_t status;
    if (tf_ticket_find (self->db, no->str, no->len, &id, &status, err))
        return -1;
    if (tf_status_in (tf_status_open (), status))
        return tf_error_set (err, TF_ERR_ILLEGAL_TRANSITION, "ticket_no",
                             "ticket %.*s is %s; the survey is for settled tickets",
                             (int) no->len, no->str, tf_status_name (status));
    const tf_field_id_t fields [] = { TF_F_SURVEY_CSAT, TF_F_SURVEY_NPS, TF_F_SURVEY_EFFICIENCY,
                                      TF_F_SURVEY_ATTITUDE, TF_F_SURVEY_RESULT };
    char id_text [24], values [5][24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) id);
    const char *params [7] = { id_text };
    for (int i = 0; i < 5; i++)
        params [1 + i] = tf_msg_int_param (request, fields [i], values [i], sizeof values [i]);
    char *comment = NULL;
    if (tf_msg_has (request, TF_F_SURVEY_COMMENT))
        comment = tf_mask_text (request->v [TF_F_SURVEY_COMMENT].str, request->v [TF_F_SURVEY_COMMENT].len, NULL);
    params [6] = comment;
    int rc = tf_db_begin (self->db) == 0 && tf_db_command (self->db, "intake_survey", 7, params) >= 0? 0: -1;
    rc = tf_db_finish (self->db, rc);
    free (comment);
    if (rc)
        return tf_error_unavailable (err);
    snprintf (status_out, 16, "%s", tf_status_name (status));
    return 0;
}
