#include "dispatcher_private.h"
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


static void s_packed_clear (packed_t *p);

//  What an assignment needs, for a set of tickets: the ticket, the start of
//  its text, and its sub-category's taxonomy row (NULLs when unknown).
#define INFO_COLUMNS \
    "SELECT t.id, t.ticket_no, t.department, t.assignee, t.category, t.subcategory, t.priority," \
    "       left (coalesce (nullif (btrim (t.subject), ''), t.body), 100)," \
    "       x.department, x.solution_steps::text, x.phrases::text, t.status, x.code, x.first_owner " \
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

static const char *SQL_AGENT_ON_DUTY =
    "SELECT department, on_duty FROM agents WHERE name = $1";

//  the department its sub-category names, and whether it is there already
static const char *SQL_SECOND_LINE =
    "SELECT x.department, x.department IS NOT DISTINCT FROM t.department"
    " FROM tickets t LEFT JOIN taxonomy x ON x.subcategory = t.subcategory WHERE t.id = $1";

//  What each move sets with the status
static const tf_ticket_columns_t s_routed = {
    "dispatcher_routed", ", department = u.c1, assignee = nullif (u.c2, ''),"
    " assigned_at = CASE WHEN u.c2 <> '' THEN tf_now () END", (const char *[]) { "text", "text", NULL }
};
static const tf_ticket_columns_t s_accepted = {
    "dispatcher_accepted", ", assignee = u.c1, accepted_at = tf_now (),"
    " first_response_at = coalesce (t.first_response_at, tf_now ())", (const char *[]) { "text", NULL }
};
//  an accept answers the agent's acknowledgement clock
static const char *SQL_ACKNOWLEDGED =
    "UPDATE sla_timers SET met_at = tf_now () WHERE ticket_id = $1 AND kind = 'acknowledgement'"
    " AND met_at IS NULL AND breached_at IS NULL";

//  Most urgent first: priority, then the response deadline, then age.
#define TF_RFC3339 "'YYYY-MM-DD\"T\"HH24:MI:SSTZH:TZM'"
static const char *SQL_QUEUE =
    "SELECT ticket_no, id, status, priority, category, subcategory, assignee,"
    "       left (coalesce (nullif (btrim (subject), ''), body), 100),"
    "       to_char (response_due_at, " TF_RFC3339 "),"
    "       to_char (resolve_due_at, " TF_RFC3339 "),"
    "       to_char (created_at, " TF_RFC3339 ") "
    "FROM tickets WHERE ($1::text IS NULL OR department = $1) AND status = ANY ($2::text[]) "
    "AND ($4::text IS NULL OR assignee = $4) "
    "ORDER BY priority NULLS LAST, response_due_at NULLS LAST, created_at, id LIMIT $3::int";

//  Acknowledgement clocks that ran out, with their tickets (SKIP LOCKED:
//  another dispatcher takes the others); each is marked gone off here
static const char *SQL_UNACKNOWLEDGED =
    "WITH due AS (SELECT s.id, s.ticket_id FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id"
    "             WHERE s.kind = 'acknowledgement' AND s.met_at IS NULL AND s.breached_at IS NULL"
    "             AND s.paused_at IS NULL AND s.due_at <= tf_now ()"
    "             ORDER BY s.due_at, s.id LIMIT $1::int FOR UPDATE OF s, t SKIP LOCKED),"
    " gone AS (UPDATE sla_timers s SET breached_at = tf_now () FROM due WHERE s.id = due.id RETURNING s.id) "
    "SELECT t.id, t.assignee FROM due JOIN tickets t ON t.id = due.ticket_id"
    " WHERE t.status = 'assigned' AND t.assignee IS NOT NULL ORDER BY t.id";

