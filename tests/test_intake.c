//  The receive stage: numbering, storing, masking, idempotency, the actor
//  over ZeroMQ and HTTP under concurrent clients, hostile requests.
#include "intake.h"
#include "intake_service.h"
#include "tf_actor.h"
#include "tf_net.h"
#include "tf_test.h"
#include "tf_private.h"
#include "tf_token.h"
#include <limits.h>
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <pthread.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (intake, .timeout = 60);

Test (intake, ticket_numbers)
{
    char no [32];
    cr_assert_eq (intake_format_ticket_no (no, sizeof no, 2023, 10, 27, 1), 0);
    cr_assert_str_eq (no, "CS202310270001");
    cr_assert_eq (intake_format_ticket_no (no, sizeof no, 2023, 10, 27, 123456), 0);
    cr_assert_str_eq (no, "CS20231027123456");
    cr_assert_eq (intake_format_ticket_no (no, sizeof no, 2023, 10, 27, 0), -1);
    cr_assert_eq (intake_format_ticket_no (no, sizeof no, 2023, 13, 27, 5), -1);
    cr_assert_eq (intake_format_ticket_no (no, sizeof no, 2023, 10, 27, 1000000), -1);
    cr_assert (intake_ticket_no_valid ("CS202310270001", 14));
    cr_assert_not (intake_ticket_no_valid ("CS2023102700", 12));
    cr_assert_not (intake_ticket_no_valid ("XS202310270001", 14));
    cr_assert_not (intake_ticket_no_valid ("CS20231027000A", 14));
}

//  --------------------------------------------------------------------------
//  Direct calls, no sockets

static void
s_submit_msg (tf_msg_t *m, const char *channel, const char *external_id, const char *body)
{
    tf_msg_init (m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (m, TF_F_SUBMIT_CHANNEL, channel);
    tf_msg_set_cstr (m, TF_F_SUBMIT_BODY, body);
    tf_msg_set_cstr (m, TF_F_SUBMIT_EXTERNAL_ID, external_id);
    tf_msg_set_cstr (m, TF_F_CUSTOMER_ID, "C-test");
    tf_msg_set_cstr (m, TF_F_CUSTOMER_PHONE, "13812345678");
}

Test (intake, stores_masks_and_records_history)
{
    tf_db_t *db = tf_test_db ();
    intake_t *intake = intake_new (db);
    cr_assert (intake);
    char ext [96];
    snprintf (ext, sizeof ext, "store-%s", tf_test_unique ());
    tf_msg_t m;
    s_submit_msg (&m, "wechat", ext, "电话13812345678 身份证110101199003071234 包裹坏了");
    const tf_msg_t *batch [] = { &m };
    intake_result_t r;
    cr_assert_eq (intake_submit (intake, batch, 1, &r), 0);
    cr_assert (r.ok);
    cr_assert_not (r.duplicate);
    cr_assert (intake_ticket_no_valid (r.ticket_no, strlen (r.ticket_no)));
    //  stored masked; the phone of the contact lives apart, sealed: only
    //  the key from outside the database opens it
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND body LIKE '%%138****5678%%'"
                                      " AND body LIKE '%%110***********1234%%' AND body NOT LIKE '%%13812345678%%'"
                                      " AND status = 'received' AND source = 'customer'", (long long) r.ticket_id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_contacts WHERE ticket_id = %lld AND phone IS NULL"
                                      " AND position ('13812345678' in encode (phone_sealed, 'escape')) = 0"
                                      " AND pgp_sym_decrypt (phone_sealed, '%s') = '13812345678'"
                                      " AND customer_ref = 'C-test'", (long long) r.ticket_id, tf_private_key ()), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'received' AND to_status = 'received' AND actor = 'intake'"
                                      " AND (data->>'masked')::int = 2", (long long) r.ticket_id), 1);
    //  the history is append-only
    PGresult *res = tf_db_query (db, "UPDATE ticket_events SET note = 'x'", 0, NULL);
    cr_assert_eq (PQresultStatus (res), PGRES_FATAL_ERROR);
    PQclear (res);
    //  the JSON view carries the ticket and its history
    tf_error_t err;
    char *json = intake_ticket_json (intake, r.ticket_no, strlen (r.ticket_no), &err);
    cr_assert (json);
    cr_assert (strstr (json, "\"history\": [{"));
    //  why it has its priority, and whether it belongs to a mass incident
    cr_assert (strstr (json, "\"priority_reasons\": []"), "%s", json);
    cr_assert (strstr (json, "\"incident_id\": null"));
    cr_assert (strstr (json, "\"sentiment\": null"));
    cr_assert (strstr (json, "\"reopen_count\": 0"));
    cr_assert (strstr (json, "138****5678"));
    free (json);
    cr_assert_null (intake_ticket_json (intake, "CS209901010001", 14, &err));
    cr_assert_str_eq (err.code, TF_ERR_NOT_FOUND);
    cr_assert_null (intake_ticket_json (intake, "../etc", 6, &err));
    cr_assert_str_eq (err.code, TF_ERR_NOT_FOUND);
    tf_msg_clear (&m);
    intake_destroy (&intake);
    tf_db_destroy (&db);
}

