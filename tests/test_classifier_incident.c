//  Mass incidents (批量投诉): the SimHash of ticket texts, a burst of
//  near-duplicate complaints opening one incident (linked tickets raised to
//  P1, one incident.opened event), a later one joining it, unrelated tickets
//  of the same sub-category opening none, the same product opening one, and
//  two classifier instances never opening two incidents for one burst.
//
//  Isolation: tests share one database and run two at a time, so each test
//  adds a sub-category of its own ('测试批量-<unique>-<tag>') whose keyword
//  (甲型测试灯, 丙型测试灯) appears only in its texts, and runs the actor on
//  the keyword scorer (no model knows that sub-category). Incidents only
//  ever match within one sub-category. The row is removed at the end.
#include "classifier.h"
#include "classifier_incident.h"
#include "classifier_service.h"
#include "csvread.h"
#include "intake.h"
#include "tf_actor.h"
#include "tf_json.h"
#include "tf_net.h"
#include "tf_ticket.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <pthread.h>
#include <unistd.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (classifier_incident, .timeout = 60);

//  --------------------------------------------------------------------------
//  Helpers

static char *
s_path (const char *relative)
{
    char *path = malloc (4096);
    snprintf (path, 4096, "%s/%s", tf_home (), relative);
    return path;
}

//  The default departments (the taxonomy row below refers to one)
static void
s_departments (tf_db_t *db)
{
    char *path = s_path ("deploy/taxonomy/taxonomy.json");
    FILE *f = fopen (path, "rb");
    cr_assert (f, "cannot open %s", path);
    char *data = malloc (1 << 20);
    size_t n = fread (data, 1, (1 << 20) - 1, f);
    data [n] = 0;
    fclose (f);
    free (path);
    const char *params [] = { data };
    PGresult *res = tf_db_query (db,
        "INSERT INTO departments (code, name, name_en)"
        " SELECT d->>'code', d->>'name', d->>'name_en'"
        " FROM jsonb_array_elements ($1::jsonb->'departments') d ON CONFLICT DO NOTHING", 1, params);
    cr_assert (tf_db_ok (db, res, "departments"));
    PQclear (res);
    free (data);
}

//  A sub-category of this test alone ('测试批量-<unique>-<tag>') with the
//  keyword given, which only this test's texts hold. A row with that
//  keyword left by an earlier run that failed is removed first.
typedef struct {
    char name [160];
    char keyword [64];
} test_sub_t;

static void
s_test_sub (tf_db_t *db, const char *tag, const char *keyword, test_sub_t *sub)
{
    snprintf (sub->keyword, sizeof sub->keyword, "%s", keyword);
    char seed [96];
    snprintf (seed, sizeof seed, "%.60s-%.20s", tf_test_unique (), tag);
    snprintf (sub->name, sizeof sub->name, "测试批量-%s", seed);
    char code [160];
    snprintf (code, sizeof code, "test_burst_%s", seed);
    const char *stale [] = { keyword };
    PGresult *res = tf_db_query (db, "DELETE FROM taxonomy WHERE category_code = 'test' AND $1 = ANY (keywords)",
                                 1, stale);
    cr_assert (tf_db_ok (db, res, "stale test sub-category"));
    PQclear (res);
    const char *params [] = { sub->name, code, sub->keyword };
    res = tf_db_query (db,
        "INSERT INTO taxonomy (subcategory, code, category, category_code, first_owner, department,"
        "  response_minutes, resolve_minutes, default_priority, keywords)"
        " VALUES ($1, $2, '测试', 'test', 'quality', 'quality', 60, 1440, 'P2', ARRAY [$3])", 3, params);
    cr_assert (tf_db_ok (db, res, "test sub-category"));
    PQclear (res);
}

static void
s_test_sub_remove (tf_db_t *db, const test_sub_t *sub)
{
    const char *params [] = { sub->name };
    PGresult *res = tf_db_query (db, "DELETE FROM taxonomy WHERE subcategory = $1", 1, params);
    PQclear (res);
}

//  Submits one ticket through intake; returns its id, its number in no
static int64_t
s_submit (tf_db_t *db, const char *body, const char *product, char *no, size_t size)
{
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, body);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_PRODUCT, product);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "C-incident");
    char number [32];
    int64_t id = tf_test_submit_msg (db, &m, number);
    snprintf (no, size, "%s", number);
    return id;
}

//  --------------------------------------------------------------------------
//  The rig: a stand-in for intake's PUSH, one or two classifier actors on
//  the keyword scorer, a SUB on their incident.opened endpoints

#define ACTORS_MAX 2

