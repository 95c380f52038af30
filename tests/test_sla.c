//  The handle stage and the deadline clocks: timers from the policy on
//  ticket.claimed and by the reconciler (once, with two instances), breaches
//  published once on the department's topic and marked in the database and
//  the history, paused clocks, hold / resume / progress / resolve through
//  the actor, illegal transitions, timers that survive a restart, hostile
//  requests; the reconciler alone (no event can arrive) making timers and
//  meeting a lost claim, and a hold that ends by itself.
#include "intake.h"
#include "sla.h"
#include "sla_service.h"
#include "tf_actor.h"
#include "tf_net.h"
#include "tf_test.h"
#include "tf_ticket.h"
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdarg.h>
#include <time.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (sla, .timeout = 60);

//  Tests run two at a time on one database, and every sla actor marks
//  every due timer it finds, whoever's ticket it is. The tests that start
//  actors or mark breaches hold this advisory lock, so a breach one test
//  waits for is never taken (and published) by another test's actor.
#define LOCK_KEY "7400741"

static tf_db_t *
s_serialized (void)
{
    tf_db_t *lock = tf_test_db ();
    PGresult *res = tf_db_query (lock, "SELECT pg_advisory_lock (" LOCK_KEY ")", 0, NULL);
    cr_assert (tf_db_ok (lock, res, "advisory lock"));
    PQclear (res);
    return lock;                //  released when the connection closes
}

//  The policy as deploy/taxonomy/taxonomy.json has it, in case the loader
//  has not filled the table (it upserts the same rows).
static tf_db_t *
s_db (void)
{
    tf_db_t *db = tf_test_db ();
    tf_test_sql (db, "INSERT INTO sla_policy (priority, name, response_minutes, resolve_minutes) VALUES"
                     " ('P1', 'urgent', 15, 120), ('P2', 'high', 60, 1440), ('P3', 'routine', 240, 4320)"
                     " ON CONFLICT DO NOTHING");
    return db;
}

//  A ticket as the dispatcher leaves it: priority (NULL: none yet) and
//  department set, assigned, or accepted by 小王 (accepted_at, first_response_at).
static int64_t
s_ticket (tf_db_t *db, const char *priority, const char *status, char *ticket_no)
{
    int64_t id = tf_test_submit (db, "C-sla", "快递三天没有更新物流信息", NULL, ticket_no);
    bool accepted = strcmp (status, "assigned") != 0;
    tf_test_sql (db, "UPDATE tickets SET priority = %s%s%s, status = '%s', department = 'logistics',"
                     " category = '订单物流', subcategory = '物流信息更新延迟', assignee = %s,"
                     " accepted_at = %s, first_response_at = %s WHERE id = %lld",
                 priority? "'": "", priority? priority: "NULL", priority? "'": "",
                 status, accepted? "'小王'": "NULL", accepted? "now ()": "NULL",
                 accepted? "now ()": "NULL", (long long) id);
    return id;
}

static long long
s_timers (tf_db_t *db, int64_t id)
{
    return tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld", (long long) id);
}

//  The two deadlines (response and resolution), without their warnings
//  and the other clocks
static long long
s_deadlines (tf_db_t *db, int64_t id)
{
    return tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                               " AND kind IN ('response', 'resolution')", (long long) id);
}

//  What the ticket's deadlines must be (tf_ticket_clocks): P1 around the
//  clock (15 and 120 minutes); otherwise 15 minutes of the desk's service
//  hours to respond and 物流信息更新延迟's 48 hours to resolve
#define EXPECTED_DUE \
    " (s.kind = 'response' AND s.due_at = CASE WHEN t.priority = 'P1' THEN t.created_at + interval '15 minutes'" \
    "                                          ELSE tf_business_add (t.created_at, 900, 'default') END" \
    "  AND t.response_due_at = s.due_at) OR" \
    " (s.kind = 'resolution' AND s.due_at = CASE WHEN t.priority = 'P1' THEN t.created_at + interval '120 minutes'" \
    "                                            ELSE t.created_at + interval '48 hours' END" \
    "  AND t.resolve_due_at = s.due_at)"

static long long
s_history (tf_db_t *db, int64_t id)
{
    return tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld", (long long) id);
}

//  A request of `type` with its ticket_no set.
static tf_msg_t
s_request (tf_msg_type_t type, const char *ticket_no)
{
    tf_msg_t m;
    tf_msg_init (&m, type);
    for (int f = 0; f < TF_FIELD_COUNT; f++)
        if (tf_fields [f].schema == type && streq (tf_fields [f].key, "ticket_no"))
            tf_msg_set_cstr (&m, (tf_field_id_t) f, ticket_no);
    return m;
}

//  Sends a request to the actor; returns the status of ticket.updated, or
//  the error code ("error:<code>:<field>").
static char *
s_call (const char *endpoint, tf_msg_t *request)
{
    zmsg_t *frames;
    tf_msg_t reply;
    tf_error_t err;
    cr_assert_eq (tf_net_request (endpoint, request, 5000, &frames, &reply, &err), 0, "%s", err.message);
    tf_msg_clear (request);
    char *answer;
    if (reply.type == TF_MSG_UPDATED)
        answer = tf_msg_strdup (&reply, TF_F_UPDATED_STATUS);
    else {
        cr_assert_eq (reply.type, TF_MSG_ERROR);
        char *code = tf_msg_strdup (&reply, TF_F_ERROR_CODE);
        char *field = tf_msg_strdup (&reply, TF_F_ERROR_FIELD);
        answer = zsys_sprintf ("error:%s:%s", code, field? field: "");
        free (code);
        free (field);
    }
    zmsg_destroy (&frames);
    return answer;
}

static void
s_expect (const char *endpoint, tf_msg_t request, const char *expected)
{
    char *answer = s_call (endpoint, &request);
    cr_assert_str_eq (answer, expected);
    free (answer);
}

//  The level of the last sla.escalated about the ticket watched (0: none)
static int s_escalated_level;

static bool
s_str_is (const tf_msg_t *m, tf_field_id_t f, const char *want)
{
    return tf_msg_has (m, f) && m->v [f].len == strlen (want) && memcmp (m->v [f].str, want, m->v [f].len) == 0;
}