Test (intake, idempotent_within_and_across_batches)
{
    tf_db_t *db = tf_test_db ();
    intake_t *intake = intake_new (db);
    char a [96], b [96];
    snprintf (a, sizeof a, "idem-a-%s", tf_test_unique ());
    snprintf (b, sizeof b, "idem-b-%s", tf_test_unique ());
    tf_msg_t m [4];
    s_submit_msg (&m [0], "taobao", a, "first");
    s_submit_msg (&m [1], "taobao", a, "first again, same batch");
    s_submit_msg (&m [2], "jd", a, "same id, other channel: a new ticket");
    s_submit_msg (&m [3], "taobao", b, "second");
    const tf_msg_t *batch [] = { &m [0], &m [1], &m [2], &m [3] };
    intake_result_t r [4];
    cr_assert_eq (intake_submit (intake, batch, 4, r), 0);
    for (int i = 0; i < 4; i++)
        cr_assert (r [i].ok);
    cr_assert_str_eq (r [1].ticket_no, r [0].ticket_no);
    cr_assert (r [1].duplicate);
    cr_assert_not (r [2].duplicate);
    cr_assert_str_neq (r [2].ticket_no, r [0].ticket_no);
    //  a later batch repeating both
    const tf_msg_t *again [] = { &m [3], &m [0] };
    intake_result_t r2 [2];
    cr_assert_eq (intake_submit (intake, again, 2, r2), 0);
    cr_assert (r2 [0].duplicate && r2 [1].duplicate);
    cr_assert_str_eq (r2 [0].ticket_no, r [3].ticket_no);
    cr_assert_str_eq (r2 [1].ticket_no, r [0].ticket_no);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE external_id IN ('%s', '%s')", a, b), 3);
    for (int i = 0; i < 4; i++)
        tf_msg_clear (&m [i]);
    intake_destroy (&intake);
    tf_db_destroy (&db);
}

//  Two intakes (objects, each on a connection of its own) store the same
//  300 submissions at once from two threads, the same 50 at a time, so
//  each batch races with its twin: one ticket per (channel, external_id),
//  and both answer every submission with its number.
#define SAME_SUBMISSIONS 300
#define SAME_BATCH 50

typedef struct {
    intake_t *intake;
    const tf_msg_t *const *batch;
    pthread_barrier_t *start;
    intake_result_t results [SAME_SUBMISSIONS];
    int failed;
} submitter_t;

static void *
s_submitter (void *arg)
{
    submitter_t *self = arg;
    pthread_barrier_wait (self->start);
    for (int first = 0; first < SAME_SUBMISSIONS; first += SAME_BATCH)
        if (intake_submit (self->intake, self->batch + first, SAME_BATCH, self->results + first))
            self->failed++;
    return NULL;
}

