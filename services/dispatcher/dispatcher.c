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

//  A sub-category's solution steps and phrases, packed once: the JSON of
//  the taxonomy row is parsed again only when it changed
typedef struct {
    char *subcategory, *steps_json, *phrases_json;
    uint8_t *steps, *phrases;
    size_t steps_size, phrases_size;
} packed_t;

struct dispatcher_t {
    tf_db_t *db;
    packed_t *packed;
    size_t npacked;
};

static void s_packed_clear (packed_t *p);

//  What an assignment needs, for a set of tickets: the ticket, the start of
//  its text, and its sub-category's taxonomy row (NULLs when unknown).
#define INFO_COLUMNS \
    "SELECT t.id, t.ticket_no, t.department, t.assignee, t.category, t.subcategory, t.priority," \
    "       left (coalesce (nullif (btrim (t.subject), ''), t.body), 100)," \
    "       x.department, x.solution_steps::text, x.phrases::text, t.status " \
    "FROM tickets t LEFT JOIN taxonomy x ON x.subcategory = t.subcategory "

static const char *SQL_INFO =
    INFO_COLUMNS "WHERE t.id = ANY ($1::int8[]) ORDER BY t.id";

//  The stage's input, locked: the tickets among $1 still waiting to be
//  assigned, skipping those another transaction holds; then (_wait) those
//  it skipped, waited for
#define LOCK_INFO_SQL(skip)                                                   \
    INFO_COLUMNS "WHERE t.id = ANY ($1::int8[]) AND t.status = ANY ($2::text[]) " \
    "ORDER BY t.id FOR UPDATE OF t" skip
static const char *SQL_LOCK_INFO = LOCK_INFO_SQL (" SKIP LOCKED");
static const char *SQL_LOCK_INFO_WAIT = LOCK_INFO_SQL ("");

//  How long the waiting lock waits for a holder (an operator's transaction
//  left open must not stall the stage): then the reconciler has them
static const char *SQL_LOCK_TIMEOUT =
    "SELECT set_config ('lock_timeout', '2s', true)";

static const char *SQL_CURRENT =
    "SELECT department, assignee FROM tickets WHERE id = $1 FOR UPDATE";

static const char *SQL_DEPARTMENT =
    "SELECT 1 FROM departments WHERE code = $1";

//  What each move sets with the status
static const tf_ticket_columns_t s_routed = {
    "dispatcher_routed", ", department = u.c1", (const char *[]) { "text", NULL }
};
static const tf_ticket_columns_t s_accepted = {
    "dispatcher_accepted", ", assignee = u.c1, accepted_at = now (),"
    " first_response_at = coalesce (t.first_response_at, now ())", (const char *[]) { "text", NULL }
};
static const tf_ticket_columns_t s_transferred = {
    "dispatcher_transferred", ", department = u.c1, assignee = NULL", (const char *[]) { "text", NULL }
};

//  Most urgent first: priority, then the response deadline, then age.
#define TF_RFC3339 "'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM'"
static const char *SQL_QUEUE =
    "SELECT ticket_no, id, status, priority, category, subcategory, assignee,"
    "       left (coalesce (nullif (btrim (subject), ''), body), 100),"
    "       to_char (response_due_at, " TF_RFC3339 "),"
    "       to_char (resolve_due_at, " TF_RFC3339 "),"
    "       to_char (created_at, " TF_RFC3339 ") "
    "FROM tickets WHERE ($1::text IS NULL OR department = $1) AND status = ANY ($2::text[]) "
    "ORDER BY priority NULLS LAST, response_due_at NULLS LAST, created_at, id LIMIT $3::int";

//  A department's open tickets: the backlog once it has a department
#define DEPARTMENT_OPEN (tf_status_open () & ~(TF_FROM (RECEIVED) | TF_FROM (TRIAGE) | TF_FROM (CLASSIFIED)))

