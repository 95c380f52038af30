//  /metrics of real services as a scraper reads them: intake, classifier
//  and dispatcher run in-process on the test database, take a known load
//  (tickets, duplicates, malformed requests), and each scrape goes through
//  the Prometheus client's own text-format parser (tests/check_metrics.py)
//  before its numbers are compared with what happened.
#include "classifier_service.h"
#include "dispatcher_service.h"
#include "intake_service.h"
#include "tf_actor.h"
#include "tf_net.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <msgpack.h>
#include <sys/wait.h>
#include <unistd.h>

TestSuite (metrics, .timeout = 120);

//  --------------------------------------------------------------------------
//  A scrape, parsed by tests/check_metrics.py

typedef struct {
    char service [32];
    json_t *families;           //  [{family, type, help}]
    json_t *samples;            //  [{family, name, labels, value}]
} scrape_t;

//  Runs the checker on text and returns its exit status; what it printed goes
//  to families and samples (when given), anything else to errors.
static int
s_check_text (const char *text, json_t *families, json_t *samples, char *errors, size_t size)
{
    char path [] = "/tmp/ticketflow-metrics-XXXXXX";
    int fd = mkstemp (path);
    cr_assert (fd >= 0);
    size_t len = strlen (text);
    cr_assert_eq (write (fd, text, len), (ssize_t) len);
    close (fd);
    char command [8300];
    //  /usr/bin/python3: the one that sees Debian's python3-prometheus-client
    snprintf (command, sizeof command, "/usr/bin/python3 '%s/tests/check_metrics.py' '%s' 2>&1", tf_home (), path);
    FILE *out = popen (command, "r");
    cr_assert (out, "cannot run %s", command);
    char line [8192];
    *errors = 0;
    while (fgets (line, sizeof line, out)) {
        json_t *item = *line == '{'? json_loads (line, 0, NULL): NULL;
        if (item && families && samples)
            json_array_append_new (json_object_get (item, "labels")? samples: families, item);
        else
        if (item)
            json_decref (item);
        else
            strncat (errors, line, size - strlen (errors) - 1);
    }
    int status = pclose (out);
    unlink (path);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

static scrape_t
s_scrape (zactor_t *actor, const char *service)
{
    scrape_t s = { .families = json_array (), .samples = json_array () };
    snprintf (s.service, sizeof s.service, "%s", service);
    char *port = tf_actor_query (actor, "OPS-PORT");
    cr_assert (port && atoi (port) > 0);
    long status;
    char *text = tf_test_http_get (atoi (port), "/metrics", &status);
    zstr_free (&port);
    cr_assert (text && status == 200, "%s: /metrics did not answer", service);
    char errors [4096];
    int rc = s_check_text (text, s.families, s.samples, errors, sizeof errors);
    cr_assert_eq (rc, 0, "%s: the Prometheus parser refused /metrics: %s\n%s", service, errors, text);
    cr_assert_gt (json_array_size (s.samples), 0);
    free (text);
    return s;
}

static void
s_scrape_free (scrape_t *s)
{
    json_decref (s->families);
    json_decref (s->samples);
}

static const char *
s_label (json_t *sample, const char *label)
{
    return json_string_value (json_object_get (json_object_get (sample, "labels"), label));
}

//  The value of sample `name` whose label `label` is `value` (label NULL:
//  the one without labels beyond service); 0 when there is none.
static double
s_value (const scrape_t *s, const char *name, const char *label, const char *value)
{
    size_t i;
    json_t *sample;
    json_array_foreach (s->samples, i, sample) {
        if (!streq (json_string_value (json_object_get (sample, "name")), name))
            continue;
        if (label && !(s_label (sample, label) && streq (s_label (sample, label), value)))
            continue;
        return json_number_value (json_object_get (sample, "value"));
    }
    return 0;
}

//  What changed between two scrapes of one service
static double
s_delta (const scrape_t *before, const scrape_t *after, const char *name, const char *label, const char *value)
{
    return s_value (after, name, label, value) - s_value (before, name, label, value);
}

#define RECEIVED "ticketflow_messages_received_total"
#define SENT     "ticketflow_messages_sent_total"
#define DROPPED  "ticketflow_sends_dropped_total"
#define REFUSED  "ticketflow_requests_refused_total"
#define MOVES    "ticketflow_ticket_moves_total"

//  What holds in any scrape of a service: every family typed and there,
//  every series its service's, the database up, histograms whose buckets
//  grow with le up to _count, batch sizes that add up to the messages
//  handled and one request latency per request answered.
static void
s_check_shape (const scrape_t *s)
{
    cr_assert_eq (json_array_size (s->families), TF_METRIC_COUNT, "%s: %zu families", s->service,
                  json_array_size (s->families));
    size_t i;
    json_t *item;
    json_array_foreach (s->samples, i, item) {
        const char *service = s_label (item, "service");
        cr_assert (service && streq (service, s->service), "%s: %s has service=%s", s->service,
                   json_string_value (json_object_get (item, "name")), service? service: "(none)");
    }
    cr_assert_eq (s_value (s, "ticketflow_database_up", NULL, NULL), 1, "%s: database down", s->service);

    json_t *family;
    json_array_foreach (s->families, i, family) {
        if (!streq (json_string_value (json_object_get (family, "type")), "histogram"))
            continue;
        const char *name = json_string_value (json_object_get (family, "family"));
        const char *label = streq (name, "ticketflow_request_seconds")? "type": "input";
        char bucket [128], count [128], sum [128];
        snprintf (bucket, sizeof bucket, "%s_bucket", name);
        snprintf (count, sizeof count, "%s_count", name);
        snprintf (sum, sizeof sum, "%s_sum", name);
        //  each series: its buckets in the order given, growing with le
        size_t j;
        json_t *c;
        json_array_foreach (s->samples, j, c) {
            if (!streq (json_string_value (json_object_get (c, "name")), count))
                continue;
            const char *series = s_label (c, label);
            cr_assert (series, "%s: %s without its %s label", s->service, count, label);
            double total = json_number_value (json_object_get (c, "value"));
            double last_le = -INFINITY, last = 0, inf = -1;
            size_t buckets = 0, k;
            json_t *b;
            json_array_foreach (s->samples, k, b) {
                if (!streq (json_string_value (json_object_get (b, "name")), bucket)
                ||  !s_label (b, label) || !streq (s_label (b, label), series))
                    continue;
                const char *le_text = s_label (b, "le");
                cr_assert (le_text, "%s: %s{%s} without le", s->service, bucket, series);
                double le = streq (le_text, "+Inf")? INFINITY: atof (le_text);
                double v = json_number_value (json_object_get (b, "value"));
                cr_assert_gt (le, last_le, "%s: %s{%s}: le %s out of order", s->service, bucket, series, le_text);
                cr_assert_geq (v, last, "%s: %s{%s,le=%s} = %g, less than the bucket before (%g)",
                               s->service, bucket, series, le_text, v, last);
                last_le = le;
                last = v;
                buckets++;
                if (isinf (le))
                    inf = v;
            }
            cr_assert_gt (buckets, 1, "%s: %s{%s}: %zu buckets", s->service, bucket, series, buckets);
            cr_assert_eq (inf, total, "%s: %s{%s,le=+Inf} = %g but _count = %g", s->service, bucket, series,
                          inf, total);
            double observed = s_value (s, sum, label, series);
            if (streq (name, "ticketflow_batch_size"))
                cr_assert_eq (observed, s_value (s, RECEIVED, "type", series),
                              "%s: batches of %s add up to %g, but %g were received", s->service, series,
                              observed, s_value (s, RECEIVED, "type", series));
            if (streq (name, "ticketflow_request_seconds"))
                cr_assert_eq (total, s_value (s, RECEIVED, "type", series),
                              "%s: %g latencies of %s, but %g were received", s->service, total, series,
                              s_value (s, RECEIVED, "type", series));
        }
    }
}

//  --------------------------------------------------------------------------
//  Requests

static void
s_pack_str (msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body (pk, s, strlen (s));
}

//  A submission by hand, so that it can be wrong: channel, body (NULL:
//  none) and customer.id
static void
s_send_submit_raw (zsock_t *dealer, const char *channel, const char *body)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, body? 3: 2);
    s_pack_str (&pk, "channel");
    s_pack_str (&pk, channel);
    if (body) {
        s_pack_str (&pk, "body");
        s_pack_str (&pk, body);
    }
    s_pack_str (&pk, "customer");
    msgpack_pack_map (&pk, 1);
    s_pack_str (&pk, "id");
    s_pack_str (&pk, "C-metrics");
    tf_test_send_raw (dealer, "ticket.submit", sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
s_submit_msg (tf_msg_t *m, const char *external_id, const char *body)
{
    tf_msg_init (m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (m, TF_F_SUBMIT_CHANNEL, "app");
    tf_msg_set_cstr (m, TF_F_SUBMIT_BODY, body);
    tf_msg_set_cstr (m, TF_F_SUBMIT_EXTERNAL_ID, external_id);
    tf_msg_set_cstr (m, TF_F_CUSTOMER_ID, "C-metrics");
}

static void
s_send_msg (zsock_t *dealer, const tf_msg_t *m)
{
    zmsg_t *out = zmsg_new ();
    zmsg_addmem (out, "", 0);
    tf_error_t err;
    cr_assert_eq (tf_codec_encode (m, out, &err), 0, "%s", err.message);
    cr_assert_eq (zmsg_send (&out, dealer), 0);
}

//  Customer texts the default model knows (deploy/taxonomy/train.csv)
static const char *s_texts [] = {
    "银行卡扣款成功 订单状态却是已取消",
    "热水器点不着火 过保三年了 能派人来看看吗",
    "旧款手表不支持新版app了吗 配对一直失败",
    "优惠卷咋用啊 领了不会用",
    "海鲜到的时候冰袋全化了 虾都不新鲜了",
    "改完密码还是登不上 说密码不对",
    "排队排到一半掉线了 又得重新排",
    "签收人写的是门卫 我们小区根本没有门卫",
    "夜间模式下文字看不清 黑底黑字",
    "想取消订单退款 还没发货呢",
    "绑卡的时候银行验证码收不到",
};
#define TEXTS (sizeof s_texts / sizeof s_texts [0])

//  --------------------------------------------------------------------------
//  The three services

typedef struct {
    tf_config_t intake_cfg, classifier_cfg, dispatcher_cfg;
    zactor_t *intake, *classifier, *dispatcher;
    zsock_t *reopened;          //  stands in for the notifier's PUSH the dispatcher pulls from
    char *intake_endpoint, *intake_events, *classifier_events;
} rig_t;

static void
s_rig_config (tf_config_t *cfg)
{
    tf_test_config (cfg);
    //  the reconcilers take nothing: the tickets other tests left waiting
    //  stay out of these counts, and the numbers are this test's alone
    cfg->stale_seconds = 86400;
    cfg->incident_threshold = 10000;
}

static void
s_rig_start (rig_t *r)
{
    memset (r, 0, sizeof *r);
    s_rig_config (&r->intake_cfg);
    r->intake = tf_test_service (&intake_service, &r->intake_cfg, "ENDPOINT", &r->intake_endpoint);
    r->intake_events = tf_actor_query (r->intake, "EVENTS");
    cr_assert (r->intake_events && *r->intake_events);

    s_rig_config (&r->classifier_cfg);
    r->classifier_cfg.intake_events_endpoint = r->intake_events;
    r->classifier = tf_test_service (&classifier_service, &r->classifier_cfg, "ENDPOINT", NULL);
    r->classifier_events = tf_actor_query (r->classifier, "EVENTS");
    cr_assert (r->classifier_events && *r->classifier_events);

    s_rig_config (&r->dispatcher_cfg);
    r->reopened = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    cr_assert (r->reopened);
    r->dispatcher_cfg.classifier_events_endpoint = r->classifier_events;
    r->dispatcher_cfg.notifier_reopen_endpoint = zsock_endpoint (r->reopened);
    r->dispatcher = tf_test_service (&dispatcher_service, &r->dispatcher_cfg, "ENDPOINT", NULL);
}

static void
s_rig_stop (rig_t *r)
{
    zactor_destroy (&r->dispatcher);
    zactor_destroy (&r->classifier);
    zactor_destroy (&r->intake);
    zsock_destroy (&r->reopened);
    zstr_free (&r->intake_endpoint);
    zstr_free (&r->intake_events);
    zstr_free (&r->classifier_events);
}

//  Waits until SQL's count reaches n; returns the last count.
static long long
s_wait_count (tf_db_t *db, long long n, int timeout_ms, const char *sql)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    long long count = tf_test_scalar (db, "%s", sql);
    while (count < n && zclock_mono () < deadline) {
        zclock_sleep (50);
        count = tf_test_scalar (db, "%s", sql);
    }
    return count;
}

//  Until a ticket goes from intake to the dispatcher, a PUSH that is not
//  connected yet drops its event: probes go through until one arrives, so
//  that the load after them loses nothing. Returns how many it sent.
static int
s_warm_up (rig_t *r, tf_db_t *db)
{
    int64_t deadline = zclock_mono () + 30000;
    for (int probe = 0; zclock_mono () < deadline; probe++) {
        char ext [128], sql [512];
        snprintf (ext, sizeof ext, "metrics-probe-%s-%d", tf_test_unique (), probe);
        tf_msg_t m, reply;
        s_submit_msg (&m, ext, s_texts [0]);
        zmsg_t *frames;
        tf_error_t err;
        cr_assert_eq (tf_net_request (r->intake_endpoint, &m, 10000, &frames, &reply, &err), 0, "%s", err.message);
        cr_assert_eq (reply.type, TF_MSG_ACCEPTED);
        zmsg_destroy (&frames);
        tf_msg_clear (&m);
        snprintf (sql, sizeof sql, "SELECT count(*) FROM tickets WHERE external_id = '%s' AND status = 'assigned'", ext);
        if (s_wait_count (db, 1, 2000, sql) == 1)
            return probe + 1;
    }
    cr_assert_fail ("no probe ticket went from intake to the dispatcher within 30 s");
    return 0;
}

//  A scrape taken once the service has counted all it did: every ticket
//  of its input moved, every batch it read observed
static scrape_t
s_scrape_settled (zactor_t *actor, const char *service, const char *input, const char *const *moves)
{
    int64_t deadline = zclock_mono () + 10000;
    while (true) {
        scrape_t s = s_scrape (actor, service);
        double moved = 0;
        for (const char *const *m = moves; *m; m++)
            moved += s_value (&s, MOVES, "move", *m);
        double received = s_value (&s, RECEIVED, "type", input);
        if ((moved == received && s_value (&s, "ticketflow_batch_size_sum", "input", input) == received)
        ||  zclock_mono () > deadline)
            return s;
        s_scrape_free (&s);
        zclock_sleep (50);
    }
}

//  --------------------------------------------------------------------------

#define SUBMITS 50
#define DUPLICATES 6            //  the last ones repeat the first ones' external ids

typedef struct {
    tf_msg_type_t type;         //  the reply expected
    const char *code;           //  its error code
    bool duplicate;
} expect_t;

Test (metrics, counters_match_what_the_services_did)
{
    tf_test_alone ();
    tf_db_t *db = tf_test_db ();
    rig_t r;
    s_rig_start (&r);
    int probes = s_warm_up (&r, db);
    tf_test_wait_metric (r.intake, MOVES "{service=\"intake\",move=\"RECEIVE\"}", probes, 10000);
    scrape_t intake0 = s_scrape (r.intake, "intake");
    scrape_t classifier0 = s_scrape_settled (r.classifier, "classifier", "ticket.received",
                                             (const char *[]) { "CLASSIFY", "TRIAGE", NULL });
    scrape_t dispatcher0 = s_scrape_settled (r.dispatcher, "dispatcher", "ticket.classified",
                                             (const char *[]) { "ASSIGN", NULL });

    //  the load, pipelined on one connection, answered in order
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, r.intake_endpoint, 1 << 20);
    cr_assert (dealer);
    zsock_set_rcvtimeo (dealer, 20000);
    expect_t expect [SUBMITS + 16];
    size_t sent = 0;
    char prefix [96];
    snprintf (prefix, sizeof prefix, "metrics-%s-", tf_test_unique ());
    for (int i = 0; i < SUBMITS; i++) {
        bool duplicate = i >= SUBMITS - DUPLICATES;
        int k = duplicate? i - (SUBMITS - DUPLICATES): i;
        char ext [128], body [256];
        snprintf (ext, sizeof ext, "%s%d", prefix, k);
        snprintf (body, sizeof body, "%s 订单号 2026%06d", s_texts [(size_t) k % TEXTS], k);
        tf_msg_t m;
        s_submit_msg (&m, ext, body);
        s_send_msg (dealer, &m);
        tf_msg_clear (&m);
        expect [sent++] = (expect_t) { .type = TF_MSG_ACCEPTED, .duplicate = duplicate };
        //  between the submissions: garbage, another service's request, a
        //  ping, tickets that are not there
        switch (i) {
            case 3:
                tf_test_send_raw (dealer, "ticket.submit", NULL, 0);
                expect [sent++] = (expect_t) { .type = TF_MSG_ERROR, .code = TF_ERR_BAD_FRAMES };
                break;
            case 7:
            case 31:
                tf_test_send_raw (dealer, "ticket.submit", "\xc1", 1);
                expect [sent++] = (expect_t) { .type = TF_MSG_ERROR, .code = TF_ERR_BAD_MSGPACK };
                break;
            case 12:
                s_send_submit_raw (dealer, "app", NULL);
                expect [sent++] = (expect_t) { .type = TF_MSG_ERROR, .code = TF_ERR_MISSING_FIELD };
                break;
            case 15:
                s_send_submit_raw (dealer, "fax", "传真来的投诉");
                expect [sent++] = (expect_t) { .type = TF_MSG_ERROR, .code = TF_ERR_BAD_VALUE };
                break;
            case 20:
                tf_test_send_raw (dealer, "no.such.type", "\x80", 1);
                expect [sent++] = (expect_t) { .type = TF_MSG_ERROR, .code = TF_ERR_UNKNOWN_TYPE };
                break;
            case 22:
                tf_test_send_raw (dealer, "queue.list", "\x81\xaa" "department\xa9" "logistics", 22);
                expect [sent++] = (expect_t) { .type = TF_MSG_ERROR, .code = TF_ERR_UNKNOWN_TYPE };
                break;
            case 25:
                tf_test_send_raw (dealer, "service.ping", "\x80", 1);
                expect [sent++] = (expect_t) { .type = TF_MSG_PONG };
                break;
            case 40:
            case 41:
                tf_test_send_raw (dealer, "ticket.get", "\x81\xa9ticket_no\xae" "CS209901019999", 26);
                expect [sent++] = (expect_t) { .type = TF_MSG_ERROR, .code = TF_ERR_NOT_FOUND };
                break;
        }
    }
    for (size_t i = 0; i < sent; i++) {
        zmsg_t *reply = zmsg_recv (dealer);
        cr_assert (reply && zmsg_size (reply) == 3, "reply %zu did not come", i);
        zframe_destroy (&(zframe_t *) { zmsg_pop (reply) });
        zframe_t *type = zmsg_first (reply);
        zframe_t *body = zmsg_next (reply);
        tf_msg_t msg;
        tf_error_t err;
        cr_assert_eq (tf_codec_decode (zframe_data (type), zframe_size (type), zframe_data (body),
                                       zframe_size (body), &msg, &err), 0);
        cr_assert_eq (msg.type, expect [i].type, "reply %zu: %s", i, tf_schemas [msg.type].name);
        if (msg.type == TF_MSG_ERROR)
            cr_assert (msg.v [TF_F_ERROR_CODE].len == strlen (expect [i].code)
                       && memcmp (msg.v [TF_F_ERROR_CODE].str, expect [i].code, strlen (expect [i].code)) == 0,
                       "reply %zu: %.*s, not %s", i, (int) msg.v [TF_F_ERROR_CODE].len, msg.v [TF_F_ERROR_CODE].str,
                       expect [i].code);
        if (msg.type == TF_MSG_ACCEPTED)
            cr_assert_eq (tf_msg_bool (&msg, TF_F_ACCEPTED_DUPLICATE), expect [i].duplicate, "reply %zu", i);
        zmsg_destroy (&reply);
    }
    zsock_destroy (&dealer);

    //  every new ticket assigned (or, if the model was unsure, in triage)
    const int fresh = SUBMITS - DUPLICATES;
    char sql [512];
    snprintf (sql, sizeof sql, "SELECT count(*) FROM tickets WHERE external_id LIKE '%s%%'"
                               " AND status IN ('assigned', 'triage')", prefix);
    cr_assert_eq (s_wait_count (db, fresh, 60000, sql), fresh, "not every ticket reached the dispatcher");
    long long triaged = tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE external_id LIKE '%s%%'"
                                            " AND status = 'triage'", prefix);
    long long assigned = fresh - triaged;
    //  each service counts its moves last, after the batch: wait for those
    tf_test_wait_metric (r.intake, MOVES "{service=\"intake\",move=\"RECEIVE\"}",
                         s_value (&intake0, MOVES, "move", "RECEIVE") + fresh, 10000);
    tf_test_wait_metric (r.classifier, MOVES "{service=\"classifier\",move=\"CLASSIFY\"}",
                         s_value (&classifier0, MOVES, "move", "CLASSIFY") + (double) assigned, 10000);
    tf_test_wait_metric (r.classifier, MOVES "{service=\"classifier\",move=\"TRIAGE\"}",
                         s_value (&classifier0, MOVES, "move", "TRIAGE") + (double) triaged, 10000);
    tf_test_wait_metric (r.dispatcher, MOVES "{service=\"dispatcher\",move=\"ASSIGN\"}",
                         s_value (&dispatcher0, MOVES, "move", "ASSIGN") + (double) assigned, 10000);

    scrape_t intake = s_scrape (r.intake, "intake");
    scrape_t classifier = s_scrape (r.classifier, "classifier");
    scrape_t dispatcher = s_scrape (r.dispatcher, "dispatcher");
    s_check_shape (&intake);
    s_check_shape (&classifier);
    s_check_shape (&dispatcher);

    //  intake: what came in, what went out, what was refused and why
    cr_assert_eq (s_delta (&intake0, &intake, RECEIVED, "type", "ticket.submit"), SUBMITS);
    cr_assert_eq (s_delta (&intake0, &intake, RECEIVED, "type", "ticket.get"), 2);
    cr_assert_eq (s_delta (&intake0, &intake, RECEIVED, "type", "queue.list"), 1);
    cr_assert_eq (s_delta (&intake0, &intake, RECEIVED, "type", "service.ping"), 1);
    cr_assert_eq (s_delta (&intake0, &intake, RECEIVED, "type", "invalid"), 6);
    cr_assert_eq (s_delta (&intake0, &intake, SENT, "type", "ticket.accepted"), SUBMITS);
    cr_assert_eq (s_delta (&intake0, &intake, SENT, "type", "service.pong"), 1);
    cr_assert_eq (s_delta (&intake0, &intake, SENT, "type", "error"), 9);
    cr_assert_eq (s_delta (&intake0, &intake, REFUSED, "code", "bad_frames"), 1);
    cr_assert_eq (s_delta (&intake0, &intake, REFUSED, "code", "bad_msgpack"), 2);
    cr_assert_eq (s_delta (&intake0, &intake, REFUSED, "code", "missing_field"), 1);
    cr_assert_eq (s_delta (&intake0, &intake, REFUSED, "code", "bad_value"), 1);
    cr_assert_eq (s_delta (&intake0, &intake, REFUSED, "code", "unknown_type"), 2);
    cr_assert_eq (s_delta (&intake0, &intake, REFUSED, "code", "not_found"), 2);
    cr_assert_eq (s_delta (&intake0, &intake, SENT, "type", "ticket.received"), fresh);
    cr_assert_eq (s_delta (&intake0, &intake, MOVES, "move", "RECEIVE"), fresh);
    cr_assert_eq (s_value (&intake, DROPPED, "type", "ticket.received"),
                  s_value (&intake0, DROPPED, "type", "ticket.received"), "events dropped after the warm-up");
    cr_assert_eq (s_delta (&intake0, &intake, "ticketflow_batch_size_sum", "input", "ticket.submit"), SUBMITS);

    //  classifier: one move and, when classified, one event per new ticket
    cr_assert_eq (s_delta (&classifier0, &classifier, RECEIVED, "type", "ticket.received"), fresh);
    cr_assert_eq (s_delta (&classifier0, &classifier, MOVES, "move", "CLASSIFY"), assigned);
    cr_assert_eq (s_delta (&classifier0, &classifier, MOVES, "move", "TRIAGE"), triaged);
    cr_assert_eq (s_delta (&classifier0, &classifier, SENT, "type", "ticket.classified"), assigned);
    cr_assert_eq (s_value (&classifier, DROPPED, "type", "ticket.classified"),
                  s_value (&classifier0, DROPPED, "type", "ticket.classified"), "events dropped after the warm-up");
    cr_assert_eq (s_delta (&classifier0, &classifier, "ticketflow_batch_size_sum", "input", "ticket.received"), fresh);

    //  dispatcher: every classified ticket assigned and announced
    cr_assert_eq (s_delta (&dispatcher0, &dispatcher, RECEIVED, "type", "ticket.classified"), assigned);
    cr_assert_eq (s_delta (&dispatcher0, &dispatcher, MOVES, "move", "ASSIGN"), assigned);
    cr_assert_eq (s_delta (&dispatcher0, &dispatcher, SENT, "type", "ticket.assigned"), assigned);
    cr_assert_eq (s_delta (&dispatcher0, &dispatcher, "ticketflow_batch_size_sum", "input", "ticket.classified"),
                  assigned);

    //  with stale-seconds a day, no reconciler took anything
    cr_assert_eq (s_value (&intake, "ticketflow_reconciled_total", NULL, NULL), 0);
    cr_assert_eq (s_value (&classifier, "ticketflow_reconciled_total", NULL, NULL), 0);
    cr_assert_eq (s_value (&dispatcher, "ticketflow_reconciled_total", NULL, NULL), 0);

    s_scrape_free (&intake0);
    s_scrape_free (&classifier0);
    s_scrape_free (&dispatcher0);
    s_scrape_free (&intake);
    s_scrape_free (&classifier);
    s_scrape_free (&dispatcher);
    s_rig_stop (&r);
    tf_db_destroy (&db);
}

