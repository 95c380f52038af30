#include "dispatcher.h"
#include "tf_json.h"
#include "tf_log.h"
#include "tf_mask.h"
#include "tf_ticket.h"
#include "tf_utf8.h"
#include <ctype.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct dispatcher_t {
    tf_db_t *db;
};

//  What an assignment needs, for a set of tickets: the ticket, the start of
//  its text, and its sub-category's taxonomy row (NULLs when unknown).
static const char *SQL_INFO =
    "SELECT t.id, t.ticket_no, t.department, t.assignee, t.category, t.subcategory, t.priority,"
    "       left (coalesce (nullif (btrim (t.subject), ''), t.body), 100),"
    "       x.department, x.solution_steps::text, x.phrases::text "
    "FROM tickets t LEFT JOIN taxonomy x ON x.subcategory = t.subcategory "
    "WHERE t.id = ANY ($1::int8[]) ORDER BY t.id";

static const char *SQL_SET_DEPARTMENT =
    "UPDATE tickets SET department = $2, updated_at = now () WHERE id = $1";

static const char *SQL_ACCEPT =
    "UPDATE tickets SET assignee = $2, accepted_at = now (),"
    "       first_response_at = coalesce (first_response_at, now ()), updated_at = now () "
    "WHERE id = $1";

static const char *SQL_CURRENT =
    "SELECT department, assignee FROM tickets WHERE id = $1 FOR UPDATE";

static const char *SQL_TRANSFER =
    "UPDATE tickets SET department = $2, assignee = NULL, updated_at = now () WHERE id = $1";

static const char *SQL_DEPARTMENT =
    "SELECT 1 FROM departments WHERE code = $1";

//  Most urgent first: priority, then the response deadline, then age.
#define TF_RFC3339 "'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM'"
static const char *SQL_QUEUE =
    "SELECT ticket_no, id, status, priority, category, subcategory, assignee,"
    "       left (coalesce (nullif (btrim (subject), ''), body), 100),"
    "       to_char (response_due_at, " TF_RFC3339 "),"
    "       to_char (resolve_due_at, " TF_RFC3339 "),"
    "       to_char (created_at, " TF_RFC3339 ") "
    "FROM tickets WHERE ($1::text IS NULL OR department = $1) AND status = ANY (string_to_array ($2, ',')) "
    "ORDER BY priority NULLS LAST, response_due_at NULLS LAST, created_at, id LIMIT $3::int";

#define OPEN_STATUSES "assigned,accepted,in_progress,on_hold,reopened"

dispatcher_t *
dispatcher_new (tf_db_t *db)
{
    dispatcher_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    if (tf_ticket_prepare (db)
    ||  tf_db_prepare (db, "dispatcher_info", SQL_INFO, 1)
    ||  tf_db_prepare (db, "dispatcher_set_department", SQL_SET_DEPARTMENT, 2)
    ||  tf_db_prepare (db, "dispatcher_accept", SQL_ACCEPT, 2)
    ||  tf_db_prepare (db, "dispatcher_current", SQL_CURRENT, 1)
    ||  tf_db_prepare (db, "dispatcher_transfer", SQL_TRANSFER, 2)
    ||  tf_db_prepare (db, "dispatcher_department", SQL_DEPARTMENT, 1)
    ||  tf_db_prepare (db, "dispatcher_queue", SQL_QUEUE, 3))
        dispatcher_destroy (&self);
    return self;
}