typedef struct {
    tf_config_t cfg;
    zsock_t *intake;
    char intake_endpoint [256];
    zactor_t *actors [ACTORS_MAX];
    size_t actor_count;
    zsock_t *sub;
    tf_db_t *db;
} rig_t;

static void
s_rig_start (rig_t *rig, size_t actors)
{
    memset (rig, 0, sizeof *rig);
    tf_test_config (&rig->cfg);
    rig->db = tf_test_db ();
    rig->intake = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    cr_assert (rig->intake);
    zsock_set_sndtimeo (rig->intake, 2000);
    snprintf (rig->intake_endpoint, sizeof rig->intake_endpoint, "%s", zsock_endpoint (rig->intake));
    rig->cfg.intake_events_endpoint = rig->intake_endpoint;
    rig->cfg.classifier_publish_endpoint = "tcp://127.0.0.1:*";
    rig->cfg.classifier_model = "/nonexistent/no.model";    //  keywords: the test sub-category
    rig->cfg.classifier_min_confidence = 1;
    rig->cfg.incident_threshold = 5;
    rig->cfg.incident_window_minutes = 30;
    rig->cfg.stale_seconds = 86400;                         //  other tests' tickets are not ours
    rig->cfg.reconcile_seconds = 60;
    rig->sub = zsock_new (ZMQ_SUB);
    tf_security_client (rig->sub);
    cr_assert (rig->sub);
    zsock_set_subscribe (rig->sub, "incident.");
    zsock_set_rcvtimeo (rig->sub, 5000);
    for (size_t i = 0; i < actors; i++) {
        rig->actors [i] = tf_test_service (&classifier_service, &rig->cfg, "ENDPOINT", NULL);
        char *publish = tf_actor_query (rig->actors [i], "PUBLISH");
        cr_assert (publish && strncmp (publish, "tcp://", 6) == 0);
        cr_assert_eq (zsock_connect (rig->sub, "%s", publish), 0);
        zstr_free (&publish);
        //  the model file is missing: the keyword scorer decides
        char *model = tf_actor_query (rig->actors [i], "MODEL");
        cr_assert_str_eq (model, "");
        zstr_free (&model);
    }
    rig->actor_count = actors;
    zclock_sleep (300);         //  let the PULLs and the SUB connect
}

static void
s_rig_stop (rig_t *rig)
{
    for (size_t i = 0; i < rig->actor_count; i++)
        zactor_destroy (&rig->actors [i]);
    zsock_destroy (&rig->sub);
    zsock_destroy (&rig->intake);
    tf_db_destroy (&rig->db);
}

static void
s_send_received (rig_t *rig, int64_t id, const char *no)
{
    cr_assert_eq (tf_net_send_ticket_event (rig->intake, TF_MSG_RECEIVED, id, no), 0);
}

//  Submits the texts and sends their events; fills ids
static void
s_submit_all (rig_t *rig, const char *const *texts, size_t n, const char *product, int64_t *ids)
{
    char no [32];
    for (size_t i = 0; i < n; i++) {
        ids [i] = s_submit (rig->db, texts [i], product, no, sizeof no);
        s_send_received (rig, ids [i], no);
    }
}

static char *
s_id_list (const int64_t *ids, size_t n)
{
    char *list = malloc (n * 24 + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t) sprintf (list + o, i? ",%lld": "%lld", (long long) ids [i]);
    list [o] = 0;
    return list;
}

//  Waits until every ticket has left `received`
static void
s_wait_decided (rig_t *rig, const int64_t *ids, size_t n)
{
    char *list = s_id_list (ids, n);
    int64_t deadline = zclock_mono () + 15000;
    while (tf_test_scalar (rig->db, "SELECT count(*) FROM tickets WHERE id IN (%s) AND status = 'received'",
                           list) > 0 && zclock_mono () < deadline)
        zclock_sleep (50);
    cr_assert_eq (tf_test_scalar (rig->db, "SELECT count(*) FROM tickets WHERE id IN (%s)"
                                           " AND status = 'classified'", list), (long long) n,
                  "not all of %s were classified", list);
    free (list);
}

