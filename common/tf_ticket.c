#include "tf_ticket.h"
#include "tf_log.h"
#include "tf_net.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Each statement takes the ids as one int8[] parameter, so a batch is one round trip.
static const char *SQL_LOCK_IDS =
    "SELECT id FROM tickets WHERE id = ANY ($1::int8[]) AND status = $2 "
    "ORDER BY id FOR UPDATE SKIP LOCKED";

static const char *SQL_LOCK_WAITING =
    "SELECT id FROM tickets WHERE status = $1 "
    "AND status_changed_at <= now () - make_interval (secs => $2::int) "
    "ORDER BY status_changed_at, id LIMIT $3::int FOR UPDATE SKIP LOCKED";

static const char *SQL_TRANSITION =
    "WITH old AS (SELECT id, status FROM tickets "
    "             WHERE id = $1 AND status = ANY (string_to_array ($2, ',')) FOR UPDATE),"
    " upd AS (UPDATE tickets t SET status = $3, status_changed_at = now (), updated_at = now () "
    "         FROM old WHERE t.id = old.id RETURNING t.id, old.status AS from_status) "
    "INSERT INTO ticket_events (ticket_id, kind, from_status, to_status, actor, note, data) "
    "SELECT id, $4, from_status, $3, $5, $6, $7::jsonb FROM upd RETURNING ticket_id";

static const char *SQL_NOTE =
    "INSERT INTO ticket_events (ticket_id, kind, actor, note, data) "
    "VALUES ($1, $2, $3, $4, $5::jsonb)";

static const char *SQL_FIND =
    "SELECT id, status, ticket_no FROM tickets WHERE ticket_no = $1";

static const char *SQL_STATUS =
    "SELECT status, ticket_no FROM tickets WHERE id = $1";

int
tf_ticket_prepare (tf_db_t *db)
{
    return tf_db_prepare (db, "tf_ticket_lock_ids", SQL_LOCK_IDS, 2)
        || tf_db_prepare (db, "tf_ticket_lock_waiting", SQL_LOCK_WAITING, 3)
        || tf_db_prepare (db, "tf_ticket_transition", SQL_TRANSITION, 7)
        || tf_db_prepare (db, "tf_ticket_note", SQL_NOTE, 5)
        || tf_db_prepare (db, "tf_ticket_find", SQL_FIND, 1)
        || tf_db_prepare (db, "tf_ticket_status", SQL_STATUS, 1)? -1: 0;
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
tf_ticket_lock_ids (tf_db_t *db, const char *status, const int64_t *ids, size_t n, int64_t *locked)
{
    if (n == 0)
        return 0;
    char *array = tf_db_id_array (ids, n);
    const char *params [] = { array, status };
    int rc = s_collect (db, tf_db_run (db, "tf_ticket_lock_ids", 2, params), locked, n, "lock tickets");
    free (array);
    return rc;
}

int
tf_ticket_lock_waiting (tf_db_t *db, const char *status, int stale_seconds, size_t limit, int64_t *locked)
{
    char stale [16], count [24];
    snprintf (stale, sizeof stale, "%d", stale_seconds);
    snprintf (count, sizeof count, "%zu", limit);
    const char *params [] = { status, stale, count };
    return s_collect (db, tf_db_run (db, "tf_ticket_lock_waiting", 3, params), locked, limit,
                      "lock waiting tickets");
}

int
tf_ticket_transition (tf_db_t *db, int64_t id, const char *from, const char *to, const char *event,
                      const char *actor, const char *note, const char *data_json, tf_error_t *err)
{
    char id_text [24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) id);
    const char *params [] = { id_text, from, to, event, actor, note, data_json };
    PGresult *res = tf_db_run (db, "tf_ticket_transition", 7, params);
    if (!tf_db_ok (db, res, "transition")) {
        PQclear (res);
        return tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
    }
    int changed = PQntuples (res);
    PQclear (res);
    if (changed == 1)
        return 0;
    //  nothing changed: say why
    res = tf_db_run (db, "tf_ticket_status", 1, params);
    if (!tf_db_ok (db, res, "ticket status")) {
        PQclear (res);
        return tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
    }
    if (PQntuples (res) == 0)
        tf_error_set (err, TF_ERR_NOT_FOUND, "ticket_no", "no ticket with id %lld", (long long) id);
    else
        tf_error_set (err, TF_ERR_ILLEGAL_TRANSITION, "ticket_no",
                      "ticket %s is %s; it must be %s to become %s",
                      PQgetvalue (res, 0, 1), PQgetvalue (res, 0, 0), from, to);
    PQclear (res);
    return -1;
}