void
dispatcher_destroy (dispatcher_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

void
dispatcher_assignment_clear (dispatcher_assignment_t *a)
{
    free (a->steps);
    free (a->phrases);
    memset (a, 0, sizeof *a);
}

//  --------------------------------------------------------------------------
//  Helpers

static void
s_rollback (dispatcher_t *self)
{
    tf_db_exec (self->db, "ROLLBACK");
}

static int
s_unavailable (tf_error_t *err)
{
    return tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
}

//  Copies a column into dst as at most `max` bytes, cut at a character boundary.
static void
s_copy (char *dst, size_t cap, size_t max, PGresult *res, int row, int col)
{
    *dst = 0;
    if (PQgetisnull (res, row, col))
        return;
    const char *s = PQgetvalue (res, row, col);
    size_t len = strlen (s);
    if (max > cap - 1)
        max = cap - 1;
    if (!tf_utf8_valid (s, len))
        return;                 //  never publish what a client must refuse
    len = tf_utf8_prefix (s, len, max);
    memcpy (dst, s, len);
    dst [len] = 0;
}

//  The solution steps (a JSON array of strings) as a msgpack array of at
//  most 32 strings of at most 1024 bytes: what the LIST field allows.
static void
s_pack_steps (dispatcher_assignment_t *a, const char *json_text)
{
    json_t *steps = json_loads (json_text, 0, NULL);
    if (!json_is_array (steps)) {
        json_decref (steps);
        return;
    }
    size_t count = 0;
    for (size_t i = 0; i < json_array_size (steps) && count < 32; i++)
        if (json_is_string (json_array_get (steps, i)))
            count++;
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, count);
    size_t packed = 0;
    for (size_t i = 0; i < json_array_size (steps) && packed < count; i++) {
        json_t *step = json_array_get (steps, i);
        if (!json_is_string (step))
            continue;
        const char *s = json_string_value (step);
        size_t len = json_string_length (step);
        len = tf_utf8_valid (s, len)? tf_utf8_prefix (s, len, TF_LIST_ITEM_MAX): 0;
        msgpack_pack_str_with_body (&pk, s, len);
        packed++;
    }
    json_decref (steps);
    a->steps = malloc (sbuf.size);
    assert (a->steps);
    memcpy (a->steps, sbuf.data, sbuf.size);
    a->steps_size = sbuf.size;
    msgpack_sbuffer_destroy (&sbuf);
}

//  The standard phrases (a JSON object of strings) as a msgpack map.
static void
s_pack_phrases (dispatcher_assignment_t *a, const char *json_text)
{
    json_t *phrases = json_loads (json_text, 0, NULL);
    json_t *strings = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (phrases, key, value)
        if (json_is_string (value) && json_string_length (value) <= TF_LIST_ITEM_MAX * 2)
            json_object_set (strings, key, value);
    if (json_object_size (strings) > 0) {
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        if (tf_json_pack (&pk, strings) == 0 && sbuf.size <= 16384) {
            a->phrases = malloc (sbuf.size);
            assert (a->phrases);
            memcpy (a->phrases, sbuf.data, sbuf.size);
            a->phrases_size = sbuf.size;
        }
        msgpack_sbuffer_destroy (&sbuf);
    }
    json_decref (strings);
    json_decref (phrases);
}

//  Fills what a row of SQL_INFO tells (department and assignee are the caller's).
static void
s_fill (dispatcher_assignment_t *a, PGresult *res, int row)
{
    memset (a, 0, sizeof *a);
    a->ticket_id = strtoll (PQgetvalue (res, row, 0), NULL, 10);
    s_copy (a->ticket_no, sizeof a->ticket_no, 32, res, row, 1);
    s_copy (a->category, sizeof a->category, 64, res, row, 4);
    s_copy (a->subcategory, sizeof a->subcategory, 64, res, row, 5);
    s_copy (a->priority, sizeof a->priority, 2, res, row, 6);
    if (!streq (a->priority, "P1") && !streq (a->priority, "P2") && !streq (a->priority, "P3"))
        *a->priority = 0;
    s_copy (a->subject, sizeof a->subject, 200, res, row, 7);
    if (!PQgetisnull (res, row, 9))
        s_pack_steps (a, PQgetvalue (res, row, 9));
    if (!PQgetisnull (res, row, 10))
        s_pack_phrases (a, PQgetvalue (res, row, 10));
}

static PGresult *
s_info (dispatcher_t *self, const int64_t *ids, size_t n)
{
    char *array = tf_db_id_array (ids, n);
    const char *params [] = { array };
    PGresult *res = tf_db_run (self->db, "dispatcher_info", 1, params);
    free (array);
    if (!tf_db_ok (self->db, res, "ticket details")) {
        PQclear (res);
        return NULL;
    }
    return res;
}