//  Receives one incident.opened [topic, type, body] (false on timeout);
//  caller destroys frames
static bool
s_recv_incident (rig_t *rig, int timeout_ms, zmsg_t **frames_p, tf_msg_t *event)
{
    zsock_set_rcvtimeo (rig->sub, timeout_ms);
    zmsg_t *frames = zmsg_recv (rig->sub);
    *frames_p = frames;
    if (!frames)
        return false;
    cr_assert_eq (zmsg_size (frames), 3, "incident.opened is [topic, type, body]");
    zframe_t *topic = zmsg_first (frames);
    cr_assert (zframe_streq (topic, "incident."), "topic is not 'incident.'");
    zframe_t *type = zmsg_next (frames);
    zframe_t *body = zmsg_next (frames);
    tf_error_t err;
    cr_assert_eq (tf_codec_decode (zframe_data (type), zframe_size (type), zframe_data (body),
                                   zframe_size (body), event, &err), 0,
                  "incident.opened did not decode: %s", err.message);
    cr_assert_eq (event->type, TF_MSG_INCIDENT_OPENED);
    return true;
}

//  incident.opened events the rig's actors sent, all told. Each read waits
//  for its actor's loop to go round, so what a committed batch opened has
//  been announced by then.
static double
s_opened (rig_t *rig)
{
    double sum = 0;
    for (size_t i = 0; i < rig->actor_count; i++)
        sum += tf_test_metric (rig->actors [i], "ticketflow_messages_sent_total"
                                                "{service=\"classifier\",type=\"incident.opened\"}");
    return sum;
}

//  The test's burst: one complaint, reworded a little, order numbers differ
static void
s_burst_texts (const char *kw, char texts [][256], size_t n)
{
    static const char *forms [] = {
        "%s收到后开关按下去没反应 换了插座也不亮 订单号 2023110100%zu 麻烦处理一下",
        "%s收到后开关按下去没有反应 换了插座也不亮 订单号 2023110177%zu 麻烦处理一下",
        "%s收到后 开关按下去没反应，换了插座也不亮。订单号：20231101%zu 麻烦处理一下",
        "%s收到后开关按下去没反应！换了插座也不亮 订单 2023110155%zu 麻烦处理一下",
        "%s收到后开关按下去没反应 换了插座也不亮 订单号 2023110100%zu 麻烦处理下",
        "%s收到后开关按下去没反应 换了插座也不亮 订单号 2023110199%zu 请处理一下",
    };
    for (size_t i = 0; i < n; i++)
        snprintf (texts [i], 256, forms [i % 6], kw, i);
}

//  --------------------------------------------------------------------------
//  SimHash

//  A product name unique to this run, in letters: intake masks what looks
//  like a phone, ID-card or card number in a product, and the digits of
//  tf_test_unique can
static void
s_product (char *product, size_t size, const char *prefix)
{
    int len = snprintf (product, size, "%s-%s", prefix, tf_test_unique ());
    for (char *p = product + strlen (prefix); p < product + len; p++)
        if (*p >= '0' && *p <= '9')
            *p = (char) ('a' + (*p - '0'));
}

Test (classifier_incident, simhash_near_duplicates_and_unrelated_tickets)
{
    char burst [6][256];
    s_burst_texts ("甲型测试灯", burst, 6);
    uint64_t sig [6];
    for (int i = 0; i < 6; i++)
        sig [i] = classifier_simhash (burst [i], strlen (burst [i]));
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 6; j++)
            cr_assert_leq (classifier_hamming (sig [i], sig [j]), CLASSIFIER_SIMHASH_DISTANCE,
                           "burst texts %d and %d are %d bits apart", i, j, classifier_hamming (sig [i], sig [j]));
    //  digits and full-width forms and case do not matter
    const char *a = "Parcel ABC arrived broken 订单 12345", *b = "parcel abc arrived broken 订单 99";
    const char *c = "ＰＡＲＣＥＬ abc arrived broken, 订单 7";
    cr_assert_eq (classifier_simhash (a, strlen (a)), classifier_simhash (b, strlen (b)));
    cr_assert_eq (classifier_simhash (a, strlen (a)), classifier_simhash (c, strlen (c)));
    //  empty, punctuation only, hostile bytes, tiny texts: no crash
    cr_assert_eq (classifier_simhash (NULL, 0), 0);
    cr_assert_eq (classifier_simhash ("!!! ？？", 11), 0);
    const char junk [] = "\xff\xfe\xc0\xaf\x00\xe5\xbf\xab\x00\xef\xbc\xed\xa0\x80\xe3\x80";
    classifier_simhash (junk, sizeof junk - 1);
    cr_assert_neq (classifier_simhash ("坏", 3), 0);
    cr_assert_eq (classifier_hamming (0, ~0ULL), 64);
    cr_assert_eq (classifier_hamming (5, 5), 0);

    //  the labelled tickets: no two of one sub-category are near-duplicates
    char *path = s_path ("deploy/taxonomy/train.csv");
    char err [256];
    csvread_pairs_t *pairs = csvread_pairs_new ();
    cr_assert_gt (csvread_pairs_load (pairs, path, CSVREAD_CSV, "text", "subcategory", err, sizeof err), 0, "%s", err);
    uint64_t *sigs = malloc (pairs->count * sizeof (uint64_t));
    for (size_t i = 0; i < pairs->count; i++)
        sigs [i] = classifier_simhash (pairs->texts [i], pairs->lens [i]);
    size_t compared = 0, close = 0;
    int closest = 64;
    for (size_t i = 0; i < pairs->count; i++)
        for (size_t j = i + 1; j < pairs->count; j++)
            if (strcmp (pairs->labels [i], pairs->labels [j]) == 0) {
                int d = classifier_hamming (sigs [i], sigs [j]);
                compared++;
                close += d <= CLASSIFIER_SIMHASH_DISTANCE;
                if (d < closest)
                    closest = d;
            }
    fprintf (stderr, "simhash: %zu same-sub-category pairs of train.csv, %zu within %d bits, closest %d\n",
             compared, close, CLASSIFIER_SIMHASH_DISTANCE, closest);
    cr_assert_gt (compared, 10000);
    cr_assert_leq (close * 1000, compared, "%zu of %zu pairs look like near-duplicates", close, compared);
    free (sigs);
    csvread_pairs_destroy (&pairs);
    free (path);
}

