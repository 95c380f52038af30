//  The service engine on its own, with descriptors made here: the handler
//  table check, draining requests into runs with one reply each in order,
//  request ownership, events as sets of ids, $TERM, RELOAD, pipe queries,
//  the reconcile and tick hooks, the ops HTTP face, life without a database.
//
//  A fake service takes the id and the requests of an existing owner
//  (reporting: report.summary) so that tf_engine_check lets it start; its
//  handlers and hooks record what the engine gave them. Criterion runs each
//  test in a process of its own, so the record is one static per test.
#include "classifier_service.h"
#include "dispatcher_service.h"
#include "intake_service.h"
#include "notifier_service.h"
#include "reporting_service.h"
#include "sla_service.h"
#include "tf_actor.h"
#include "tf_net.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <curl/curl.h>
#include <msgpack.h>
#include <pthread.h>
#include <unistd.h>

TestSuite (engine, .timeout = 30);

//  --------------------------------------------------------------------------
//  What the fake service's handlers and hooks saw

#define MAX_SEEN 1024
#define MAX_CALLS 16

typedef struct {
    pthread_mutex_t lock;
    //  report.summary: the seq of each request in the order the handler
    //  got them, and the length of each run
    int seqs [MAX_SEEN];
    size_t nseqs;
    size_t runs [MAX_SEEN];
    size_t nruns;
    bool gate;                  //  the first run waits for `go` (so that a queue forms)
    bool go;
    bool skip_odd;              //  leave requests with an odd seq unanswered
    bool wake;                  //  the handler calls tf_engine_wake
    bool send;                  //  the handler sends a ticket event on output 0
    bool bad_reply;             //  the handler answers with a reply the codec refuses
    bool run_of_two_types;      //  a run held requests of more than one type
    int sent, dropped;
    int64_t woken_at;
    size_t ticks_at_wake;
    //  events, per consumer: the ids of each call
    int64_t confirmed [MAX_CALLS][MAX_SEEN], reopened [MAX_CALLS][MAX_SEEN];
    size_t nconfirmed [MAX_CALLS], nreopened [MAX_CALLS];
    size_t confirmed_calls, reopened_calls;
    bool entered;               //  the first ticket.confirmed call waits for `go`
    //  hooks
    int64_t reconcile_at [MAX_CALLS];
    size_t nreconcile;
    int full_call;              //  this reconcile call returns a full batch (-1: none)
    int64_t tick_at [MAX_CALLS];
    size_t nticks;
    int tick_delay_ms;          //  the first tick asks for the next one this much later
    int reloads;
    char reload_answer [64];
} record_t;

static record_t s_rec = { .lock = PTHREAD_MUTEX_INITIALIZER, .full_call = -1 };

static size_t
s_count (size_t *counter)
{
    pthread_mutex_lock (&s_rec.lock);
    size_t n = *counter;
    pthread_mutex_unlock (&s_rec.lock);
    return n;
}

//  Waits up to timeout_ms until *counter reaches n; true when it did.
static bool
s_wait_count (size_t *counter, size_t n, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (s_count (counter) < n)
        if (zclock_mono () > deadline)
            return false;
        else
            zclock_sleep (5);
    return true;
}

static void
s_open_gate (void)
{
    pthread_mutex_lock (&s_rec.lock);
    s_rec.go = true;
    pthread_mutex_unlock (&s_rec.lock);
}

//  In the engine's thread: waits (at most 5 s, so nothing hangs) for the test to say go
static void
s_wait_gate (void)
{
    int64_t deadline = zclock_mono () + 5000;
    while (zclock_mono () < deadline) {
        pthread_mutex_lock (&s_rec.lock);
        bool go = s_rec.go;
        pthread_mutex_unlock (&s_rec.lock);
        if (go)
            return;
        zclock_sleep (2);
    }
}

static void *
s_create (tf_engine_t *engine)
{
    (void) engine;
    return &s_rec;
}

static void
s_destroy (void **state_p)
{
    *state_p = NULL;
}

//  The "seq" key a test client puts in a request's body; the codec ignores
//  unknown keys, so the request stays valid. -1 when there is none.
static int
s_seq (const tf_request_t *request)
{
    zframe_t *body = zmsg_last (request->frames);
    msgpack_unpacked u;
    msgpack_unpacked_init (&u);
    int seq = -1;
    if (body && msgpack_unpack_next (&u, (const char *) zframe_data (body), zframe_size (body), NULL)
                == MSGPACK_UNPACK_SUCCESS
    &&  u.data.type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
            msgpack_object_kv *kv = &u.data.via.map.ptr [i];
            if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == 3
            &&  memcmp (kv->key.via.str.ptr, "seq", 3) == 0
            &&  kv->val.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
                seq = (int) kv->val.via.u64;
        }
    msgpack_unpacked_destroy (&u);
    return seq;
}

//  report.summary: records the run, answers each with report {summary: seq}
static void
s_summary (void *state, tf_engine_t *engine, tf_request_t **requests, size_t n)
{
    record_t *rec = state;
    pthread_mutex_lock (&rec->lock);
    bool first = rec->nruns == 0;
    if (rec->nruns < MAX_SEEN)
        rec->runs [rec->nruns++] = n;
    for (size_t i = 0; i < n; i++) {
        if (rec->nseqs < MAX_SEEN)
            rec->seqs [rec->nseqs++] = s_seq (requests [i]);
        if (requests [i]->msg.type != requests [0]->msg.type)
            rec->run_of_two_types = true;
    }
    bool gate = rec->gate, skip_odd = rec->skip_odd, wake = rec->wake, send = rec->send;
    bool bad_reply = rec->bad_reply;
    pthread_mutex_unlock (&rec->lock);
    if (first && gate)
        s_wait_gate ();
    for (size_t i = 0; i < n; i++) {
        int seq = s_seq (requests [i]);
        if (skip_odd && seq % 2)
            continue;           //  the engine must answer these
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        msgpack_pack_int (&pk, seq);
        tf_msg_t reply;
        tf_msg_init (&reply, TF_MSG_REPORT);
        if (!bad_reply)         //  else the required summary is missing
            tf_msg_set_raw (&reply, TF_F_REPORT_SUMMARY, sbuf.data, sbuf.size);
        tf_engine_reply (engine, requests [i], &reply);
        tf_msg_clear (&reply);
        msgpack_sbuffer_destroy (&sbuf);
    }
    if (send) {
        int rc = tf_engine_send_ticket (engine, 0, TF_MSG_CONFIRMED, 42, "CS202611230042");
        pthread_mutex_lock (&rec->lock);
        rc? rec->dropped++: rec->sent++;
        pthread_mutex_unlock (&rec->lock);
    }
    if (wake) {
        pthread_mutex_lock (&rec->lock);
        rec->woken_at = zclock_mono ();
        rec->ticks_at_wake = rec->nticks;
        pthread_mutex_unlock (&rec->lock);
        tf_engine_wake (engine);
    }
}