//  Hand-over clocks that ran out (the front line kept the ticket as long
//  as its sub-category allows), each marked gone off, with the tickets
//  still open at their first owner and the second line they go to
static const char *SQL_HAND_OVER_DUE =
    "WITH due AS (SELECT s.id, s.ticket_id FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id"
    "             WHERE s.kind = 'hand_over' AND s.met_at IS NULL AND s.breached_at IS NULL"
    "             AND s.paused_at IS NULL AND s.due_at <= tf_now ()"
    "             ORDER BY s.due_at, s.id LIMIT $1::int FOR UPDATE OF s, t SKIP LOCKED),"
    " gone AS (UPDATE sla_timers s SET breached_at = tf_now () FROM due WHERE s.id = due.id RETURNING s.id) "
    "SELECT t.id, x.department, x.hand_over_hours FROM due JOIN tickets t ON t.id = due.ticket_id"
    " JOIN taxonomy x ON x.subcategory = t.subcategory"
    " WHERE t.status = ANY ($2::text[]) AND t.department = x.first_owner AND x.department <> x.first_owner"
    " ORDER BY t.id";

//  Tickets waiting in the pool of a department where an agent on duty has
//  room (the roster is small; the pool is read through the department's index)
static const char *SQL_POOL =
    "SELECT t.id, NULL FROM tickets t"
    " WHERE t.department = ANY (ARRAY (SELECT DISTINCT a.department FROM agents a"
    "        WHERE a.on_duty AND a.role = 'agent' AND a.capacity > " ROSTER_LOAD ("a.name") "))"
    " AND t.status = 'assigned' AND t.assignee IS NULL"
    " ORDER BY t.priority NULLS LAST, t.created_at, t.id LIMIT $1::int FOR UPDATE OF t SKIP LOCKED";

//  The agents given ($2, '' for none: back to the pool), with a history
//  row each ($3 the event, $4 the notes); the team lead of the department
//  hears of a missed acknowledgement ($5 the sink, when $3 says so)
static const char *SQL_GIVE =
    "WITH u AS (SELECT * FROM unnest ($1::int8[], $2::text[], $3::text[], $4::text[]) AS u (id, agent, event, note)),"
    " t AS (UPDATE tickets t SET assignee = nullif (u.agent, ''),"
    "              assigned_at = CASE WHEN u.agent <> '' THEN tf_now () END, updated_at = tf_now ()"
    "       FROM u WHERE t.id = u.id RETURNING t.id) "
    "INSERT INTO ticket_events (ticket_id, kind, actor, note, data) "
    "SELECT u.id, u.event, 'dispatcher', u.note, jsonb_build_object ('assignee', nullif (u.agent, '')) FROM u";

//  The team lead of each ticket's department (on duty first) hears that an
//  agent let a ticket wait (the ticket's history has the details)
static const char *SQL_TELL_LEADS =
    "INSERT INTO outbox (ticket_id, kind, sink, payload) "
    "SELECT t.id, 'acknowledgement_missed', $2, jsonb_strip_nulls (jsonb_build_object ("
    "  'to_agent', l.name, 'to', l.contact, 'department', t.department, 'ticket_no', t.ticket_no,"
    "  'assignee', t.assignee, 'message', tf_staff_text ('acknowledgement_missed', jsonb_build_object ("
    "    'ticket_no', t.ticket_no, 'department', t.department, 'assignee', t.assignee,"
    "    'outcome', CASE WHEN t.assignee IS NULL THEN '退回部门待分配池' ELSE '转给 ' || t.assignee END)))) "
    "FROM tickets t CROSS JOIN LATERAL tf_person (t.department, 'team_lead') l "
    "WHERE t.id = ANY ($1::int8[]) ON CONFLICT DO NOTHING";

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
    ||  tf_db_prepare (db, "dispatcher_agent_on_duty", SQL_AGENT_ON_DUTY, 1)
    ||  tf_db_prepare (db, "dispatcher_second_line", SQL_SECOND_LINE, 1)
    ||  tf_db_prepare (db, "dispatcher_acknowledged", SQL_ACKNOWLEDGED, 1)
    ||  dispatcher_roster_prepare (db)
    ||  dispatcher_agents_prepare (db)
    ||  tf_db_prepare (db, "dispatcher_unacknowledged", SQL_UNACKNOWLEDGED, 1)
    ||  tf_db_prepare (db, "dispatcher_pool", SQL_POOL, 1)
    ||  tf_db_prepare (db, "dispatcher_hand_over_due", SQL_HAND_OVER_DUE, 2)
    ||  tf_db_prepare (db, "dispatcher_give", SQL_GIVE, 4)
    ||  tf_db_prepare (db, "dispatcher_tell_leads", SQL_TELL_LEADS, 2)
    ||  tf_db_prepare (db, "dispatcher_queue", SQL_QUEUE, 4))
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