//  Receives from any of the SUB sockets until `deadline_ms` (zclock_mono);
//  counts the sla.breached events about ticket `id` (decoded into *first,
//  the first one) and checks the topic of every one.
static int
s_collect_breaches (zsock_t **subs, int nsubs, int64_t id, int64_t deadline_ms, bool stop_at_first,
                    tf_msg_t *first, zmsg_t **first_frames)
{
    zpoller_t *poller = zpoller_new (NULL);
    for (int i = 0; i < nsubs; i++)
        zpoller_add (poller, subs [i]);
    int count = 0;
    while (zclock_mono () < deadline_ms && !(stop_at_first && count)) {
        zsock_t *which = zpoller_wait (poller, (int) (deadline_ms - zclock_mono ()) + 1);
        if (!which)
            continue;
        zmsg_t *event = zmsg_recv (which);
        cr_assert (event);
        cr_assert_eq (zmsg_size (event), 3, "sla's events are [topic, type, body]");
        zframe_t *topic = zmsg_first (event);
        zframe_t *type = zmsg_next (event);
        zframe_t *body = zmsg_next (event);
        if (!zframe_streq (type, "sla.breached")) {
            //  the warnings and escalations of the same tickets go to the same topic
            cr_assert (zframe_streq (type, "sla.escalated") || zframe_streq (type, "sla.warning"));
            if (zframe_streq (type, "sla.escalated")) {
                tf_msg_t msg;
                tf_error_t err;
                cr_assert_eq (tf_codec_decode_body (TF_MSG_ESCALATED, zframe_data (body), zframe_size (body),
                                                    &msg, &err), 0, "%s", err.message);
                if (tf_msg_int (&msg, TF_F_ESCALATED_TICKET_ID) == id) {
                    cr_assert (zframe_streq (topic, "logistics."), "topic is the department");
                    s_escalated_level = (int) tf_msg_int (&msg, TF_F_ESCALATED_LEVEL);
                    cr_assert (s_str_is (&msg, TF_F_ESCALATED_REASON, "response"));
                    cr_assert (s_str_is (&msg, TF_F_ESCALATED_ROLE, "team_lead"));
                }
            }
            zmsg_destroy (&event);
            continue;
        }
        tf_msg_t msg;
        tf_error_t err;
        cr_assert_eq (tf_codec_decode_body (TF_MSG_BREACHED, zframe_data (body), zframe_size (body),
                                            &msg, &err), 0, "%s", err.message);
        if (tf_msg_int (&msg, TF_F_BREACHED_TICKET_ID) == id) {
            cr_assert (zframe_streq (topic, "logistics."), "topic is the department");
            if (count++ == 0 && first) {
                *first = msg;   //  points into the frames: keep them
                *first_frames = event;
                event = NULL;
            }
        }
        zmsg_destroy (&event);
    }
    zpoller_destroy (&poller);
    return count;
}

static zsock_t *
s_subscribe (zactor_t *actor)
{
    char *publish = tf_actor_query (actor, "PUBLISH");
    cr_assert (publish && *publish);
    zsock_t *sub = zsock_new (ZMQ_SUB);
    tf_security_client (sub);
    zsock_set_subscribe (sub, "logistics.");
    cr_assert_eq (zsock_connect (sub, "%s", publish), 0);
    zstr_free (&publish);
    return sub;
}

//  A config whose claimed events come from a PUSH the test holds.
static zsock_t *
s_config (tf_config_t *cfg, char *claimed_endpoint, size_t size)
{
    tf_test_config (cfg);
    zsock_t *claimed = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    cr_assert (claimed);
    zsock_set_sndtimeo (claimed, 5000);     //  a send waits for the actor's PULL
    snprintf (claimed_endpoint, size, "%s", zsock_endpoint (claimed));
    cfg->dispatcher_events_endpoint = claimed_endpoint;
    return claimed;
}

//  --------------------------------------------------------------------------

Test (sla, claimed_creates_timers_from_the_policy)
{
    tf_db_t *lock = s_serialized ();
    tf_db_t *db = s_db ();
    tf_config_t cfg;
    char claimed_endpoint [256];
    zsock_t *claimed = s_config (&cfg, claimed_endpoint, sizeof claimed_endpoint);
    cfg.reconcile_seconds = 3600;   //  only at start: the timers below come from the event
    zactor_t *actor = tf_test_service (&sla_service, &cfg, "ENDPOINT", NULL);

    char no [32];
    int64_t id = s_ticket (db, "P1", "accepted", no);
    int64_t assigned = s_ticket (db, "P3", "assigned", NULL);
    int64_t unranked = s_ticket (db, "P2", "assigned", NULL);
    tf_test_sql (db, "UPDATE tickets SET priority = NULL WHERE id = %lld", (long long) unranked);
    char late_no [32];
    int64_t late = s_ticket (db, "P1", "accepted", late_no);
    tf_test_sql (db, "UPDATE tickets SET status = 'resolved' WHERE id = %lld", (long long) late);
    cr_assert_eq (s_timers (db, id), 0);
    cr_assert_eq (tf_net_send_ticket_event (claimed, TF_MSG_CLAIMED, id, no), 0);
    cr_assert_eq (tf_net_send_ticket_event (claimed, TF_MSG_CLAIMED, unranked, "CS209901010001"), 0);
    cr_assert_eq (tf_net_send_ticket_event (claimed, TF_MSG_CLAIMED, late, late_no), 0);
    //  garbage on the event socket is ignored
    zstr_sendm (claimed, "ticket.claimed");
    zstr_send (claimed, "not msgpack");
    for (int i = 0; i < 50 && s_deadlines (db, id) < 2; i++)
        zclock_sleep (100);
    cr_assert_eq (s_deadlines (db, id), 2, "ticket.claimed makes both deadlines at once");
    //  an accepted P1: both deadlines (their warnings on the same rows), its
    //  watch (the on-duty manager at 5 minutes, the owner's SMS at 2 h), the
    //  progress cadence, and (物流信息更新延迟) the hand-over to logistics at 48 h
    cr_assert_eq (s_timers (db, id), 5);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND kind IN ('response', 'resolution') AND warn_at < due_at"
                                      " AND warn_at > (SELECT created_at FROM tickets WHERE id = %lld)",
                                  (long long) id, (long long) id), 2);
    //  due = created_at + the P1 policy's minutes (15 and 120), mirrored on the ticket
    cr_assert_eq (tf_test_scalar (db,
        "SELECT count(*) FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id WHERE t.id = %lld AND ("
        EXPECTED_DUE ")", (long long) id), 2);
    //  it was accepted in time: the response clocks are met, the resolution one runs
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id"
                                      " WHERE t.id = %lld AND s.kind = 'response'"
                                      " AND s.met_at = t.first_response_at", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND kind = 'resolution' AND met_at IS NULL AND paused_at IS NULL"
                                      " AND breached_at IS NULL", (long long) id), 1);
    //  a repeated event changes nothing; a ticket without a priority or already
    //  resolved (a late event) gets no timers; one nobody announced waits for the reconciler
    cr_assert_eq (tf_net_send_ticket_event (claimed, TF_MSG_CLAIMED, id, no), 0);
    cr_assert_eq (tf_test_wait_handled (actor, "ticketflow_messages_received_total"
                                        "{service=\"sla\",type=\"ticket.claimed\"}", 4, 5000), 4);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_events_refused_total{service=\"sla\"}"), 1);
    cr_assert_eq (s_timers (db, id), 5);
    cr_assert_eq (s_timers (db, unranked), 0);
    cr_assert_eq (s_timers (db, late), 0);
    cr_assert_eq (s_timers (db, assigned), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'sla_breached'", (long long) id), 0);

    zactor_destroy (&actor);
    zsock_destroy (&claimed);
    tf_db_destroy (&db);
    tf_db_destroy (&lock);
}

