//  The archive stage and the metrics: confirmed → closed by direct calls,
//  by the reconciler and by the actor on ticket.confirmed; the summary
//  report's numbers on tickets with known timestamps; the HTTP face; hostile
//  requests.
//
//  Tests run two at a time on one database. Tests that write tickets hold a
//  shared advisory lock, tests that compare whole-database numbers hold it
//  exclusively, so the summary deltas are exactly what a test added.
#include "intake.h"
#include "reporting.h"
#include "reporting_service.h"
#include "tf_actor.h"
#include "tf_json.h"
#include "tf_net.h"
#include "tf_test.h"
#include "tf_ticket.h"
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <math.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (reporting, .timeout = 60);

#define S_LOCK_KEY 7600424242LL

static void
s_lock (tf_db_t *db, bool exclusive)
{
    tf_test_scalar (db, "SELECT 1 FROM pg_advisory_lock%s (%lld)", exclusive? "": "_shared", S_LOCK_KEY);
}

//  A new ticket through intake; returns its id, fills ticket_no
static int64_t
s_ticket (tf_db_t *db, const char *tag, int i, char *ticket_no)
{
    intake_t *intake = intake_new (db);
    cr_assert (intake);
    char ext [128];
    snprintf (ext, sizeof ext, "rep-%s-%s-%d", tag, tf_test_unique (), i);
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "web");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "报表测试");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_EXTERNAL_ID, ext);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "C-report");
    const tf_msg_t *batch [] = { &m };
    intake_result_t r;
    cr_assert_eq (intake_submit (intake, batch, 1, &r), 0);
    cr_assert (r.ok && !r.duplicate);
    if (ticket_no)
        snprintf (ticket_no, 32, "%s", r.ticket_no);
    tf_msg_clear (&m);
    intake_destroy (&intake);
    return r.ticket_id;
}

static void
s_set_status (tf_db_t *db, int64_t id, const char *status)
{
    cr_assert_eq (tf_test_scalar (db, "UPDATE tickets SET status = '%s', status_changed_at = now ()"
                                      " WHERE id = %lld RETURNING 1", status, (long long) id), 1);
}

static long long
s_closed_rows (tf_db_t *db, int64_t id)
{
    return tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'closed'"
                               " AND from_status = 'confirmed' AND to_status = 'closed' AND actor = 'reporting'",
                           (long long) id);
}

static bool
s_is (tf_db_t *db, int64_t id, const char *status)
{
    return tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = '%s'",
                           (long long) id, status) == 1;
}

//  --------------------------------------------------------------------------
//  confirmed → closed

Test (reporting, close_confirmed_once)
{
    tf_db_t *db = tf_test_db ();
    s_lock (db, false);
    reporting_t *reporting = reporting_new (db);
    cr_assert (reporting);
    int64_t confirmed = s_ticket (db, "close", 0, NULL);
    int64_t resolved = s_ticket (db, "close", 1, NULL);
    s_set_status (db, confirmed, "confirmed");
    s_set_status (db, resolved, "resolved");
    //  a batch with a repeat, a ticket in another status and one that does not exist
    int64_t ids [] = { confirmed, resolved, confirmed, 999999999999LL };
    cr_assert_eq (reporting_close (reporting, ids, 4), 1);
    cr_assert (s_is (db, confirmed, "closed"));
    cr_assert (s_is (db, resolved, "resolved"));
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND closed_at IS NOT NULL"
                                      " AND closed_at >= now () - interval '1 minute'", (long long) confirmed), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND closed_at IS NULL",
                                  (long long) resolved), 1);
    cr_assert_eq (s_closed_rows (db, confirmed), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld",
                                  (long long) resolved), 1);        //  'received' only
    //  a repeat changes nothing: no row, closed_at kept
    long long closed_at = tf_test_scalar (db, "SELECT (extract (epoch FROM closed_at) * 1000000)::bigint"
                                              " FROM tickets WHERE id = %lld", (long long) confirmed);
    cr_assert_eq (reporting_close (reporting, ids, 1), 0);
    cr_assert_eq (reporting_close (reporting, ids, 0), 0);
    cr_assert_eq (s_closed_rows (db, confirmed), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld",
                                  (long long) confirmed), 2);
    cr_assert_eq (tf_test_scalar (db, "SELECT (extract (epoch FROM closed_at) * 1000000)::bigint"
                                      " FROM tickets WHERE id = %lld", (long long) confirmed), closed_at);
    reporting_destroy (&reporting);
    tf_db_destroy (&db);
}