//  JSON text of a flat object of string pairs (NULL values become null);
//  caller frees.
static char *
s_json (const char *k1, const char *v1, const char *k2, const char *v2, const char *k3, const char *v3)
{
    json_t *obj = json_object ();
    const char *keys [] = { k1, k2, k3 };
    const char *values [] = { v1, v2, v3 };
    for (int i = 0; i < 3; i++)
        if (keys [i]) {
            json_t *v = values [i]? json_string (values [i]): json_null ();
            json_object_set_new (obj, keys [i], v? v: json_null ());
        }
    char *text = json_dumps (obj, JSON_COMPACT);
    json_decref (obj);
    return text;
}

static int
s_run_id (dispatcher_t *self, const char *statement, int64_t id, const char *value, const char *what)
{
    char id_text [24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) id);
    const char *params [] = { id_text, value };
    PGresult *res = tf_db_run (self->db, statement, 2, params);
    int rc = tf_db_ok (self->db, res, what)? 0: -1;
    PQclear (res);
    return rc;
}

static bool
s_department_known (dispatcher_t *self, const char *code, bool *known)
{
    const char *params [] = { code };
    PGresult *res = tf_db_run (self->db, "dispatcher_department", 1, params);
    bool ok = tf_db_ok (self->db, res, "department");
    if (ok)
        *known = PQntuples (res) > 0;
    PQclear (res);
    return ok;
}

//  --------------------------------------------------------------------------
//  Assigning: inside the caller's transaction, on tickets it has locked.
//  Returns how many were assigned, or -1 (the caller rolls back).

static int
s_assign_locked (dispatcher_t *self, const char *status, const int64_t *locked, size_t n,
                 dispatcher_assignment_t *out)
{
    if (n == 0)
        return 0;
    PGresult *res = s_info (self, locked, n);
    if (!res)
        return -1;
    bool reopened = streq (status, "reopened");
    int count = 0;
    int rows = PQntuples (res);
    for (int row = 0; row < rows && (size_t) count < n; row++) {
        dispatcher_assignment_t *a = &out [count];
        s_fill (a, res, row);
        char department [40], assignee [72], subcategory [72], note [512];
        s_copy (department, sizeof department, 32, res, row, 2);
        s_copy (assignee, sizeof assignee, 64, res, row, 3);
        s_copy (subcategory, sizeof subcategory, 64, res, row, 5);
        bool route = !reopened || !*department;
        if (route) {
            //  the sub-category's department, else the front line
            if (!PQgetisnull (res, row, 8) && *PQgetvalue (res, row, 8)) {
                s_copy (department, sizeof department, 32, res, row, 8);
                snprintf (note, sizeof note, "routed to %s by the taxonomy (sub-category %s)",
                          department, subcategory);
            }
            else {
                snprintf (department, sizeof department, "%s", DISPATCHER_FALLBACK_DEPARTMENT);
                if (*subcategory)
                    snprintf (note, sizeof note, "sub-category '%s' is not in the taxonomy: routed to %s",
                              subcategory, department);
                else
                    snprintf (note, sizeof note, "no sub-category: routed to %s", department);
            }
            if (reopened)
                strncat (note, " (reopened ticket without a department)", sizeof note - strlen (note) - 1);
        }
        else
        if (*assignee)
            snprintf (note, sizeof note, "reopened: back to agent %s in %s", assignee, department);
        else
            snprintf (note, sizeof note, "reopened: back to %s (no agent had accepted it)", department);

        if (route && s_run_id (self, "dispatcher_set_department", a->ticket_id, department, "set department")) {
            dispatcher_assignment_clear (a);
            goto failed;
        }
        char *data = s_json ("department", department,
                             reopened && *assignee? "assignee": NULL, assignee, NULL, NULL);
        tf_error_t err;
        int rc = tf_ticket_transition (self->db, a->ticket_id, status, "assigned", "assigned",
                                       "dispatcher", note, data, &err);
        free (data);
        if (rc) {
            dispatcher_assignment_clear (a);
            if (streq (err.code, TF_ERR_UNAVAILABLE))
                goto failed;
            tf_debug ("ticket not assigned: %s", err.message);
            continue;           //  not in `status` after all: someone else's
        }
        snprintf (a->department, sizeof a->department, "%s", department);
        if (reopened)
            snprintf (a->assignee, sizeof a->assignee, "%s", assignee);
        count++;
    }
    PQclear (res);
    return count;
failed:
    for (int i = 0; i < count; i++)
        dispatcher_assignment_clear (&out [i]);
    PQclear (res);
    return -1;
}