//  --------------------------------------------------------------------------
//  The service

Test (classifier_incident, a_burst_opens_one_incident_a_later_one_joins_unrelated_open_none,
      .timeout = 90)
{
    rig_t rig;
    tf_db_t *setup = tf_test_db ();
    s_departments (setup);
    test_sub_t sub;
    s_test_sub (setup, "burst", "甲型测试灯", &sub);
    s_rig_start (&rig, 1);

    //  five near-duplicate complaints
    char burst [6][256];
    s_burst_texts (sub.keyword, burst, 6);
    const char *texts [6];
    for (int i = 0; i < 6; i++)
        texts [i] = burst [i];
    int64_t ids [6];
    s_submit_all (&rig, texts, 5, NULL, ids);
    s_wait_decided (&rig, ids, 5);
    char *list = s_id_list (ids, 5);
    const char *name = sub.name;
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM incidents WHERE subcategory = '%s'", name), 1,
                  "expected exactly one incident");
    long long incident = tf_test_scalar (rig.db, "SELECT id FROM incidents WHERE subcategory = '%s'"
                                                 " AND status = 'open' AND ticket_count = 5 AND product IS NULL"
                                                 " AND length (summary) > 0 AND signature <> 0", name);
    cr_assert_gt (incident, 0);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id IN (%s) AND incident_id = %lld"
                                          " AND subcategory = '%s' AND priority = 'P1'"
                                          " AND 'batch_complaint' = ANY (priority_reasons)"
                                          " AND text_signature IS NOT NULL", list, incident, name), 5);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(DISTINCT ticket_id) FROM ticket_events WHERE ticket_id IN (%s)"
                                          " AND kind = 'incident_opened' AND actor = 'classifier'"
                                          " AND (data->>'incident_id')::int8 = %lld", list, incident), 5);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM ticket_events WHERE ticket_id IN (%s)"
                                          " AND kind = 'incident_opened'", list), 5);
    free (list);
    //  one incident.opened, after the commit, naming the five tickets
    zmsg_t *frames;
    tf_msg_t event;
    cr_assert_eq (s_opened (&rig), 1);
    cr_assert (s_recv_incident (&rig, 5000, &frames, &event), "no incident.opened");
    cr_assert_eq (tf_msg_int (&event, TF_F_INCIDENT_OPENED_INCIDENT_ID), incident);
    cr_assert_eq (tf_msg_int (&event, TF_F_INCIDENT_OPENED_TICKET_COUNT), 5);
    const tf_value_t *v = &event.v [TF_F_INCIDENT_OPENED_SUBCATEGORY];
    cr_assert (v->len == strlen (name) && memcmp (v->str, name, v->len) == 0);
    cr_assert_not (tf_msg_has (&event, TF_F_INCIDENT_OPENED_PRODUCT));
    cr_assert_eq (event.v [TF_F_INCIDENT_OPENED_TICKET_NOS].i, 5);
    json_t *nos = tf_json_from_msgpack (event.v [TF_F_INCIDENT_OPENED_TICKET_NOS].str,
                                        event.v [TF_F_INCIDENT_OPENED_TICKET_NOS].len);
    cr_assert_eq (json_array_size (nos), 5);
    for (size_t i = 0; i < 5; i++)
        cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE ticket_no = '%s'"
                                              " AND incident_id = %lld", json_string_value (json_array_get (nos, i)),
                                      incident), 1);
    json_decref (nos);
    cr_assert (event.v [TF_F_INCIDENT_OPENED_SUMMARY].len > 0);
    zmsg_destroy (&frames);

    //  a sixth joins it: linked, P1, a history note, no new event
    s_submit_all (&rig, texts + 5, 1, NULL, ids + 5);
    s_wait_decided (&rig, ids + 5, 1);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id = %lld AND incident_id = %lld"
                                          " AND priority = 'P1' AND 'batch_complaint' = ANY (priority_reasons)",
                                  (long long) ids [5], incident), 1);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                          " AND kind = 'incident_joined'", (long long) ids [5]), 1);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT ticket_count FROM incidents WHERE id = %lld", incident), 6);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM incidents WHERE subcategory = '%s'", name), 1);
    cr_assert_eq (s_opened (&rig), 1, "a joined ticket announced a new incident");

    //  five unrelated tickets of the same sub-category: no incident, not linked
    char unrelated [5][256];
    snprintf (unrelated [0], 256, "%s的说明书缺了一页 想要一份电子版 顺便问下保修几年", sub.keyword);
    snprintf (unrelated [1], 256, "%s颜色和图片上差别很大 偏黄 能不能换成白色的那款", sub.keyword);
    snprintf (unrelated [2], 256, "请问%s可以开增值税专用发票吗 公司报销需要 抬头已经发过去了", sub.keyword);
    snprintf (unrelated [3], 256, "朋友推荐买了%s 想问下有没有大一点的尺寸 家里客厅比较宽", sub.keyword);
    snprintf (unrelated [4], 256, "%s用了半年了挺好的 就是底座有点晃 能不能单独买个底座配件", sub.keyword);
    const char *other [5];
    for (int i = 0; i < 5; i++) {
        other [i] = unrelated [i];
        for (int j = 0; j < 5; j++)
            cr_assert_gt (classifier_hamming (classifier_simhash (unrelated [i], strlen (unrelated [i])),
                                              classifier_simhash (burst [j], strlen (burst [j]))),
                          CLASSIFIER_SIMHASH_DISTANCE, "test data: unrelated %d looks like burst %d", i, j);
    }
    int64_t other_ids [5];
    s_submit_all (&rig, other, 5, NULL, other_ids);
    s_wait_decided (&rig, other_ids, 5);
    list = s_id_list (other_ids, 5);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id IN (%s) AND subcategory = '%s'"
                                          " AND incident_id IS NULL AND priority = 'P2'", list, name), 5);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM ticket_events WHERE ticket_id IN (%s)"
                                          " AND kind LIKE 'incident%%'", list), 0);
    free (list);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM incidents WHERE subcategory = '%s'", name), 1);
    cr_assert_eq (s_opened (&rig), 1, "unrelated tickets announced an incident");

    //  five different texts about the same product batch: an incident with the product
    char product [128];
    s_product (product, sizeof product, "批次");
    char same [5][256];
    snprintf (same [0], 256, "%s收到就是坏的 屏幕有裂纹 包装完好", sub.keyword);
    snprintf (same [1], 256, "新买的%s通电没反应 指示灯也不亮", sub.keyword);
    snprintf (same [2], 256, "%s的遥控器配对不上 说明书看了也不行", sub.keyword);
    snprintf (same [3], 256, "%s外壳掉漆严重 感觉像翻新机 要求换货", sub.keyword);
    snprintf (same [4], 256, "%s充一晚上电只能用十分钟 电池肯定有问题", sub.keyword);
    for (int i = 0; i < 5; i++)
        other [i] = same [i];
    s_submit_all (&rig, other, 5, product, other_ids);
    s_wait_decided (&rig, other_ids, 5);
    list = s_id_list (other_ids, 5);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM incidents WHERE subcategory = '%s'", name), 2);
    long long by_product = tf_test_scalar (rig.db, "SELECT id FROM incidents WHERE subcategory = '%s'"
                                                   " AND product = '%s' AND ticket_count = 5", name, product);
    cr_assert_gt (by_product, 0);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id IN (%s) AND incident_id = %lld"
                                          " AND priority = 'P1'", list, by_product), 5);
    free (list);
    cr_assert_eq (s_opened (&rig), 2);
    cr_assert (s_recv_incident (&rig, 5000, &frames, &event), "no incident.opened for the product");
    cr_assert_eq (tf_msg_int (&event, TF_F_INCIDENT_OPENED_INCIDENT_ID), by_product);
    v = &event.v [TF_F_INCIDENT_OPENED_PRODUCT];
    cr_assert (v->present && v->len == strlen (product) && memcmp (v->str, product, v->len) == 0);
    zmsg_destroy (&frames);

    s_rig_stop (&rig);
    s_test_sub_remove (setup, &sub);
    tf_db_destroy (&setup);
}

