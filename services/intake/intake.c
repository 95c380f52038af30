#include "intake.h"
#include "tf_log.h"
#include "tf_mask.h"
#include "tf_ticket.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct intake_t {
    tf_db_t *db;
};

//  A submission as it is stored: masked texts, NUL-terminated copies.
typedef struct {
    char *channel, *external_id, *source, *customer_ref, *customer_type;
    char *subject, *body, *order_no, *product, *wants, *expected_at;
    char *error_text, *steps, *alert_type, *alert_scope;
    char *name, *phone, *email;
    int masked;                 //  how many personal numbers were masked
} row_t;

static const char *SQL_FIND =
    "SELECT id, ticket_no FROM tickets WHERE channel = $1 AND external_id = $2";

//  One number per new ticket of the batch: the day's row is bumped once,
//  under its row lock, so concurrent instances get disjoint ranges.
static const char *SQL_SERIALS =
    "INSERT INTO ticket_serials AS s (day, last_serial) VALUES (current_date, $1::int) "
    "ON CONFLICT (day) DO UPDATE SET last_serial = s.last_serial + EXCLUDED.last_serial "
    "RETURNING to_char (day, 'YYYYMMDD'), last_serial";

static const char *SQL_INSERT =
    "WITH t AS ("
    "  INSERT INTO tickets (ticket_no, channel, external_id, source, customer_ref, customer_type,"
    "                      subject, body, order_no, product, wants, expected_at, error_text, steps,"
    "                      alert_type, alert_scope)"
    "  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::timestamptz, $13, $14, $15, $16)"
    "  ON CONFLICT (channel, external_id) WHERE external_id IS NOT NULL DO NOTHING"
    "  RETURNING id, ticket_no),"
    " c AS (INSERT INTO ticket_contacts (ticket_id, customer_ref, name, phone, email)"
    "       SELECT id, $5, $17, $18, $19 FROM t),"
    " e AS (INSERT INTO ticket_events (ticket_id, kind, to_status, actor, data)"
    "       SELECT id, 'received', 'received', 'intake',"
    "              jsonb_build_object ('channel', $2::text, 'masked', $20::int) FROM t)"
    "SELECT id, ticket_no FROM t";

static const char *SQL_TICKET_JSON =
    "SELECT jsonb_build_object ("
    "  'ticket_no', t.ticket_no, 'ticket_id', t.id, 'status', t.status,"
    "  'channel', t.channel, 'external_id', t.external_id, 'source', t.source,"
    "  'customer_id', t.customer_ref, 'customer_type', t.customer_type,"
    "  'subject', t.subject, 'body', t.body, 'order_no', t.order_no, 'product', t.product,"
    "  'wants', t.wants, 'expected_at', t.expected_at, 'error_text', t.error_text,"
    "  'steps', t.steps, 'alert_type', t.alert_type, 'alert_scope', t.alert_scope,"
    "  'category', t.category, 'subcategory', t.subcategory, 'third_level', t.third_level,"
    "  'priority', t.priority, 'confidence', t.confidence,"
    "  'priority_reasons', to_jsonb (t.priority_reasons), 'sentiment', t.sentiment,"
    "  'incident_id', t.incident_id, 'reopen_count', t.reopen_count,"
    "  'department', t.department, 'assignee', t.assignee,"
    "  'response_due_at', t.response_due_at, 'resolve_due_at', t.resolve_due_at,"
    "  'first_response_at', t.first_response_at, 'resolved_at', t.resolved_at,"
    "  'closed_at', t.closed_at, 'resolution_summary', t.resolution_summary, 'csat', t.csat,"
    "  'created_at', t.created_at, 'updated_at', t.updated_at,"
    "  'history', (SELECT coalesce (jsonb_agg (jsonb_build_object ("
    "                 'at', e.at, 'event', e.kind, 'from', e.from_status, 'to', e.to_status,"
    "                 'actor', e.actor, 'note', e.note) ORDER BY e.id), '[]'::jsonb)"
    "              FROM ticket_events e WHERE e.ticket_id = t.id)"
    ")::text FROM tickets t WHERE t.ticket_no = $1";

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
    intake_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    if (tf_db_prepare (db, "intake_find", SQL_FIND, 2)
    ||  tf_db_prepare (db, "intake_serials", SQL_SERIALS, 1)
    ||  tf_db_prepare (db, "intake_insert", SQL_INSERT, 20)
    ||  tf_db_prepare (db, "intake_ticket_json", SQL_TICKET_JSON, 1)
    ||  tf_db_prepare (db, "intake_feedback", SQL_FEEDBACK, 4)
    ||  tf_ticket_prepare (db))
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