Test (reporting, reconciler_closes_only_stale_confirmed)
{
    tf_db_t *db = tf_test_db ();
    s_lock (db, false);
    reporting_t *reporting = reporting_new (db);
    int64_t stale = s_ticket (db, "stale", 0, NULL);
    int64_t fresh = s_ticket (db, "stale", 1, NULL);
    s_set_status (db, stale, "confirmed");
    s_set_status (db, fresh, "confirmed");
    tf_test_scalar (db, "UPDATE tickets SET status_changed_at = now () - interval '2 hours'"
                        " WHERE id = %lld RETURNING 1", (long long) stale);
    int closed = reporting_reconcile (reporting, 3600, 1000);
    cr_assert_geq (closed, 1);
    cr_assert (s_is (db, stale, "closed"));
    cr_assert (s_is (db, fresh, "confirmed"));
    cr_assert_eq (s_closed_rows (db, stale), 1);
    cr_assert_eq (s_closed_rows (db, fresh), 0);
    //  nothing left to take: a second pass leaves the ticket alone
    reporting_reconcile (reporting, 3600, 1000);
    cr_assert_eq (s_closed_rows (db, stale), 1);
    //  the fresh one goes to the event path
    cr_assert_eq (reporting_close (reporting, &fresh, 1), 1);
    cr_assert_eq (s_closed_rows (db, fresh), 1);
    reporting_destroy (&reporting);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  The actor

typedef struct {
    tf_config_t cfg;
    zsock_t *push;              //  stands in for the notifier's PUSH
    zactor_t *actor;
    char *endpoint;
    int http_port;
} fixture_t;

static void
s_start (fixture_t *f)
{
    memset (f, 0, sizeof *f);
    tf_test_config (&f->cfg);
    f->cfg.stale_seconds = 86400;   //  leave other tests' fresh tickets alone
    f->push = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    cr_assert (f->push);
    f->cfg.notifier_events_endpoint = zsock_endpoint (f->push);
    f->actor = tf_test_service (&reporting_service, &f->cfg, "ENDPOINT", &f->endpoint);
    char *port = tf_actor_query (f->actor, "HTTP-PORT");
    cr_assert (port);
    f->http_port = atoi (port);
    cr_assert_gt (f->http_port, 0);
    zstr_free (&port);
}

static void
s_stop (fixture_t *f)
{
    zactor_destroy (&f->actor);
    zsock_destroy (&f->push);
    zstr_free (&f->endpoint);
}

static bool
s_wait_closed (tf_db_t *db, int64_t id, int ms)
{
    for (int waited = 0; waited < ms; waited += 50) {
        if (s_is (db, id, "closed"))
            return true;
        zclock_sleep (50);
    }
    return s_is (db, id, "closed");
}

Test (reporting, actor_closes_on_ticket_confirmed)
{
    tf_db_t *db = tf_test_db ();
    s_lock (db, false);
    fixture_t f;
    s_start (&f);
    char no [32];
    int64_t id = s_ticket (db, "event", 0, no);
    s_set_status (db, id, "confirmed");
    //  garbage and a wrong event first: ignored, the loop carries on
    zmsg_t *junk = zmsg_new ();
    zmsg_addstr (junk, "ticket.confirmed");
    zmsg_addmem (junk, "\xdd\xff\xff\xff\xff", 5);
    zmsg_send (&junk, f.push);
    junk = zmsg_new ();
    zmsg_addstr (junk, "only one frame");
    zmsg_send (&junk, f.push);
    cr_assert_eq (tf_net_send_ticket_event (f.push, TF_MSG_RESOLVED, id, no), 0);
    cr_assert_eq (tf_net_send_ticket_event (f.push, TF_MSG_CONFIRMED, id, no), 0);
    cr_assert (s_wait_closed (db, id, 5000), "the actor did not close the confirmed ticket");
    cr_assert_eq (s_closed_rows (db, id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND closed_at IS NOT NULL",
                                  (long long) id), 1);
    //  a repeated event changes nothing (once it was handled), and the actor still answers
    cr_assert_eq (tf_net_send_ticket_event (f.push, TF_MSG_CONFIRMED, id, no), 0);
    cr_assert_eq (tf_test_wait_handled (f.actor, "ticketflow_messages_received_total"
                                        "{service=\"reporting\",type=\"ticket.confirmed\"}", 2, 5000), 2);
    cr_assert_eq (tf_test_metric (f.actor, "ticketflow_events_refused_total{service=\"reporting\"}"), 3,
                  "the garbage, the lone frame and the wrong event are dropped");
    tf_msg_t ping, reply;
    tf_msg_init (&ping, TF_MSG_PING);
    zmsg_t *frames;
    tf_error_t err;
    cr_assert_eq (tf_net_request (f.endpoint, &ping, 5000, &frames, &reply, &err), 0);
    cr_assert_eq (reply.type, TF_MSG_PONG);
    zmsg_destroy (&frames);
    cr_assert_eq (s_closed_rows (db, id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld",
                                  (long long) id), 2);
    s_stop (&f);
    tf_db_destroy (&db);
}

Test (reporting, actor_reconciler_at_start)
{
    tf_db_t *db = tf_test_db ();
    s_lock (db, false);
    int64_t id = s_ticket (db, "lost", 0, NULL);
    s_set_status (db, id, "confirmed");
    //  its ticket.confirmed was lost two days ago
    tf_test_scalar (db, "UPDATE tickets SET status_changed_at = now () - interval '2 days'"
                        " WHERE id = %lld RETURNING 1", (long long) id);
    fixture_t f;
    s_start (&f);
    cr_assert (s_wait_closed (db, id, 5000), "the reconciler did not close the stranded ticket");
    cr_assert_eq (s_closed_rows (db, id), 1);
    s_stop (&f);
    tf_db_destroy (&db);
}

//  The reconciler on its own: the input points where nothing binds, so no
//  ticket.confirmed can arrive and only the reconciler can close
Test (reporting, the_reconciler_alone_closes_what_no_event_announced)
{
    tf_test_alone ();           //  stale-seconds 0: it closes every confirmed ticket there is
    tf_db_t *db = tf_test_db ();
    tf_config_t cfg;
    tf_test_config (&cfg);
    cfg.notifier_events_endpoint = tf_test_nowhere ();
    cfg.stale_seconds = 0;
    cfg.reconcile_seconds = 1;
    zactor_t *actor = tf_test_service (&reporting_service, &cfg, "ENDPOINT", NULL);
    const char *reconciled = "ticketflow_reconciled_total{service=\"reporting\"}";
    int64_t id = s_ticket (db, "alone", 0, NULL);
    s_set_status (db, id, "confirmed");
    cr_assert (s_wait_closed (db, id, 10000), "the reconciler did not close the confirmed ticket");
    cr_assert_geq (tf_test_wait_handled (actor, reconciled, 1, 5000), 1);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_received_total"
                                  "{service=\"reporting\",type=\"ticket.confirmed\"}"), 0);
    cr_assert_geq (tf_test_metric (actor, "ticketflow_ticket_moves_total{service=\"reporting\",move=\"CLOSE\"}"), 1);
    //  a later round closes a later ticket; the first is not taken again
    int64_t later = s_ticket (db, "alone", 1, NULL);
    s_set_status (db, later, "confirmed");
    cr_assert (s_wait_closed (db, later, 10000), "no later reconciler round");
    cr_assert_geq (tf_test_wait_handled (actor, reconciled, 2, 5000), 2);
    cr_assert_eq (s_closed_rows (db, id), 1);
    cr_assert_eq (s_closed_rows (db, later), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND closed_at IS NOT NULL",
                                  (long long) id), 1);
    zactor_destroy (&actor);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  The summary report