Test (sla, reconciler_creates_timers_once_with_two_instances)
{
    tf_db_t *lock = s_serialized ();
    tf_db_t *db = s_db ();
    enum { N = 30 };
    int64_t ids [N];
    for (int i = 0; i < N; i++)
        ids [i] = s_ticket (db, i % 3 == 0? "P1": i % 3 == 1? "P2": "P3", i % 2? "accepted": "assigned", NULL);
    //  resolved or closed tickets get no timers
    int64_t resolved = s_ticket (db, "P2", "accepted", NULL);
    tf_test_sql (db, "UPDATE tickets SET status = 'closed' WHERE id = %lld", (long long) resolved);
    char list [N * 24];
    size_t o = 0;
    for (int i = 0; i < N; i++)
        o += (size_t) snprintf (list + o, sizeof list - o, i? ",%lld": "%lld", (long long) ids [i]);

    //  two instances start at once and both reconcile at start
    tf_config_t cfg;
    char claimed_endpoint [256];
    zsock_t *claimed = s_config (&cfg, claimed_endpoint, sizeof claimed_endpoint);
    cfg.batch_size = 7;             //  several rounds each, interleaved
    zactor_t *a = tf_test_service_new (&sla_service, &cfg);
    zactor_t *b = tf_test_service_new (&sla_service, &cfg);
    char *ea = tf_actor_query (a, "ENDPOINT"), *eb = tf_actor_query (b, "ENDPOINT");
    cr_assert (ea && eb && !streq (ea, "ERROR") && !streq (eb, "ERROR"));
    zstr_free (&ea);
    zstr_free (&eb);
    //  the pipe answers after the first reconcile; give the loop a moment anyway
#define DEADLINES_OF(list) "SELECT count(*) FROM sla_timers WHERE ticket_id IN (" list ")" \
                           " AND kind IN ('response', 'resolution')"
    for (int i = 0; i < 50 && tf_test_scalar (db, DEADLINES_OF ("%s"), list) < 2 * N; i++)
        zclock_sleep (100);
    cr_assert_eq (tf_test_scalar (db, DEADLINES_OF ("%s"), list), 2 * N);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM (SELECT ticket_id FROM sla_timers WHERE ticket_id IN (%s)"
                                      " AND kind IN ('response', 'resolution')"
                                      " GROUP BY ticket_id HAVING count(*) = 2 AND count(DISTINCT kind) = 2) x",
                                  list), N);
    long long clocks = tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id IN (%s)", list);
    //  from the manuals' table, mirrored on the ticket
    cr_assert_eq (tf_test_scalar (db,
        "SELECT count(*) FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id"
        " WHERE t.id IN (%s) AND (" EXPECTED_DUE ")", list), 2 * N);
    //  the accepted ones have their response deadline met
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id"
                                      " WHERE t.id IN (%s) AND s.kind = 'response' AND s.met_at IS NOT NULL",
                                  list), N / 2);
    cr_assert_eq (s_timers (db, resolved), 0);
    zactor_destroy (&a);
    zactor_destroy (&b);

    //  and directly: again, and on the claimed path, nothing doubles
    sla_t *sla = sla_new (db);
    cr_assert (sla);
    cr_assert_geq (sla_track_missing (sla, 1000), 0);
    cr_assert_eq (sla_track (sla, ids, N), 0, "no ticket gets new timers");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id IN (%s)", list), clocks);
    sla_destroy (&sla);
    zsock_destroy (&claimed);
    tf_db_destroy (&db);
    tf_db_destroy (&lock);
}