static void
s_row_fill (row_t *r, const tf_msg_t *m)
{
    memset (r, 0, sizeof *r);
    r->channel = s_copy (m, TF_F_SUBMIT_CHANNEL);
    r->external_id = s_copy (m, TF_F_SUBMIT_EXTERNAL_ID);
    r->source = s_copy (m, TF_F_SUBMIT_SOURCE);
    if (!r->source)
        r->source = strdup (strcmp (r->channel, "monitor") == 0? "monitor": "customer");
    r->customer_ref = s_copy (m, TF_F_CUSTOMER_ID);
    r->customer_type = s_copy (m, TF_F_CUSTOMER_TYPE);
    r->subject = s_masked (m, TF_F_SUBMIT_SUBJECT, &r->masked);
    r->body = s_masked (m, TF_F_SUBMIT_BODY, &r->masked);
    r->order_no = s_copy (m, TF_F_SUBMIT_ORDER_NO);
    r->product = s_copy (m, TF_F_SUBMIT_PRODUCT);
    r->wants = s_copy (m, TF_F_SUBMIT_WANTS);
    r->expected_at = s_copy (m, TF_F_SUBMIT_EXPECTED_AT);
    r->error_text = s_masked (m, TF_F_SUBMIT_ERROR_TEXT, &r->masked);
    r->steps = s_masked (m, TF_F_SUBMIT_STEPS, &r->masked);
    r->alert_type = s_copy (m, TF_F_SUBMIT_ALERT_TYPE);
    r->alert_scope = s_masked (m, TF_F_SUBMIT_ALERT_SCOPE, &r->masked);
    r->name = s_copy (m, TF_F_CUSTOMER_NAME);
    r->phone = s_copy (m, TF_F_CUSTOMER_PHONE);
    r->email = s_copy (m, TF_F_CUSTOMER_EMAIL);
}

static void
s_row_free (row_t *r)
{
    char **fields [] = { &r->channel, &r->external_id, &r->source, &r->customer_ref,
                         &r->customer_type, &r->subject, &r->body, &r->order_no, &r->product,
                         &r->wants, &r->expected_at, &r->error_text, &r->steps, &r->alert_type,
                         &r->alert_scope, &r->name, &r->phone, &r->email };
    for (size_t i = 0; i < sizeof fields / sizeof fields [0]; i++) {
        free (*fields [i]);
        *fields [i] = NULL;
    }
}

//  Looks up (channel, external_id); 1 found, 0 not, -1 database error.
static int
s_find (intake_t *self, const row_t *r, intake_result_t *result)
{
    const char *params [] = { r->channel, r->external_id };
    PGresult *res = tf_db_run (self->db, "intake_find", 2, params);
    int rc = -1;
    if (tf_db_ok (self->db, res, "find duplicate")) {
        rc = PQntuples (res) == 1;
        if (rc) {
            result->ticket_id = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
            snprintf (result->ticket_no, sizeof result->ticket_no, "%s", PQgetvalue (res, 0, 1));
            result->duplicate = true;
            result->ok = true;
        }
    }
    PQclear (res);
    return rc;
}