static void
s_record_ids (int64_t ids [MAX_CALLS][MAX_SEEN], size_t *counts, size_t *calls,
              const int64_t *given, size_t n)
{
    pthread_mutex_lock (&s_rec.lock);
    size_t call = *calls;
    if (call < MAX_CALLS) {
        for (size_t i = 0; i < n && i < MAX_SEEN; i++)
            ids [call][i] = given [i];
        counts [call] = n;
        *calls = call + 1;
    }
    pthread_mutex_unlock (&s_rec.lock);
}

static int
s_confirmed (void *state, tf_engine_t *engine, const int64_t *ids, size_t n)
{
    record_t *rec = state;
    (void) engine;
    pthread_mutex_lock (&rec->lock);
    bool first = !rec->entered;
    rec->entered = true;
    pthread_mutex_unlock (&rec->lock);
    if (first)
        s_wait_gate ();
    s_record_ids (rec->confirmed, rec->nconfirmed, &rec->confirmed_calls, ids, n);
    return (int) n;
}

static int
s_reopened (void *state, tf_engine_t *engine, const int64_t *ids, size_t n)
{
    record_t *rec = state;
    (void) engine;
    s_record_ids (rec->reopened, rec->nreopened, &rec->reopened_calls, ids, n);
    return (int) n;
}

static int
s_reconcile (void *state, tf_engine_t *engine)
{
    record_t *rec = state;
    pthread_mutex_lock (&rec->lock);
    int call = (int) rec->nreconcile;
    if (rec->nreconcile < MAX_CALLS)
        rec->reconcile_at [rec->nreconcile++] = zclock_mono ();
    pthread_mutex_unlock (&rec->lock);
    return call == rec->full_call? tf_engine_config (engine)->batch_size: 0;
}

static int64_t
s_tick (void *state, tf_engine_t *engine)
{
    record_t *rec = state;
    (void) engine;
    int64_t now = zclock_mono ();
    pthread_mutex_lock (&rec->lock);
    bool first = rec->nticks == 0;
    if (rec->nticks < MAX_CALLS)
        rec->tick_at [rec->nticks++] = now;
    pthread_mutex_unlock (&rec->lock);
    return first? now + rec->tick_delay_ms: INT64_MAX;
}

static const char *
s_reload (void *state, tf_engine_t *engine)
{
    record_t *rec = state;
    (void) engine;
    pthread_mutex_lock (&rec->lock);
    snprintf (rec->reload_answer, sizeof rec->reload_answer, "reloaded %d", ++rec->reloads);
    pthread_mutex_unlock (&rec->lock);
    return rec->reload_answer;
}

static const char *
s_query (void *state, tf_engine_t *engine, const char *command)
{
    (void) state;
    (void) engine;
    return streq (command, "HELLO")? "world": NULL;
}

//  The same, one request at a time: the engine walks the run
static void
s_summary_one (void *state, tf_engine_t *engine, tf_request_t *request)
{
    s_summary (state, engine, &request, 1);
}

static const tf_handler_t s_summary_one_handler [] = {
    { .type = TF_MSG_REPORT_SUMMARY, .one = s_summary_one },
    { .type = TF_MSG_NONE }
};

static const tf_handler_t s_summary_handler [] = {
    { .type = TF_MSG_REPORT_SUMMARY, .handle = s_summary, .needs_database = false },
    { .type = TF_MSG_NONE }
};
static const tf_output_t s_no_outputs [] = { { .query = NULL } };

//  The fake: reporting's id and request, every hook of the test's own
static tf_service_t
s_fake (void)
{
    return (tf_service_t) {
        .id = TF_SVC_REPORTING,
        .summary = "a fake service of test_engine",
        .request_setting = "reporting-endpoint",
        .ops_port_setting = "reporting-ops-port",
        .outputs = s_no_outputs,
        .handlers = s_summary_handler,
        .create = s_create,
        .destroy = s_destroy,
    };
}

//  --------------------------------------------------------------------------
//  A client on one DEALER

static zsock_t *
s_dealer (const char *endpoint)
{
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, endpoint, 1 << 20);
    cr_assert (dealer);
    zsock_set_rcvtimeo (dealer, 10000);
    zsock_set_sndtimeo (dealer, 5000);
    return dealer;
}

//  report.summary with {seq}
static void
s_send_summary (zsock_t *dealer, int seq)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "seq", 3);
    msgpack_pack_int (&pk, seq);
    tf_test_send_raw (dealer, "report.summary", sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
}

