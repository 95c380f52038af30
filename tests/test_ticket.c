//  The status machine (proto/status.def) and the one way a ticket changes
//  status (tf_ticket_move): every declared move works from every status it
//  declares and only for the service that owns it, everything else is
//  refused; a batch costs the same statements whatever its size; two
//  instances on the same tickets move each one once; history, notes,
//  SKIP LOCKED claims.
#include "intake.h"
#include "tf_status.h"
#include "tf_ticket.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <pthread.h>

TestSuite (ticket, .timeout = 120);

//  n new tickets (received), their ids into ids
static void
s_new_tickets (tf_db_t *db, const char *tag, size_t n, int64_t *ids)
{
    intake_t *intake = intake_new (db);
    tf_msg_t *m = calloc (n, sizeof *m);
    const tf_msg_t **batch = calloc (n, sizeof *batch);
    intake_result_t *r = calloc (n, sizeof *r);
    for (size_t i = 0; i < n; i++) {
        char ext [160];
        snprintf (ext, sizeof ext, "ticket-%s-%zu-%s", tag, i, tf_test_unique ());
        tf_msg_init (&m [i], TF_MSG_SUBMIT);
        tf_msg_set_cstr (&m [i], TF_F_SUBMIT_CHANNEL, "app");
        tf_msg_set_cstr (&m [i], TF_F_SUBMIT_BODY, "test ticket");
        tf_msg_set_cstr (&m [i], TF_F_SUBMIT_EXTERNAL_ID, ext);
        tf_msg_set_cstr (&m [i], TF_F_CUSTOMER_ID, "C");
        batch [i] = &m [i];
    }
    cr_assert_eq (intake_submit (intake, batch, n, r), 0);
    for (size_t i = 0; i < n; i++) {
        cr_assert (r [i].ok && !r [i].duplicate);
        ids [i] = r [i].ticket_id;
        tf_msg_clear (&m [i]);
    }
    free (m);
    free (batch);
    free (r);
    intake_destroy (&intake);
}

static void
s_set_status (tf_db_t *db, int64_t id, tf_status_t status)
{
    cr_assert_eq (tf_test_scalar (db, "UPDATE tickets SET status = '%s' WHERE id = %lld RETURNING 1",
                                  tf_status_name (status), (long long) id), 1);
}

static long long
s_history (tf_db_t *db, int64_t id, const char *kind)
{
    return tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = '%s'",
                           (long long) id, kind);
}

Test (ticket, the_table_is_sound)
{
    //  every move names real statuses and one real service; only RECEIVE creates
    for (int m = 0; m < TF_MOVE_COUNT; m++) {
        const tf_move_def_t *move = &tf_moves [m];
        cr_assert (move->to >= 0 && move->to < TF_STATUS_COUNT, "%s", move->id);
        cr_assert (move->service >= TF_SVC_INTAKE && move->service < TF_SVC_COUNT, "%s", move->id);
        cr_assert (*move->event, "%s has no history kind", move->id);
        cr_assert_eq (move->from == 0, m == TF_MOVE_RECEIVE, "%s", move->id);
        cr_assert_eq (*move->from_list == 0, move->from == 0);
    }
    //  every status but the reserved one is reached, by name both ways
    for (int s = 0; s < TF_STATUS_COUNT; s++) {
        cr_assert_eq (tf_status_lookup (tf_statuses [s].name), s);
        bool reached = false;
        for (int m = 0; m < TF_MOVE_COUNT; m++)
            reached = reached || tf_moves [m].to == s;
        cr_assert (reached || s == TF_STATUS_ARCHIVED, "nothing leads to %s", tf_statuses [s].name);
    }
    cr_assert_eq (tf_status_lookup ("nonsense"), TF_STATUS_NONE);
    //  the backlog is what precedes resolution
    cr_assert (tf_status_in (tf_status_open (), TF_STATUS_ON_HOLD));
    cr_assert (!tf_status_in (tf_status_open (), TF_STATUS_RESOLVED));
    //  finding a move: only what is declared, only for its service
    cr_assert_eq (tf_move_find (TF_SVC_DISPATCHER, TF_STATUS_CLASSIFIED, TF_STATUS_ASSIGNED, NULL), TF_MOVE_ASSIGN);
    cr_assert_eq (tf_move_find (TF_SVC_DISPATCHER, TF_STATUS_IN_PROGRESS, TF_STATUS_ASSIGNED, "transferred"),
                  TF_MOVE_TRANSFER);
    cr_assert_eq (tf_move_find (TF_SVC_SLA, TF_STATUS_CLASSIFIED, TF_STATUS_ASSIGNED, NULL), TF_MOVE_NONE);
    cr_assert_eq (tf_move_find (TF_SVC_CLASSIFIER, TF_STATUS_RECEIVED, TF_STATUS_RESOLVED, NULL), TF_MOVE_NONE);
    cr_assert_eq (tf_move_find (TF_SVC_INTAKE, TF_STATUS_NONE, TF_STATUS_RECEIVED, NULL), TF_MOVE_RECEIVE);
}