static int
s_commit (dispatcher_t *self, int count, dispatcher_assignment_t *out)
{
    if (count >= 0 && tf_db_exec (self->db, "COMMIT") == 0)
        return count;
    s_rollback (self);
    for (int i = 0; i < count; i++)
        dispatcher_assignment_clear (&out [i]);
    return -1;
}

int
dispatcher_assign (dispatcher_t *self, const char *status, const int64_t *ids, size_t n,
                   dispatcher_assignment_t *out)
{
    assert (streq (status, "classified") || streq (status, "reopened"));
    if (n == 0)
        return 0;
    if (tf_db_exec (self->db, "BEGIN"))
        return -1;
    int64_t *locked = calloc (n, sizeof *locked);
    assert (locked);
    int k = tf_ticket_lock_ids (self->db, status, ids, n, locked);
    int count = k < 0? -1: s_assign_locked (self, status, locked, (size_t) k, out);
    free (locked);
    return s_commit (self, count, out);
}

int
dispatcher_reconcile (dispatcher_t *self, int stale_seconds, size_t limit,
                      dispatcher_assignment_t *out)
{
    if (limit == 0)
        return 0;
    if (tf_db_exec (self->db, "BEGIN"))
        return -1;
    int64_t *locked = calloc (limit, sizeof *locked);
    assert (locked);
    int count = 0;
    const char *statuses [] = { "classified", "reopened" };
    for (int i = 0; i < 2 && count >= 0 && (size_t) count < limit; i++) {
        int k = tf_ticket_lock_waiting (self->db, statuses [i], stale_seconds, limit - (size_t) count,
                                        locked);
        int got = k < 0? -1: s_assign_locked (self, statuses [i], locked, (size_t) k, out + count);
        if (got < 0) {
            for (int j = 0; j < count; j++)
                dispatcher_assignment_clear (&out [j]);
            count = -1;
        }
        else
            count += got;
    }
    free (locked);
    count = s_commit (self, count, out);
    if (count > 0)
        tf_info ("reconciler: assigned %d waiting ticket(s)", count);
    return count;
}

//  --------------------------------------------------------------------------
//  Requests

//  A NUL-terminated copy of a STR field that must hold more than blanks.
static char *
s_text (const tf_msg_t *m, tf_field_id_t f, tf_error_t *err)
{
    char *s = tf_msg_strdup (m, f);
    if (!s) {
        tf_error_set (err, TF_ERR_MISSING_FIELD, tf_fields [f].key, "'%s' is required", tf_fields [f].key);
        return NULL;
    }
    for (const char *p = s; *p; p++)
        if (!isspace ((unsigned char) *p))
            return s;
    free (s);
    tf_error_set (err, TF_ERR_BAD_VALUE, tf_fields [f].key, "'%s' is blank", tf_fields [f].key);
    return NULL;
}

int
dispatcher_accept (dispatcher_t *self, const tf_msg_t *request, int64_t *ticket_id, tf_error_t *err)
{
    assert (request->type == TF_MSG_ACCEPT);
    char ticket_no [40];
    tf_ticket_no_copy (request, TF_F_ACCEPT_TICKET_NO, ticket_no, sizeof ticket_no);
    char *agent = s_text (request, TF_F_ACCEPT_AGENT, err);
    if (!agent)
        return -1;
    if (tf_db_exec (self->db, "BEGIN")) {
        free (agent);
        return s_unavailable (err);
    }
    int64_t id = 0;
    char note [160];
    snprintf (note, sizeof note, "accepted by %s", agent);
    char *data = s_json ("agent", agent, NULL, NULL, NULL, NULL);
    int rc = tf_ticket_find (self->db, ticket_no, strlen (ticket_no), &id, NULL, 0, err);
    if (rc == 0)
        rc = tf_ticket_transition (self->db, id, "assigned", "accepted", "accepted", agent, note,
                                   data, err);
    if (rc == 0 && s_run_id (self, "dispatcher_accept", id, agent, "accept"))
        rc = s_unavailable (err);
    if (rc == 0 && tf_db_exec (self->db, "COMMIT"))
        rc = s_unavailable (err);
    if (rc)
        s_rollback (self);
    else
        *ticket_id = id;
    free (data);
    free (agent);
    return rc;
}