//  A valid request of `type` (report.summary, ticket.submit, ticket.get or
//  ticket.feedback) with {seq}
static void
s_send_request (zsock_t *dealer, tf_msg_type_t type, int seq)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, type == TF_MSG_SUBMIT? 4: type == TF_MSG_FEEDBACK? 3: type == TF_MSG_GET? 2: 1);
    msgpack_pack_str_with_body (&pk, "seq", 3);
    msgpack_pack_int (&pk, seq);
    if (type == TF_MSG_GET || type == TF_MSG_FEEDBACK) {
        msgpack_pack_str_with_body (&pk, "ticket_no", 9);
        msgpack_pack_str_with_body (&pk, "CS202611230001", 14);
    }
    if (type == TF_MSG_FEEDBACK) {
        msgpack_pack_str_with_body (&pk, "solved", 6);
        msgpack_pack_true (&pk);
    }
    if (type == TF_MSG_SUBMIT) {
        msgpack_pack_str_with_body (&pk, "channel", 7);
        msgpack_pack_str_with_body (&pk, "app", 3);
        msgpack_pack_str_with_body (&pk, "body", 4);
        msgpack_pack_str_with_body (&pk, "test", 4);
        msgpack_pack_str_with_body (&pk, "customer", 8);
        msgpack_pack_map (&pk, 1);
        msgpack_pack_str_with_body (&pk, "id", 2);
        msgpack_pack_str_with_body (&pk, "c", 1);
    }
    tf_test_send_raw (dealer, tf_schemas [type].name, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
}

typedef struct {
    tf_msg_type_t type;
    char code [40];             //  error: its code
    int seq;                    //  report: its summary
} reply_t;

//  The next reply; fails the test when none comes within the DEALER's timeout.
static reply_t
s_recv (zsock_t *dealer)
{
    zmsg_t *m = zmsg_recv (dealer);
    cr_assert (m, "no reply");
    cr_assert_eq (zmsg_size (m), 3, "a reply is [\"\", type, body]");
    zframe_t *delimiter = zmsg_first (m);
    cr_assert_eq (zframe_size (delimiter), 0);
    zframe_t *type = zmsg_next (m);
    zframe_t *body = zmsg_next (m);
    tf_msg_t msg;
    tf_error_t err;
    cr_assert_eq (tf_codec_decode (zframe_data (type), zframe_size (type), zframe_data (body),
                                   zframe_size (body), &msg, &err), 0, "%s", err.message);
    reply_t r = { .type = msg.type, .seq = -1 };
    if (msg.type == TF_MSG_ERROR)
        snprintf (r.code, sizeof r.code, "%.*s", (int) msg.v [TF_F_ERROR_CODE].len, msg.v [TF_F_ERROR_CODE].str);
    if (msg.type == TF_MSG_REPORT) {
        const tf_value_t *v = &msg.v [TF_F_REPORT_SUMMARY];
        msgpack_unpacked u;
        msgpack_unpacked_init (&u);
        if (msgpack_unpack_next (&u, v->str, v->len, NULL) == MSGPACK_UNPACK_SUCCESS
        &&  u.data.type == MSGPACK_OBJECT_POSITIVE_INTEGER)
            r.seq = (int) u.data.via.u64;
        msgpack_unpacked_destroy (&u);
    }
    zmsg_destroy (&m);
    return r;
}

//  A ping whose pong must be the very next reply: then nothing else was
//  queued for this connection before it (no second answer to anything)
static void
s_expect_nothing_before_pong (zsock_t *dealer)
{
    tf_test_send_raw (dealer, "service.ping", "\x80", 1);
    reply_t r = s_recv (dealer);
    cr_assert_eq (r.type, TF_MSG_PONG, "an extra reply (%s %s %d) came before the last pong",
                  r.type >= 0? tf_schemas [r.type].name: "?", r.code, r.seq);
}

//  --------------------------------------------------------------------------
//  The handler table

Test (engine, check_accepts_the_six_services)
{
    const tf_service_t *services [] = { &intake_service, &classifier_service, &dispatcher_service,
                                        &sla_service, &notifier_service, &reporting_service };
    for (size_t i = 0; i < sizeof services / sizeof services [0]; i++) {
        char why [256] = "";
        cr_assert (tf_engine_check (services [i], why, sizeof why), "%s: %s",
                   tf_service_names [services [i]->id], why);
    }
}

Test (engine, check_refuses_what_events_def_does_not_say)
{
    char why [256];
    //  a request it owns without a handler
    tf_service_t svc = s_fake ();
    svc.handlers = (const tf_handler_t []) { { .type = TF_MSG_NONE } };
    cr_assert_not (tf_engine_check (&svc, why, sizeof why));
    cr_assert (strstr (why, "report.summary") && strstr (why, "no handler"), "%s", why);

    //  a handler for a request another service owns
    svc = s_fake ();
    svc.handlers = (const tf_handler_t []) {
        { .type = TF_MSG_REPORT_SUMMARY, .handle = s_summary },
        { .type = TF_MSG_SUBMIT, .handle = s_summary, .needs_database = true },
        { .type = TF_MSG_NONE }
    };
    cr_assert_not (tf_engine_check (&svc, why, sizeof why));
    cr_assert (strstr (why, "ticket.submit") && strstr (why, "intake"), "%s", why);

    //  service.ping is the engine's, a reply is nobody's request
    svc.handlers = (const tf_handler_t []) {
        { .type = TF_MSG_REPORT_SUMMARY, .handle = s_summary },
        { .type = TF_MSG_PING, .handle = s_summary },
        { .type = TF_MSG_NONE }
    };
    cr_assert_not (tf_engine_check (&svc, why, sizeof why));
    cr_assert (strstr (why, "service.ping"), "%s", why);
    svc.handlers = (const tf_handler_t []) {
        { .type = TF_MSG_REPORT_SUMMARY, .handle = s_summary },
        { .type = TF_MSG_REPORT, .handle = s_summary },
        { .type = TF_MSG_NONE }
    };
    cr_assert_not (tf_engine_check (&svc, why, sizeof why));
    cr_assert (strstr (why, "handles report,"), "%s", why);

    //  a handler takes the run at once or one request at a time: one of the two
    svc.handlers = (const tf_handler_t []) { { .type = TF_MSG_REPORT_SUMMARY }, { .type = TF_MSG_NONE } };
    cr_assert_not (tf_engine_check (&svc, why, sizeof why));
    cr_assert (strstr (why, "report.summary") && strstr (why, "one of"), "%s", why);
    svc.handlers = (const tf_handler_t []) {
        { .type = TF_MSG_REPORT_SUMMARY, .handle = s_summary, .one = s_summary_one }, { .type = TF_MSG_NONE }
    };
    cr_assert_not (tf_engine_check (&svc, why, sizeof why));

    //  consumers take {ticket_id, ticket_no} events only
    tf_msg_type_t not_ticket_events [] = { TF_MSG_INCIDENT_OPENED, TF_MSG_GET, TF_MSG_ACCEPTED,
                                           TF_MSG_ASSIGNED, TF_MSG_BREACHED };
    for (size_t i = 0; i < sizeof not_ticket_events / sizeof not_ticket_events [0]; i++) {
        svc = s_fake ();
        tf_consumer_t consumers [] = { { TF_MSG_CONFIRMED, s_confirmed }, { not_ticket_events [i], s_confirmed },
                                       { .type = TF_MSG_NONE } };
        svc.consumers = consumers;
        cr_assert_not (tf_engine_check (&svc, why, sizeof why));
        cr_assert (strstr (why, tf_schemas [not_ticket_events [i]].name) && strstr (why, "not a ticket event"),
                   "%s", why);
    }
    svc = s_fake ();
    svc.consumers = (const tf_consumer_t []) { { TF_MSG_CONFIRMED, s_confirmed }, { .type = TF_MSG_NONE } };
    cr_assert (tf_engine_check (&svc, why, sizeof why), "%s", why);
}