//  One spoiled batch reads differently to each customer: the model files
//  them under different sub-categories, one even goes to triage. The same
//  product / batch still makes them one incident (issue 4: "or the same
//  product / batch").
Test (classifier_incident, one_product_across_subcategories_and_triage, .timeout = 90)
{
    rig_t rig;
    tf_db_t *setup = tf_test_db ();
    s_departments (setup);
    test_sub_t damage, refund;
    s_test_sub (setup, "xdamage", "乙型测试杯", &damage);
    s_test_sub (setup, "xrefund", "丙型测试券", &refund);
    s_rig_start (&rig, 1);
    char product [128];
    s_product (product, sizeof product, "同批次");
    char texts [5][256];
    snprintf (texts [0], 256, "%s到货就裂了 整箱都这样", damage.keyword);
    snprintf (texts [1], 256, "收到的%s全是坏的 包装也破了", damage.keyword);
    snprintf (texts [2], 256, "这批货我不要了 %s 怎么退", refund.keyword);
    snprintf (texts [3], 256, "申请%s 退回去 钱什么时候到", refund.keyword);
    snprintf (texts [4], 256, "qzx vvk wlp");      //  nothing to go on: triage
    const char *list [5];
    int64_t ids [5];
    for (int i = 0; i < 5; i++)
        list [i] = texts [i];
    s_submit_all (&rig, list, 5, product, ids);
    char *id_list = s_id_list (ids, 5);
    int64_t deadline = zclock_mono () + 15000;
    while (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id IN (%s) AND status = 'received'",
                           id_list) > 0 && zclock_mono () < deadline)
        zclock_sleep (50);
    //  really different sub-categories, and one in triage
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(DISTINCT subcategory) FROM tickets WHERE id IN (%s)"
                                          " AND status = 'classified'", id_list), 2);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id IN (%s) AND status = 'triage'",
                                  id_list), 1);
    long long incident = tf_test_scalar (rig.db, "SELECT id FROM incidents WHERE product = '%s'", product);
    cr_assert_gt (incident, 0, "no incident for one product across sub-categories");
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM incidents WHERE product = '%s'", product), 1);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id IN (%s) AND incident_id = %lld"
                                          " AND priority = 'P1' AND 'batch_complaint' = ANY (priority_reasons)",
                                  id_list, incident), 5);
    zmsg_t *frames;
    tf_msg_t event;
    cr_assert (s_recv_incident (&rig, 5000, &frames, &event), "no incident.opened");
    cr_assert_eq (tf_msg_int (&event, TF_F_INCIDENT_OPENED_INCIDENT_ID), incident);
    zmsg_destroy (&frames);
    free (id_list);
    s_rig_stop (&rig);
    s_test_sub_remove (setup, &damage);
    s_test_sub_remove (setup, &refund);
    tf_db_destroy (&setup);
}