int
dispatcher_transfer (dispatcher_t *self, const tf_msg_t *request, dispatcher_assignment_t *out,
                     tf_error_t *err)
{
    assert (request->type == TF_MSG_TRANSFER);
    memset (out, 0, sizeof *out);
    char ticket_no [40];
    tf_ticket_no_copy (request, TF_F_TRANSFER_TICKET_NO, ticket_no, sizeof ticket_no);
    char *department = tf_msg_strdup (request, TF_F_TRANSFER_DEPARTMENT);
    char *reason_raw = s_text (request, TF_F_TRANSFER_REASON, err);
    char *actor = tf_msg_strdup (request, TF_F_TRANSFER_ACTOR);
    char *reason = reason_raw? tf_mask_text (reason_raw, strlen (reason_raw), NULL): NULL;
    char *data = NULL;
    PGresult *res = NULL;
    int rc = -1;
    if (!department) {
        tf_error_set (err, TF_ERR_MISSING_FIELD, "department", "'department' is required");
        goto done;
    }
    if (!reason)
        goto done;
    if (tf_db_exec (self->db, "BEGIN")) {
        s_unavailable (err);
        goto done;
    }
    bool known = false;
    int64_t id = 0;
    if (!s_department_known (self, department, &known))
        s_unavailable (err);
    else
    if (!known)
        tf_error_set (err, TF_ERR_BAD_VALUE, "department", "no department '%s' (see the departments table)",
                      department);
    else
    if (tf_ticket_find (self->db, ticket_no, strlen (ticket_no), &id, NULL, 0, err) == 0) {
        char id_text [24];
        snprintf (id_text, sizeof id_text, "%lld", (long long) id);
        const char *params [] = { id_text };
        res = tf_db_run (self->db, "dispatcher_current", 1, params);
        if (!tf_db_ok (self->db, res, "current department") || PQntuples (res) != 1)
            s_unavailable (err);
        else {
            const char *from = PQgetisnull (res, 0, 0)? NULL: PQgetvalue (res, 0, 0);
            const char *previous = PQgetisnull (res, 0, 1)? NULL: PQgetvalue (res, 0, 1);
            data = s_json ("department", department, "from_department", from,
                           "previous_assignee", previous);
            rc = tf_ticket_transition (self->db, id, "assigned,accepted,in_progress", "assigned",
                                       "transferred", actor? actor: "dispatcher", reason, data, err);
            if (rc == 0 && s_run_id (self, "dispatcher_transfer", id, department, "transfer"))
                rc = s_unavailable (err);
            if (rc == 0) {
                PQclear (res);
                res = s_info (self, &id, 1);
                if (!res || PQntuples (res) != 1)
                    rc = s_unavailable (err);
                else {
                    s_fill (out, res, 0);
                    s_copy (out->department, sizeof out->department, 32, res, 0, 2);
                }
            }
            if (rc == 0 && tf_db_exec (self->db, "COMMIT"))
                rc = s_unavailable (err);
        }
    }
    if (rc) {
        s_rollback (self);
        dispatcher_assignment_clear (out);
    }
done:
    PQclear (res);
    free (data);
    free (department);
    free (reason_raw);
    free (reason);
    free (actor);
    return rc;
}

static void
s_pack_column (msgpack_packer *pk, const char *key, PGresult *res, int row, int col)
{
    msgpack_pack_str_with_body (pk, key, strlen (key));
    if (PQgetisnull (res, row, col))
        msgpack_pack_nil (pk);
    else {
        const char *s = PQgetvalue (res, row, col);
        size_t len = strlen (s);
        if (!tf_utf8_valid (s, len))
            len = 0;
        msgpack_pack_str_with_body (pk, s, tf_utf8_prefix (s, len, 200));
    }
}