Test (engine, a_descriptor_that_fails_the_check_does_not_start)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    tf_service_t svc = s_fake ();
    svc.handlers = (const tf_handler_t []) { { .type = TF_MSG_NONE } };
    zactor_t *actor = tf_test_service_new (&svc, &cfg);
    char *answer = tf_actor_query (actor, "ENDPOINT");
    cr_assert_str_eq (answer? answer: "(none)", "ERROR");
    zstr_free (&answer);
    zactor_destroy (&actor);
}

//  --------------------------------------------------------------------------
//  Draining and ownership

#define PIPELINED 200
#define BATCH 32

typedef enum { SUMMARY, PING, BAD_BODY, BAD_FRAMES, NOT_OURS } kind_t;

//  With `mixed`, pings, garbage and another service's request between the
//  report.summary requests; those break the runs but not the order.
static kind_t
s_kind (int i, bool mixed)
{
    if (!mixed)
        return SUMMARY;
    return i % 10 == 3? PING: i % 17 == 5? BAD_BODY: i % 23 == 7? BAD_FRAMES: i % 29 == 11? NOT_OURS: SUMMARY;
}

//  Sends PIPELINED requests on one DEALER before reading anything, then
//  checks every reply in order; returns how many were report.summary.
static size_t
s_pipeline (bool mixed, bool skip_odd, bool one_at_a_time)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    cfg.batch_size = BATCH;
    s_rec.gate = true;
    s_rec.skip_odd = skip_odd;
    tf_service_t svc = s_fake ();
    if (one_at_a_time)
        svc.handlers = s_summary_one_handler;
    char *endpoint;
    zactor_t *actor = tf_test_service (&svc, &cfg, "ENDPOINT", &endpoint);
    zsock_t *dealer = s_dealer (endpoint);

    size_t summaries = 0;
    for (int i = 0; i < PIPELINED; i++)
        switch (s_kind (i, mixed)) {
            case SUMMARY: s_send_summary (dealer, i); summaries++; break;
            case PING: tf_test_send_raw (dealer, "service.ping", "\x80", 1); break;
            case BAD_BODY: tf_test_send_raw (dealer, "report.summary", "\xc1", 1); break;
            case BAD_FRAMES: tf_test_send_raw (dealer, "report.summary", NULL, 0); break;
            case NOT_OURS: tf_test_send_raw (dealer, "ticket.get", "\x81\xa9ticket_no\xa1x", 13); break;
        }
    s_open_gate ();

    for (int i = 0; i < PIPELINED; i++) {
        reply_t r = s_recv (dealer);
        switch (s_kind (i, mixed)) {
            case SUMMARY:
                if (skip_odd && i % 2)
                    cr_assert (r.type == TF_MSG_ERROR && streq (r.code, TF_ERR_INTERNAL),
                               "request %d, left unanswered by its handler: %s %s", i,
                               r.type >= 0? tf_schemas [r.type].name: "?", r.code);
                else
                    cr_assert (r.type == TF_MSG_REPORT && r.seq == i, "request %d: got %s %s seq %d", i,
                               r.type >= 0? tf_schemas [r.type].name: "?", r.code, r.seq);
                break;
            case PING:
                cr_assert_eq (r.type, TF_MSG_PONG, "request %d: a ping", i);
                break;
            case BAD_BODY:
                cr_assert (r.type == TF_MSG_ERROR && streq (r.code, TF_ERR_BAD_MSGPACK), "request %d: %s", i, r.code);
                break;
            case BAD_FRAMES:
                cr_assert (r.type == TF_MSG_ERROR && streq (r.code, TF_ERR_BAD_FRAMES), "request %d: %s", i, r.code);
                break;
            case NOT_OURS:
                cr_assert (r.type == TF_MSG_ERROR && streq (r.code, TF_ERR_UNKNOWN_TYPE), "request %d: %s", i, r.code);
                break;
        }
    }
    s_expect_nothing_before_pong (dealer);

    //  the handler saw each report.summary once, in the order sent, in runs
    //  of at most batch-size, some longer than one
    pthread_mutex_lock (&s_rec.lock);
    cr_assert_eq (s_rec.nseqs, summaries);
    size_t k = 0;
    for (int i = 0; i < PIPELINED; i++)
        if (s_kind (i, mixed) == SUMMARY) {
            cr_assert_eq (s_rec.seqs [k], i, "the handler's request %zu was %d, not %d", k, s_rec.seqs [k], i);
            k++;
        }
    size_t total = 0, longest = 0;
    for (size_t r = 0; r < s_rec.nruns; r++) {
        total += s_rec.runs [r];
        longest = s_rec.runs [r] > longest? s_rec.runs [r]: longest;
    }
    pthread_mutex_unlock (&s_rec.lock);
    cr_assert_eq (total, summaries);
    if (one_at_a_time)
        cr_assert_eq (longest, 1, "a handler of one request at a time was given %zu", longest);
    else
        cr_assert_gt (longest, 1, "every run had one request: nothing was drained together");
    cr_assert_leq (longest, BATCH);

    zsock_destroy (&dealer);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
    return summaries;
}