Test (classifier_incident, two_instances_open_one_incident_for_one_burst, .timeout = 90)
{
    rig_t rig;
    tf_db_t *setup = tf_test_db ();
    s_departments (setup);
    test_sub_t sub;
    s_test_sub (setup, "two", "丙型测试灯", &sub);
    s_rig_start (&rig, 2);
    //  ten near-duplicates at once: the PUSH deals them to both instances
    char burst [10][256];
    s_burst_texts (sub.keyword, burst, 10);
    const char *texts [10];
    for (int i = 0; i < 10; i++)
        texts [i] = burst [i];
    int64_t ids [10];
    s_submit_all (&rig, texts, 10, NULL, ids);
    s_wait_decided (&rig, ids, 10);
    char *list = s_id_list (ids, 10);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM incidents WHERE subcategory = '%s'", sub.name), 1,
                  "two instances opened more than one incident");
    long long incident = tf_test_scalar (rig.db, "SELECT id FROM incidents WHERE subcategory = '%s'"
                                                 " AND ticket_count = 10", sub.name);
    cr_assert_gt (incident, 0);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id IN (%s) AND incident_id = %lld"
                                          " AND priority = 'P1'", list, incident), 10);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM ticket_events WHERE ticket_id IN (%s)"
                                          " AND kind = 'incident_opened'", list), 5);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM ticket_events WHERE ticket_id IN (%s)"
                                          " AND kind = 'incident_joined'", list), 5);
    free (list);
    zmsg_t *frames;
    tf_msg_t event;
    cr_assert (s_recv_incident (&rig, 5000, &frames, &event), "no incident.opened");
    cr_assert_eq (tf_msg_int (&event, TF_F_INCIDENT_OPENED_INCIDENT_ID), incident);
    zmsg_destroy (&frames);
    cr_assert_eq (s_opened (&rig), 1, "a second incident.opened");
    s_rig_stop (&rig);
    s_test_sub_remove (setup, &sub);
    tf_db_destroy (&setup);
}