Test (sla, breach_is_published_once_and_marked)
{
    tf_test_alone ();           //  every breach marked meanwhile is one of these two instances
    tf_db_t *db = s_db ();
    long long notes = tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE kind = 'sla_breached'");
    char no [32];
    int64_t id = s_ticket (db, "P1", "assigned", no);
    int64_t paused = s_ticket (db, "P1", "assigned", NULL);
    int64_t met = s_ticket (db, "P1", "accepted", NULL);
    sla_t *sla = sla_new (db);
    cr_assert (sla);
    int64_t all [] = { id, paused, met };
    cr_assert_eq (sla_track (sla, all, 3), 3);
    sla_destroy (&sla);

    //  two instances, each publishing on its own PUB
    tf_config_t cfg;
    char claimed_endpoint [256];
    zsock_t *claimed = s_config (&cfg, claimed_endpoint, sizeof claimed_endpoint);
    cfg.reconcile_seconds = 1;
    cfg.sla_window_seconds = 5;
    zactor_t *a = tf_test_service (&sla_service, &cfg, "ENDPOINT", NULL);
    zactor_t *b = tf_test_service (&sla_service, &cfg, "ENDPOINT", NULL);
    zsock_t *subs [] = { s_subscribe (a), s_subscribe (b) };
    zclock_sleep (300);             //  the subscriptions reach the publishers

    //  the response deadline of `id` passed a second ago; `paused` is overdue
    //  but paused; `met` is overdue but was answered in time
    tf_test_sql (db, "UPDATE sla_timers SET due_at = now () - interval '1 second'"
                     " WHERE ticket_id = %lld AND kind = 'response'", (long long) id);
    tf_test_sql (db, "UPDATE sla_timers SET due_at = now () - interval '1 minute', paused_at = now ()"
                     " WHERE ticket_id = %lld", (long long) paused);
    //  (answered longer ago than the reconciler looks back for lost claims:
    //  the breach pass itself must tell it was met)
    tf_test_sql (db, "UPDATE tickets SET first_response_at = now () - interval '2 hours',"
                     " accepted_at = now () - interval '2 hours' WHERE id = %lld", (long long) met);
    tf_test_sql (db, "UPDATE sla_timers SET due_at = now () - interval '1 second', met_at = NULL"
                     " WHERE ticket_id = %lld AND kind = 'response'", (long long) met);

    tf_msg_t event;
    zmsg_t *frames = NULL;
    cr_assert_eq (s_collect_breaches (subs, 2, id, zclock_mono () + 6000, true, &event, &frames), 1,
                  "no sla.breached within 6 s");
    //  nobody publishes it again: each breach marked is published once, by
    //  the instance that marked it (each read waits for that actor's loop
    //  to go round, so a pass under way has published what it marked)
    const char *sent = "ticketflow_messages_sent_total{service=\"sla\",type=\"sla.breached\"}";
    const char *overdue = "SELECT count(*) FROM sla_timers WHERE met_at IS NULL AND breached_at IS NULL"
                          " AND paused_at IS NULL AND due_at <= now ()";
    for (int i = 0; i < 100 && tf_test_scalar (db, "%s", overdue) > 0; i++)
        zclock_sleep (50);          //  what earlier tests left overdue is marked too
    cr_assert_eq (tf_test_scalar (db, "%s", overdue), 0);
    double published = tf_test_metric (a, sent) + tf_test_metric (b, sent);
    cr_assert_eq (published, tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE kind = 'sla_breached'")
                             - notes, "sla.breached was published twice, or a breach not at all");
    //  the fields
    char *field = tf_msg_strdup (&event, TF_F_BREACHED_TICKET_NO);
    cr_assert_str_eq (field, no);
    free (field);
    field = tf_msg_strdup (&event, TF_F_BREACHED_KIND);
    cr_assert_str_eq (field, "response");
    free (field);
    field = tf_msg_strdup (&event, TF_F_BREACHED_DEPARTMENT);
    cr_assert_str_eq (field, "logistics");
    free (field);
    field = tf_msg_strdup (&event, TF_F_BREACHED_PRIORITY);
    cr_assert_str_eq (field, "P1");
    free (field);
    cr_assert_eq (tf_msg_int (&event, TF_F_BREACHED_DUE_AT),
                  tf_test_scalar (db, "SELECT floor (extract (epoch FROM due_at))::bigint FROM sla_timers"
                                      " WHERE ticket_id = %lld AND kind = 'response'", (long long) id));
    zmsg_destroy (&frames);

    //  the missed response deadline sent it to logistics' team lead (if
    //  one is on the roster): level 1, announced on the same topic
    s_collect_breaches (subs, 2, id, zclock_mono () + 3000, false, NULL, NULL);
    cr_assert_eq (s_escalated_level, 1, "no sla.escalated (level 1) for the breached ticket");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND escalation_level = 1"
                                      " AND escalated_to IS NOT DISTINCT FROM (SELECT name FROM agents"
                                      "   WHERE department = 'logistics' AND role = 'team_lead'"
                                      "   ORDER BY on_duty DESC, id LIMIT 1)", (long long) id), 1);

    //  the database: timer and ticket marked, one history note {kind, due_at}
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND breached_at IS NOT NULL", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld"
                                      " AND response_breached AND NOT resolve_breached AND status = 'assigned'",
                                  (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events e JOIN sla_timers s"
                                      " ON s.ticket_id = e.ticket_id AND s.kind = 'response'"
                                      " WHERE e.ticket_id = %lld AND e.kind = 'sla_breached' AND e.actor = 'sla'"
                                      " AND e.data->>'kind' = 'response'"
                                      " AND (e.data->>'due_at')::timestamptz = s.due_at", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'sla_breached'", (long long) id), 1);
    //  paused clocks and deadlines met in time do not breach
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id IN (%lld, %lld)"
                                      " AND breached_at IS NOT NULL", (long long) paused, (long long) met), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id IN (%lld, %lld)"
                                      " AND (response_breached OR resolve_breached)",
                                  (long long) paused, (long long) met), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND kind = 'response' AND met_at IS NOT NULL", (long long) met), 1);

    zsock_destroy (&subs [0]);
    zsock_destroy (&subs [1]);
    zactor_destroy (&a);
    zactor_destroy (&b);
    zsock_destroy (&claimed);
    tf_db_destroy (&db);
}

Test (sla, timers_survive_a_restart)
{
    tf_db_t *lock = s_serialized ();
    tf_db_t *db = s_db ();
    char no [32];
    int64_t id = s_ticket (db, "P2", "accepted", no);
    sla_t *sla = sla_new (db);
    cr_assert (sla);
    cr_assert_eq (sla_track (sla, &id, 1), 1);
    sla_destroy (&sla);
    //  the resolution deadline falls due in 3 s
    tf_test_sql (db, "UPDATE sla_timers SET due_at = now () + interval '3 seconds'"
                     " WHERE ticket_id = %lld AND kind = 'resolution'", (long long) id);

    tf_config_t cfg;
    char claimed_endpoint [256];
    zsock_t *claimed = s_config (&cfg, claimed_endpoint, sizeof claimed_endpoint);
    cfg.reconcile_seconds = 3600;   //  the window alone must fire it
    //  a first instance loads the timer into memory, then stops before it is due
    zactor_t *first = tf_test_service (&sla_service, &cfg, "ENDPOINT", NULL);
    zactor_destroy (&first);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND breached_at IS NOT NULL", (long long) id), 0);
    //  the next instance finds it in the database and fires it on time
    zactor_t *actor = tf_test_service (&sla_service, &cfg, "ENDPOINT", NULL);
    zsock_t *sub = s_subscribe (actor);
    tf_msg_t event;
    zmsg_t *frames = NULL;
    cr_assert_eq (s_collect_breaches (&sub, 1, id, zclock_mono () + 7000, true, &event, &frames), 1,
                  "no sla.breached after the restart");
    char *kind = tf_msg_strdup (&event, TF_F_BREACHED_KIND);
    cr_assert_str_eq (kind, "resolution");
    free (kind);
    zmsg_destroy (&frames);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld"
                                      " AND resolve_breached AND NOT response_breached", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'sla_breached' AND data->>'kind' = 'resolution'",
                                  (long long) id), 1);
    zsock_destroy (&sub);
    zactor_destroy (&actor);
    zsock_destroy (&claimed);
    tf_db_destroy (&db);
    tf_db_destroy (&lock);
}