Test (engine, pipelined_requests_come_in_runs_and_get_one_reply_each_in_order)
{
    cr_assert_eq (s_pipeline (false, false, false), PIPELINED);
}

Test (engine, a_handler_of_one_request_gets_each_of_the_run_in_order)
{
    cr_assert_eq (s_pipeline (false, false, true), PIPELINED);
}

Test (engine, a_handler_of_one_request_that_skips_some_gets_internal_for_them)
{
    s_pipeline (true, true, true);
}

Test (engine, pings_and_garbage_between_requests_keep_the_order)
{
    size_t summaries = s_pipeline (true, false, false);
    cr_assert_lt (summaries, PIPELINED - 30, "the mix has too few pings and garbage to mean anything");
}

Test (engine, requests_a_handler_leaves_unanswered_get_internal)
{
    s_pipeline (true, true, false);
}

//  Runs of three request types in turn, some of one request: each run is
//  of one type, and the replies still come in the order asked.
Test (engine, runs_of_different_types_keep_the_order)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    cfg.batch_size = BATCH;
    s_rec.gate = true;
    //  intake's id and its three requests, every one to the recording handler
    tf_service_t svc = s_fake ();
    svc.id = TF_SVC_INTAKE;
    svc.request_setting = "intake-endpoint";
    svc.ops_port_setting = "intake-ops-port";
    svc.handlers = (const tf_handler_t []) {
        { .type = TF_MSG_SUBMIT, .handle = s_summary, .needs_database = false }, { .type = TF_MSG_GET, .handle = s_summary, .needs_database = false }, { .type = TF_MSG_FEEDBACK, .handle = s_summary, .needs_database = false },
        { .type = TF_MSG_MESSAGE, .handle = s_summary, .needs_database = false },
        { .type = TF_MSG_SURVEY, .handle = s_summary, .needs_database = false },
        { .type = TF_MSG_STATUS, .handle = s_summary, .needs_database = false },
        { .type = TF_MSG_TOKEN_CREATE, .handle = s_summary, .needs_database = false },
        { .type = TF_MSG_TOKEN_REVOKE, .handle = s_summary, .needs_database = false },
        { .type = TF_MSG_NONE }
    };
    char *endpoint;
    zactor_t *actor = tf_test_service (&svc, &cfg, "ENDPOINT", &endpoint);
    zsock_t *dealer = s_dealer (endpoint);
    tf_msg_type_t types [] = { TF_MSG_SUBMIT, TF_MSG_GET, TF_MSG_FEEDBACK };
    for (int i = 0; i < PIPELINED; i++)
        s_send_request (dealer, types [i % 13 == 0? (i + 1) % 3: (i / 9) % 3], i);
    s_open_gate ();
    for (int i = 0; i < PIPELINED; i++) {
        reply_t r = s_recv (dealer);
        cr_assert (r.type == TF_MSG_REPORT && r.seq == i, "request %d: got %s %s seq %d", i,
                   r.type >= 0? tf_schemas [r.type].name: "?", r.code, r.seq);
    }
    s_expect_nothing_before_pong (dealer);
    pthread_mutex_lock (&s_rec.lock);
    bool two_types = s_rec.run_of_two_types;
    size_t longest = 0;
    for (size_t r = 0; r < s_rec.nruns; r++)
        longest = s_rec.runs [r] > longest? s_rec.runs [r]: longest;
    cr_assert_eq (s_rec.nseqs, PIPELINED);
    for (int i = 0; i < PIPELINED; i++)
        cr_assert_eq (s_rec.seqs [i], i);
    pthread_mutex_unlock (&s_rec.lock);
    cr_assert_not (two_types, "a run held requests of two types");
    cr_assert_gt (longest, 1);
    zsock_destroy (&dealer);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
}

//  A reply the codec refuses goes out as `internal` (tf_request_reply), and
//  the numbers say so: an error sent, a refusal by its code, no report.
Test (engine, a_reply_that_cannot_be_encoded_is_sent_and_counted_as_internal)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    tf_service_t svc = s_fake ();
    s_rec.bad_reply = true;
    char *endpoint;
    zactor_t *actor = tf_test_service (&svc, &cfg, "ENDPOINT", &endpoint);
    zsock_t *dealer = s_dealer (endpoint);
    s_send_summary (dealer, 1);
    reply_t r = s_recv (dealer);
    cr_assert (r.type == TF_MSG_ERROR && streq (r.code, TF_ERR_INTERNAL), "%s", r.code);
    s_expect_nothing_before_pong (dealer);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_sent_total{service=\"reporting\",type=\"report\"}"), 0);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_sent_total{service=\"reporting\",type=\"error\"}"), 1);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_requests_refused_total{service=\"reporting\",code=\"internal\"}"), 1);
    zsock_destroy (&dealer);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
}

//  --------------------------------------------------------------------------
//  Events