int
dispatcher_queue (dispatcher_t *self, const tf_msg_t *request, tf_msg_t *reply, tf_error_t *err)
{
    assert (request->type == TF_MSG_QUEUE_LIST);
    tf_msg_init (reply, TF_MSG_QUEUE_ITEMS);
    char *department = tf_msg_strdup (request, TF_F_QUEUE_LIST_DEPARTMENT);
    char *status = tf_msg_strdup (request, TF_F_QUEUE_LIST_STATUS);
    char limit [24];
    snprintf (limit, sizeof limit, "%lld", tf_msg_has (request, TF_F_QUEUE_LIST_LIMIT)
              ? (long long) tf_msg_int (request, TF_F_QUEUE_LIST_LIMIT): 100LL);
    int rc = -1;
    //  triage tickets have no department yet: their queue is everyone's
    bool triage = status && streq (status, "triage");
    bool known = triage && !department;
    PGresult *res = NULL;
    if (!department && !triage)
        tf_error_set (err, TF_ERR_MISSING_FIELD, "department", "'department' is required unless status is triage");
    else
    if (department && !s_department_known (self, department, &known))
        s_unavailable (err);
    else
    if (!known)
        tf_error_set (err, TF_ERR_BAD_VALUE, "department", "no department '%s' (see the departments table)",
                      department);
    else {
        const char *params [] = { department, status? status: OPEN_STATUSES, limit };
        res = tf_db_run (self->db, "dispatcher_queue", 3, params);
        if (!tf_db_ok (self->db, res, "queue"))
            s_unavailable (err);
        else {
            msgpack_sbuffer sbuf;
            msgpack_sbuffer_init (&sbuf);
            msgpack_packer pk;
            msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
            int rows = PQntuples (res);
            msgpack_pack_array (&pk, (size_t) rows);
            for (int row = 0; row < rows; row++) {
                msgpack_pack_map (&pk, 11);
                s_pack_column (&pk, "ticket_no", res, row, 0);
                msgpack_pack_str_with_body (&pk, "ticket_id", 9);
                msgpack_pack_int64 (&pk, strtoll (PQgetvalue (res, row, 1), NULL, 10));
                s_pack_column (&pk, "status", res, row, 2);
                s_pack_column (&pk, "priority", res, row, 3);
                s_pack_column (&pk, "category", res, row, 4);
                s_pack_column (&pk, "subcategory", res, row, 5);
                s_pack_column (&pk, "assignee", res, row, 6);
                s_pack_column (&pk, "subject", res, row, 7);
                s_pack_column (&pk, "response_due_at", res, row, 8);
                s_pack_column (&pk, "resolve_due_at", res, row, 9);
                s_pack_column (&pk, "created_at", res, row, 10);
            }
            tf_msg_set_cstr (reply, TF_F_QUEUE_ITEMS_DEPARTMENT, department? department: "triage");
            tf_msg_set_raw (reply, TF_F_QUEUE_ITEMS_TICKETS, sbuf.data, sbuf.size);
            msgpack_sbuffer_destroy (&sbuf);
            rc = 0;
        }
    }
    PQclear (res);
    free (department);
    free (status);
    return rc;
}

void
dispatcher_assignment_event (const dispatcher_assignment_t *a, tf_msg_t *event, char *topic,
                             size_t topic_size)
{
    tf_msg_init (event, TF_MSG_ASSIGNED);
    tf_msg_set_int (event, TF_F_ASSIGNED_TICKET_ID, a->ticket_id);
    tf_msg_set_cstr (event, TF_F_ASSIGNED_TICKET_NO, a->ticket_no);
    tf_msg_set_cstr (event, TF_F_ASSIGNED_DEPARTMENT, a->department);
    if (*a->assignee)
        tf_msg_set_cstr (event, TF_F_ASSIGNED_ASSIGNEE, a->assignee);
    if (*a->category)
        tf_msg_set_cstr (event, TF_F_ASSIGNED_CATEGORY, a->category);
    if (*a->subcategory)
        tf_msg_set_cstr (event, TF_F_ASSIGNED_SUBCATEGORY, a->subcategory);
    if (*a->priority)
        tf_msg_set_cstr (event, TF_F_ASSIGNED_PRIORITY, a->priority);
    if (*a->subject)
        tf_msg_set_cstr (event, TF_F_ASSIGNED_SUBJECT, a->subject);
    if (a->steps)
        tf_msg_set_raw (event, TF_F_ASSIGNED_SOLUTION_STEPS, a->steps, a->steps_size);
    if (a->phrases)
        tf_msg_set_raw (event, TF_F_ASSIGNED_PHRASES, a->phrases, a->phrases_size);
    snprintf (topic, topic_size, "%s.", a->department);
}
