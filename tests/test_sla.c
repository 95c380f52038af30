//  The handle stage and the deadline clocks.
#include "intake.h"
#include "sla.h"
#include "sla_server.h"
#include "tf_actor.h"
#include "tf_net.h"
#include "tf_ticket.h"
#include "tf_test.h"
#include <criterion/criterion.h>

//  A ticket as the dispatcher leaves it: priority set, assigned or accepted.
static int64_t
s_ticket (tf_db_t *db, const char *tag, const char *priority, const char *status, char *ticket_no)
{
    intake_t *intake = intake_new (db);
    char ext [128];
    snprintf (ext, sizeof ext, "sla-%s-%s", tag, tf_test_unique ());
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "app");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "sla test");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_EXTERNAL_ID, ext);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "C");
    const tf_msg_t *batch [] = { &m };
    intake_result_t r;
    cr_assert_eq (intake_submit (intake, batch, 1, &r), 0);
    tf_msg_clear (&m);
    intake_destroy (&intake);
    tf_test_scalar (db, "UPDATE tickets SET priority = '%s', status = '%s', department = 'logistics',"
                        " assignee = CASE WHEN '%s' = 'accepted' THEN '小王' END,"
                        " accepted_at = CASE WHEN '%s' = 'accepted' THEN now () END"
                        " WHERE id = %lld RETURNING 1", priority, status, status, status, (long long) r.ticket_id);
    if (ticket_no)
        snprintf (ticket_no, 32, "%s", r.ticket_no);
    return r.ticket_id;
}

static tf_msg_t
s_request (tf_msg_type_t type, const char *ticket_no)
{
    tf_msg_t m;
    tf_msg_init (&m, type);
    for (int f = 0; f < TF_FIELD_COUNT; f++)
        if (tf_fields [f].schema == type && streq (tf_fields [f].key, "ticket_no"))
            tf_msg_set_cstr (&m, f, ticket_no);
    return m;
}

Test (sla, timers_follow_the_policy_and_are_made_once)
{
    tf_db_t *db = tf_test_db ();
    sla_t *sla = sla_new (db);
    cr_assert (sla);
    int64_t id = s_ticket (db, "policy", "P1", "assigned", NULL);
    cr_assert_eq (sla_track (sla, &id, 1), 0);
    cr_assert_eq (sla_track (sla, &id, 1), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld", (long long) id), 2);
    //  due = created_at + the policy's minutes, mirrored on the ticket
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id"
                                      " JOIN sla_policy p ON p.priority = t.priority WHERE t.id = %lld AND ("
                                      " (s.kind = 'response' AND s.due_at = t.created_at + make_interval (mins => p.response_minutes)"
                                      "  AND t.response_due_at = s.due_at) OR"
                                      " (s.kind = 'resolution' AND s.due_at = t.created_at + make_interval (mins => p.resolve_minutes)"
                                      "  AND t.resolve_due_at = s.due_at))", (long long) id), 2);
    //  the reconciler finds a ticket nobody announced; the accept meets its response timer
    int64_t quiet = s_ticket (db, "quiet", "P3", "accepted", NULL);
    for (int i = 0; i < 50 && tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld",
                                               (long long) quiet) == 0; i++)
        cr_assert_geq (sla_track_missing (sla, 1000), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND (kind = 'resolution' OR met_at IS NOT NULL)", (long long) quiet), 2);
    sla_destroy (&sla);
    tf_db_destroy (&db);
}

