//  The one way a ticket changes status: expected-status checks, history,
//  SKIP LOCKED claims.
#include "intake.h"
#include "tf_ticket.h"
#include "tf_test.h"
#include <criterion/criterion.h>

static int64_t
s_new_ticket (tf_db_t *db, const char *tag)
{
    intake_t *intake = intake_new (db);
    char ext [128];
    snprintf (ext, sizeof ext, "ticket-%s-%s", tag, tf_test_unique ());
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "app");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "test ticket");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_EXTERNAL_ID, ext);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "C");
    const tf_msg_t *batch [] = { &m };
    intake_result_t r;
    cr_assert_eq (intake_submit (intake, batch, 1, &r), 0);
    tf_msg_clear (&m);
    intake_destroy (&intake);
    return r.ticket_id;
}

Test (ticket, transition_checks_the_expected_status)
{
    tf_db_t *db = tf_test_db ();
    cr_assert_eq (tf_ticket_prepare (db), 0);
    int64_t id = s_new_ticket (db, "tr");
    tf_error_t err;
    cr_assert_eq (tf_ticket_transition (db, id, "received", "classified", "classified", "classifier",
                                        NULL, "{\"subcategory\": \"功能操作\"}", &err), 0);
    //  the same message again: nothing changes
    cr_assert_eq (tf_ticket_transition (db, id, "received", "classified", "classified", "classifier",
                                        NULL, NULL, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    cr_assert (strstr (err.message, "is classified"), "%s", err.message);
    //  one of several expected statuses
    cr_assert_eq (tf_ticket_transition (db, id, "triage,classified", "assigned", "assigned", "dispatcher",
                                        "to logistics", NULL, &err), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld", (long long) id), 3);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'assigned'"
                                      " AND from_status = 'classified' AND to_status = 'assigned'"
                                      " AND note = 'to logistics' AND actor = 'dispatcher'", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'assigned'",
                                  (long long) id), 1);
    //  unknown ticket
    cr_assert_eq (tf_ticket_transition (db, 999999999, "received", "classified", "x", "y", NULL, NULL, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_NOT_FOUND);
    //  notes add history without a status change
    cr_assert_eq (tf_ticket_note (db, id, "progress", "agent", "called back", NULL), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'progress' AND to_status IS NULL", (long long) id), 1);
    //  finding by number
    char no [32], status [32];
    cr_assert_gt (tf_test_scalar (db, "SELECT id FROM tickets WHERE id = %lld", (long long) id), 0);
    PGresult *res = tf_db_query (db, "SELECT ticket_no FROM tickets WHERE id = $1", 1,
                                 (const char *[]) { zsys_sprintf ("%lld", (long long) id) });
    snprintf (no, sizeof no, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    int64_t found;
    cr_assert_eq (tf_ticket_find (db, no, strlen (no), &found, status, sizeof status, &err), 0);
    cr_assert_eq (found, id);
    cr_assert_str_eq (status, "assigned");
    cr_assert_eq (tf_ticket_find (db, "CS209901010001", 14, &found, status, sizeof status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_NOT_FOUND);
    tf_db_destroy (&db);
}

Test (ticket, two_sessions_never_lock_the_same_ticket)
{
    tf_db_t *a = tf_test_db (), *b = tf_test_db ();
    cr_assert_eq (tf_ticket_prepare (a), 0);
    cr_assert_eq (tf_ticket_prepare (b), 0);
    int64_t ids [6];
    for (int i = 0; i < 6; i++)
        ids [i] = s_new_ticket (a, zsys_sprintf ("lock%d", i));
    int64_t got_a [6], got_b [6];
    cr_assert_eq (tf_db_exec (a, "BEGIN"), 0);
    cr_assert_eq (tf_db_exec (b, "BEGIN"), 0);
    int na = tf_ticket_lock_ids (a, "received", ids, 3, got_a);
    int nb = tf_ticket_lock_ids (b, "received", ids, 6, got_b);
    cr_assert_eq (na, 3);
    cr_assert_eq (nb, 3, "b must skip a's rows");
    for (int i = 0; i < nb; i++)
        for (int k = 0; k < na; k++)
            cr_assert_neq (got_b [i], got_a [k]);
    //  the wrong status is not locked at all
    cr_assert_eq (tf_ticket_lock_ids (b, "closed", ids + 3, 3, got_b), 0);
    cr_assert_eq (tf_db_exec (a, "COMMIT"), 0);
    cr_assert_eq (tf_db_exec (b, "COMMIT"), 0);
    //  waiting tickets: ours are among those received at least 0 s ago
    cr_assert_eq (tf_db_exec (a, "BEGIN"), 0);
    int64_t waiting [5000];
    int n = tf_ticket_lock_waiting (a, "received", 0, 5000, waiting);
    cr_assert_geq (n, 6);
    cr_assert_eq (tf_ticket_lock_waiting (a, "received", 86400, 10, waiting), 0);
    cr_assert_eq (tf_db_exec (a, "COMMIT"), 0);
    tf_db_destroy (&a);
    tf_db_destroy (&b);
}