dispatcher_t *
dispatcher_new (tf_db_t *db)
{
    dispatcher_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    if (tf_db_prepare (db, "dispatcher_info", SQL_INFO, 1)
    ||  tf_db_prepare (db, "dispatcher_lock_info", SQL_LOCK_INFO, 2)
    ||  tf_db_prepare (db, "dispatcher_lock_info_wait", SQL_LOCK_INFO_WAIT, 2)
    ||  tf_db_prepare (db, "dispatcher_lock_timeout", SQL_LOCK_TIMEOUT, 0)
    ||  tf_db_prepare (db, "dispatcher_current", SQL_CURRENT, 1)
    ||  tf_db_prepare (db, "dispatcher_department", SQL_DEPARTMENT, 1)
    ||  tf_db_prepare (db, "dispatcher_queue", SQL_QUEUE, 3))
        dispatcher_destroy (&self);
    return self;
}

void
dispatcher_destroy (dispatcher_t **self_p)
{
    dispatcher_t *self = *self_p;
    if (!self)
        return;
    for (size_t i = 0; i < self->npacked; i++)
        s_packed_clear (&self->packed [i]);
    free (self->packed);
    free (self);
    *self_p = NULL;
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

static uint8_t *
s_take_buffer (msgpack_sbuffer *sbuf, size_t *size)
{
    *size = sbuf->size;
    uint8_t *bytes = malloc (sbuf->size? sbuf->size: 1);
    assert (bytes);
    memcpy (bytes, sbuf->data, sbuf->size);
    msgpack_sbuffer_destroy (sbuf);
    return bytes;
}

//  The solution steps (a JSON array of strings) as a msgpack array of
//  strings within what the LIST field allows. NULL when there are none.
static uint8_t *
s_pack_steps (const char *json_text, size_t *size)
{
    json_t *steps = json_loads (json_text, 0, NULL);
    if (!json_is_array (steps)) {
        json_decref (steps);
        return NULL;
    }
    size_t count = 0;
    for (size_t i = 0; i < json_array_size (steps) && count < TF_MAX_ASSIGNED_SOLUTION_STEPS; i++)
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
    return s_take_buffer (&sbuf, size);
}

//  The standard phrases (a JSON object of strings) as a msgpack map, within
//  the field's limit. NULL when there are none.
static uint8_t *
s_pack_phrases (const char *json_text, size_t *size)
{
    json_t *phrases = json_loads (json_text, 0, NULL);
    json_t *strings = json_object ();
    const char *key;
    json_t *value;
    json_object_foreach (phrases, key, value)
        if (json_is_string (value) && json_string_length (value) <= TF_LIST_ITEM_MAX * 2)
            json_object_set (strings, key, value);
    uint8_t *bytes = NULL;
    if (json_object_size (strings) > 0) {
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        if (tf_json_pack (&pk, strings) == 0 && sbuf.size <= TF_MAX_ASSIGNED_PHRASES)
            bytes = s_take_buffer (&sbuf, size);
        else
            msgpack_sbuffer_destroy (&sbuf);
    }
    json_decref (strings);
    json_decref (phrases);
    return bytes;
}

static bool
s_same (const char *a, const char *b)
{
    return (!a && !b) || (a && b && streq (a, b));
}

static void
s_packed_clear (packed_t *p)
{
    free (p->subcategory);
    free (p->steps_json);
    free (p->phrases_json);
    free (p->steps);
    free (p->phrases);
    memset (p, 0, sizeof *p);
}

//  The packed steps and phrases of a taxonomy row, from the cache
static const packed_t *
s_packed (dispatcher_t *self, const char *subcategory, const char *steps_json, const char *phrases_json)
{
    packed_t *p = NULL;
    for (size_t i = 0; i < self->npacked && !p; i++)
        if (streq (self->packed [i].subcategory, subcategory))
            p = &self->packed [i];
    if (p && s_same (p->steps_json, steps_json) && s_same (p->phrases_json, phrases_json))
        return p;
    if (!p) {
        self->packed = realloc (self->packed, (self->npacked + 1) * sizeof (packed_t));
        assert (self->packed);
        p = &self->packed [self->npacked++];
        memset (p, 0, sizeof *p);
    }
    s_packed_clear (p);
    p->subcategory = strdup (subcategory);
    p->steps_json = steps_json? strdup (steps_json): NULL;
    p->phrases_json = phrases_json? strdup (phrases_json): NULL;
    p->steps = steps_json? s_pack_steps (steps_json, &p->steps_size): NULL;
    p->phrases = phrases_json? s_pack_phrases (phrases_json, &p->phrases_size): NULL;
    return p;
}

static uint8_t *
s_dup (const uint8_t *bytes, size_t size)
{
    if (!bytes)
        return NULL;
    uint8_t *copy = malloc (size);
    assert (copy);
    memcpy (copy, bytes, size);
    return copy;
}

//  Fills what a row of INFO_COLUMNS tells (department and assignee are the caller's).
static void
s_fill (dispatcher_t *self, dispatcher_assignment_t *a, PGresult *res, int row)
{
    memset (a, 0, sizeof *a);
    a->ticket_id = strtoll (PQgetvalue (res, row, 0), NULL, 10);
    s_copy (a->ticket_no, sizeof a->ticket_no, TF_MAX_ASSIGNED_TICKET_NO, res, row, 1);
    s_copy (a->category, sizeof a->category, TF_MAX_ASSIGNED_CATEGORY, res, row, 4);
    s_copy (a->subcategory, sizeof a->subcategory, TF_MAX_ASSIGNED_SUBCATEGORY, res, row, 5);
    s_copy (a->priority, sizeof a->priority, TF_MAX_ASSIGNED_PRIORITY, res, row, 6);
    if (!streq (a->priority, "P1") && !streq (a->priority, "P2") && !streq (a->priority, "P3"))
        *a->priority = 0;
    s_copy (a->subject, sizeof a->subject, TF_MAX_ASSIGNED_SUBJECT, res, row, 7);
    if (*a->subcategory) {
        const packed_t *p = s_packed (self, a->subcategory,
                                      PQgetisnull (res, row, 9)? NULL: PQgetvalue (res, row, 9),
                                      PQgetisnull (res, row, 10)? NULL: PQgetvalue (res, row, 10));
        a->steps = s_dup (p->steps, p->steps_size);
        a->steps_size = p->steps_size;
        a->phrases = s_dup (p->phrases, p->phrases_size);
        a->phrases_size = p->phrases_size;
    }
}

static PGresult *
s_info (dispatcher_t *self, const char *statement, const int64_t *ids, size_t n, const char *statuses)
{
    char *array = tf_db_id_array (ids, n);
    const char *params [] = { array, statuses };
    PGresult *res = tf_db_run (self->db, statement, statuses? 2: 1, params);
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

//  A one-element array literal (for the columns of a one-ticket move)
static char *
s_one (const char *value)
{
    tf_db_array_t *array = tf_db_array_new ();
    tf_db_array_add (array, value);
    char *text = strdup (tf_db_array_text (array));
    tf_db_array_destroy (&array);
    return text;
}

//  --------------------------------------------------------------------------
//  Assigning: one transaction per batch, a constant number of statements
//  (lock and read, move, history) whatever its size.

//  Where a ticket goes, and the history note that says why
static void
s_route (PGresult *res, int row, bool reopened, char *department, size_t dsize, char *note, size_t nsize)
{
    char assignee [TF_MAX_ASSIGNED_ASSIGNEE + 8], subcategory [TF_MAX_ASSIGNED_SUBCATEGORY + 8];
    s_copy (department, dsize, TF_MAX_ASSIGNED_DEPARTMENT, res, row, 2);
    s_copy (assignee, sizeof assignee, TF_MAX_ASSIGNED_ASSIGNEE, res, row, 3);
    s_copy (subcategory, sizeof subcategory, TF_MAX_ASSIGNED_SUBCATEGORY, res, row, 5);
    if (reopened && *department) {
        if (*assignee)
            snprintf (note, nsize, "reopened: back to agent %s in %s", assignee, department);
        else
            snprintf (note, nsize, "reopened: back to %s (no agent had accepted it)", department);
        return;
    }
    //  the sub-category's department, else the front line
    if (!PQgetisnull (res, row, 8) && *PQgetvalue (res, row, 8)) {
        s_copy (department, dsize, TF_MAX_ASSIGNED_DEPARTMENT, res, row, 8);
        snprintf (note, nsize, "routed to %s by the taxonomy (sub-category %s)", department, subcategory);
    }
    else {
        snprintf (department, dsize, "%s", DISPATCHER_FALLBACK_DEPARTMENT);
        if (*subcategory)
            snprintf (note, nsize, "sub-category '%s' is not in the taxonomy: routed to %s",
                      subcategory, department);
        else
            snprintf (note, nsize, "no sub-category: routed to %s", department);
    }
    if (reopened)
        strncat (note, " (reopened ticket without a department)", nsize - strlen (note) - 1);
}

//  Inside the caller's transaction: assigns the tickets among ids that are
//  classified or reopened, skipping those another transaction holds unless
//  `wait`. Returns how many, or -1 (the caller rolls back).
static int
s_assign (dispatcher_t *self, const int64_t *ids, size_t n, bool wait, dispatcher_assignment_t *out)
{
    if (n == 0)
        return 0;
    char statuses [256];
    tf_ticket_status_array (TF_FROM (CLASSIFIED) | TF_FROM (REOPENED), statuses, sizeof statuses);
    PGresult *res = s_info (self, wait? "dispatcher_lock_info_wait": "dispatcher_lock_info", ids, n, statuses);
    if (!res)
        return -1;
    int rows = PQntuples (res);
    tf_ticket_move_t *items = calloc ((size_t) rows + 1, sizeof *items);
    char (*notes) [512] = calloc ((size_t) rows + 1, sizeof *notes);
    char **data = calloc ((size_t) rows + 1, sizeof *data);
    tf_db_array_t *departments = tf_db_array_new ();
    assert (items && notes && data);
    for (int row = 0; row < rows; row++) {
        bool reopened = tf_status_lookup (PQgetvalue (res, row, 11)) == TF_STATUS_REOPENED;
        dispatcher_assignment_t *a = &out [row];
        s_fill (self, a, res, row);
        s_route (res, row, reopened, a->department, sizeof a->department, notes [row], sizeof notes [row]);
        if (reopened)
            s_copy (a->assignee, sizeof a->assignee, TF_MAX_ASSIGNED_ASSIGNEE, res, row, 3);
        data [row] = s_json ("department", a->department, *a->assignee? "assignee": NULL, a->assignee, NULL, NULL);
        items [row] = (tf_ticket_move_t) {
            .id = a->ticket_id, .move = reopened? TF_MOVE_REASSIGN: TF_MOVE_ASSIGN,
            .note = notes [row], .data = data [row]
        };
        tf_db_array_add (departments, a->department);
    }
    PQclear (res);
    const char *columns [] = { tf_db_array_text (departments) };
    int moved = tf_ticket_move (self->db, TF_SVC_DISPATCHER, items, (size_t) rows, &s_routed, columns, true, NULL);
    //  keep the assignments that moved, in order
    int count = 0;
    for (int row = 0; row < rows; row++) {
        free (data [row]);
        if (moved >= 0 && items [row].moved) {
            if (count != row) {
                out [count] = out [row];
                memset (&out [row], 0, sizeof out [row]);
            }
            count++;
        }
        else
            dispatcher_assignment_clear (&out [row]);
    }
    tf_db_array_destroy (&departments);
    free (items);
    free (notes);
    free (data);
    return moved < 0? -1: count;
}

//  Commits; on failure the assignments are forgotten (nothing is published).
static int
s_commit (dispatcher_t *self, int count, dispatcher_assignment_t *out)
{
    int rc = tf_db_finish (self->db, count);
    if (rc < 0)
        for (int i = 0; i < count; i++)
            dispatcher_assignment_clear (&out [i]);
    return rc;
}

int
dispatcher_assign (dispatcher_t *self, const int64_t *ids, size_t n, dispatcher_assignment_t *out)
{
    if (n == 0)
        return 0;
    if (tf_db_begin (self->db))
        return -1;
    int count = s_commit (self, s_assign (self, ids, n, false, out), out);
    if (count < 0 || (size_t) count == n)
        return count;
    //  A ticket skipped because another transaction held it (sla making its
    //  deadlines, the classifier linking it to an incident) would wait for
    //  the reconciler, seconds later: it is waited for instead, in a
    //  transaction that holds nothing else, so the wait cannot deadlock.
    //  Those no longer waiting to be assigned are not locked at all.
    int64_t *rest = calloc (n, sizeof *rest);
    assert (rest);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        bool done = false;
        for (int k = 0; k < count && !done; k++)
            done = out [k].ticket_id == ids [i];
        if (!done)
            rest [m++] = ids [i];
    }
    int more = -1;
    if (tf_db_begin (self->db) == 0) {
        PGresult *res = tf_db_run (self->db, "dispatcher_lock_timeout", 0, NULL);
        bool ok = tf_db_ok (self->db, res, "set the lock timeout");
        PQclear (res);
        more = s_commit (self, ok? s_assign (self, rest, m, true, out + count): -1, out + count);
    }
    free (rest);
    return more < 0? count: count + more;
}

int
dispatcher_reconcile (dispatcher_t *self, int stale_seconds, size_t limit, dispatcher_assignment_t *out)
{
    if (limit == 0)
        return 0;
    if (tf_db_begin (self->db))
        return -1;
    int64_t *locked = calloc (limit, sizeof *locked);
    assert (locked);
    int k = tf_ticket_lock_waiting (self->db, TF_FROM (CLASSIFIED) | TF_FROM (REOPENED), stale_seconds,
                                    limit, locked);
    int count = s_commit (self, k < 0? -1: s_assign (self, locked, (size_t) k, false, out), out);
    free (locked);
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
    char ticket_no [TF_MAX_ACCEPT_TICKET_NO + 1];
    tf_ticket_no_copy (request, TF_F_ACCEPT_TICKET_NO, ticket_no, sizeof ticket_no);
    char *agent = s_text (request, TF_F_ACCEPT_AGENT, err);
    if (!agent)
        return -1;
    if (tf_db_begin (self->db)) {
        free (agent);
        return tf_error_unavailable (err);
    }
    int64_t id = 0;
    char note [160];
    snprintf (note, sizeof note, "accepted by %s", agent);
    char *data = s_json ("agent", agent, NULL, NULL, NULL, NULL);
    char *agents = s_one (agent);
    int rc = tf_ticket_find (self->db, ticket_no, strlen (ticket_no), &id, NULL, err);
    if (rc == 0) {
        tf_ticket_move_t item = { .id = id, .move = TF_MOVE_ACCEPT, .actor = agent, .note = note, .data = data };
        rc = tf_ticket_move (self->db, TF_SVC_DISPATCHER, &item, 1, &s_accepted, (const char *[]) { agents },
                             false, err) == 1? 0: -1;
    }
    if (tf_db_finish (self->db, rc) < 0) {
        if (rc == 0)
            tf_error_unavailable (err);
        rc = -1;
    }
    else
        *ticket_id = id;
    free (agents);
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
    char ticket_no [TF_MAX_TRANSFER_TICKET_NO + 1];
    tf_ticket_no_copy (request, TF_F_TRANSFER_TICKET_NO, ticket_no, sizeof ticket_no);
    char *department = tf_msg_strdup (request, TF_F_TRANSFER_DEPARTMENT);
    char *reason_raw = s_text (request, TF_F_TRANSFER_REASON, err);
    char *actor = tf_msg_strdup (request, TF_F_TRANSFER_ACTOR);
    char *reason = reason_raw? tf_mask_text (reason_raw, strlen (reason_raw), NULL): NULL;
    char *data = NULL, *departments = NULL;
    PGresult *res = NULL;
    int rc = -1;
    if (!department) {
        tf_error_set (err, TF_ERR_MISSING_FIELD, "department", "'department' is required");
        goto done;
    }
    if (!reason)
        goto done;
    if (tf_db_begin (self->db)) {
        tf_error_unavailable (err);
        goto done;
    }
    bool known = false;
    int64_t id = 0;
    if (!s_department_known (self, department, &known))
        tf_error_unavailable (err);
    else
    if (!known)
        tf_error_set (err, TF_ERR_BAD_VALUE, "department", "no department '%s' (see the departments table)",
                      department);
    else
    if (tf_ticket_find (self->db, ticket_no, strlen (ticket_no), &id, NULL, err) == 0) {
        char id_text [24];
        snprintf (id_text, sizeof id_text, "%lld", (long long) id);
        res = tf_db_run (self->db, "dispatcher_current", 1, (const char *[]) { id_text });
        if (!tf_db_ok (self->db, res, "current department") || PQntuples (res) != 1)
            tf_error_unavailable (err);
        else {
            const char *from = PQgetisnull (res, 0, 0)? NULL: PQgetvalue (res, 0, 0);
            const char *previous = PQgetisnull (res, 0, 1)? NULL: PQgetvalue (res, 0, 1);
            data = s_json ("department", department, "from_department", from,
                           "previous_assignee", previous);
            departments = s_one (department);
            tf_ticket_move_t item = { .id = id, .move = TF_MOVE_TRANSFER, .actor = actor, .note = reason,
                                      .data = data };
            rc = tf_ticket_move (self->db, TF_SVC_DISPATCHER, &item, 1, &s_transferred,
                                 (const char *[]) { departments }, false, err) == 1? 0: -1;
            if (rc == 0) {
                PQclear (res);
                res = s_info (self, "dispatcher_info", &id, 1, NULL);
                if (!res || PQntuples (res) != 1)
                    rc = tf_error_unavailable (err);
                else {
                    s_fill (self, out, res, 0);
                    s_copy (out->department, sizeof out->department, TF_MAX_ASSIGNED_DEPARTMENT, res, 0, 2);
                }
            }
        }
    }
    if (tf_db_finish (self->db, rc) < 0) {
        if (rc == 0)
            tf_error_unavailable (err);
        rc = -1;
        dispatcher_assignment_clear (out);
    }
done:
    PQclear (res);
    free (data);
    free (departments);
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
        msgpack_pack_str_with_body (pk, s, tf_utf8_prefix (s, len, TF_MAX_ASSIGNED_SUBJECT));
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
    bool triage = status && tf_status_lookup (status) == TF_STATUS_TRIAGE;
    bool known = triage && !department;
    PGresult *res = NULL;
    if (!department && !triage)
        tf_error_set (err, TF_ERR_MISSING_FIELD, "department", "'department' is required unless status is triage");
    else
    if (department && !s_department_known (self, department, &known))
        tf_error_unavailable (err);
    else
    if (!known)
        tf_error_set (err, TF_ERR_BAD_VALUE, "department", "no department '%s' (see the departments table)",
                      department);
    else {
        char statuses [256];
        tf_ticket_status_array (status? TF_FROM_SET (tf_status_lookup (status)): DEPARTMENT_OPEN, statuses,
                                sizeof statuses);
        const char *params [] = { department, statuses, limit };
        res = tf_db_run (self->db, "dispatcher_queue", 3, params);
        if (!tf_db_ok (self->db, res, "queue"))
            tf_error_unavailable (err);
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
            tf_msg_set_cstr (reply, TF_F_QUEUE_ITEMS_DEPARTMENT, department? department: tf_status_name (TF_STATUS_TRIAGE));
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