Test (intake, two_intakes_store_the_same_batch_once)
{
    tf_db_t *db = tf_test_db ();
    char tag [96];
    snprintf (tag, sizeof tag, "same-%s", tf_test_unique ());
    static tf_msg_t msgs [SAME_SUBMISSIONS];
    static const tf_msg_t *batch [SAME_SUBMISSIONS];
    static char externals [SAME_SUBMISSIONS][128];
    for (int i = 0; i < SAME_SUBMISSIONS; i++) {
        snprintf (externals [i], sizeof externals [i], "%s-%d", tag, i);
        s_submit_msg (&msgs [i], i % 2? "wechat": "app", externals [i], "同一批提交了两次");
        batch [i] = &msgs [i];
    }
    pthread_barrier_t start;
    pthread_barrier_init (&start, NULL, 2);
    tf_db_t *conn [2];
    static submitter_t submitters [2];
    pthread_t threads [2];
    for (int k = 0; k < 2; k++) {
        conn [k] = tf_test_db ();
        memset (&submitters [k], 0, sizeof submitters [k]);
        submitters [k].intake = intake_new (conn [k]);
        cr_assert (submitters [k].intake);
        submitters [k].batch = batch;
        submitters [k].start = &start;
    }
    for (int k = 0; k < 2; k++)
        pthread_create (&threads [k], NULL, s_submitter, &submitters [k]);
    for (int k = 0; k < 2; k++)
        pthread_join (threads [k], NULL);
    pthread_barrier_destroy (&start);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq (submitters [k].failed, 0, "intake %d: a batch failed", k);
        intake_destroy (&submitters [k].intake);
        tf_db_destroy (&conn [k]);
    }
    //  both answered every submission with the same ticket; one of them stored it
    for (int i = 0; i < SAME_SUBMISSIONS; i++) {
        const intake_result_t *a = &submitters [0].results [i], *b = &submitters [1].results [i];
        cr_assert (a->ok && b->ok, "submission %d not answered", i);
        cr_assert_str_eq (a->ticket_no, b->ticket_no, "submission %d got two numbers", i);
        cr_assert_eq (a->ticket_id, b->ticket_id);
        cr_assert (a->duplicate != b->duplicate, "submission %d: %s", i,
                   a->duplicate? "stored by neither": "stored twice");
        tf_msg_clear (&msgs [i]);
    }
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE external_id LIKE '%s-%%'", tag),
                  SAME_SUBMISSIONS);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(DISTINCT ticket_no) FROM tickets WHERE external_id LIKE '%s-%%'",
                                  tag), SAME_SUBMISSIONS);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
                                      " WHERE t.external_id LIKE '%s-%%' AND e.kind = 'received'", tag),
                  SAME_SUBMISSIONS);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_contacts c JOIN tickets t ON t.id = c.ticket_id"
                                      " WHERE t.external_id LIKE '%s-%%'", tag), SAME_SUBMISSIONS);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  The actor under concurrent ZeroMQ and HTTP clients

#define CLIENTS 4
#define PER_CLIENT 60

typedef struct {
    char endpoint [256];
    int http_port;
    int client;
    bool http;
    char numbers [PER_CLIENT][32];
    int ok;
} client_t;

static size_t
s_curl_write (char *data, size_t size, size_t n, void *arg)
{
    strncat ((char *) arg, data, size * n < 1000? size * n: 1000);
    return size * n;
}

static int
s_http_post (int port, const char *json, char *response, size_t cap)
{
    CURL *curl = curl_easy_init ();
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d/v1/tickets", port);
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    headers = curl_slist_append (headers, tf_test_bearer ());
    memset (response, 0, cap);
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_POSTFIELDS, json);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_curl_write);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, response);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT, 10L);
    long status = 0;
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_slist_free_all (headers);
    curl_easy_cleanup (curl);
    return (int) status;
}

static void *
s_client (void *arg)
{
    client_t *c = arg;
    for (int i = 0; i < PER_CLIENT; i++) {
        char ext [128];
        //  every third request repeats the previous one: must be idempotent
        int k = i % 3 == 2? i - 1: i;
        snprintf (ext, sizeof ext, "load-%s-%d-%d", tf_test_unique (), c->client, k);
        if (c->http) {
            char json [512], response [1024];
            snprintf (json, sizeof json, "{\"channel\":\"web\",\"external_id\":\"%s\",\"body\":\"网页提交 %d\","
                                         "\"customer\":{\"id\":\"H%d\"}}", ext, i, c->client);
            int status = s_http_post (c->http_port, json, response, sizeof response);
            char *no = strstr (response, "\"ticket_no\":\"");
            if ((status == 201 || (status == 200 && k != i)) && no) {
                snprintf (c->numbers [i], 32, "%.16s", no + 13);
                char *quote = strchr (c->numbers [i], '"');
                if (quote)
                    *quote = 0;
                c->ok++;
            }
        }
        else {
            tf_msg_t m, reply;
            s_submit_msg (&m, "app", ext, "app submission");
            zmsg_t *frames;
            tf_error_t err;
            if (tf_net_request (c->endpoint, &m, 10000, &frames, &reply, &err) == 0
            &&  reply.type == TF_MSG_ACCEPTED
            &&  tf_msg_bool (&reply, TF_F_ACCEPTED_DUPLICATE) == (k != i)) {
                snprintf (c->numbers [i], 32, "%.*s", (int) reply.v [TF_F_ACCEPTED_TICKET_NO].len,
                          reply.v [TF_F_ACCEPTED_TICKET_NO].str);
                c->ok++;
            }
            zmsg_destroy (&frames);
            tf_msg_clear (&m);
        }
    }
    return NULL;
}