//  A hold request packed by hand: the codec would refuse to encode it.
static char *
s_raw_hold (zsock_t *dealer, const char *ticket_no, bool with_reason)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, with_reason? 3: 2);
    msgpack_pack_str_with_body (&pk, "ticket_no", 9);
    msgpack_pack_str_with_body (&pk, ticket_no, strlen (ticket_no));
    msgpack_pack_str_with_body (&pk, "until", 5);
    msgpack_pack_str_with_body (&pk, "2099-01-01T00:00:00Z", 20);
    if (with_reason) {
        msgpack_pack_str_with_body (&pk, "reason", 6);
        msgpack_pack_str_with_body (&pk, "", 0);    //  present but empty: too short
    }
    zmsg_t *m = zmsg_new ();
    zmsg_addmem (m, "", 0);
    zmsg_addstr (m, "ticket.hold");
    zmsg_addmem (m, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    cr_assert_eq (zmsg_send (&m, dealer), 0);
    zmsg_t *reply = zmsg_recv (dealer);
    cr_assert (reply, "no reply");
    zframe_destroy (&(zframe_t *) { zmsg_pop (reply) });
    zframe_t *type = zmsg_pop (reply), *body = zmsg_pop (reply);
    cr_assert (type && body && zframe_streq (type, "error"));
    tf_msg_t err_msg;
    tf_error_t err;
    cr_assert_eq (tf_codec_decode_body (TF_MSG_ERROR, zframe_data (body), zframe_size (body), &err_msg, &err), 0);
    char *code = tf_msg_strdup (&err_msg, TF_F_ERROR_CODE);
    char *field = tf_msg_strdup (&err_msg, TF_F_ERROR_FIELD);
    char *answer = zsys_sprintf ("%s:%s", code, field? field: "");
    free (code);
    free (field);
    zframe_destroy (&type);
    zframe_destroy (&body);
    zmsg_destroy (&reply);
    return answer;
}