Test (engine, ticket_events_reach_their_consumers_as_sets_of_distinct_ids)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    //  inproc: what the test has sent is on the engine's side at once, so
    //  one drain finds all of it
    char endpoint [64];
    snprintf (endpoint, sizeof endpoint, "inproc://test-engine-events-%d", (int) getpid ());
    zsock_t *push = tf_net_bind (ZMQ_PUSH, endpoint, 1 << 20);
    cr_assert (push);
    zsock_set_sndtimeo (push, 5000);    //  wait for the engine's PULL rather than drop
    cfg.notifier_events_endpoint = endpoint;
    tf_service_t svc = s_fake ();
    svc.input_settings = (const char *const []) { "notifier-events-endpoint", NULL };
    svc.consumers = (const tf_consumer_t []) {
        { TF_MSG_CONFIRMED, s_confirmed }, { TF_MSG_REOPENED, s_reopened }, { .type = TF_MSG_NONE }
    };
    zactor_t *actor = tf_test_service (&svc, &cfg, "ENDPOINT", NULL);

    //  the first event holds the loop until everything else is queued
    cr_assert_eq (tf_net_send_ticket_event (push, TF_MSG_CONFIRMED, 1000, "CS202611231000"), 0);
    int64_t deadline = zclock_mono () + 5000;
    bool entered = false;
    while (!entered && zclock_mono () < deadline) {
        zclock_sleep (2);
        pthread_mutex_lock (&s_rec.lock);
        entered = s_rec.entered;
        pthread_mutex_unlock (&s_rec.lock);
    }
    cr_assert (entered, "the first ticket.confirmed did not reach its consumer");

    //  two types interleaved, with repeats; an event of a type nobody here
    //  takes and a malformed one are dropped and counted
    int64_t confirmed [] = { 1, 2, 3, 2, 4, 5, 1, 6, 7, 8, 9, 10, 3, 11, 12 };
    int64_t reopened [] = { 101, 102, 101, 103, 104, 104, 105 };
    size_t nc = sizeof confirmed / sizeof confirmed [0], nr = sizeof reopened / sizeof reopened [0];
    for (size_t i = 0; i < nc || i < nr; i++) {
        char no [32];
        if (i < nc) {
            snprintf (no, sizeof no, "CS2026112300%02d", (int) confirmed [i]);
            cr_assert_eq (tf_net_send_ticket_event (push, TF_MSG_CONFIRMED, confirmed [i], no), 0);
        }
        if (i < nr) {
            snprintf (no, sizeof no, "CS20261123%04d", (int) reopened [i]);
            cr_assert_eq (tf_net_send_ticket_event (push, TF_MSG_REOPENED, reopened [i], no), 0);
        }
        if (i == 3)
            cr_assert_eq (tf_net_send_ticket_event (push, TF_MSG_CLAIMED, 77, "CS202611230077"), 0);
        if (i == 5) {
            zmsg_t *junk = zmsg_new ();
            zmsg_addstr (junk, "ticket.confirmed");
            zmsg_addmem (junk, "\xc1", 1);
            cr_assert_eq (zmsg_send (&junk, push), 0);
        }
    }
    s_open_gate ();
    cr_assert (s_wait_count (&s_rec.confirmed_calls, 2, 5000), "no second ticket.confirmed run");
    cr_assert (s_wait_count (&s_rec.reopened_calls, 1, 5000), "no ticket.reopened run");

    pthread_mutex_lock (&s_rec.lock);
    //  the gate alone, then one set per type
    cr_assert_eq (s_rec.confirmed_calls, 2);
    cr_assert_eq (s_rec.reopened_calls, 1);
    cr_assert_eq (s_rec.nconfirmed [0], 1);
    cr_assert_eq (s_rec.confirmed [0][0], 1000);
    size_t distinct_c = 12, distinct_r = 5;
    cr_assert_eq (s_rec.nconfirmed [1], distinct_c, "ticket.confirmed: %zu ids", s_rec.nconfirmed [1]);
    cr_assert_eq (s_rec.nreopened [0], distinct_r, "ticket.reopened: %zu ids", s_rec.nreopened [0]);
    for (int64_t id = 1; id <= (int64_t) distinct_c; id++) {
        size_t seen = 0;
        for (size_t i = 0; i < s_rec.nconfirmed [1]; i++)
            seen += s_rec.confirmed [1][i] == id;
        cr_assert_eq (seen, 1, "ticket.confirmed id %lld came %zu times", (long long) id, seen);
    }
    for (int64_t id = 101; id <= 105; id++) {
        size_t seen = 0;
        for (size_t i = 0; i < s_rec.nreopened [0]; i++)
            seen += s_rec.reopened [0][i] == id;
        cr_assert_eq (seen, 1, "ticket.reopened id %lld came %zu times", (long long) id, seen);
    }
    pthread_mutex_unlock (&s_rec.lock);
    cr_assert_eq (tf_test_wait_metric (actor, "ticketflow_events_refused_total{service=\"reporting\"}", 2, 5000), 2);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_received_total{service=\"reporting\",type=\"ticket.confirmed\"}"),
                  1 + nc);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_received_total{service=\"reporting\",type=\"ticket.reopened\"}"),
                  nr);
    zactor_destroy (&actor);
    zsock_destroy (&push);
}

//  --------------------------------------------------------------------------
//  The pipe

Test (engine, term_ends_the_actor_promptly_whatever_its_timers)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    cfg.reconcile_seconds = 3600;
    tf_service_t svc = s_fake ();
    svc.reconcile = s_reconcile;
    svc.tick = s_tick;
    s_rec.tick_delay_ms = 3600 * 1000;
    zactor_t *actor = tf_test_service (&svc, &cfg, "ENDPOINT", NULL);
    //  the loop is in its long wait once both hooks had their start call
    cr_assert (s_wait_count (&s_rec.nreconcile, 1, 5000));
    cr_assert (s_wait_count (&s_rec.nticks, 1, 5000));
    int64_t start = zclock_mono ();
    zactor_destroy (&actor);
    int64_t took = zclock_mono () - start;
    cr_assert_lt (took, 1000, "$TERM took %lld ms", (long long) took);
}