Test (intake, concurrent_clients_over_zeromq_and_http_on_two_instances)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    cfg.batch_size = 32;
    char *endpoint [2], *port [2];
    zactor_t *actor [2];
    for (int i = 0; i < 2; i++) {
        actor [i] = tf_test_service (&intake_service, &cfg, "ENDPOINT", &endpoint [i]);
        port [i] = tf_actor_query (actor [i], "HTTP-PORT");
    }
    curl_global_init (CURL_GLOBAL_ALL);
    client_t clients [CLIENTS * 2];
    pthread_t threads [CLIENTS * 2];
    for (int i = 0; i < CLIENTS * 2; i++) {
        memset (&clients [i], 0, sizeof clients [i]);
        clients [i].client = i;
        clients [i].http = i % 2;
        //  half the clients on each instance
        snprintf (clients [i].endpoint, sizeof clients [i].endpoint, "%s", endpoint [i / CLIENTS]);
        clients [i].http_port = atoi (port [i / CLIENTS]);
    tf_test_token ();            //  made once, before the threads share it
        pthread_create (&threads [i], NULL, s_client, &clients [i]);
    }
    for (int i = 0; i < CLIENTS * 2; i++)
        pthread_join (threads [i], NULL);
    //  every request answered; repeats gave the first number; all numbers unique
    zhash_t *seen = zhash_new ();
    int distinct = 0;
    for (int i = 0; i < CLIENTS * 2; i++) {
        cr_assert_eq (clients [i].ok, PER_CLIENT, "client %d: %d of %d answered as expected",
                      i, clients [i].ok, PER_CLIENT);
        for (int k = 0; k < PER_CLIENT; k++) {
            if (k % 3 == 2) {
                cr_assert_str_eq (clients [i].numbers [k], clients [i].numbers [k - 1]);
                continue;
            }
            cr_assert_eq (zhash_insert (seen, clients [i].numbers [k], "x"), 0,
                          "number %s handed out twice", clients [i].numbers [k]);
            distinct++;
        }
    }
    tf_db_t *db = tf_test_db ();
    long long stored = tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE external_id LIKE 'load-%s-%%'",
                                       tf_test_unique ());
    cr_assert_eq (stored, distinct, "%lld tickets stored, %d numbers handed out", stored, distinct);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(DISTINCT ticket_no) FROM tickets WHERE external_id LIKE 'load-%s-%%'",
                                  tf_test_unique ()), distinct);
    //  each stored ticket has exactly one 'received' history row
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events e JOIN tickets t ON t.id = e.ticket_id"
                                      " WHERE t.external_id LIKE 'load-%s-%%' AND e.kind = 'received'",
                                  tf_test_unique ()), distinct);
    tf_db_destroy (&db);
    zhash_destroy (&seen);
    for (int i = 0; i < 2; i++) {
        zstr_free (&endpoint [i]);
        zstr_free (&port [i]);
        zactor_destroy (&actor [i]);
    }
    curl_global_cleanup ();
}

//  --------------------------------------------------------------------------
//  Hostile requests get one error reply each and the service keeps serving

static zmsg_t *
s_roundtrip (zsock_t *dealer, zmsg_t **request)
{
    cr_assert_eq (zmsg_send (request, dealer), 0);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    zmsg_t *reply = zpoller_wait (poller, 5000) == dealer? zmsg_recv (dealer): NULL;
    zpoller_destroy (&poller);
    return reply;
}