Test (sla, handling_through_the_actor)
{
    tf_db_t *lock = s_serialized ();
    tf_db_t *db = s_db ();
    tf_config_t cfg;
    char claimed_endpoint [256];
    zsock_t *claimed = s_config (&cfg, claimed_endpoint, sizeof claimed_endpoint);
    char *endpoint;
    zactor_t *actor = tf_test_service (&sla_service, &cfg, "ENDPOINT", &endpoint);
    char *events = tf_actor_query (actor, "EVENTS");
    cr_assert (events && *events);
    zsock_t *resolved = zsock_new (ZMQ_PULL);
    tf_test_as_service (resolved);
    cr_assert_eq (zsock_connect (resolved, "%s", events), 0);
    zsock_set_rcvtimeo (resolved, 5000);

    char no [32];
    int64_t id = s_ticket (db, "P2", "accepted", no);
    sla_t *sla = sla_new (db);
    cr_assert_eq (sla_track (sla, &id, 1), 1);
    sla_destroy (&sla);

    //  progress → in_progress, the note masked, by the assignee
    tf_msg_t m = s_request (TF_MSG_PROGRESS, no);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_NOTE, "已致电客户 13812345678");
    s_expect (endpoint, m, "in_progress");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'progress' AND from_status = 'accepted' AND to_status = 'in_progress'"
                                      " AND note = '已致电客户 138****5678' AND actor = '小王'", (long long) id), 1);
    m = s_request (TF_MSG_PROGRESS, no);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_NOTE, "快递公司已回复");
    tf_msg_set_cstr (&m, TF_F_PROGRESS_ACTOR, "主管");
    s_expect (endpoint, m, "in_progress");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'progress' AND actor = '主管' AND to_status IS NULL",
                                  (long long) id), 1);

    //  hold: a missing reason is refused by the codec, a past `until` by sla; nothing changes
    long long history = s_history (db, id);
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, endpoint, 1 << 20);
    zsock_set_rcvtimeo (dealer, 5000);
    char *answer = s_raw_hold (dealer, no, false);
    cr_assert_str_eq (answer, "missing_field:reason");
    free (answer);
    answer = s_raw_hold (dealer, no, true);
    cr_assert (strncmp (answer, "too_long:reason", 15) == 0 || strncmp (answer, "bad_value:reason", 16) == 0,
               "empty reason: %s", answer);
    free (answer);
    zsock_destroy (&dealer);
    m = s_request (TF_MSG_HOLD, no);
    tf_msg_set_cstr (&m, TF_F_HOLD_REASON, "等待仓库核实");
    tf_msg_set_cstr (&m, TF_F_HOLD_UNTIL, "2020-01-01T00:00:00+08:00");
    s_expect (endpoint, m, "error:bad_value:until");
    cr_assert_eq (s_history (db, id), history);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'in_progress'"
                                      " AND hold_reason IS NULL", (long long) id), 1);

    //  hold → on_hold, reason and until kept, the resolution clock paused
    m = s_request (TF_MSG_HOLD, no);
    tf_msg_set_cstr (&m, TF_F_HOLD_REASON, "等待仓库核实");
    tf_msg_set_cstr (&m, TF_F_HOLD_UNTIL, "2099-01-01T00:00:00+08:00");
    s_expect (endpoint, m, "on_hold");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'on_hold'"
                                      " AND hold_reason = '等待仓库核实'"
                                      " AND hold_until = '2099-01-01T00:00:00+08:00'", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND kind = 'resolution' AND paused_at IS NOT NULL", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'hold'"
                                      " AND to_status = 'on_hold' AND data->>'until' = '2099-01-01T00:00:00+08:00'",
                                  (long long) id), 1);
    //  on hold: no hold again, no resolve, no progress
    m = s_request (TF_MSG_HOLD, no);
    tf_msg_set_cstr (&m, TF_F_HOLD_REASON, "again");
    tf_msg_set_cstr (&m, TF_F_HOLD_UNTIL, "2099-01-01T00:00:00Z");
    s_expect (endpoint, m, "error:illegal_transition:ticket_no");
    m = s_request (TF_MSG_RESOLVE, no);
    tf_msg_set_cstr (&m, TF_F_RESOLVE_SUMMARY, "done");
    s_expect (endpoint, m, "error:illegal_transition:ticket_no");

    //  resume: the resolution deadline gets back the time it had left, so it
    //  moves by the time on hold (as if paused 10 minutes ago)
    tf_test_sql (db, "UPDATE sla_timers SET paused_at = paused_at - interval '10 minutes',"
                     " due_at = due_at - interval '10 minutes' WHERE ticket_id = %lld AND kind = 'resolution'",
                 (long long) id);
    long long due_before = tf_test_scalar (db, "SELECT floor (extract (epoch FROM due_at))::bigint FROM sla_timers"
                                               " WHERE ticket_id = %lld AND kind = 'resolution'", (long long) id);
    s_expect (endpoint, s_request (TF_MSG_RESUME, no), "in_progress");
    long long due_after = tf_test_scalar (db, "SELECT floor (extract (epoch FROM s.due_at))::bigint FROM sla_timers s"
                                              " JOIN tickets t ON t.id = s.ticket_id WHERE t.id = %lld"
                                              " AND s.kind = 'resolution' AND s.paused_at IS NULL"
                                              " AND t.resolve_due_at = s.due_at AND t.hold_reason IS NULL"
                                              " AND t.hold_until IS NULL", (long long) id);
    cr_assert_geq (due_after - due_before, 599, "moved by %lld s", due_after - due_before);
    cr_assert_leq (due_after - due_before, 660, "moved by %lld s", due_after - due_before);
    s_expect (endpoint, s_request (TF_MSG_RESUME, no), "error:illegal_transition:ticket_no");

    //  resolve → resolved, summary kept, resolution deadline met, ticket.resolved sent
    m = s_request (TF_MSG_RESOLVE, no);
    tf_msg_set_cstr (&m, TF_F_RESOLVE_SUMMARY, "已补发，客户确认收到");
    s_expect (endpoint, m, "resolved");
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'resolved'"
                                      " AND resolution_summary = '已补发，客户确认收到' AND resolved_at IS NOT NULL",
                                  (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld"
                                      " AND kind IN ('response', 'resolution')"
                                      " AND met_at IS NOT NULL AND breached_at IS NULL", (long long) id), 2);
    zmsg_t *event = zmsg_recv (resolved);
    cr_assert (event, "no ticket.resolved");
    cr_assert (zframe_streq (zmsg_first (event), "ticket.resolved"));
    zframe_t *body = zmsg_next (event);
    tf_msg_t msg;
    tf_error_t err;
    cr_assert_eq (tf_codec_decode_body (TF_MSG_RESOLVED, zframe_data (body), zframe_size (body), &msg, &err), 0);
    cr_assert_eq (tf_msg_int (&msg, TF_F_RESOLVED_TICKET_ID), id);
    zmsg_destroy (&event);

    //  a closed ticket cannot be resolved, held or progressed: nothing changes
    tf_test_sql (db, "UPDATE tickets SET status = 'closed' WHERE id = %lld", (long long) id);
    history = s_history (db, id);
    m = s_request (TF_MSG_RESOLVE, no);
    tf_msg_set_cstr (&m, TF_F_RESOLVE_SUMMARY, "again");
    char *refused = s_call (endpoint, &m);
    cr_assert_str_eq (refused, "error:illegal_transition:ticket_no");
    free (refused);
    m = s_request (TF_MSG_PROGRESS, no);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_NOTE, "late note");
    s_expect (endpoint, m, "error:illegal_transition:ticket_no");
    cr_assert_eq (s_history (db, id), history);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'closed'"
                                      " AND resolution_summary = '已补发，客户确认收到'", (long long) id), 1);
    //  an unknown ticket
    m = s_request (TF_MSG_RESOLVE, "CS209901019999");
    tf_msg_set_cstr (&m, TF_F_RESOLVE_SUMMARY, "x");
    s_expect (endpoint, m, "error:not_found:ticket_no");
    //  no second ticket.resolved went out (it would have before the loop
    //  went round for the metrics)
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_sent_total{service=\"sla\",type=\"ticket.resolved\"}"), 1,
                  "a refused resolve sent ticket.resolved");

    zsock_destroy (&resolved);
    zstr_free (&events);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
    zsock_destroy (&claimed);
    tf_db_destroy (&db);
    tf_db_destroy (&lock);
}