Test (engine, reload_calls_the_hook_and_returns_its_answer)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    tf_service_t svc = s_fake ();
    svc.reload = s_reload;
    zactor_t *actor = tf_test_service (&svc, &cfg, "ENDPOINT", NULL);
    char *answer = tf_actor_query (actor, "RELOAD");
    cr_assert_str_eq (answer? answer: "(none)", "reloaded 1");
    zstr_free (&answer);
    answer = tf_actor_query (actor, "RELOAD");
    cr_assert_str_eq (answer? answer: "(none)", "reloaded 2");
    zstr_free (&answer);
    zactor_destroy (&actor);

    //  without a reload hook: "" (tf_actor_main logs "not supported")
    svc.reload = NULL;
    actor = tf_test_service (&svc, &cfg, "ENDPOINT", NULL);
    answer = tf_actor_query (actor, "RELOAD");
    cr_assert_str_eq (answer? answer: "(none)", "");
    zstr_free (&answer);
    zactor_destroy (&actor);
}

static bool
s_is_tcp_endpoint (const char *endpoint)
{
    return endpoint && strncmp (endpoint, "tcp://127.0.0.1:", 16) == 0 && atoi (endpoint + 16) > 0;
}

Test (engine, pipe_queries_answer_the_endpoints)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    tf_service_t svc = s_fake ();
    svc.outputs = (const tf_output_t []) {
        { "EVENTS", ZMQ_PUSH, "notifier-events-endpoint" },
        { "PUBLISH", ZMQ_PUB, "sla-publish-endpoint" },
        { .query = NULL }
    };
    svc.query = s_query;
    s_rec.send = true;
    char *endpoint;
    zactor_t *actor = tf_test_service (&svc, &cfg, "ENDPOINT", &endpoint);
    cr_assert (s_is_tcp_endpoint (endpoint), "ENDPOINT: %s", endpoint);
    char *ops = tf_actor_query (actor, "OPS-PORT");
    char *events = tf_actor_query (actor, "EVENTS");
    char *publish = tf_actor_query (actor, "PUBLISH");
    char *hello = tf_actor_query (actor, "HELLO");
    char *unknown = tf_actor_query (actor, "NO-SUCH-QUERY");
    cr_assert (ops && atoi (ops) > 0, "OPS-PORT: %s", ops);
    cr_assert (s_is_tcp_endpoint (events), "EVENTS: %s", events);
    cr_assert (s_is_tcp_endpoint (publish), "PUBLISH: %s", publish);
    cr_assert_str_neq (events, publish);
    cr_assert_str_eq (hello, "world");
    cr_assert_str_eq (unknown, "");

    //  each answer is the socket it names: the ops port serves /healthz,
    //  the request endpoint answers, EVENTS carries what output 0 sends
    long status;
    char *body = tf_test_http_get (atoi (ops), "/healthz", &status);
    cr_assert_eq (status, 200);
    free (body);
    zsock_t *pull = tf_test_pull (events);
    zsock_set_rcvtimeo (pull, 100);
    zsock_t *dealer = s_dealer (endpoint);
    //  until the PULL is connected, output 0 drops what it is given
    bool received = false;
    int asked = 0;
    int64_t deadline = zclock_mono () + 5000;
    while (!received && zclock_mono () < deadline) {
        s_send_summary (dealer, asked++);
        cr_assert_eq (s_recv (dealer).type, TF_MSG_REPORT);
        tf_msg_type_t type;
        int64_t id;
        tf_error_t err;
        if (tf_net_recv_ticket_event (pull, &type, &id, &err) == 0) {
            cr_assert (type == TF_MSG_CONFIRMED && id == 42);
            received = true;
        }
    }
    cr_assert (received, "nothing arrived on EVENTS (%s)", events);
    pthread_mutex_lock (&s_rec.lock);
    int sent = s_rec.sent, dropped = s_rec.dropped;
    pthread_mutex_unlock (&s_rec.lock);
    //  one send at least (a second may go out while the first is on its way
    //  to the PULL, which waits 100 ms per look); every request counted once
    cr_assert_geq (sent, 1);
    cr_assert_eq (sent + dropped, asked);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_sent_total{service=\"reporting\",type=\"ticket.confirmed\"}"), sent);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_sends_dropped_total{service=\"reporting\",type=\"ticket.confirmed\"}"), dropped);

    zsock_destroy (&pull);
    zsock_destroy (&dealer);
    zstr_free (&endpoint);
    zstr_free (&ops);
    zstr_free (&events);
    zstr_free (&publish);
    zstr_free (&hello);
    zstr_free (&unknown);
    zactor_destroy (&actor);
}

//  --------------------------------------------------------------------------
//  Timers

Test (engine, reconcile_runs_at_start_every_interval_and_at_once_after_a_full_batch)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    cfg.reconcile_seconds = 2;
    cfg.batch_size = 8;
    tf_service_t svc = s_fake ();
    svc.reconcile = s_reconcile;
    s_rec.full_call = 1;        //  the second call takes a full batch
    zactor_t *actor = tf_test_service (&svc, &cfg, "ENDPOINT", NULL);
    int64_t ready = zclock_mono ();
    cr_assert (s_wait_count (&s_rec.nreconcile, 4, 8000), "%zu reconcile call(s)", s_count (&s_rec.nreconcile));
    pthread_mutex_lock (&s_rec.lock);
    int64_t *at = s_rec.reconcile_at;
    int64_t first = at [0] - ready, interval = at [1] - at [0], again = at [2] - at [1], after = at [3] - at [2];
    pthread_mutex_unlock (&s_rec.lock);
    //  at start: not an interval after it (it may even come before the answer to ENDPOINT)
    cr_assert_lt (first, 1000, "the first reconcile came %lld ms after the start", (long long) first);
    cr_assert_geq (interval, 2000, "the second reconcile came after %lld ms, not 2 s", (long long) interval);
    cr_assert_lt (again, 1000, "after a full batch the next reconcile came after %lld ms", (long long) again);
    cr_assert_geq (after, 2000, "then the interval again: %lld ms", (long long) after);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_reconciled_total{service=\"reporting\"}"), 8);
    zactor_destroy (&actor);
}

