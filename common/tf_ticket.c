#include "tf_ticket.h"
#include "tf_log.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  History rows of a batch: one INSERT whatever its size.
static const char *SQL_HISTORY =
    "INSERT INTO ticket_events (ticket_id, kind, from_status, to_status, actor, note, data) "
    "SELECT * FROM unnest ($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
    "                      $7::jsonb[])";

static const char *SQL_LOCK_IDS =
    "SELECT id FROM tickets WHERE id = ANY ($1::int8[]) AND status = ANY ($2::text[]) "
    "ORDER BY id FOR UPDATE SKIP LOCKED";

//  One index walk per status (tickets_status_waiting gives each in waiting
//  order), so a pass costs the batch, not the backlog: `status = ANY` would
//  sort every waiting ticket first. The few a status locks past the batch
//  stay locked until the caller's transaction ends.
static const char *SQL_LOCK_WAITING =
    "SELECT w.id FROM unnest ($1::text[]) AS s (status), LATERAL ("
    "  SELECT id, status_changed_at FROM tickets WHERE status = s.status"
    "  AND status_changed_at <= tf_now () - make_interval (secs => $2::int)"
    "  ORDER BY status_changed_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED) w "
    "ORDER BY w.status_changed_at, w.id LIMIT $3::int";

static const char *SQL_FIND =
    "SELECT id, status FROM tickets WHERE ticket_no = $1";

static const char *SQL_STATUS =
    "SELECT status, ticket_no FROM tickets WHERE id = $1";

//  The move: the tickets in their move's from-statuses are locked in id
//  order (two instances never wait on each other in a circle), then
//  updated, in one statement. %s: SKIP LOCKED or nothing, the column
//  list, the column arrays, the stage's SET.
#define SQL_MOVE \
    "UPDATE tickets t SET status = u.to_status, status_changed_at = tf_now (), updated_at = tf_now ()%s " \
    "FROM (SELECT x.* FROM unnest ($1::int8[], $2::text[], $3::text[]%s)" \
    "      AS x (id, to_status, from_list%s)) u," \
    "     (SELECT k.id, k.status FROM tickets k WHERE k.id = ANY ($1::int8[])" \
    "      AND k.status = ANY ($4::text[]) ORDER BY k.id FOR UPDATE%s) old " \
    "WHERE t.id = u.id AND old.id = u.id AND old.status = ANY (string_to_array (u.from_list, ',')) " \
    "RETURNING t.id, old.status"

static int
s_prepare_common (tf_db_t *db)
{
    return tf_db_prepare (db, "tf_ticket_history", SQL_HISTORY, 7)
        || tf_db_prepare (db, "tf_ticket_lock_ids", SQL_LOCK_IDS, 2)
        || tf_db_prepare (db, "tf_ticket_lock_waiting", SQL_LOCK_WAITING, 3)
        || tf_db_prepare (db, "tf_ticket_find", SQL_FIND, 1)
        || tf_db_prepare (db, "tf_ticket_status", SQL_STATUS, 1)? -1: 0;
}

const char *
tf_ticket_status_array (tf_status_set_t statuses, char *out, size_t size)
{
    size_t o = (size_t) snprintf (out, size, "{");
    for (int s = 0; s < TF_STATUS_COUNT && o < size; s++)
        if (tf_status_in (statuses, (tf_status_t) s))
            o += (size_t) snprintf (out + o, size - o, "%s%s", o > 1? ",": "", tf_statuses [s].name);
    if (o < size)
        snprintf (out + o, size - o, "}");
    return out;
}