Test (sla, illegal_transitions_name_the_status)
{
    tf_db_t *db = s_db ();
    sla_t *sla = sla_new (db);
    cr_assert (sla);
    char no [32], status [16];
    int64_t id = s_ticket (db, "P3", "assigned", no), got;
    tf_error_t err;
    //  an assigned ticket (not yet accepted) cannot be handled
    tf_msg_t m = s_request (TF_MSG_PROGRESS, no);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_NOTE, "x");
    cr_assert_eq (sla_progress (sla, &m, &got, status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    cr_assert (strstr (err.message, "assigned"), "%s", err.message);
    tf_msg_clear (&m);
    //  accepted → resolved directly is allowed
    tf_test_sql (db, "UPDATE tickets SET status = 'accepted', assignee = '小李' WHERE id = %lld", (long long) id);
    m = s_request (TF_MSG_RESOLVE, no);
    tf_msg_set_cstr (&m, TF_F_RESOLVE_SUMMARY, "告知了优惠券的位置");
    cr_assert_eq (sla_resolve (sla, &m, &got, status, &err), 0, "%s", err.message);
    cr_assert_str_eq (status, "resolved");
    cr_assert_eq (got, id);
    //  resolve a resolved one, hold a resolved one, resume one not on hold
    long long history = s_history (db, id);
    cr_assert_eq (sla_resolve (sla, &m, &got, status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    cr_assert (strstr (err.message, "resolved"), "%s", err.message);
    tf_msg_clear (&m);
    m = s_request (TF_MSG_HOLD, no);
    tf_msg_set_cstr (&m, TF_F_HOLD_REASON, "x");
    tf_msg_set_cstr (&m, TF_F_HOLD_UNTIL, "2099-01-01T00:00:00Z");
    cr_assert_eq (sla_hold (sla, &m, &got, status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    tf_msg_clear (&m);
    m = s_request (TF_MSG_RESUME, no);
    cr_assert_eq (sla_resume (sla, &m, &got, status, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    cr_assert (strstr (err.message, "resolved"), "%s", err.message);
    tf_msg_clear (&m);
    cr_assert_eq (s_history (db, id), history);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'resolved'"
                                      " AND hold_reason IS NULL", (long long) id), 1);
    //  the transaction is closed after every refusal: the connection still works
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld", (long long) id), 1);
    sla_destroy (&sla);
    tf_db_destroy (&db);
}

Test (sla, expired_holds_resume)
{
    tf_db_t *db = s_db ();
    sla_t *sla = sla_new (db);
    cr_assert (sla);
    char no [32], status [16];
    int64_t id = s_ticket (db, "P2", "accepted", no), got;
    cr_assert_eq (sla_track (sla, &id, 1), 1);
    tf_msg_t m = s_request (TF_MSG_HOLD, no);
    tf_msg_set_cstr (&m, TF_F_HOLD_REASON, "等客户回电");
    tf_msg_set_cstr (&m, TF_F_HOLD_UNTIL, "2099-01-01T00:00:00Z");
    tf_error_t err;
    cr_assert_eq (sla_hold (sla, &m, &got, status, &err), 0, "%s", err.message);
    tf_msg_clear (&m);
    //  its expected resume time passed (an hour on hold)
    tf_test_sql (db, "UPDATE tickets SET hold_until = now () - interval '1 second' WHERE id = %lld", (long long) id);
    tf_test_sql (db, "UPDATE sla_timers SET paused_at = now () - interval '1 hour', due_at = due_at - interval '1 hour'"
                     " WHERE ticket_id = %lld AND kind = 'resolution'", (long long) id);
    long long due_before = tf_test_scalar (db, "SELECT floor (extract (epoch FROM due_at))::bigint FROM sla_timers"
                                               " WHERE ticket_id = %lld AND kind = 'resolution'", (long long) id);
    cr_assert_geq (sla_expire_holds (sla, 100), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'in_progress'"
                                      " AND hold_until IS NULL AND hold_reason IS NULL", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'hold_expired' AND actor = 'sla' AND to_status = 'in_progress'",
                                  (long long) id), 1);
    long long due_after = tf_test_scalar (db, "SELECT floor (extract (epoch FROM due_at))::bigint FROM sla_timers"
                                              " WHERE ticket_id = %lld AND kind = 'resolution' AND paused_at IS NULL",
                                          (long long) id);
    cr_assert_geq (due_after - due_before, 3599);
    cr_assert_leq (due_after - due_before, 3660);
    //  once only
    sla_expire_holds (sla, 100);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'hold_expired'", (long long) id), 1);
    sla_destroy (&sla);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  The reconciler and the hold timer on their own: the input points where
//  nothing binds, so no ticket.claimed can arrive

static zactor_t *
s_alone_actor (tf_config_t *cfg, char **endpoint)
{
    tf_test_config (cfg);
    cfg->dispatcher_events_endpoint = tf_test_nowhere ();
    cfg->reconcile_seconds = 1;
    return tf_test_service (&sla_service, cfg, "ENDPOINT", endpoint);
}

static bool
s_wait_true (tf_db_t *db, int timeout_ms, const char *sql)
{
    return tf_test_wait_scalar (db, 1, timeout_ms, "%s", sql) == 1;
}

Test (sla, new_tickets_get_deadlines_and_the_reconciler_meets_a_lost_claim)
{
    tf_test_alone ();           //  it takes every ticket without timers there is
    tf_db_t *db = s_db ();
    tf_config_t cfg;
    zactor_t *actor = s_alone_actor (&cfg, NULL);
    const char *reconciled = "ticketflow_reconciled_total{service=\"sla\"}";
    //  a ticket with a priority and no deadlines, no event: sla finds it
    //  by itself within a second, and does not count it as a lost event
    double before = tf_test_metric (actor, reconciled);
    int64_t id = s_ticket (db, "P2", "assigned", NULL);
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT (count(*) = 2)::int FROM sla_timers WHERE ticket_id = %lld"
                               " AND kind IN ('response', 'resolution')", (long long) id);
    cr_assert (s_wait_true (db, 2000, sql), "no deadlines within 2 s");
    cr_assert_eq (tf_test_metric (actor, reconciled), before);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_received_total{service=\"sla\",type=\"ticket.claimed\"}"), 0);
    cr_assert_eq (tf_test_scalar (db,
        "SELECT count(*) FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id WHERE t.id = %lld AND ("
        EXPECTED_DUE ") AND s.met_at IS NULL", (long long) id), 2);

    //  a ticket whose timers run, then accepted: its ticket.claimed is lost.
    //  Its timers are made where the reconciler cannot see it without them.
    char no [32];
    int64_t claimed = s_ticket (db, NULL, "assigned", no);
    sla_t *sla = sla_new (db);
    cr_assert (sla);
    cr_assert_eq (tf_db_begin (db), 0);
    tf_test_sql (db, "UPDATE tickets SET priority = 'P2' WHERE id = %lld", (long long) claimed);
    cr_assert_eq (sla_track (sla, &claimed, 1), 1);
    cr_assert_eq (tf_db_finish (db, 0), 0);
    sla_destroy (&sla);
    //  the two deadlines, the hand-over to logistics
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld AND met_at IS NULL",
                                  (long long) claimed), 3);
    tf_test_sql (db, "UPDATE tickets SET status = 'accepted', status_changed_at = now (), assignee = '小王',"
                     " accepted_at = now (), first_response_at = now () WHERE id = %lld", (long long) claimed);
    snprintf (sql, sizeof sql, "SELECT count(*) FROM sla_timers s JOIN tickets t ON t.id = s.ticket_id"
                               " WHERE t.id = %lld AND s.kind = 'response' AND s.met_at = t.first_response_at",
              (long long) claimed);
    cr_assert (s_wait_true (db, 10000, sql), "the reconciler did not meet the response deadline of the lost claim");
    cr_assert_geq (tf_test_wait_handled (actor, reconciled, before + 1, 5000), before + 1,
                   "the reconciler met a deadline of a lost ticket.claimed and did not count it");
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_received_total{service=\"sla\",type=\"ticket.claimed\"}"), 0);
    //  once: two deadlines each, the resolution deadline still running
    cr_assert_eq (s_deadlines (db, id), 2);
    cr_assert_eq (s_deadlines (db, claimed), 2);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM sla_timers WHERE ticket_id = %lld AND kind = 'resolution'"
                                      " AND met_at IS NULL AND paused_at IS NULL", (long long) claimed), 1);
    zactor_destroy (&actor);
    tf_db_destroy (&db);
}