Test (ticket, every_declared_move_works_and_nothing_else)
{
    tf_db_t *db = tf_test_db ();
    size_t cases = (size_t) TF_MOVE_COUNT * TF_STATUS_COUNT;
    int64_t *ids = calloc (cases, sizeof *ids);
    s_new_tickets (db, "machine", cases, ids);
    for (int m = 0; m < TF_MOVE_COUNT; m++) {
        const tf_move_def_t *move = &tf_moves [m];
        for (int f = 0; f < TF_STATUS_COUNT; f++) {
            int64_t id = ids [m * TF_STATUS_COUNT + f];
            s_set_status (db, id, (tf_status_t) f);
            //  every other service is refused before anything is run
            for (int s = TF_SVC_INTAKE; s < TF_SVC_COUNT; s++) {
                if (s == (int) move->service)
                    continue;
                tf_error_t err;
                cr_assert_eq (tf_ticket_move_one (db, (tf_service_id_t) s, id, (tf_move_t) m, NULL, NULL, NULL, &err),
                              -1, "%s made %s", tf_service_names [s], move->id);
                cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
            }
            tf_error_t err = { 0 };
            int rc = tf_ticket_move_one (db, move->service, id, (tf_move_t) m, "tester", "by the table", NULL, &err);
            bool legal = tf_status_in (move->from, (tf_status_t) f);
            cr_assert_eq (rc == 0, legal, "%s from %s: %s", move->id, tf_statuses [f].name, err.message);
            cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = '%s'",
                                          (long long) id, tf_status_name (legal? move->to: (tf_status_t) f)), 1);
            cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                              " AND kind = '%s' AND from_status = '%s' AND to_status = '%s'"
                                              " AND actor = 'tester'", (long long) id, move->event,
                                          tf_statuses [f].name, tf_status_name (move->to)), legal? 1: 0);
            if (!legal && move->from) {
                cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
                cr_assert (strstr (err.message, tf_statuses [f].name), "%s", err.message);
            }
        }
    }
    //  creating is intake's alone
    cr_assert_eq (tf_ticket_created (db, TF_SVC_DISPATCHER, ids, NULL, 1), -1);
    tf_error_t err;
    cr_assert_eq (tf_ticket_move_one (db, TF_SVC_INTAKE, ids [0], TF_MOVE_RECEIVE, NULL, NULL, NULL, &err), -1);
    free (ids);
    tf_db_destroy (&db);
}

static const tf_ticket_columns_t priority = { "test_priority", ", priority = u.c1", (const char *[]) { "text", NULL } };