int
tf_ticket_note (tf_db_t *db, int64_t id, const char *event, const char *actor, const char *note,
                const char *data_json)
{
    char id_text [24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) id);
    const char *params [] = { id_text, event, actor, note, data_json };
    PGresult *res = tf_db_run (db, "tf_ticket_note", 5, params);
    int rc = tf_db_ok (db, res, "history note")? 0: -1;
    PQclear (res);
    return rc;
}

int
tf_ticket_find (tf_db_t *db, const char *ticket_no, size_t len, int64_t *id, char *status,
                size_t status_size, tf_error_t *err)
{
    char number [40];
    snprintf (number, sizeof number, "%.*s", (int) (len > 32? 32: len), ticket_no);
    const char *params [] = { number };
    PGresult *res = tf_db_run (db, "tf_ticket_find", 1, params);
    int rc = -1;
    if (!tf_db_ok (db, res, "find ticket"))
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
    else
    if (PQntuples (res) == 0)
        tf_error_set (err, TF_ERR_NOT_FOUND, "ticket_no", "no ticket %s", number);
    else {
        *id = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
        if (status)
            snprintf (status, status_size, "%s", PQgetvalue (res, 0, 1));
        rc = 0;
    }
    PQclear (res);
    return rc;
}

void
tf_ticket_no_copy (const tf_msg_t *m, tf_field_id_t f, char *out, size_t size)
{
    const tf_value_t *v = &m->v [f];
    snprintf (out, size, "%.*s", v->present? (int) (v->len > 32? 32: v->len): 0, v->present? v->str: "");
}

//  Every {ticket_id, ticket_no} event lays out its two fields in that
//  order: returns the first, or TF_FIELD_COUNT for other messages.
static tf_field_id_t
s_ticket_id_field (tf_msg_type_t type)
{
    for (int f = 0; f + 1 < TF_FIELD_COUNT; f++)
        if (tf_fields [f].schema == type)
            return streq (tf_fields [f].key, "ticket_id") && tf_fields [f + 1].schema == type
                && streq (tf_fields [f + 1].key, "ticket_no")? (tf_field_id_t) f: TF_FIELD_COUNT;
    return TF_FIELD_COUNT;
}

int
tf_ticket_recv_event (zsock_t *sock, tf_msg_type_t *type, int64_t *ticket_id)
{
    zmsg_t *frames = NULL;
    tf_msg_t msg;
    tf_error_t err;
    int rc = -1;
    *type = TF_MSG_NONE;
    if (tf_net_recv_event (sock, false, &frames, &msg, &err)) {
        if (frames)
            tf_warn ("event dropped: %s: %s", err.code, err.message);
    }
    else {
        tf_field_id_t f = s_ticket_id_field (msg.type);
        if (f == TF_FIELD_COUNT || tf_schemas [msg.type].kind != TF_KIND_EVENT)
            tf_warn ("event dropped: '%s' is not a ticket event", tf_schemas [msg.type].name);
        else {
            *type = msg.type;
            *ticket_id = tf_msg_int (&msg, f);
            rc = 0;
        }
    }
    zmsg_destroy (&frames);
    return rc;
}

int
tf_ticket_send_event (zsock_t *sock, tf_msg_type_t type, int64_t id, const char *ticket_no)
{
    tf_msg_t event;
    tf_msg_init (&event, type);
    tf_field_id_t first = s_ticket_id_field (type);
    assert (first != TF_FIELD_COUNT);
    tf_msg_set_int (&event, first, id);
    tf_msg_set_cstr (&event, (tf_field_id_t) (first + 1), ticket_no);
    int rc = tf_net_send_event (sock, NULL, &event);
    tf_msg_clear (&event);
    return rc;
}