static void
s_expect_error (zsock_t *dealer, zmsg_t *request, const char *code)
{
    zmsg_t *reply = s_roundtrip (dealer, &request);
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
    cr_assert (msg.v [TF_F_ERROR_CODE].len == strlen (code) && memcmp (msg.v [TF_F_ERROR_CODE].str, code, strlen (code)) == 0,
               "expected %s, got %.*s", code, (int) msg.v [TF_F_ERROR_CODE].len, msg.v [TF_F_ERROR_CODE].str);
    zmsg_destroy (&reply);
}

Test (intake, hostile_requests_get_error_replies)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    char *endpoint;
    zactor_t *actor = tf_test_service (&intake_service, &cfg, "ENDPOINT", &endpoint);
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, endpoint, 1 << 20);
    zmsg_t *m;

    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "ticket.submit");
    s_expect_error (dealer, m, TF_ERR_BAD_FRAMES);
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "a"); zmsg_addstr (m, "b"); zmsg_addstr (m, "c");
    s_expect_error (dealer, m, TF_ERR_BAD_FRAMES);
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "ticket.submit"); zmsg_addmem (m, "\xdd\xff\x00\x00\x00", 5);
    s_expect_error (dealer, m, TF_ERR_BAD_MSGPACK);
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "ticket.submit"); zmsg_addmem (m, "\x80", 1);
    s_expect_error (dealer, m, TF_ERR_MISSING_FIELD);
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "ticket.burn"); zmsg_addmem (m, "\x80", 1);
    s_expect_error (dealer, m, TF_ERR_UNKNOWN_TYPE);
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "ticket.accepted"); zmsg_addmem (m, "\x80", 1);
    s_expect_error (dealer, m, TF_ERR_UNKNOWN_TYPE);
    m = zmsg_new (); zmsg_addmem (m, "", 0); zmsg_addstr (m, "ticket.get"); zmsg_addmem (m, "\x81\xa9ticket_no\xae" "CS209901019999", 26);
    s_expect_error (dealer, m, TF_ERR_NOT_FOUND);
    //  no delimiter at all (a careless DEALER): still read, still one reply
    m = zmsg_new (); zmsg_addstr (m, "ticket.submit"); zmsg_addmem (m, "\xc1", 1);
    s_expect_error (dealer, m, TF_ERR_BAD_MSGPACK);

    //  and it still serves
    tf_msg_t ping, reply;
    tf_msg_init (&ping, TF_MSG_PING);
    zmsg_t *frames;
    tf_error_t err;
    cr_assert_eq (tf_net_request (endpoint, &ping, 5000, &frames, &reply, &err), 0);
    cr_assert_eq (reply.type, TF_MSG_PONG);
    zmsg_destroy (&frames);
    zsock_destroy (&dealer);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
}

Test (intake, publishes_received_after_commit)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    char *endpoint;
    zactor_t *actor = tf_test_service (&intake_service, &cfg, "ENDPOINT", &endpoint);
    char *events = tf_actor_query (actor, "EVENTS");
    zsock_t *pull = tf_test_pull (events);
    zclock_sleep (100);         //  let the PULL connect before the event goes out
    tf_msg_t m, reply;
    char ext [96];
    snprintf (ext, sizeof ext, "event-%s", tf_test_unique ());
    s_submit_msg (&m, "email", ext, "event please");
    zmsg_t *frames;
    tf_error_t err;
    cr_assert_eq (tf_net_request (endpoint, &m, 5000, &frames, &reply, &err), 0);
    cr_assert_eq (reply.type, TF_MSG_ACCEPTED);
    int64_t id = tf_msg_int (&reply, TF_F_ACCEPTED_TICKET_ID);
    zsock_set_rcvtimeo (pull, 5000);
    zmsg_t *event_frames;
    tf_msg_t event;
    cr_assert_eq (tf_net_recv_event (pull, false, &event_frames, &event, &err), 0, "%s", err.message);
    cr_assert_eq (event.type, TF_MSG_RECEIVED);
    cr_assert_eq (tf_msg_int (&event, TF_F_RECEIVED_TICKET_ID), id);
    //  the event comes after the commit: the ticket is visible to anyone
    tf_db_t *db = tf_test_db ();
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld", (long long) id), 1);
    tf_db_destroy (&db);
    zmsg_destroy (&event_frames);
    zmsg_destroy (&frames);
    tf_msg_clear (&m);
    zsock_destroy (&pull);
    zstr_free (&events);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
}