Test (ticket, a_batch_costs_the_same_statements_whatever_its_size)
{
    tf_db_t *db = tf_test_db ();
    int64_t ids [300];
    s_new_tickets (db, "batch", 300, ids);
    uint64_t cost [2];
    size_t sizes [2] = { 10, 290 };
    size_t first = 0;
    for (int k = 0; k < 2; k++) {
        size_t n = sizes [k];
        tf_ticket_move_t *items = calloc (n, sizeof *items);
        tf_db_array_t *priorities = tf_db_array_new ();
        for (size_t i = 0; i < n; i++) {
            items [i] = (tf_ticket_move_t) { .id = ids [first + i], .move = TF_MOVE_CLASSIFY, .data = "{\"test\":1}" };
            tf_db_array_add (priorities, i % 2? "P1": "P3");
        }
        const char *columns [] = { tf_db_array_text (priorities) };
        //  the statement is prepared at its first use: not part of the cost
        if (k == 0)
            cr_assert_eq (tf_ticket_move (db, TF_SVC_CLASSIFIER, items, 0, &priority, columns, true, NULL), 0);
        cr_assert_eq (tf_db_begin (db), 0);
        uint64_t before = tf_db_statements (db);
        cr_assert_eq (tf_ticket_move (db, TF_SVC_CLASSIFIER, items, n, &priority, columns, true, NULL), (int) n);
        cost [k] = tf_db_statements (db) - before;
        cr_assert_eq (tf_db_finish (db, 0), 0);
        for (size_t i = 0; i < n; i++) {
            cr_assert (items [i].moved);
            cr_assert_eq (items [i].from, TF_STATUS_RECEIVED);
        }
        tf_db_array_destroy (&priorities);
        free (items);
        first += n;
    }
    cr_assert_eq (cost [0], cost [1], "10 tickets cost %llu statements, 290 cost %llu",
                  (unsigned long long) cost [0], (unsigned long long) cost [1]);
    cr_assert_leq (cost [1], 2);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = ANY ('%s') AND status = 'classified'"
                                      " AND priority IN ('P1', 'P3')", tf_db_id_array (ids, 300)), 300);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = ANY ('%s')"
                                      " AND kind = 'classified' AND data = '{\"test\": 1}'", tf_db_id_array (ids, 300)), 300);
    //  committed moves are counted, rolled back ones are not
    int64_t counted = tf_db_committed (db, TF_MOVE_CLASSIFY);
    cr_assert_eq (counted, 300);
    int64_t more [2];
    s_new_tickets (db, "rolled", 2, more);
    tf_ticket_move_t items [2] = { { .id = more [0], .move = TF_MOVE_CLASSIFY }, { .id = more [1], .move = TF_MOVE_CLASSIFY } };
    cr_assert_eq (tf_db_begin (db), 0);
    cr_assert_eq (tf_ticket_move (db, TF_SVC_CLASSIFIER, items, 2, NULL, NULL, true, NULL), 2);
    cr_assert_eq (tf_db_finish (db, -1), -1);
    cr_assert_eq (tf_db_committed (db, TF_MOVE_CLASSIFY), counted);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id IN (%lld, %lld) AND status = 'received'",
                                  (long long) more [0], (long long) more [1]), 2);
    tf_db_destroy (&db);
}

typedef struct {
    const int64_t *ids;
    size_t n;
    int moved;
} racer_t;

static void *
s_racer (void *arg)
{
    racer_t *r = arg;
    tf_db_t *db = tf_test_db ();
    tf_ticket_move_t *items = calloc (r->n, sizeof *items);
    //  in slices, so the two transactions overlap many times
    for (size_t first = 0; first < r->n; first += 25) {
        size_t n = r->n - first < 25? r->n - first: 25;
        for (size_t i = 0; i < n; i++)
            items [i] = (tf_ticket_move_t) { .id = r->ids [first + i], .move = TF_MOVE_ASSIGN };
        if (tf_db_begin (db) == 0) {
            int moved = tf_ticket_move (db, TF_SVC_DISPATCHER, items, n, NULL, NULL, true, NULL);
            if (tf_db_finish (db, moved) > 0)
                r->moved += moved;
        }
    }
    free (items);
    tf_db_destroy (&db);
    return NULL;
}