Test (sla, handling_and_illegal_requests)
{
    tf_db_t *db = tf_test_db ();
    sla_t *sla = sla_new (db);
    char no [32], status [16];
    int64_t id = s_ticket (db, "handle", "P2", "accepted", no);
    cr_assert_eq (sla_track (sla, &id, 1), 0);
    tf_error_t err;
    //  progress → in_progress, note masked, first response recorded
    tf_msg_t m = s_request (TF_MSG_PROGRESS, no);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_NOTE, "called 13812345678");
    cr_assert_eq (sla_progress (sla, &m, status, &err), 0, "%s", err.message);
    cr_assert_str_eq (status, "in_progress");
    cr_assert_eq (sla_progress (sla, &m, status, &err), 0, "a second note is just a note");
    tf_msg_clear (&m);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'progress'"
                                      " AND note = 'called 138****5678' AND actor = '小王'", (long long) id), 2);
    //  hold: until in the past refused; then on hold, resolution clock paused
    m = s_request (TF_MSG_HOLD, no);
    tf_msg_set_cstr (&m, TF_F_HOLD_REASON, "waiting for the warehouse");
    tf_msg_set_cstr (&m, TF_F_HOLD_UNTIL, "2001-01-01T00:00:00Z");
    cr_assert_eq (sla_hold (sla, &m, status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_BAD_VALUE);
    cr_assert_str_eq (err.field, "until");
    tf_msg_set_cstr (&m, TF_F_HOLD_UNTIL, "2099-01-01T00:00:00+08:00");
    cr_assert_eq (sla_hold (sla, &m, status, &err), 0, "%s", err.message);
    cr_assert_str_eq (status, "on_hold");
    tf_msg_clear (&m);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld AND kind = 'resolution'"
                                      " AND paused_at IS NOT NULL", (long long) id), 1);
    //  resolve while on hold is illegal and changes nothing
    long long events = tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld", (long long) id);
    m = s_request (TF_MSG_RESOLVE, no);
    tf_msg_set_cstr (&m, TF_F_RESOLVE_SUMMARY, "done");
    int64_t rid;
    cr_assert_eq (sla_resolve (sla, &m, &rid, status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld", (long long) id), events);
    //  resume moves the resolution deadline by the time on hold
    tf_test_scalar (db, "UPDATE sla_timers SET paused_at = paused_at - interval '10 minutes'"
                        " WHERE ticket_id = %lld AND kind = 'resolution' RETURNING 1", (long long) id);
    long long due_before = tf_test_scalar (db, "SELECT extract (epoch FROM due_at)::bigint FROM sla_timers"
                                               " WHERE ticket_id = %lld AND kind = 'resolution'", (long long) id);
    tf_msg_t r = s_request (TF_MSG_RESUME, no);
    cr_assert_eq (sla_resume (sla, &r, status, &err), 0, "%s", err.message);
    cr_assert_eq (sla_resume (sla, &r, status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    tf_msg_clear (&r);
    long long due_after = tf_test_scalar (db, "SELECT extract (epoch FROM due_at)::bigint FROM sla_timers"
                                              " WHERE ticket_id = %lld AND kind = 'resolution' AND paused_at IS NULL",
                                          (long long) id);
    cr_assert_geq (due_after - due_before, 600);
    cr_assert_lt (due_after - due_before, 660);
    //  resolve: met, resolved, summary kept
    cr_assert_eq (sla_resolve (sla, &m, &rid, status, &err), 0, "%s", err.message);
    cr_assert_eq (rid, id);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'resolved'"
                                      " AND resolution_summary = 'done' AND resolved_at IS NOT NULL", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld AND met_at IS NOT NULL",
                                  (long long) id), 2);
    //  resolve a resolved (or closed) ticket: illegal; unknown: not found
    cr_assert_eq (sla_resolve (sla, &m, &rid, status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    tf_msg_clear (&m);
    m = s_request (TF_MSG_RESOLVE, "CS209901019999");
    tf_msg_set_cstr (&m, TF_F_RESOLVE_SUMMARY, "x");
    cr_assert_eq (sla_resolve (sla, &m, &rid, status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_NOT_FOUND);
    tf_msg_clear (&m);
    sla_destroy (&sla);
    tf_db_destroy (&db);
}

Test (sla, breaches_once_and_published_by_the_actor_even_after_a_restart)
{
    tf_db_t *db = tf_test_db ();
    sla_t *sla = sla_new (db);
    char no [32], paused_no [32];
    int64_t id = s_ticket (db, "breach", "P1", "assigned", no);
    int64_t paused = s_ticket (db, "paused", "P1", "assigned", paused_no);
    int64_t both [] = { id, paused };
    cr_assert_eq (sla_track (sla, both, 2), 0);
    sla_destroy (&sla);
    //  the response timer of `id` falls due in 2 s; `paused` is overdue but paused
    tf_test_scalar (db, "UPDATE sla_timers SET due_at = now () + interval '2 seconds'"
                        " WHERE ticket_id = %lld AND kind = 'response' RETURNING 1", (long long) id);
    tf_test_scalar (db, "UPDATE sla_timers SET due_at = now () - interval '1 minute', paused_at = now ()"
                        " WHERE ticket_id = %lld RETURNING 1", (long long) paused);

    tf_config_t cfg;
    tf_test_config (&cfg);
    cfg.dispatcher_events_endpoint = "inproc://sla-test-claimed";
    zsock_t *claimed = tf_net_bind (ZMQ_PUSH, cfg.dispatcher_events_endpoint, 1 << 20);
    char *endpoint;
    //  a first instance starts and stops before the deadline: the timer is a row, not memory
    zactor_t *first = tf_test_actor (sla_server_actor, &cfg, "ENDPOINT", &endpoint);
    zstr_free (&endpoint);
    zactor_destroy (&first);
    zactor_t *actor = tf_test_actor (sla_server_actor, &cfg, "ENDPOINT", &endpoint);
    char *publish = tf_actor_query (actor, "PUBLISH");
    zsock_t *sub = zsock_new (ZMQ_SUB);
    zsock_set_subscribe (sub, "logistics.");
    zsock_connect (sub, "%s", publish);
    zsock_set_rcvtimeo (sub, 6000);
    zmsg_t *event = zmsg_recv (sub);
    cr_assert (event, "no sla.breached within 6 s");
    cr_assert_eq (zmsg_size (event), 3);
    cr_assert (zframe_streq (zmsg_first (event), "logistics."));
    cr_assert (zframe_streq (zmsg_next (event), "sla.breached"));
    zframe_t *body = zmsg_next (event);
    tf_msg_t msg;
    tf_error_t err;
    cr_assert_eq (tf_codec_decode_body (TF_MSG_BREACHED, zframe_data (body), zframe_size (body), &msg, &err), 0);
    cr_assert_eq (tf_msg_int (&msg, TF_F_BREACHED_TICKET_ID), id);
    cr_assert (strncmp (msg.v [TF_F_BREACHED_KIND].str, "response", 8) == 0);
    zmsg_destroy (&event);
    zclock_sleep (1500);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld AND breached_at IS NOT NULL",
                                  (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'sla_breached'",
                                  (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND response_breached", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld AND breached_at IS NOT NULL",
                                  (long long) paused), 0, "a paused clock must not breach");
    zsock_destroy (&sub);
    zsock_destroy (&claimed);
    zstr_free (&publish);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
    tf_db_destroy (&db);
}

Test (sla, hostile_requests_get_errors)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    cfg.dispatcher_events_endpoint = "inproc://sla-test-hostile";
    zsock_t *claimed = tf_net_bind (ZMQ_PUSH, cfg.dispatcher_events_endpoint, 1 << 20);
    char *endpoint;
    zactor_t *actor = tf_test_actor (sla_server_actor, &cfg, "ENDPOINT", &endpoint);
    zsock_t *dealer = zsock_new_dealer (endpoint);
    zsock_set_rcvtimeo (dealer, 5000);
    const char *types [] = { "ticket.resolve", "ticket.hold", "ticket.submit", "nonsense" };
    for (int i = 0; i < 4; i++) {
        zmsg_t *m = zmsg_new ();
        zmsg_addmem (m, "", 0);
        zmsg_addstr (m, types [i]);
        zmsg_addmem (m, "\x81\xa9ticket_no\x05", 12);
        zmsg_send (&m, dealer);
        zmsg_t *reply = zmsg_recv (dealer);
        cr_assert (reply);
        cr_assert (zframe_streq ((zmsg_first (reply), zmsg_next (reply)), "error"));
        zmsg_destroy (&reply);
    }
    tf_msg_t ping, pong;
    tf_msg_init (&ping, TF_MSG_PING);
    zmsg_t *frames;
    tf_error_t err;
    cr_assert_eq (tf_net_request (endpoint, &ping, 5000, &frames, &pong, &err), 0);
    cr_assert_eq (pong.type, TF_MSG_PONG);
    zmsg_destroy (&frames);
    zsock_destroy (&dealer);
    zsock_destroy (&claimed);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
}