static json_t *
s_summary (reporting_t *reporting)
{
    tf_error_t err;
    char *text = reporting_summary_json (reporting, &err);
    cr_assert (text, "no summary: %s", err.message);
    json_t *json = json_loads (text, 0, NULL);
    free (text);
    cr_assert (json_is_object (json));
    return json;
}

//  summary[key][sub] (sub NULL: summary[key]) as a number; 0 when absent
static double
s_num (json_t *summary, const char *key, const char *sub)
{
    json_t *v = json_object_get (summary, key);
    if (sub)
        v = json_object_get (v, sub);
    cr_assert (!v || json_is_number (v) || json_is_null (v), "%s.%s is not a number", key, sub? sub: "");
    return v && json_is_number (v)? json_number_value (v): 0;
}

static double
s_delta (json_t *before, json_t *after, const char *key, const char *sub)
{
    return s_num (after, key, sub) - s_num (before, key, sub);
}

static const char *
s_or_empty (const char *s)
{
    return s? s: "";
}

#define ASSERT_DELTA(key, sub, expected) \
    cr_assert_eq (s_delta (before, after, key, sub), (double) (expected), "%s.%s moved by %g, expected %d", \
                  key, s_or_empty (sub), s_delta (before, after, key, sub), (int) (expected))

Test (reporting, summary_numbers_on_known_tickets)
{
    tf_db_t *db = tf_test_db ();
    s_lock (db, true);
    reporting_t *reporting = reporting_new (db);
    char category [64], subcategory [64], department [64];
    snprintf (category, sizeof category, "rcat-%s", tf_test_unique ());
    snprintf (subcategory, sizeof subcategory, "rsub-%s", tf_test_unique ());
    snprintf (department, sizeof department, "rdept-%s", tf_test_unique ());
    json_t *before = s_summary (reporting);

    //  six tickets created at T; times in seconds after T
    int64_t t [6];
    for (int i = 0; i < 6; i++)
        t [i] = s_ticket (db, "summary", i, NULL);
    const char *T = "'2021-06-01T08:00:00+08:00'::timestamptz";
    //  t0: received, nothing classified
    tf_test_scalar (db, "UPDATE tickets SET created_at = %s WHERE id = %lld RETURNING 1", T, (long long) t [0]);
    //  t1..t5: our category
    for (int i = 1; i < 6; i++)
        tf_test_scalar (db, "UPDATE tickets SET created_at = %s, category = '%s', subcategory = '%s',"
                            " department = '%s' WHERE id = %lld RETURNING 1",
                        T, category, subcategory, department, (long long) t [i]);
    //  t1: in progress, P1, first response after 300 s (accepted at 600 s)
    tf_test_scalar (db, "UPDATE tickets SET status = 'in_progress', priority = 'P1',"
                        " accepted_at = %s + interval '600 s', first_response_at = %s + interval '300 s'"
                        " WHERE id = %lld RETURNING 1", T, T, (long long) t [1]);
    //  t2: resolved after 3600 s, P2, no first response but accepted at 900 s; response deadline missed
    tf_test_scalar (db, "UPDATE tickets SET status = 'resolved', priority = 'P2',"
                        " accepted_at = %s + interval '900 s', resolved_at = %s + interval '3600 s',"
                        " response_breached = true WHERE id = %lld RETURNING 1", T, T, (long long) t [2]);
    //  t3: closed, P2, response at 100 s, resolved after 7200 s (late), csat 5
    tf_test_scalar (db, "UPDATE tickets SET status = 'closed', priority = 'P2',"
                        " first_response_at = %s + interval '100 s', resolved_at = %s + interval '7200 s',"
                        " resolve_breached = true, csat = 2 + 3 WHERE id = %lld RETURNING 1", T, T, (long long) t [3]);
    //  t4: reopened once (its resolution cleared), P3, csat 2, never responded
    tf_test_scalar (db, "UPDATE tickets SET status = 'reopened', priority = 'P3', reopen_count = 1, csat = 2"
                        " WHERE id = %lld RETURNING 1", (long long) t [4]);
    //  t5: archived, P3, response at 60 s, resolved after 1800 s, csat 4
    tf_test_scalar (db, "UPDATE tickets SET status = 'archived', priority = 'P3',"
                        " first_response_at = %s + interval '60 s', resolved_at = %s + interval '1800 s',"
                        " csat = 4 WHERE id = %lld RETURNING 1", T, T, (long long) t [5]);
    //  the outbox: 2 queued, 1 sent, 1 dead (and not the tickets' receipts)
    for (int i = 0; i < 6; i++)
        tf_test_sql (db, "DELETE FROM outbox WHERE ticket_id = %lld", (long long) t [i]);
    const char *outbox [] = { "queued", "queued", "sent", "dead" };
    for (int i = 0; i < 4; i++)
        tf_test_scalar (db, "INSERT INTO outbox (ticket_id, kind, sink, payload, status)"
                            " VALUES (%lld, 'report_test', 'file', '{\"n\": %d}', '%s') RETURNING 1",
                        (long long) t [1], i, outbox [i]);

    json_t *after = s_summary (reporting);
    ASSERT_DELTA ("total", NULL, 6);
    ASSERT_DELTA ("open", NULL, 3);                 //  received, in_progress, reopened
    ASSERT_DELTA ("by_status", "received", 1);
    ASSERT_DELTA ("by_status", "in_progress", 1);
    ASSERT_DELTA ("by_status", "resolved", 1);
    ASSERT_DELTA ("by_status", "closed", 1);
    ASSERT_DELTA ("by_status", "reopened", 1);
    ASSERT_DELTA ("by_status", "archived", 1);
    ASSERT_DELTA ("by_status", "confirmed", 0);
    cr_assert_eq (json_object_size (json_object_get (after, "by_status")), TF_STATUS_COUNT, "every status is listed");
    ASSERT_DELTA ("by_category", category, 5);
    ASSERT_DELTA ("by_category", "unclassified", 1);
    ASSERT_DELTA ("by_priority", "P1", 1);
    ASSERT_DELTA ("by_priority", "P2", 2);
    ASSERT_DELTA ("by_priority", "P3", 2);
    ASSERT_DELTA ("by_priority", "unclassified", 1);
    ASSERT_DELTA ("by_department", department, 5);
    ASSERT_DELTA ("by_department", "unassigned", 1);
    ASSERT_DELTA ("by_channel", "web", 6);
    ASSERT_DELTA ("by_channel", "app", 0);
    ASSERT_DELTA ("csat_count", NULL, 3);
    ASSERT_DELTA ("resolved_count", NULL, 3);      //  t2, t3, t5
    ASSERT_DELTA ("reopened_count", NULL, 1);
    ASSERT_DELTA ("sla", "response_breached", 1);
    ASSERT_DELTA ("sla", "resolve_breached", 1);
    ASSERT_DELTA ("sla", "on_time", 2);             //  t2, t5
    ASSERT_DELTA ("outbox", "queued", 2);
    ASSERT_DELTA ("outbox", "sent", 1);
    ASSERT_DELTA ("outbox", "dead", 1);
    //  averages of our category: resolution (3600 + 7200 + 1800) / 3,
    //  first response (300 + 900 + 100 + 60) / 4, csat (5 + 2 + 4) / 3
    cr_assert_float_eq (s_num (after, "per_category_avg_resolution_seconds", category), 4200.0, 1e-9);
    cr_assert_float_eq (s_num (after, "per_category_avg_first_response_seconds", category), 340.0, 1e-9);
    cr_assert_float_eq (s_num (after, "per_category_avg_csat", category), 3.67, 1e-9);
    cr_assert_null (json_object_get (json_object_get (before, "per_category_avg_resolution_seconds"), category));
    //  the overall averages moved as our tickets say
    double n0 = s_num (before, "csat_count", NULL), n1 = s_num (after, "csat_count", NULL);
    double sum0 = n0 > 0? s_num (before, "avg_csat", NULL) * n0: 0;
    cr_assert (fabs (s_num (after, "avg_csat", NULL) * n1 - (sum0 + 11)) <= 0.005 * (n0 + n1) + 1e-9,
               "avg_csat %g over %g ratings does not add up", s_num (after, "avg_csat", NULL), n1);
    cr_assert_float_eq (s_num (after, "sla", "on_time_rate"),
                        round (s_num (after, "sla", "on_time") / s_num (after, "resolved_count", NULL) * 1e4) / 1e4, 1e-9);
    long long resolved_once = tf_test_scalar (db, "SELECT count(*) FROM tickets"
                                                  " WHERE resolved_at IS NOT NULL OR reopen_count > 0");
    cr_assert_float_eq (s_num (after, "reopen_rate", NULL),
                        round (s_num (after, "reopened_count", NULL) / (double) resolved_once * 1e4) / 1e4, 1e-9);
    cr_assert_eq (s_num (after, "total", NULL), (double) tf_test_scalar (db, "SELECT count(*) FROM tickets"));
    long long with_response = tf_test_scalar (db, "SELECT count(*) FROM tickets"
                                                  " WHERE coalesce (first_response_at, accepted_at) IS NOT NULL");
    cr_assert_gt (with_response, 0);
    cr_assert (json_is_number (json_object_get (after, "avg_first_response_seconds")));
    cr_assert (json_is_number (json_object_get (after, "avg_resolution_seconds")));
    //  generated_at is an RFC 3339 time of now
    json_t *at = json_object_get (after, "generated_at");
    int64_t epoch;
    cr_assert (json_is_string (at));
    cr_assert_eq (tf_time_parse (json_string_value (at), json_string_length (at), &epoch), 0,
                  "generated_at '%s'", json_string_value (at));
    cr_assert (llabs (epoch - (int64_t) time (NULL)) < 60);

    //  by_subcategory: the 10 largest, exact counts
    json_t *top = json_object_get (after, "by_subcategory");
    long long distinct = tf_test_scalar (db, "SELECT count(DISTINCT coalesce (nullif (subcategory, ''),"
                                             " 'unclassified')) FROM tickets");
    cr_assert_eq ((long long) json_object_size (top), distinct < 10? distinct: 10);
    const char *key;
    json_t *value;
    double smallest = INFINITY;
    PGresult *res;
    json_object_foreach (top, key, value) {
        const char *params [] = { key };
        res = tf_db_query (db, "SELECT count(*) FROM tickets WHERE coalesce (nullif (subcategory, ''),"
                               " 'unclassified') = $1", 1, params);
        cr_assert (tf_db_ok (db, res, "count"));
        cr_assert_eq (json_integer_value (value), atoll (PQgetvalue (res, 0, 0)), "by_subcategory.%s", key);
        PQclear (res);
        smallest = fmin (smallest, (double) json_integer_value (value));
    }
    res = tf_db_query (db, "SELECT coalesce (nullif (subcategory, ''), 'unclassified'), count(*)"
                           " FROM tickets GROUP BY 1", 0, NULL);
    cr_assert (tf_db_ok (db, res, "subcategories"));
    for (int i = 0; i < PQntuples (res); i++)
        if (!json_object_get (top, PQgetvalue (res, i, 0)))
            cr_assert_leq (atof (PQgetvalue (res, i, 1)), smallest, "%s is larger than the top 10",
                           PQgetvalue (res, i, 0));
    PQclear (res);
    if (json_object_get (top, subcategory))
        ASSERT_DELTA ("by_subcategory", subcategory, 5);

    //  reading wrote nothing
    long long events = tf_test_scalar (db, "SELECT count(*) FROM ticket_events");
    json_t *again = s_summary (reporting);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events"), events);
    json_object_del (again, "generated_at");
    json_object_del (after, "generated_at");
    cr_assert (json_equal (again, after), "two summaries of an unchanged database differ");
    json_decref (again);
    json_decref (before);
    json_decref (after);
    reporting_destroy (&reporting);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  ZeroMQ and HTTP

typedef struct {
    char *data;
    size_t size;
} buffer_t;

static size_t
s_curl_write (char *data, size_t size, size_t n, void *arg)
{
    buffer_t *b = arg;
    b->data = realloc (b->data, b->size + size * n + 1);
    memcpy (b->data + b->size, data, size * n);
    b->size += size * n;
    b->data [b->size] = 0;
    return size * n;
}

//  Returns the HTTP status; *body is the parsed JSON (caller decrefs)
static long
s_http (int port, const char *method, const char *path, json_t **body, char *content_type, size_t ct_size)
{
    CURL *curl = curl_easy_init ();
    cr_assert (curl);
    char url [256];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    buffer_t b = { NULL, 0 };
    struct curl_slist *headers = curl_slist_append (NULL, tf_test_bearer ());
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_CUSTOMREQUEST, method);
    if (streq (method, "POST"))
        curl_easy_setopt (curl, CURLOPT_POSTFIELDS, "{\"filter\": \"x\"}");
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_curl_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    cr_assert_eq (curl_easy_perform (curl), CURLE_OK, "%s %s failed", method, url);
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    char *ct = NULL;
    curl_easy_getinfo (curl, CURLINFO_CONTENT_TYPE, &ct);
    snprintf (content_type, ct_size, "%s", ct? ct: "");
    *body = b.data? json_loads (b.data, 0, NULL): NULL;
    free (b.data);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    return status;
}