Test (ticket, two_instances_move_each_ticket_once)
{
    tf_db_t *db = tf_test_db ();
    int64_t ids [400];
    s_new_tickets (db, "race", 400, ids);
    cr_assert_eq (tf_test_scalar (db, "WITH u AS (UPDATE tickets SET status = 'classified' WHERE id = ANY ('%s')"
                                      " RETURNING 1) SELECT count(*) FROM u", tf_db_id_array (ids, 400)), 400);
    //  the same tickets, one in id order and one backwards
    int64_t backwards [400];
    for (int i = 0; i < 400; i++)
        backwards [i] = ids [399 - i];
    racer_t a = { ids, 400, 0 }, b = { backwards, 400, 0 };
    pthread_t ta, tb;
    pthread_create (&ta, NULL, s_racer, &a);
    pthread_create (&tb, NULL, s_racer, &b);
    pthread_join (ta, NULL);
    pthread_join (tb, NULL);
    //  a ticket one of them skipped (held by the other) was moved by the other
    cr_assert_eq (a.moved + b.moved, 400, "%d + %d", a.moved, b.moved);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = ANY ('%s')"
                                      " AND kind = 'assigned'", tf_db_id_array (ids, 400)), 400);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(DISTINCT ticket_id) FROM ticket_events WHERE ticket_id = ANY ('%s')"
                                      " AND kind = 'assigned'", tf_db_id_array (ids, 400)), 400);
    tf_db_destroy (&db);
}

Test (ticket, notes_history_and_finding)
{
    tf_db_t *db = tf_test_db ();
    int64_t id;
    s_new_tickets (db, "notes", 1, &id);
    cr_assert_eq (s_history (db, id, "received"), 1);
    cr_assert_eq (tf_ticket_note (db, id, "progress", "agent", "called back", NULL), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'progress' AND to_status IS NULL", (long long) id), 1);
    char no [32];
    PGresult *res = tf_db_query (db, "SELECT ticket_no FROM tickets WHERE id = $1", 1,
                                 (const char *[]) { zsys_sprintf ("%lld", (long long) id) });
    snprintf (no, sizeof no, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    int64_t found;
    tf_status_t status;
    tf_error_t err;
    cr_assert_eq (tf_ticket_find (db, no, strlen (no), &found, &status, &err), 0);
    cr_assert_eq (found, id);
    cr_assert_eq (status, TF_STATUS_RECEIVED);
    cr_assert_eq (tf_ticket_find (db, "CS209901010001", 14, &found, &status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_NOT_FOUND);
    //  a ticket that is gone
    cr_assert_eq (tf_ticket_move_one (db, TF_SVC_CLASSIFIER, INT64_MAX, TF_MOVE_CLASSIFY, NULL, NULL, NULL, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_NOT_FOUND);
    tf_db_destroy (&db);
}

Test (ticket, two_sessions_never_lock_the_same_ticket)
{
    tf_db_t *a = tf_test_db (), *b = tf_test_db ();
    int64_t ids [6];
    s_new_tickets (a, "lock", 6, ids);
    int64_t got_a [6], got_b [6];
    cr_assert_eq (tf_db_begin (a), 0);
    cr_assert_eq (tf_db_begin (b), 0);
    int na = tf_ticket_lock_ids (a, TF_FROM (RECEIVED), ids, 3, got_a);
    int nb = tf_ticket_lock_ids (b, TF_FROM (RECEIVED), ids, 6, got_b);
    cr_assert_eq (na, 3);
    cr_assert_eq (nb, 3, "b must skip a's rows");
    for (int i = 0; i < nb; i++)
        for (int k = 0; k < na; k++)
            cr_assert_neq (got_b [i], got_a [k]);
    //  the wrong status is not locked at all
    cr_assert_eq (tf_ticket_lock_ids (b, TF_FROM (CLOSED), ids + 3, 3, got_b), 0);
    cr_assert_eq (tf_db_finish (a, 0), 0);
    cr_assert_eq (tf_db_finish (b, 0), 0);
    //  waiting tickets: ours are among those received at least 0 s ago
    cr_assert_eq (tf_db_begin (a), 0);
    int64_t waiting [5000];
    int n = tf_ticket_lock_waiting (a, TF_FROM (RECEIVED), 0, 5000, waiting);
    cr_assert_geq (n, 6);
    cr_assert_eq (tf_ticket_lock_waiting (a, TF_FROM (RECEIVED), 86400, 10, waiting), 0);
    cr_assert_eq (tf_db_finish (a, 0), 0);
    tf_db_destroy (&a);
    tf_db_destroy (&b);
}