//  The hold timer through the actor: a hold until two seconds from now
//  ends by itself
Test (sla, a_hold_ends_by_itself_when_its_time_comes)
{
    tf_test_alone ();           //  any sla (a direct call too) would resume what is due
    tf_db_t *db = s_db ();
    tf_config_t cfg;
    char *endpoint;
    zactor_t *actor = s_alone_actor (&cfg, &endpoint);
    char no [32];
    int64_t id = s_ticket (db, "P2", "accepted", no);
    tf_msg_t m = s_request (TF_MSG_PROGRESS, no);
    tf_msg_set_cstr (&m, TF_F_PROGRESS_NOTE, "联系了仓库");
    s_expect (endpoint, m, "in_progress");
    long long due_before = tf_test_scalar (db, "SELECT (extract (epoch FROM due_at) * 1000)::bigint FROM sla_timers"
                                               " WHERE ticket_id = %lld AND kind = 'resolution'", (long long) id);
    char until [64];
    time_t later = time (NULL) + 2;
    strftime (until, sizeof until, "%Y-%m-%dT%H:%M:%SZ", gmtime (&later));
    m = s_request (TF_MSG_HOLD, no);
    tf_msg_set_cstr (&m, TF_F_HOLD_REASON, "等仓库回电");
    tf_msg_set_cstr (&m, TF_F_HOLD_UNTIL, until);
    s_expect (endpoint, m, "on_hold");
    char sql [256];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'in_progress'", (long long) id);
    cr_assert (s_wait_true (db, 10000, sql), "the hold did not end by itself");
    cr_assert_geq (tf_test_wait_handled (actor, "ticketflow_ticket_moves_total{service=\"sla\",move=\"HOLD_EXPIRED\"}",
                                         1, 5000), 1);
    cr_assert_geq (tf_test_metric (actor, "ticketflow_reconciled_total{service=\"sla\"}"), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'hold_expired'"
                                      " AND actor = 'sla' AND from_status = 'on_hold' AND to_status = 'in_progress'",
                                  (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND hold_until IS NULL"
                                      " AND hold_reason IS NULL", (long long) id), 1);
    //  not before its time, and the resolution clock moved by the pause
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events h JOIN ticket_events e"
                                      " ON e.ticket_id = h.ticket_id AND e.kind = 'hold_expired'"
                                      " WHERE h.ticket_id = %lld AND h.kind = 'hold'"
                                      " AND e.at >= (h.data->>'until')::timestamptz", (long long) id), 1);
    long long due_after = tf_test_scalar (db, "SELECT (extract (epoch FROM s.due_at) * 1000)::bigint FROM sla_timers s"
                                              " JOIN tickets t ON t.id = s.ticket_id WHERE t.id = %lld"
                                              " AND s.kind = 'resolution' AND s.paused_at IS NULL"
                                              " AND t.resolve_due_at = s.due_at", (long long) id);
    //  on hold from the request to past `until`: at least about a second
    cr_assert_geq (due_after - due_before, 900, "moved by %lld ms", due_after - due_before);
    cr_assert_leq (due_after - due_before, 12000, "moved by %lld ms", due_after - due_before);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
    tf_db_destroy (&db);
}

Test (sla, hostile_requests_get_errors)
{
    tf_db_t *lock = s_serialized ();
    tf_config_t cfg;
    char claimed_endpoint [256];
    zsock_t *claimed = s_config (&cfg, claimed_endpoint, sizeof claimed_endpoint);
    char *endpoint;
    zactor_t *actor = tf_test_service (&sla_service, &cfg, "ENDPOINT", &endpoint);
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, endpoint, 1 << 20);
    zsock_set_rcvtimeo (dealer, 5000);
    struct { const char *type; const char *body; size_t len; const char *code; } cases [] = {
        { "ticket.resolve", "\x81\xa9ticket_no\x05", 12, TF_ERR_WRONG_TYPE },
        { "ticket.hold", "\x81\xa9ticket_no\xa1x", 13, TF_ERR_MISSING_FIELD },
        { "ticket.resume", "\xdf\xff\xff\xff\xff", 5, NULL },
        { "ticket.progress", "", 0, NULL },
        { "ticket.submit", "\x80", 1, NULL },
        { "sla.breached", "\x80", 1, NULL },
        { "nonsense", "\x80", 1, TF_ERR_UNKNOWN_TYPE },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        zmsg_t *m = zmsg_new ();
        zmsg_addmem (m, "", 0);
        zmsg_addstr (m, cases [i].type);
        zmsg_addmem (m, cases [i].body, cases [i].len);
        zmsg_send (&m, dealer);
        zmsg_t *reply = zmsg_recv (dealer);
        cr_assert (reply, "no reply to %s", cases [i].type);
        zframe_t *type = (zmsg_first (reply), zmsg_next (reply));
        cr_assert (zframe_streq (type, "error"), "%s was not refused", cases [i].type);
        if (cases [i].code) {
            zframe_t *body = zmsg_next (reply);
            tf_msg_t e;
            tf_error_t err;
            cr_assert_eq (tf_codec_decode_body (TF_MSG_ERROR, zframe_data (body), zframe_size (body), &e, &err), 0);
            char *code = tf_msg_strdup (&e, TF_F_ERROR_CODE);
            cr_assert_str_eq (code, cases [i].code, "%s", cases [i].type);
            free (code);
        }
        zmsg_destroy (&reply);
    }
    //  a one-frame message still gets an answer
    zmsg_t *m = zmsg_new ();
    zmsg_addmem (m, "", 0);
    zmsg_send (&m, dealer);
    zmsg_t *reply = zmsg_recv (dealer);
    cr_assert (reply);
    zmsg_destroy (&reply);
    //  and the service still answers
    tf_msg_t ping, pong;
    tf_msg_init (&ping, TF_MSG_PING);
    zmsg_t *frames;
    tf_error_t err;
    cr_assert_eq (tf_net_request (endpoint, &ping, 5000, &frames, &pong, &err), 0);
    cr_assert_eq (pong.type, TF_MSG_PONG);
    char *service = tf_msg_strdup (&pong, TF_F_PONG_SERVICE);
    cr_assert_str_eq (service, "sla");
    free (service);
    zmsg_destroy (&frames);
    char *answer = tf_actor_query (actor, "NOSUCH");
    cr_assert_str_eq (answer, "");
    zstr_free (&answer);
    zsock_destroy (&dealer);
    zsock_destroy (&claimed);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
    tf_db_destroy (&lock);
}