Test (engine, tick_runs_when_its_time_comes_and_wake_brings_it_forward)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    tf_service_t svc = s_fake ();
    svc.tick = s_tick;
    s_rec.tick_delay_ms = 300;  //  then never again, unless woken
    s_rec.wake = true;
    char *endpoint;
    zactor_t *actor = tf_test_service (&svc, &cfg, "ENDPOINT", &endpoint);
    cr_assert (s_wait_count (&s_rec.nticks, 2, 5000), "%zu tick(s)", s_count (&s_rec.nticks));
    pthread_mutex_lock (&s_rec.lock);
    int64_t delay = s_rec.tick_at [1] - s_rec.tick_at [0];
    pthread_mutex_unlock (&s_rec.lock);
    cr_assert_geq (delay, 300, "the second tick came after %lld ms, before its time", (long long) delay);
    cr_assert_lt (delay, 1300, "the second tick came after %lld ms", (long long) delay);

    //  a handler wakes it: the tick comes at the next turn, not in an hour
    zsock_t *dealer = s_dealer (endpoint);
    s_send_summary (dealer, 1);
    cr_assert_eq (s_recv (dealer).type, TF_MSG_REPORT);
    cr_assert (s_wait_count (&s_rec.nticks, 3, 5000), "tf_engine_wake did not bring the tick");
    pthread_mutex_lock (&s_rec.lock);
    size_t before = s_rec.ticks_at_wake;
    int64_t late = s_rec.tick_at [2] - s_rec.woken_at;
    pthread_mutex_unlock (&s_rec.lock);
    cr_assert_eq (before, 2, "%zu ticks before the wake: one came unasked", before);
    cr_assert_lt (late, 500, "the woken tick came %lld ms later", (long long) late);
    zsock_destroy (&dealer);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
}

//  --------------------------------------------------------------------------
//  Ops HTTP

static size_t
s_discard (char *data, size_t size, size_t n, void *arg)
{
    (void) data;
    (void) arg;
    return size * n;
}

static long
s_http_post (int port, const char *path)
{
    char url [128];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    CURL *curl = curl_easy_init ();
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_POSTFIELDS, "x=1");
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 5000L);
    long status = 0;
    if (curl_easy_perform (curl) == CURLE_OK)
        curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup (curl);
    return status;
}

Test (engine, ops_answers_health_and_refuses_the_rest)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    tf_service_t svc = s_fake ();
    zactor_t *actor = tf_test_service (&svc, &cfg, "OPS-PORT", NULL);
    char *ops = tf_actor_query (actor, "OPS-PORT");
    int port = atoi (ops);
    cr_assert_gt (port, 0);
    long status;
    char *body = tf_test_http_get (port, "/healthz", &status);
    cr_assert_eq (status, 200);
    cr_assert_str_eq (body, "ok\n");
    free (body);
    body = tf_test_http_get (port, "/readyz", &status);
    cr_assert_eq (status, 200, "%s", body);
    cr_assert_str_eq (body, "ready\n");
    free (body);
    body = tf_test_http_get (port, "/metrics", &status);
    cr_assert_eq (status, 200);
    cr_assert (strstr (body, "ticketflow_database_up{service=\"reporting\"} 1\n"), "%s", body);
    free (body);
    body = tf_test_http_get (port, "/nothing-here", &status);
    cr_assert_eq (status, 404);
    free (body);
    cr_assert_eq (s_http_post (port, "/healthz"), 405);
    cr_assert_eq (s_http_post (port, "/metrics"), 405);
    //  and it still answers after those
    body = tf_test_http_get (port, "/healthz", &status);
    cr_assert_eq (status, 200);
    free (body);
    zstr_free (&ops);
    zactor_destroy (&actor);
}

//  --------------------------------------------------------------------------
//  Without a database

Test (engine, without_a_database_it_answers_health_and_ping_and_refuses_the_rest)
{
    tf_config_t cfg;
    tf_test_config (&cfg);
    //  a socket folder that does not exist: every connection attempt fails at once
    cfg.database_url = "host=/nonexistent/ticketflow-test-engine dbname=nothing";
    tf_service_t svc = s_fake ();
    svc.handlers = (const tf_handler_t []) { { .type = TF_MSG_REPORT_SUMMARY, .handle = s_summary, .needs_database = true }, { .type = TF_MSG_NONE } };
    svc.reconcile = s_reconcile;
    char *endpoint;
    //  it waits a few seconds for the database, then serves without one
    zactor_t *actor = tf_test_service (&svc, &cfg, "ENDPOINT", &endpoint);
    zsock_t *dealer = s_dealer (endpoint);
    s_send_summary (dealer, 1);
    tf_test_send_raw (dealer, "service.ping", "\x80", 1);
    s_send_summary (dealer, 2);
    reply_t r = s_recv (dealer);
    cr_assert (r.type == TF_MSG_ERROR && streq (r.code, TF_ERR_UNAVAILABLE), "%s", r.code);
    cr_assert_eq (s_recv (dealer).type, TF_MSG_PONG);
    r = s_recv (dealer);
    cr_assert (r.type == TF_MSG_ERROR && streq (r.code, TF_ERR_UNAVAILABLE), "%s", r.code);
    //  neither the handler nor the reconciler ran without it
    cr_assert_eq (s_count (&s_rec.nseqs), 0);
    cr_assert_eq (s_count (&s_rec.nreconcile), 0);

    char *ops = tf_actor_query (actor, "OPS-PORT");
    long status;
    char *body = tf_test_http_get (atoi (ops), "/healthz", &status);
    cr_assert_eq (status, 200);
    free (body);
    body = tf_test_http_get (atoi (ops), "/readyz", &status);
    cr_assert_eq (status, 503);
    cr_assert (body && strstr (body, "no database connection"), "%s", body);
    free (body);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_database_up{service=\"reporting\"}"), 0);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_requests_refused_total{service=\"reporting\",code=\"unavailable\"}"), 2);
    zstr_free (&ops);
    zsock_destroy (&dealer);
    zstr_free (&endpoint);
    zactor_destroy (&actor);
}