//  The batch in one transaction; -1 when anything failed (rolled back).
static int
s_submit_tx (intake_t *self, row_t *rows, size_t n, intake_result_t *results)
{
    if (tf_db_exec (self->db, "BEGIN"))
        return -1;
    //  duplicates: stored before, or earlier in this very batch
    size_t fresh = 0;
    for (size_t i = 0; i < n; i++) {
        memset (&results [i], 0, sizeof results [i]);
        if (!rows [i].external_id) {
            fresh++;
            continue;
        }
        bool in_batch = false;
        for (size_t j = 0; j < i && !in_batch; j++)
            in_batch = rows [j].external_id && strcmp (rows [j].external_id, rows [i].external_id) == 0
                    && strcmp (rows [j].channel, rows [i].channel) == 0;
        if (in_batch)
            continue;           //  resolved after the first one is stored
        int found = s_find (self, &rows [i], &results [i]);
        if (found < 0)
            goto failed;
        if (!found)
            fresh++;
    }
    long last = 0;
    char day [16] = "";
    if (fresh > 0) {
        char count [24];
        snprintf (count, sizeof count, "%zu", fresh);
        const char *params [] = { count };
        PGresult *res = tf_db_run (self->db, "intake_serials", 1, params);
        bool ok = tf_db_ok (self->db, res, "allocate ticket numbers") && PQntuples (res) == 1;
        if (ok) {
            snprintf (day, sizeof day, "%s", PQgetvalue (res, 0, 0));
            last = strtol (PQgetvalue (res, 0, 1), NULL, 10);
        }
        PQclear (res);
        if (!ok)
            goto failed;
    }
    long serial = last - (long) fresh;
    for (size_t i = 0; i < n; i++) {
        row_t *r = &rows [i];
        if (results [i].ok)
            continue;           //  a duplicate of an earlier ticket
        if (r->external_id) {
            bool in_batch = false;
            for (size_t j = 0; j < i && !in_batch; j++)
                if (rows [j].external_id && strcmp (rows [j].external_id, r->external_id) == 0
                &&  strcmp (rows [j].channel, r->channel) == 0) {
                    results [i] = results [j];
                    results [i].duplicate = true;
                    in_batch = true;
                }
            if (in_batch)
                continue;
        }
        char ticket_no [32], masked [16];
        int year = 0, month = 0, mday = 0;
        sscanf (day, "%4d%2d%2d", &year, &month, &mday);
        if (intake_format_ticket_no (ticket_no, sizeof ticket_no, year, month, mday, ++serial)) {
            tf_error ("ticket serial %ld out of range for %s", serial, day);
            goto failed;
        }
        snprintf (masked, sizeof masked, "%d", r->masked);
        const char *params [] = {
            ticket_no, r->channel, r->external_id, r->source, r->customer_ref, r->customer_type,
            r->subject, r->body, r->order_no, r->product, r->wants, r->expected_at, r->error_text,
            r->steps, r->alert_type, r->alert_scope, r->name, r->phone, r->email, masked
        };
        PGresult *res = tf_db_run (self->db, "intake_insert", 20, params);
        if (!tf_db_ok (self->db, res, "insert ticket")) {
            PQclear (res);
            goto failed;
        }
        if (PQntuples (res) == 1) {
            results [i].ok = true;
            results [i].ticket_id = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
            snprintf (results [i].ticket_no, sizeof results [i].ticket_no, "%s", PQgetvalue (res, 0, 1));
        }
        PQclear (res);
        //  another instance stored the same (channel, external_id) meanwhile:
        //  the number drawn for it stays unused
        if (!results [i].ok && s_find (self, r, &results [i]) != 1)
            goto failed;
    }
    if (tf_db_exec (self->db, "COMMIT") == 0)
        return 0;
    return -1;
failed:
    tf_db_exec (self->db, "ROLLBACK");
    return -1;
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
    if (rc && n > 1) {
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
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
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
    char status [32];
    if (tf_ticket_find (self->db, no->str, no->len, ticket_id, status, sizeof status, err))
        return -1;
    if (strcmp (status, "resolved") != 0) {
        tf_error_set (err, TF_ERR_ILLEGAL_TRANSITION, "ticket_no",
                      "ticket %.*s is %s; feedback is taken on resolved tickets",
                      (int) no->len, no->str, status);
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
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
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