//  The prepared statement of a column set (prepared at first use).
static const char *
s_move_statement (tf_db_t *db, const tf_ticket_columns_t *columns, bool skip_locked, int *nparams)
{
    static char name [128];
    const char *base = columns? columns->name: "plain";
    snprintf (name, sizeof name, "tf_ticket_move_%s%s", base, skip_locked? "_skip": "");
    char arrays [1024] = "", aliases [512] = "";
    int ncolumns = 0;
    for (int c = 0; columns && columns->types [c]; c++) {
        size_t a = strlen (arrays), l = strlen (aliases);
        snprintf (arrays + a, sizeof arrays - a, ", $%d::%s[]", 5 + c, columns->types [c]);
        snprintf (aliases + l, sizeof aliases - l, ", c%d", c + 1);
        ncolumns++;
    }
    char *sql = NULL;
    if (asprintf (&sql, SQL_MOVE, columns? columns->set_sql: "", arrays, aliases,
                  skip_locked? " SKIP LOCKED": "") < 0)
        return NULL;
    *nparams = 4 + ncolumns;
    int rc = tf_db_prepare (db, name, sql, *nparams);
    free (sql);
    return rc == 0? name: NULL;
}

//  One row of a ticket's history; TF_STATUS_NONE: no status (a note, a creation)
typedef struct {
    int64_t id;
    const char *kind;
    tf_status_t from, to;
    const char *actor, *note, *data;
} history_row_t;

//  The history rows, one statement.
static int
s_history (tf_db_t *db, const history_row_t *rows, size_t n)
{
    if (n == 0)
        return 0;
    if (s_prepare_common (db))
        return -1;
    tf_db_array_t *a [7];
    for (int c = 0; c < 7; c++)
        a [c] = tf_db_array_new ();
    for (size_t i = 0; i < n; i++) {
        const history_row_t *r = &rows [i];
        tf_db_array_add_int (a [0], r->id);
        tf_db_array_add (a [1], r->kind);
        tf_db_array_add (a [2], r->from != TF_STATUS_NONE? tf_status_name (r->from): NULL);
        tf_db_array_add (a [3], r->to != TF_STATUS_NONE? tf_status_name (r->to): NULL);
        tf_db_array_add (a [4], r->actor);
        tf_db_array_add (a [5], r->note);
        tf_db_array_add (a [6], r->data);
    }
    const char *params [7];
    for (int c = 0; c < 7; c++)
        params [c] = tf_db_array_text (a [c]);
    int rc = tf_db_command (db, "tf_ticket_history", 7, params) < 0? -1: 0;
    for (int c = 0; c < 7; c++)
        tf_db_array_destroy (&a [c]);
    return rc;
}

//  Says why items[i] did not move: it is gone, or in another status.
static void
s_why_not (tf_db_t *db, const tf_ticket_move_t *item, tf_error_t *err)
{
    char id_text [24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) item->id);
    PGresult *res = tf_db_run (db, "tf_ticket_status", 1, (const char *[]) { id_text });
    if (!tf_db_ok (db, res, "ticket status"))
        tf_error_unavailable (err);
    else
    if (PQntuples (res) == 0)
        tf_error_set (err, TF_ERR_NOT_FOUND, "ticket_no", "no ticket with id %lld", (long long) item->id);
    else {
        const tf_move_def_t *m = &tf_moves [item->move];
        tf_error_set (err, TF_ERR_ILLEGAL_TRANSITION, "ticket_no",
                      "ticket %s is %s; it must be %s to become %s", PQgetvalue (res, 0, 1),
                      PQgetvalue (res, 0, 0), m->from_list, tf_status_name (m->to));
    }
    PQclear (res);
}