//  The checker itself refuses what a scraper would misread, so a scrape
//  it passes means something.
Test (metrics, the_checker_refuses_broken_text)
{
    char errors [4096];
    const char *good = "# HELP a_total A.\n# TYPE a_total counter\na_total{service=\"x\"} 1\n";
    cr_assert_eq (s_check_text (good, NULL, NULL, errors, sizeof errors), 0, "%s", errors);
    const char *broken [] = {
        //  a sample without its family
        "# HELP a_total A.\n# TYPE a_total counter\na_total{service=\"x\"} 1\nb{service=\"x\"} 2\n",
        //  a family without help
        "# TYPE a_total counter\na_total{service=\"x\"} 1\n",
        //  the same series twice
        "# HELP a_total A.\n# TYPE a_total counter\na_total{service=\"x\"} 1\na_total{service=\"x\"} 2\n",
        //  not a number
        "# HELP a_total A.\n# TYPE a_total counter\na_total{service=\"x\"} one\n",
        //  a label without its quotes
        "# HELP a_total A.\n# TYPE a_total counter\na_total{service=x} 1\n",
        //  nothing
        "",
    };
    for (size_t i = 0; i < sizeof broken / sizeof broken [0]; i++)
        cr_assert_neq (s_check_text (broken [i], NULL, NULL, errors, sizeof errors), 0, "passed: %s", broken [i]);
}