//  The index learns what other instances classified by replaying it, and
//  only that: its own tickets are in it once however many batches pass
Test (classifier_incident, the_index_holds_each_ticket_once, .timeout = 90)
{
    tf_test_alone ();
    tf_db_t *setup = tf_test_db ();
    s_departments (setup);
    test_sub_t sub;
    s_test_sub (setup, "once", "丁型测试灯", &sub);
    tf_db_t *db = tf_test_db ();
    classifier_t *classifier = classifier_new (db, 0.01);
    cr_assert (classifier);
    cr_assert_gt (classifier_load_taxonomy (classifier), 0);
    classifier_set_incidents (classifier, 5, 30, 64, 16);
    //  three batches of unrelated tickets of the test's sub-category
    static const char *texts [] = {
        "丁型测试灯 灯罩裂了一道缝", "丁型测试灯 遥控器没有电池", "丁型测试灯 说明书是英文的看不懂",
        "丁型测试灯 颜色和图片上的不一样", "丁型测试灯 底座螺丝少了两颗", "丁型测试灯 开关声音太响",
    };
    classifier_outcome_t out [2];
    size_t before = 0;
    for (int batch = 0; batch < 3; batch++) {
        int64_t ids [2];
        char no [32];
        for (int i = 0; i < 2; i++)
            ids [i] = s_submit (setup, texts [batch * 2 + i], NULL, no, sizeof no);
        cr_assert_eq (classifier_run_ids (classifier, ids, 2, out), 2);
        size_t held = classifier_incident_memory (classifier);
        if (batch > 0)
            cr_assert_eq (held, before + 2, "batch %d: the index holds %zu, expected %zu", batch, held, before + 2);
        before = held;
    }
    classifier_destroy (&classifier);
    tf_db_destroy (&db);
    s_test_sub_remove (setup, &sub);
    tf_db_destroy (&setup);
}

//  Two classifiers (objects, each on a connection of its own, incidents on)
//  take the same 300 ids at once from two threads, a batch at a time, each
//  batch locked with SKIP LOCKED: every ticket is classified once, and the
//  burst the 300 make opens one incident, whichever instance saw what.
#define SAME_IDS 300
#define SAME_BATCH 30

typedef struct {
    classifier_t *classifier;
    const int64_t *ids;
    pthread_barrier_t *start;
    int moved;
    int failed;
    int opened;
} taker_t;

static void *
s_taker (void *arg)
{
    taker_t *self = arg;
    classifier_outcome_t *out = calloc (SAME_BATCH, sizeof *out);
    pthread_barrier_wait (self->start);
    for (int i = 0; i < SAME_IDS; i += SAME_BATCH) {
        int n = classifier_run_ids (self->classifier, self->ids + i, SAME_BATCH, out);
        if (n < 0)
            self->failed++;
        self->moved += n > 0? n: 0;
        classifier_incident_t *incident;
        while ((incident = classifier_next_incident (self->classifier))) {
            self->opened++;
            classifier_incident_destroy (&incident);
        }
    }
    free (out);
    return NULL;
}