int
tf_ticket_move (tf_db_t *db, tf_service_id_t service, tf_ticket_move_t *items, size_t n,
                const tf_ticket_columns_t *columns, const char *const *column_arrays,
                bool skip_locked, tf_error_t *err)
{
    tf_status_set_t from_any = 0;
    for (size_t i = 0; i < n; i++) {
        items [i].moved = false;
        items [i].from = TF_STATUS_NONE;
        tf_move_t m = items [i].move;
        if (m < 0 || m >= TF_MOVE_COUNT || tf_moves [m].service != service || tf_moves [m].from == 0) {
            tf_error ("move %s refused: it is not declared for %s (proto/status.def)",
                      m >= 0 && m < TF_MOVE_COUNT? tf_moves [m].id: "?", tf_service_names [service]);
            return tf_error_set (err, TF_ERR_ILLEGAL_TRANSITION, NULL,
                                 "%s may not make this move (proto/status.def)", tf_service_names [service]);
        }
        from_any |= tf_moves [m].from;
    }
    if (n == 0)
        return 0;
    int nparams = 0;
    const char *statement = s_prepare_common (db) == 0? s_move_statement (db, columns, skip_locked, &nparams): NULL;
    if (!statement)
        return tf_error_set (err, TF_ERR_INTERNAL, NULL, "the move statement could not be prepared");
    tf_db_array_t *ids = tf_db_array_new (), *to = tf_db_array_new (), *from = tf_db_array_new ();
    for (size_t i = 0; i < n; i++) {
        const tf_move_def_t *m = &tf_moves [items [i].move];
        tf_db_array_add_int (ids, items [i].id);
        tf_db_array_add (to, tf_status_name (m->to));
        tf_db_array_add (from, m->from_list);
    }
    char statuses [256];
    const char *params [4 + 16] = {
        tf_db_array_text (ids), tf_db_array_text (to), tf_db_array_text (from),
        tf_ticket_status_array (from_any, statuses, sizeof statuses)
    };
    for (int c = 4; c < nparams && c < 20; c++)
        params [c] = column_arrays [c - 4];
    PGresult *res = tf_db_run (db, statement, nparams, params);
    tf_db_array_destroy (&ids);
    tf_db_array_destroy (&to);
    tf_db_array_destroy (&from);
    if (!tf_db_ok (db, res, "move tickets")) {
        PQclear (res);
        return tf_error_unavailable (err);
    }
    //  which moved, and from where: the history says both
    int rows = PQntuples (res);
    for (int r = 0; r < rows; r++) {
        int64_t id = strtoll (PQgetvalue (res, r, 0), NULL, 10);
        for (size_t i = 0; i < n; i++)
            if (items [i].id == id && !items [i].moved) {
                items [i].moved = true;
                items [i].from = tf_status_lookup (PQgetvalue (res, r, 1));
                break;
            }
    }
    PQclear (res);
    history_row_t *history = calloc ((size_t) rows + 1, sizeof *history);
    assert (history);
    size_t k = 0;
    for (size_t i = 0; i < n && k < (size_t) rows; i++)
        if (items [i].moved) {
            const tf_move_def_t *m = &tf_moves [items [i].move];
            history [k++] = (history_row_t) {
                .id = items [i].id, .kind = m->event, .from = items [i].from, .to = m->to,
                .actor = items [i].actor? items [i].actor: tf_service_names [service],
                .note = items [i].note, .data = items [i].data
            };
            tf_db_count_on_commit (db, items [i].move, 1);
        }
    int rc = s_history (db, history, k);
    free (history);
    if (rc)
        return tf_error_unavailable (err);
    if (err && k < n)
        for (size_t i = 0; i < n; i++)
            if (!items [i].moved) {
                s_why_not (db, &items [i], err);
                break;
            }
    return (int) k;
}

int
tf_ticket_move_one (tf_db_t *db, tf_service_id_t service, int64_t id, tf_move_t move,
                    const char *actor, const char *note, const char *data, tf_error_t *err)
{
    tf_ticket_move_t item = { .id = id, .move = move, .actor = actor, .note = note, .data = data };
    int moved = tf_ticket_move (db, service, &item, 1, NULL, NULL, false, err);
    return moved == 1? 0: -1;
}

int
tf_ticket_created (tf_db_t *db, tf_service_id_t service, const int64_t *ids, const char *const *data,
                   size_t n)
{
    if (!tf_move_allowed (TF_MOVE_RECEIVE, service, TF_STATUS_NONE)) {
        tf_error ("move RECEIVE refused: it is not declared for %s", tf_service_names [service]);
        return -1;
    }
    history_row_t *history = calloc (n + 1, sizeof *history);
    assert (history);
    for (size_t i = 0; i < n; i++)
        history [i] = (history_row_t) {
            .id = ids [i], .kind = tf_moves [TF_MOVE_RECEIVE].event, .from = TF_STATUS_NONE,
            .to = tf_moves [TF_MOVE_RECEIVE].to, .actor = tf_service_names [service], .data = data? data [i]: NULL
        };
    int rc = s_history (db, history, n);
    if (rc == 0)
        tf_db_count_on_commit (db, TF_MOVE_RECEIVE, (int64_t) n);
    free (history);
    return rc;
}