//  Where a ticket goes, and the history note that says why: the front
//  line first (the sub-category's first owner, who tries the solution
//  steps and hands over to the second line when they fail)
static void
s_route (PGresult *res, int row, bool reopened, dispatcher_assignment_t *a, char *note, size_t nsize)
{
    char assignee [TF_MAX_ASSIGNED_ASSIGNEE + 8], subcategory [TF_MAX_ASSIGNED_SUBCATEGORY + 8];
    char *department = a->department;
    size_t dsize = sizeof a->department;
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
    bool owner = !PQgetisnull (res, row, 13) && *PQgetvalue (res, row, 13);
    bool second = !PQgetisnull (res, row, 8) && *PQgetvalue (res, row, 8);
    if (owner || second) {
        s_copy (department, dsize, TF_MAX_ASSIGNED_DEPARTMENT, res, row, owner? 13: 8);
        if (second && !streq (PQgetvalue (res, row, 8), department))
            s_copy (a->second_line, sizeof a->second_line, TF_MAX_ASSIGNED_SECOND_LINE, res, row, 8);
        if (*a->second_line)
            snprintf (note, nsize, "routed to %s, the first owner of %s (second line: %s)", department,
                      subcategory, a->second_line);
        else
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

//  Inside the caller's transaction: gives each of the moved tickets an
//  agent of its department when one is free (out[i].assignee, for those
//  without one), and every ticket with an agent its acknowledgement
//  clock. Two statements for the roster (one when nobody is on duty
//  there), one for the clocks. Returns 0 or -1.
static int
s_give_agents (dispatcher_t *self, dispatcher_assignment_t *out, const char *const *codes, size_t n)
{
    if (n == 0)
        return 0;
    tf_db_array_t *departments = tf_db_array_new ();
    for (size_t i = 0; i < n; i++)
        tf_db_array_add (departments, out [i].department);
    roster_t roster;
    int rc = dispatcher_roster_load (self->db, tf_db_array_text (departments), &roster);
    tf_db_array_destroy (&departments);
    if (rc)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (!*out [i].assignee) {
            const char *who = dispatcher_roster_pick (&roster, out [i].department, codes [i], NULL);
            if (who)
                snprintf (out [i].assignee, sizeof out [i].assignee, "%s", who);
        }
    dispatcher_roster_clear (&roster);
    return 0;
}

//  Inside the caller's transaction: the acknowledgement clocks of the
//  tickets out[0..n) that have an agent now.
static int
s_acknowledge (dispatcher_t *self, const dispatcher_assignment_t *out, size_t n)
{
    tf_db_array_t *ids = tf_db_array_new ();
    for (size_t i = 0; i < n; i++)
        if (*out [i].assignee)
            tf_db_array_add_int (ids, out [i].ticket_id);
    int rc = tf_db_array_count (ids)? dispatcher_roster_acknowledge (self->db, tf_db_array_text (ids)): 0;
    tf_db_array_destroy (&ids);
    return rc;
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
    const char **codes = calloc ((size_t) rows + 1, sizeof *codes);
    bool *reopened = calloc ((size_t) rows + 1, sizeof *reopened);
    tf_db_array_t *departments = tf_db_array_new ();
    tf_db_array_t *assignees = tf_db_array_new ();
    assert (items && notes && data && codes && reopened);
    for (int row = 0; row < rows; row++) {
        reopened [row] = tf_status_lookup (PQgetvalue (res, row, 11)) == TF_STATUS_REOPENED;
        dispatcher_assignment_t *a = &out [row];
        s_fill (self, a, res, row);
        s_route (res, row, reopened [row], a, notes [row], sizeof notes [row]);
        if (reopened [row])
            s_copy (a->assignee, sizeof a->assignee, TF_MAX_ASSIGNED_ASSIGNEE, res, row, 3);
        codes [row] = PQgetisnull (res, row, 12)? NULL: PQgetvalue (res, row, 12);
    }
    int moved = s_give_agents (self, out, codes, (size_t) rows) < 0? -1: 0;
    for (int row = 0; row < rows && moved == 0; row++) {
        dispatcher_assignment_t *a = &out [row];
        if (*a->assignee && !reopened [row]) {
            size_t used = strlen (notes [row]);
            snprintf (notes [row] + used, sizeof notes [row] - used, "; to agent %s", a->assignee);
        }
        data [row] = s_json ("department", a->department, *a->assignee? "assignee": NULL, a->assignee,
                             *a->second_line? "second_line": NULL, a->second_line);
        items [row] = (tf_ticket_move_t) {
            .id = a->ticket_id, .move = reopened [row]? TF_MOVE_REASSIGN: TF_MOVE_ASSIGN,
            .note = notes [row], .data = data [row]
        };
        tf_db_array_add (departments, a->department);
        tf_db_array_add (assignees, a->assignee);
    }
    PQclear (res);
    const char *columns [] = { tf_db_array_text (departments), tf_db_array_text (assignees) };
    if (moved == 0)
        moved = tf_ticket_move (self->db, TF_SVC_DISPATCHER, items, (size_t) rows, &s_routed, columns, true, NULL);
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
    if (moved >= 0 && s_acknowledge (self, out, (size_t) count))
        moved = -1;
    tf_db_array_destroy (&departments);
    tf_db_array_destroy (&assignees);
    free (items);
    free (notes);
    free (data);
    free (codes);
    free (reopened);
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
    if (rc == 0) {
        char id_text [24];
        snprintf (id_text, sizeof id_text, "%lld", (long long) id);
        if (tf_db_command (self->db, "dispatcher_acknowledged", 1, (const char *[]) { id_text }) < 0)
            rc = tf_error_unavailable (err);
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

//  Inside the transfer's transaction: where the ticket goes. An agent
//  named takes it to their department (on duty, on the roster); a
//  department named takes it there; neither, to its second line (the
//  sub-category's department). Fills department and assignee. 0 or -1.
static int
s_transfer_target (dispatcher_t *self, const tf_msg_t *request, int64_t id, char *department, size_t dsize,
                   char *assignee, size_t asize, tf_error_t *err)
{
    char id_text [24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) id);
    char *agent = tf_msg_strdup (request, TF_F_TRANSFER_AGENT);
    char *named = tf_msg_strdup (request, TF_F_TRANSFER_DEPARTMENT);
    PGresult *res = NULL;
    int rc = -1;
    if (agent) {
        res = tf_db_run (self->db, "dispatcher_agent_on_duty", 1, (const char *[]) { agent });
        if (!tf_db_ok (self->db, res, "agent"))
            tf_error_unavailable (err);
        else
        if (PQntuples (res) == 0)
            tf_error_set (err, TF_ERR_BAD_VALUE, "agent", "no agent '%s' on the roster", agent);
        else
        if (*PQgetvalue (res, 0, 1) != 't')
            tf_error_set (err, TF_ERR_BAD_VALUE, "agent", "agent '%s' is off duty", agent);
        else
        if (named && !streq (named, PQgetvalue (res, 0, 0)))
            tf_error_set (err, TF_ERR_BAD_VALUE, "department", "agent '%s' is in %s, not %s", agent,
                          PQgetvalue (res, 0, 0), named);
        else {
            snprintf (department, dsize, "%s", PQgetvalue (res, 0, 0));
            snprintf (assignee, asize, "%s", agent);
            rc = 0;
        }
    }
    else
    if (named) {
        bool known = false;
        if (!s_department_known (self, named, &known))
            tf_error_unavailable (err);
        else
        if (!known)
            tf_error_set (err, TF_ERR_BAD_VALUE, "department", "no department '%s' (see the departments table)",
                          named);
        else {
            snprintf (department, dsize, "%s", named);
            rc = 0;
        }
    }
    else {
        res = tf_db_run (self->db, "dispatcher_second_line", 1, (const char *[]) { id_text });
        if (!tf_db_ok (self->db, res, "second line"))
            tf_error_unavailable (err);
        else
        if (PQntuples (res) == 0 || PQgetisnull (res, 0, 0))
            tf_error_set (err, TF_ERR_MISSING_FIELD, "department",
                          "the ticket's sub-category names no second line: give a department or an agent");
        else
        if (*PQgetvalue (res, 0, 1) == 't')
            tf_error_set (err, TF_ERR_MISSING_FIELD, "department",
                          "the ticket is with its second line (%s) already: give a department or an agent",
                          PQgetvalue (res, 0, 0));
        else {
            snprintf (department, dsize, "%s", PQgetvalue (res, 0, 0));
            rc = 0;
        }
    }
    PQclear (res);
    free (agent);
    free (named);
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
    char *reason_raw = s_text (request, TF_F_TRANSFER_REASON, err);
    char *actor = tf_msg_strdup (request, TF_F_TRANSFER_ACTOR);
    char *reason = reason_raw? tf_mask_text (reason_raw, strlen (reason_raw), NULL): NULL;
    char *data = NULL;
    PGresult *res = NULL;
    int rc = -1;
    if (!reason)
        goto done;
    if (tf_db_begin (self->db)) {
        tf_error_unavailable (err);
        goto done;
    }
    int64_t id = 0;
    char department [TF_MAX_ASSIGNED_DEPARTMENT + 8] = "", assignee [TF_MAX_ASSIGNED_ASSIGNEE + 8] = "";
    //  a named target is checked before the ticket is looked for; the
    //  second line is the ticket's own
    bool named = tf_msg_has (request, TF_F_TRANSFER_DEPARTMENT) || tf_msg_has (request, TF_F_TRANSFER_AGENT);
    int found = named? s_transfer_target (self, request, 0, department, sizeof department, assignee,
                                          sizeof assignee, err): 0;
    if (found == 0)
        found = tf_ticket_find (self->db, ticket_no, strlen (ticket_no), &id, NULL, err);
    if (found == 0 && !named)
        found = s_transfer_target (self, request, id, department, sizeof department, assignee, sizeof assignee, err);
    if (found == 0) {
        char id_text [24];
        snprintf (id_text, sizeof id_text, "%lld", (long long) id);
        res = tf_db_run (self->db, "dispatcher_current", 1, (const char *[]) { id_text });
        if (!tf_db_ok (self->db, res, "current department") || PQntuples (res) != 1)
            tf_error_unavailable (err);
        else {
            const char *from = PQgetisnull (res, 0, 0)? NULL: PQgetvalue (res, 0, 0);
            char previous [TF_MAX_ASSIGNED_ASSIGNEE + 8] = "";
            if (!PQgetisnull (res, 0, 1))
                snprintf (previous, sizeof previous, "%s", PQgetvalue (res, 0, 1));
            //  to a free agent of the department, not back to the one before
            if (!*assignee) {
                roster_t roster;
                tf_db_array_t *one = tf_db_array_new ();
                tf_db_array_add (one, department);
                if (dispatcher_roster_load (self->db, tf_db_array_text (one), &roster) == 0) {
                    const char *who = dispatcher_roster_pick (&roster, department, NULL, previous);
                    if (who)
                        snprintf (assignee, sizeof assignee, "%s", who);
                    dispatcher_roster_clear (&roster);
                }
                tf_db_array_destroy (&one);
            }
            json_t *json = json_pack ("{s:s, s:s?, s:s?, s:s?}", "department", department,
                                      "from_department", from, "previous_assignee", *previous? previous: NULL,
                                      "assignee", *assignee? assignee: NULL);
            data = json? json_dumps (json, JSON_COMPACT): NULL;
            json_decref (json);
            char *departments = s_one (department), *assignees = s_one (assignee);
            tf_ticket_move_t item = { .id = id, .move = TF_MOVE_TRANSFER, .actor = actor, .note = reason,
                                      .data = data };
            rc = tf_ticket_move (self->db, TF_SVC_DISPATCHER, &item, 1, &s_routed,
                                 (const char *[]) { departments, assignees }, false, err) == 1? 0: -1;
            free (departments);
            free (assignees);
            if (rc == 0) {
                PQclear (res);
                res = s_info (self, "dispatcher_info", &id, 1, NULL);
                if (!res || PQntuples (res) != 1)
                    rc = tf_error_unavailable (err);
                else {
                    s_fill (self, out, res, 0);
                    s_copy (out->department, sizeof out->department, TF_MAX_ASSIGNED_DEPARTMENT, res, 0, 2);
                    s_copy (out->assignee, sizeof out->assignee, TF_MAX_ASSIGNED_ASSIGNEE, res, 0, 3);
                    if (s_acknowledge (self, out, 1))
                        rc = tf_error_unavailable (err);
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
    char *agent = tf_msg_strdup (request, TF_F_QUEUE_LIST_AGENT);
    char agent_department [TF_MAX_QUEUE_ITEMS_DEPARTMENT + 8] = "";
    char limit [24];
    snprintf (limit, sizeof limit, "%lld", tf_msg_has (request, TF_F_QUEUE_LIST_LIMIT)
              ? (long long) tf_msg_int (request, TF_F_QUEUE_LIST_LIMIT): 100LL);
    int rc = -1;
    //  triage tickets have no department yet: their queue is everyone's
    bool triage = status && tf_status_lookup (status) == TF_STATUS_TRIAGE;
    bool known = triage && !department;
    PGresult *res = NULL;
    //  an agent's own queue: their department is the reply's
    if (agent && !department) {
        res = tf_db_run (self->db, "dispatcher_agent_on_duty", 1, (const char *[]) { agent });
        if (tf_db_ok (self->db, res, "agent") && PQntuples (res) == 1) {
            snprintf (agent_department, sizeof agent_department, "%s", PQgetvalue (res, 0, 0));
            department = strdup (agent_department);
        }
        PQclear (res);
        res = NULL;
    }
    if (agent && !*agent_department && !department)
        tf_error_set (err, TF_ERR_BAD_VALUE, "agent", "no agent '%s' on the roster", agent);
    else
    if (!department && !triage)
        tf_error_set (err, TF_ERR_MISSING_FIELD, "department",
                      "'department' is required unless status is triage or an agent is given");
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
        const char *params [] = { *agent_department? NULL: department, statuses, limit, agent };
        res = tf_db_run (self->db, "dispatcher_queue", 4, params);
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
    free (agent);
    return rc;
}

//  Inside the rebalance's transaction: gives each ticket of `rows` (id,
//  the agent it leaves) an agent of its department other than that one,
//  records it and fills out[]. `missed`: their acknowledgement ran out.
//  Returns how many, or -1.
static int
s_rebalance_rows (dispatcher_t *self, PGresult *rows, bool missed, const char *owner_sink,
                  dispatcher_assignment_t *out)
{
    int n = PQntuples (rows);
    if (n == 0)
        return 0;
    int64_t *ids = calloc ((size_t) n, sizeof *ids);
    assert (ids);
    for (int i = 0; i < n; i++)
        ids [i] = strtoll (PQgetvalue (rows, i, 0), NULL, 10);
    PGresult *info = s_info (self, "dispatcher_info", ids, (size_t) n, NULL);
    free (ids);
    if (!info)
        return -1;
    int count = PQntuples (info);
    tf_db_array_t *departments = tf_db_array_new ();
    for (int i = 0; i < count; i++) {
        s_fill (self, &out [i], info, i);
        s_copy (out [i].department, sizeof out [i].department, TF_MAX_ASSIGNED_DEPARTMENT, info, i, 2);
        tf_db_array_add (departments, out [i].department);
    }
    roster_t roster;
    int rc = dispatcher_roster_load (self->db, tf_db_array_text (departments), &roster);
    tf_db_array_destroy (&departments);
    tf_db_array_t *a [4] = { tf_db_array_new (), tf_db_array_new (), tf_db_array_new (), tf_db_array_new () };
    for (int i = 0; rc == 0 && i < count; i++) {
        const char *before = NULL;
        for (int r = 0; r < n; r++)
            if (strtoll (PQgetvalue (rows, r, 0), NULL, 10) == out [i].ticket_id && !PQgetisnull (rows, r, 1))
                before = PQgetvalue (rows, r, 1);
        const char *code = PQgetisnull (info, i, 12)? NULL: PQgetvalue (info, i, 12);
        const char *who = dispatcher_roster_pick (&roster, out [i].department, code, before);
        snprintf (out [i].assignee, sizeof out [i].assignee, "%s", who? who: "");
        if (!missed && !who)
            continue;           //  nobody with the skill has room: it stays in the pool, untouched
        char note [256];
        if (missed)
            snprintf (note, sizeof note, "%s did not accept within 15 minutes: %s%s", before,
                      who? "to agent ": "back to the pool", who? who: "");
        else
            snprintf (note, sizeof note, "from the pool to agent %s", who? who: "");
        tf_db_array_add_int (a [0], out [i].ticket_id);
        tf_db_array_add (a [1], who? who: "");
        tf_db_array_add (a [2], missed? "reassigned": "assigned_to_agent");
        tf_db_array_add (a [3], note);
    }
    dispatcher_roster_clear (&roster);
    PQclear (info);
    if (rc == 0 && tf_db_array_count (a [0]) && tf_db_command (self->db, "dispatcher_give", 4, (const char *[]) {
            tf_db_array_text (a [0]), tf_db_array_text (a [1]), tf_db_array_text (a [2]),
            tf_db_array_text (a [3]) }) < 0)
        rc = -1;
    if (rc == 0 && missed
    &&  tf_db_command (self->db, "dispatcher_tell_leads", 2, (const char *[]) { tf_db_array_text (a [0]),
                                                                              owner_sink }) < 0)
        rc = -1;
    for (int i = 0; i < 4; i++)
        tf_db_array_destroy (&a [i]);
    if (rc == 0)
        rc = s_acknowledge (self, out, (size_t) count);
    if (rc < 0) {
        for (int i = 0; i < count; i++)
            dispatcher_assignment_clear (&out [i]);
        return -1;
    }
    //  only those that went to an agent are announced
    int kept = 0;
    for (int i = 0; i < count; i++) {
        if (*out [i].assignee) {
            if (kept != i) {
                out [kept] = out [i];
                memset (&out [i], 0, sizeof out [i]);
            }
            kept++;
        }
        else
            dispatcher_assignment_clear (&out [i]);
    }
    return kept;
}

//  Inside the rebalance's transaction: the tickets of `rows` (id, second
//  line, hours) go from the front line to their second line by themselves,
//  as the manuals ask (a transfer, with the reason in the history), to an
//  agent there with room when there is one. Fills out[]; returns how
//  many, or -1.
static int
s_hand_over (dispatcher_t *self, PGresult *rows, dispatcher_assignment_t *out)
{
    int n = PQntuples (rows);
    if (n == 0)
        return 0;
    tf_db_array_t *departments = tf_db_array_new ();
    for (int i = 0; i < n; i++)
        tf_db_array_add (departments, PQgetvalue (rows, i, 1));
    roster_t roster;
    int rc = dispatcher_roster_load (self->db, tf_db_array_text (departments), &roster);
    tf_db_array_destroy (&departments);
    if (rc)
        return -1;
    tf_ticket_move_t *items = calloc ((size_t) n, sizeof *items);
    char (*notes) [256] = calloc ((size_t) n, sizeof *notes);
    int64_t *ids = calloc ((size_t) n, sizeof *ids);
    assert (items && notes && ids);
    tf_db_array_t *columns [2] = { tf_db_array_new (), tf_db_array_new () };
    for (int i = 0; i < n; i++) {
        const char *second = PQgetvalue (rows, i, 1);
        const char *who = dispatcher_roster_pick (&roster, second, NULL, NULL);
        ids [i] = strtoll (PQgetvalue (rows, i, 0), NULL, 10);
        snprintf (notes [i], sizeof notes [i], "%s h with the front line: handed over to %s%s%s",
                  PQgetvalue (rows, i, 2), second, who? ", agent ": "", who? who: "");
        items [i] = (tf_ticket_move_t) { .id = ids [i], .move = TF_MOVE_TRANSFER, .note = notes [i] };
        tf_db_array_add (columns [0], second);
        tf_db_array_add (columns [1], who? who: "");
    }
    dispatcher_roster_clear (&roster);
    const char *params [] = { tf_db_array_text (columns [0]), tf_db_array_text (columns [1]) };
    int moved = tf_ticket_move (self->db, TF_SVC_DISPATCHER, items, (size_t) n, &s_routed, params, true, NULL);
    int count = 0;
    if (moved > 0) {
        size_t k = 0;
        for (int i = 0; i < n; i++)
            if (items [i].moved)
                ids [k++] = ids [i];
        PGresult *info = s_info (self, "dispatcher_info", ids, k, NULL);
        for (int i = 0; info && i < PQntuples (info); i++) {
            s_fill (self, &out [count], info, i);
            s_copy (out [count].department, sizeof out [count].department, TF_MAX_ASSIGNED_DEPARTMENT, info, i, 2);
            s_copy (out [count].assignee, sizeof out [count].assignee, TF_MAX_ASSIGNED_ASSIGNEE, info, i, 3);
            count++;
        }
        if (!info || s_acknowledge (self, out, (size_t) count))
            moved = -1;
        PQclear (info);
    }
    tf_db_array_destroy (&columns [0]);
    tf_db_array_destroy (&columns [1]);
    free (items);
    free (notes);
    free (ids);
    if (moved < 0) {
        for (int i = 0; i < count; i++)
            dispatcher_assignment_clear (&out [i]);
        return -1;
    }
    return count;
}

int
dispatcher_rebalance (dispatcher_t *self, const char *owner_sink, size_t limit, dispatcher_assignment_t *out)
{
    if (limit == 0)
        return 0;
    char count [24], statuses [256];
    snprintf (count, sizeof count, "%zu", limit);
    tf_ticket_status_array (TF_FROM (ASSIGNED) | TF_FROM (ACCEPTED) | TF_FROM (IN_PROGRESS), statuses,
                            sizeof statuses);
    if (tf_db_begin (self->db))
        return -1;
    PGresult *res = tf_db_run (self->db, "dispatcher_hand_over_due", 2, (const char *[]) { count, statuses });
    int handed = tf_db_ok (self->db, res, "hand-overs")? s_hand_over (self, res, out): -1;
    PQclear (res);
    if (handed < 0)
        return tf_db_finish (self->db, -1);
    out += handed;
    limit -= (size_t) handed;
    int n = 0, more = 0;
    if (limit > 0) {
        snprintf (count, sizeof count, "%zu", limit);
        res = tf_db_run (self->db, "dispatcher_unacknowledged", 1, (const char *[]) { count });
        n = tf_db_ok (self->db, res, "unacknowledged")? s_rebalance_rows (self, res, true, owner_sink, out): -1;
        PQclear (res);
    }
    if (n >= 0 && (size_t) n < limit) {
        snprintf (count, sizeof count, "%zu", limit - (size_t) n);
        res = tf_db_run (self->db, "dispatcher_pool", 1, (const char *[]) { count });
        more = tf_db_ok (self->db, res, "pool")? s_rebalance_rows (self, res, false, owner_sink, out + n): -1;
        PQclear (res);
    }
    int total = n < 0 || more < 0? -1: handed + n + more;
    if (tf_db_finish (self->db, total) < 0) {
        out -= handed;
        for (int i = 0; i < handed + (n > 0? n: 0) + (more > 0? more: 0); i++)
            dispatcher_assignment_clear (&out [i]);
        return -1;
    }
    return total;
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
    if (*a->second_line)
        tf_msg_set_cstr (event, TF_F_ASSIGNED_SECOND_LINE, a->second_line);
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