Test (classifier_incident, two_classifiers_on_the_same_300_ids_classify_each_once, .timeout = 90)
{
    tf_db_t *setup = tf_test_db ();
    s_departments (setup);
    test_sub_t sub;
    s_test_sub (setup, "same", "戊型测试灯", &sub);
    //  one burst of near-duplicates, stored in one intake batch
    char tag [96];
    snprintf (tag, sizeof tag, "same-%s", tf_test_unique ());
    static char texts [SAME_IDS][256];
    static tf_msg_t msgs [SAME_IDS];
    static const tf_msg_t *batch [SAME_IDS];
    static intake_result_t results [SAME_IDS];
    int64_t ids [SAME_IDS];
    s_burst_texts (sub.keyword, texts, SAME_IDS);
    for (int i = 0; i < SAME_IDS; i++) {
        char ext [128];
        snprintf (ext, sizeof ext, "%s-%d", tag, i);
        tf_msg_init (&msgs [i], TF_MSG_SUBMIT);
        tf_msg_set_cstr (&msgs [i], TF_F_SUBMIT_CHANNEL, "app");
        tf_msg_set_cstr (&msgs [i], TF_F_SUBMIT_BODY, texts [i]);
        tf_msg_set_cstr (&msgs [i], TF_F_SUBMIT_EXTERNAL_ID, ext);
        tf_msg_set_cstr (&msgs [i], TF_F_CUSTOMER_ID, "C-incident");
        batch [i] = &msgs [i];
    }
    intake_t *intake = intake_new (setup);
    cr_assert (intake);
    cr_assert_eq (intake_submit (intake, batch, SAME_IDS, results), 0);
    for (int i = 0; i < SAME_IDS; i++) {
        cr_assert (results [i].ok && !results [i].duplicate);
        ids [i] = results [i].ticket_id;
        tf_msg_clear (&msgs [i]);
    }
    intake_destroy (&intake);

    pthread_barrier_t start;
    pthread_barrier_init (&start, NULL, 2);
    tf_db_t *conn [2];
    taker_t takers [2];
    pthread_t threads [2];
    for (int k = 0; k < 2; k++) {
        conn [k] = tf_test_db ();
        classifier_t *classifier = classifier_new (conn [k], 0.01);
        cr_assert (classifier);
        cr_assert_gt (classifier_load_taxonomy (classifier), 0);
        classifier_set_incidents (classifier, 5, 30, 4096, 16384);
        takers [k] = (taker_t) { .classifier = classifier, .ids = ids, .start = &start };
    }
    for (int k = 0; k < 2; k++)
        pthread_create (&threads [k], NULL, s_taker, &takers [k]);
    for (int k = 0; k < 2; k++)
        pthread_join (threads [k], NULL);
    pthread_barrier_destroy (&start);
    for (int k = 0; k < 2; k++) {
        cr_assert_eq (takers [k].failed, 0, "classifier %d: a batch failed", k);
        classifier_destroy (&takers [k].classifier);
        tf_db_destroy (&conn [k]);
    }
    //  both passed over every id once: whatever one skipped, the other held
    cr_assert_eq (takers [0].moved + takers [1].moved, SAME_IDS, "classified %d + %d",
                  takers [0].moved, takers [1].moved);
    cr_assert_eq (takers [0].opened + takers [1].opened, 1, "incidents handed out: %d + %d",
                  takers [0].opened, takers [1].opened);
    const char *mine = "SELECT id FROM tickets WHERE external_id LIKE '%s-%%'";
    char in [256];
    snprintf (in, sizeof in, mine, tag);
    cr_assert_eq (tf_test_scalar (setup, "SELECT count(*) FROM tickets WHERE id IN (%s) AND status = 'classified'"
                                         " AND subcategory = '%s'", in, sub.name), SAME_IDS);
    cr_assert_eq (tf_test_scalar (setup, "SELECT count(*) FROM ticket_events WHERE ticket_id IN (%s)"
                                         " AND kind IN ('classified', 'triage')", in), SAME_IDS);
    cr_assert_eq (tf_test_scalar (setup, "SELECT count(DISTINCT ticket_id) FROM ticket_events WHERE ticket_id IN (%s)"
                                         " AND kind IN ('classified', 'triage')", in), SAME_IDS);
    //  one incident, every ticket in it, opened by the first five
    cr_assert_eq (tf_test_scalar (setup, "SELECT count(*) FROM incidents WHERE subcategory = '%s'", sub.name), 1,
                  "two classifiers opened more than one incident for one burst");
    long long incident = tf_test_scalar (setup, "SELECT id FROM incidents WHERE subcategory = '%s'"
                                                " AND ticket_count = %d", sub.name, SAME_IDS);
    cr_assert_gt (incident, 0);
    cr_assert_eq (tf_test_scalar (setup, "SELECT count(*) FROM tickets WHERE id IN (%s) AND incident_id = %lld"
                                         " AND priority = 'P1'", in, incident), SAME_IDS);
    cr_assert_eq (tf_test_scalar (setup, "SELECT count(*) FROM ticket_events WHERE ticket_id IN (%s)"
                                         " AND kind = 'incident_opened'", in), 5);
    cr_assert_eq (tf_test_scalar (setup, "SELECT count(*) FROM ticket_events WHERE ticket_id IN (%s)"
                                         " AND kind = 'incident_joined'", in), SAME_IDS - 5);
    s_test_sub_remove (setup, &sub);
    tf_db_destroy (&setup);
}