int
tf_ticket_notes (tf_db_t *db, const tf_ticket_note_t *notes, size_t n)
{
    history_row_t *history = calloc (n + 1, sizeof *history);
    assert (history);
    for (size_t i = 0; i < n; i++)
        history [i] = (history_row_t) {
            .id = notes [i].id, .kind = notes [i].event, .from = TF_STATUS_NONE, .to = TF_STATUS_NONE,
            .actor = notes [i].actor, .note = notes [i].note, .data = notes [i].data
        };
    int rc = s_history (db, history, n);
    free (history);
    return rc;
}

int
tf_ticket_note (tf_db_t *db, int64_t id, const char *event, const char *actor, const char *note,
                const char *data_json)
{
    tf_ticket_note_t one = { id, event, actor, note, data_json };
    return tf_ticket_notes (db, &one, 1);
}

static int
s_collect (tf_db_t *db, PGresult *res, int64_t *locked, size_t cap, const char *what)
{
    int n = -1;
    if (tf_db_ok (db, res, what)) {
        n = PQntuples (res);
        if ((size_t) n > cap)
            n = (int) cap;
        for (int i = 0; i < n; i++)
            locked [i] = strtoll (PQgetvalue (res, i, 0), NULL, 10);
    }
    PQclear (res);
    return n;
}

int
tf_ticket_lock_ids (tf_db_t *db, tf_status_set_t statuses, const int64_t *ids, size_t n, int64_t *locked)
{
    if (n == 0)
        return 0;
    if (s_prepare_common (db))
        return -1;
    char *array = tf_db_id_array (ids, n);
    char status_list [256];
    const char *params [] = { array, tf_ticket_status_array (statuses, status_list, sizeof status_list) };
    int rc = s_collect (db, tf_db_run (db, "tf_ticket_lock_ids", 2, params), locked, n, "lock tickets");
    free (array);
    return rc;
}

int
tf_ticket_lock_waiting (tf_db_t *db, tf_status_set_t statuses, int stale_seconds, size_t limit,
                        int64_t *locked)
{
    if (s_prepare_common (db))
        return -1;
    char stale [16], count [24], status_list [256];
    snprintf (stale, sizeof stale, "%d", stale_seconds);
    snprintf (count, sizeof count, "%zu", limit);
    const char *params [] = { tf_ticket_status_array (statuses, status_list, sizeof status_list), stale, count };
    return s_collect (db, tf_db_run (db, "tf_ticket_lock_waiting", 3, params), locked, limit,
                      "lock waiting tickets");
}

int
tf_ticket_find (tf_db_t *db, const char *ticket_no, size_t len, int64_t *id, tf_status_t *status,
                tf_error_t *err)
{
    char number [TF_MAX_GET_TICKET_NO + 1];
    snprintf (number, sizeof number, "%.*s", (int) (len > TF_MAX_GET_TICKET_NO? TF_MAX_GET_TICKET_NO: len),
              ticket_no);
    if (s_prepare_common (db))
        return tf_error_unavailable (err);
    PGresult *res = tf_db_run (db, "tf_ticket_find", 1, (const char *[]) { number });
    int rc = -1;
    if (!tf_db_ok (db, res, "find ticket"))
        tf_error_unavailable (err);
    else
    if (PQntuples (res) == 0)
        tf_error_set (err, TF_ERR_NOT_FOUND, "ticket_no", "no ticket %s", number);
    else {
        *id = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
        if (status)
            *status = tf_status_lookup (PQgetvalue (res, 0, 1));
        rc = 0;
    }
    PQclear (res);
    return rc;
}

void
tf_ticket_no_copy (const tf_msg_t *m, tf_field_id_t f, char *out, size_t size)
{
    const tf_value_t *v = &m->v [f];
    int len = v->present? (int) (v->len > TF_MAX_GET_TICKET_NO? TF_MAX_GET_TICKET_NO: v->len): 0;
    snprintf (out, size, "%.*s", len, v->present? v->str: "");
}