//  A client in another language, written from proto/events.md alone
Test (intake, python_client_from_the_spec)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    char *endpoint;
    zactor_t *actor = tf_test_service (&intake_service, &cfg, "ENDPOINT", &endpoint);
    char *port = tf_actor_query (actor, "HTTP-PORT");
    //  a wechat adapter's certificate, a web adapter's token
    char name [64], cert [PATH_MAX], why [256], token [64];
    snprintf (name, sizeof name, "py-wechat-%s", tf_test_unique ());
    snprintf (cert, sizeof cert, "%s/%s.cert", tf_test_keys_dir (), name);
    cr_assert_eq (tf_keys_issue (tf_test_keys_dir (), name, TF_ROLE_ADAPTER, NULL, "wechat", cert, why,
                                 sizeof why), 0, "%s", why);
    tf_db_t *db = tf_test_db ();
    tf_identity_t web = { .role = TF_ROLE_ADAPTER, .channel = "web" };
    snprintf (web.name, sizeof web.name, "py-web-%.40s", tf_test_unique ());
    tf_error_t err;
    cr_assert_eq (tf_token_create (db, &web, token, sizeof token, &err), 0, "%s", err.message);
    char command [PATH_MAX * 2 + 512];
    snprintf (command, sizeof command, "/usr/bin/python3 %s/tests/python_client.py %s %s %s %s",
              tf_home (), endpoint, port, cert, token);
    int rc = system (command);
    cr_assert_eq (rc, 0, "python client failed (exit %d): %s", rc, command);
    tf_keys_revoke (tf_test_keys_dir (), name);
    tf_token_revoke (db, web.name);
    tf_db_destroy (&db);
    zstr_free (&port);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
}

Test (intake, feedback_only_on_resolved_tickets)
{
    tf_db_t *db = tf_test_db ();
    intake_t *intake = intake_new (db);
    char ext [96];
    snprintf (ext, sizeof ext, "feedback-%s", tf_test_unique ());
    tf_msg_t m;
    s_submit_msg (&m, "app", ext, "refund please");
    const tf_msg_t *batch [] = { &m };
    intake_result_t r;
    cr_assert_eq (intake_submit (intake, batch, 1, &r), 0);
    tf_msg_clear (&m);

    tf_msg_t fb;
    tf_msg_init (&fb, TF_MSG_FEEDBACK);
    tf_msg_set_cstr (&fb, TF_F_FEEDBACK_TICKET_NO, r.ticket_no);
    tf_msg_set_bool (&fb, TF_F_FEEDBACK_SOLVED, false);
    tf_msg_set_int (&fb, TF_F_FEEDBACK_CSAT, 2);
    tf_msg_set_cstr (&fb, TF_F_FEEDBACK_COMMENT, "still broken, call 13812345678");
    tf_error_t err;
    int64_t ticket_id;
    cr_assert_eq (intake_feedback (intake, &fb, &ticket_id, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    cr_assert (strstr (err.message, "is received"), "%s", err.message);

    tf_test_scalar (db, "UPDATE tickets SET status = 'resolved' WHERE id = %lld RETURNING 1", (long long) r.ticket_id);
    int64_t fid = intake_feedback (intake, &fb, &ticket_id, &err);
    cr_assert_gt (fid, 0, "%s", err.message);
    cr_assert_eq (ticket_id, r.ticket_id);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM feedback WHERE id = %lld AND NOT solved AND csat = 2"
                                      " AND comment LIKE '%%138****5678%%' AND processed_at IS NULL", (long long) fid), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'feedback_received'", (long long) r.ticket_id), 1);
    tf_msg_set_cstr (&fb, TF_F_FEEDBACK_TICKET_NO, "CS209901010001");
    cr_assert_eq (intake_feedback (intake, &fb, &ticket_id, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_NOT_FOUND);
    tf_msg_clear (&fb);
    intake_destroy (&intake);
    tf_db_destroy (&db);
}