static json_t *
s_zmq_summary (const char *endpoint)
{
    tf_msg_t request, reply;
    tf_msg_init (&request, TF_MSG_REPORT_SUMMARY);
    zmsg_t *frames;
    tf_error_t err;
    cr_assert_eq (tf_net_request (endpoint, &request, 10000, &frames, &reply, &err), 0, "%s", err.message);
    cr_assert_eq (reply.type, TF_MSG_REPORT, "got %s", tf_schemas [reply.type].name);
    const tf_value_t *v = &reply.v [TF_F_REPORT_SUMMARY];
    json_t *json = tf_json_from_msgpack (v->str, v->len);
    cr_assert (json_is_object (json));
    zmsg_destroy (&frames);
    return json;
}

Test (reporting, http_serves_the_same_json)
{
    tf_db_t *db = tf_test_db ();
    s_lock (db, true);
    fixture_t f;
    s_start (&f);
    curl_global_init (CURL_GLOBAL_ALL);
    json_t *zmq = s_zmq_summary (f.endpoint);
    json_t *http;
    char ct [128];
    cr_assert_eq (s_http (f.http_port, "GET", "/v1/report/summary", &http, ct, sizeof ct), 200);
    cr_assert (strncmp (ct, "application/json", 16) == 0, "Content-Type: %s", ct);
    cr_assert (json_is_object (http));
    const char *keys [] = { "total", "open", "by_status", "by_category", "by_subcategory", "by_priority",
                            "by_department", "by_channel", "avg_first_response_seconds",
                            "avg_resolution_seconds", "avg_csat", "csat_count", "reopen_rate", "sla",
                            "outbox", "per_category_avg_resolution_seconds", NULL };
    for (int i = 0; keys [i]; i++) {
        cr_assert (json_object_get (zmq, keys [i]), "%s missing", keys [i]);
        cr_assert (json_equal (json_object_get (zmq, keys [i]), json_object_get (http, keys [i])),
                   "%s differs between ZeroMQ and HTTP", keys [i]);
    }
    cr_assert_eq (json_integer_value (json_object_get (http, "total")),
                  tf_test_scalar (db, "SELECT count(*) FROM tickets"));
    json_decref (http);
    json_decref (zmq);

    //  other paths, other methods
    json_t *body;
    cr_assert_eq (s_http (f.http_port, "GET", "/v1/other", &body, ct, sizeof ct), 404);
    cr_assert (strncmp (ct, "application/json", 16) == 0, "Content-Type: %s", ct);
    cr_assert_str_eq (json_string_value (json_object_get (json_object_get (body, "error"), "code")), "not_found");
    json_decref (body);
    cr_assert_eq (s_http (f.http_port, "GET", "/v1/report/summary/../../etc", &body, ct, sizeof ct), 404);
    json_decref (body);
    cr_assert_eq (s_http (f.http_port, "POST", "/v1/report/summary", &body, ct, sizeof ct), 405);
    cr_assert (strncmp (ct, "application/json", 16) == 0, "Content-Type: %s", ct);
    cr_assert (json_object_get (json_object_get (body, "error"), "message"));
    json_decref (body);
    cr_assert_eq (s_http (f.http_port, "DELETE", "/v1/report/summary", &body, ct, sizeof ct), 405);
    json_decref (body);
    //  and it still serves
    cr_assert_eq (s_http (f.http_port, "GET", "/v1/report/summary", &body, ct, sizeof ct), 200);
    json_decref (body);
    curl_global_cleanup ();
    s_stop (&f);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  Hostile requests get one error reply each and the service keeps serving

static void
s_expect_error (zsock_t *dealer, zmsg_t *request, const char *code)
{
    cr_assert_eq (zmsg_send (&request, dealer), 0);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    zmsg_t *reply = zpoller_wait (poller, 5000) == dealer? zmsg_recv (dealer): NULL;
    zpoller_destroy (&poller);
    cr_assert (reply, "no reply (expected %s)", code);
    cr_assert_eq (zmsg_size (reply), 3);
    zframe_t *delimiter = zmsg_pop (reply);
    cr_assert_eq (zframe_size (delimiter), 0);
    zframe_destroy (&delimiter);
    zframe_t *type = zmsg_first (reply);
    zframe_t *body = zmsg_next (reply);
    cr_assert (zframe_streq (type, "error"));
    tf_msg_t msg;
    tf_error_t err;
    cr_assert_eq (tf_codec_decode_body (TF_MSG_ERROR, zframe_data (body), zframe_size (body), &msg, &err), 0);
    const tf_value_t *c = &msg.v [TF_F_ERROR_CODE];
    cr_assert (c->len == strlen (code) && memcmp (c->str, code, c->len) == 0,
               "expected %s, got %.*s", code, (int) c->len, c->str);
    zmsg_destroy (&reply);
}

Test (reporting, hostile_requests_get_error_replies)
{
    fixture_t f;
    s_start (&f);
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, f.endpoint, 1 << 20);
    zmsg_t *m;
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "report.summary");
    s_expect_error (dealer, m, TF_ERR_BAD_FRAMES);
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "report.summary"); zmsg_addmem (m, "\xdd\xff\x00\x00\x00", 5);
    s_expect_error (dealer, m, TF_ERR_BAD_MSGPACK);
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "report.summary"); zmsg_addmem (m, "\x90", 1);
    s_expect_error (dealer, m, TF_ERR_BAD_MSGPACK);
    //  an unknown field: the protocol has no filters yet
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "report.summary"); zmsg_addmem (m, "\x81\xa4" "from\x01", 7);
    zmsg_t *copy = zmsg_dup (m);
    zmsg_send (&copy, dealer);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    zmsg_t *reply = zpoller_wait (poller, 5000) == dealer? zmsg_recv (dealer): NULL;
    zpoller_destroy (&poller);
    cr_assert (reply, "no reply to a summary with an unknown field");
    zmsg_destroy (&reply);
    zmsg_destroy (&m);
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "report.burn"); zmsg_addmem (m, "\x80", 1);
    s_expect_error (dealer, m, TF_ERR_UNKNOWN_TYPE);
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "report"); zmsg_addmem (m, "\x80", 1);
    s_expect_error (dealer, m, TF_ERR_UNKNOWN_TYPE);
    //  a request of another service
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "ticket.get");
    zmsg_addmem (m, "\x81\xa9ticket_no\xae" "CS209901019999", 26);
    s_expect_error (dealer, m, TF_ERR_UNKNOWN_TYPE);
    //  no delimiter at all
    m = zmsg_new (); zmsg_addstr (m, "report.summary"); zmsg_addmem (m, "\xc1", 1);
    s_expect_error (dealer, m, TF_ERR_BAD_MSGPACK);

    //  and it still serves
    tf_msg_t ping, pong;
    tf_msg_init (&ping, TF_MSG_PING);
    zmsg_t *frames;
    tf_error_t err;
    cr_assert_eq (tf_net_request (f.endpoint, &ping, 5000, &frames, &pong, &err), 0);
    cr_assert_eq (pong.type, TF_MSG_PONG);
    cr_assert (pong.v [TF_F_PONG_SERVICE].len == 9 && memcmp (pong.v [TF_F_PONG_SERVICE].str, "reporting", 9) == 0);
    zmsg_destroy (&frames);
    json_t *summary = s_zmq_summary (f.endpoint);
    cr_assert (json_object_get (summary, "total"));
    json_decref (summary);
    zsock_destroy (&dealer);
    s_stop (&f);
}
