//  The classify stage: the keyword scorer (sub-category, third level,
//  confidence, priority reasons; the priority cases with P1 recall), the
//  stage over the database (history, triage, idempotency, a person's
//  classification), the actor over ZeroMQ (events in and out, the
//  reconciler, requests), the trained model in the service (end to end,
//  classify.text and ticketctl classify, RELOAD swapping a model and
//  keeping it when the new file is bad, a missing model), sentiment, and
//  training from the agents' corrections. Mass incidents are in
//  test_classifier_incident.c.
#include "classifier.h"
#include "classifier_model.h"
#include "classifier_sentiment.h"
#include "classifier_service.h"
#include "linmodel.h"
#include "ticketctl.h"
#include "tf_json.h"
#include "csvread.h"
#include "intake.h"
#include "tf_actor.h"
#include "tf_net.h"
#include "tf_ticket.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <math.h>
#include <unistd.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (classifier_scorer, .timeout = 30);
TestSuite (classifier_stage, .timeout = 60);
TestSuite (classifier_actor, .timeout = 60);
TestSuite (classifier_model, .timeout = 60);
TestSuite (classifier_sentiment, .timeout = 30);

//  --------------------------------------------------------------------------
//  Helpers

static char *
s_path (const char *relative)
{
    char *path = malloc (4096);
    snprintf (path, 4096, "%s/%s", tf_home (), relative);
    return path;
}

//  A classifier holding the real taxonomy file and lexicon, no database
static classifier_t *
s_real_classifier (tf_db_t *db, double min_confidence)
{
    classifier_t *c = classifier_new (db, min_confidence);
    cr_assert (c);
    char *path = s_path ("deploy/taxonomy/taxonomy.json");
    json_error_t jerr;
    json_t *root = json_load_file (path, 0, &jerr);
    cr_assert (root, "cannot read %s: %s", path, jerr.text);
    size_t ci, si, ti, ki;
    json_t *cat, *sub, *third, *kw;
    json_array_foreach (json_object_get (root, "categories"), ci, cat)
        json_array_foreach (json_object_get (cat, "subcategories"), si, sub) {
            const char *words [512];
            size_t n = 0;
            json_array_foreach (json_object_get (sub, "keywords"), ki, kw)
                if (n < 512)
                    words [n++] = json_string_value (kw);
            const char *name = json_string_value (json_object_get (sub, "name"));
            cr_assert_eq (classifier_add_subcategory (c, json_string_value (json_object_get (cat, "name")), name,
                          json_string_value (json_object_get (sub, "default_priority")), words, n), 0);
            json_array_foreach (json_object_get (sub, "third_levels"), ti, third) {
                n = 0;
                json_array_foreach (json_object_get (third, "keywords"), ki, kw)
                    if (n < 512)
                        words [n++] = json_string_value (kw);
                cr_assert_eq (classifier_add_third_level (c, name,
                              json_string_value (json_object_get (third, "name")), words, n), 0);
            }
        }
    json_decref (root);
    free (path);
    path = s_path ("deploy/taxonomy/lexicon.json");
    cr_assert_gt (classifier_load_lexicon (c, path), 0, "cannot load %s", path);
    free (path);
    return c;
}

static void
s_decide (const classifier_t *c, const char *text, const char *source, classifier_result_t *r)
{
    classifier_decide (c, text, strlen (text), source, r);
}

static bool
s_has_reason (const classifier_result_t *r, const char *code)
{
    for (size_t i = 0; i < r->reason_count; i++)
        if (strcmp (r->reasons [i], code) == 0)
            return true;
    return false;
}

static void
s_expect (const classifier_t *c, const char *text, const char *source, const char *subcategory,
          const char *third_level, const char *priority, const char *reason)
{
    classifier_result_t r;
    s_decide (c, text, source, &r);
    if (subcategory) {
        cr_assert_not (r.triage, "'%s': triage (best %s, confidence %.2f)", text,
                       r.subcategory? r.subcategory: "-", r.confidence);
        cr_assert_str_eq (r.subcategory, subcategory, "'%s': %s, expected %s", text, r.subcategory, subcategory);
    }
    else
        cr_assert (r.triage, "'%s': expected triage, got %s (%.2f)", text, r.subcategory, r.confidence);
    if (third_level)
        cr_assert (r.third_level && strcmp (r.third_level, third_level) == 0,
                   "'%s': third level %s, expected %s", text, r.third_level? r.third_level: "none", third_level);
    else
        cr_assert_null (r.third_level, "'%s': unexpected third level %s", text, r.third_level);
    cr_assert_str_eq (r.priority, priority, "'%s': priority %s, expected %s", text, r.priority, priority);
    if (reason && *reason)
        cr_assert (s_has_reason (&r, reason), "'%s': reason %s missing", text, reason);
    else
    if (reason)
        cr_assert_eq (r.reason_count, 0, "'%s': unexpected reason %s", text, r.reason_count? r.reasons [0]: "");
}

//  Inserts the default taxonomy (departments first) unless the loader of
//  bin/ticketflow-migrate did already.
static void
s_taxonomy_fixture (tf_db_t *db)
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
    res = tf_db_query (db,
        "INSERT INTO taxonomy (subcategory, code, category, category_code, name_en, category_en,"
        "  first_owner, department, response_minutes, resolve_minutes, deadline_text,"
        "  default_priority, keywords, third_levels, solution_steps, phrases, example)"
        " SELECT s->>'name', s->>'code', c->>'name', c->>'code', s->>'name_en', c->>'name_en',"
        "  s->>'first_owner', s->>'department', (s->>'response_minutes')::int,"
        "  (s->>'resolve_minutes')::int, s->>'deadline_text', s->>'default_priority',"
        "  ARRAY (SELECT jsonb_array_elements_text (s->'keywords')),"
        "  coalesce (s->'third_levels', '[]'), coalesce (s->'solution_steps', '[]'),"
        "  coalesce (s->'phrases', '{}'), s->>'example'"
        " FROM jsonb_array_elements ($1::jsonb->'categories') c,"
        "      jsonb_array_elements (c->'subcategories') s ON CONFLICT DO NOTHING", 1, params);
    cr_assert (tf_db_ok (db, res, "taxonomy"));
    PQclear (res);
    free (data);
    cr_assert_gt (tf_test_scalar (db, "SELECT count(*) FROM taxonomy WHERE subcategory = '物流信息更新延迟'"), 0);
}

//  A classifier over the test database, the default taxonomy loaded
static classifier_t *
s_stage_classifier (tf_db_t *db)
{
    s_taxonomy_fixture (db);
    classifier_t *c = classifier_new (db, 0.5);
    cr_assert (c);
    cr_assert_gt (classifier_load_taxonomy (c), 0);
    return c;
}

//  Submits one ticket through intake; returns its id, number in no
static int64_t
s_submit (tf_db_t *db, const char *tag, const char *channel, const char *subject, const char *body,
          char *no, size_t size)
{
    intake_t *intake = intake_new (db);
    cr_assert (intake);
    static int counter;
    char ext [128];
    snprintf (ext, sizeof ext, "cls-%s-%s-%d", tag, tf_test_unique (), ++counter);
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, channel);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, body);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_SUBJECT, subject);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_EXTERNAL_ID, ext);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "C-classifier");
    const tf_msg_t *batch [] = { &m };
    intake_result_t r;
    cr_assert_eq (intake_submit (intake, batch, 1, &r), 0);
    cr_assert (r.ok);
    if (no)
        snprintf (no, size, "%s", r.ticket_no);
    tf_msg_clear (&m);
    intake_destroy (&intake);
    return r.ticket_id;
}

static long long
s_count_events (tf_db_t *db, int64_t id, const char *kind)
{
    return tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = '%s'",
                           (long long) id, kind);
}

//  --------------------------------------------------------------------------
//  The scorer, on a small hand-made taxonomy (built-in reasons)

static classifier_t *
s_small_classifier (void)
{
    classifier_t *c = classifier_new (NULL, 0.5);
    cr_assert (c);
    const char *logistics [] = { "物流", "快递", "没更新", "tracking", "包裹" };
    const char *pickup [] = { "待揽收", "not picked up" };
    const char *delivery [] = { "派送", "驿站" };
    const char *howto [] = { "怎么用", "优惠券", "how to", "在哪", "在哪里" };
    const char *stolen [] = { "被盗", "异地登录", "账号" };
    const char *api [] = { "api", "timeout", "接口" };
    const char *complaint [] = { "态度", "挂电话" };
    const char *partner [] = { "合作", "代理" };
    cr_assert_eq (classifier_add_subcategory (c, "订单物流", "物流信息更新延迟", "P2", logistics, 5), 0);
    cr_assert_eq (classifier_add_third_level (c, "物流信息更新延迟", "揽收超时", pickup, 2), 0);
    cr_assert_eq (classifier_add_third_level (c, "物流信息更新延迟", "派送失败", delivery, 2), 0);
    cr_assert_eq (classifier_add_subcategory (c, "产品使用", "功能操作", "P3", howto, 5), 0);
    cr_assert_eq (classifier_add_subcategory (c, "账户安全", "账号被盗", "P1", stolen, 3), 0);
    cr_assert_eq (classifier_add_subcategory (c, "技术故障", "后端接口", "P2", api, 3), 0);
    cr_assert_eq (classifier_add_subcategory (c, "服务态度", "客户投诉", "P2", complaint, 2), 0);
    cr_assert_eq (classifier_add_subcategory (c, "其他咨询", "合作/建议", "P3", partner, 2), 0);
    //  refused: repeated name, bad priority, unknown parent
    cr_assert_eq (classifier_add_subcategory (c, "x", "功能操作", "P3", howto, 1), -1);
    cr_assert_eq (classifier_add_subcategory (c, "x", "y", "P4", howto, 1), -1);
    cr_assert_eq (classifier_add_third_level (c, "nope", "z", pickup, 1), -1);
    cr_assert_eq (classifier_taxonomy_size (c), 6);
    return c;
}

Test (classifier_scorer, keywords_third_level_and_confidence)
{
    classifier_t *c = s_small_classifier ();
    //  Chinese, with a third level
    s_expect (c, "快递三天了物流一直没更新 显示待揽收", NULL, "物流信息更新延迟", "揽收超时", "P2", "");
    s_expect (c, "包裹在驿站放了两天 物流没更新", NULL, "物流信息更新延迟", "派送失败", "P2", "");
    //  mixed and upper case: keywords are matched lower-cased
    s_expect (c, "My TRACKING number shows nothing, 包裹 not picked up", NULL, "物流信息更新延迟", "揽收超时", "P2", "");
    //  full-width letters fold to ASCII
    s_expect (c, "ＨＯＷ ＴＯ 用优惠券", NULL, "功能操作", NULL, "P3", "");
    //  the sub-category's default priority (P1 for a stolen account)
    s_expect (c, "我的账号被盗了 还有异地登录", NULL, "账号被盗", NULL, "P1", "account_stolen");
    //  an ASCII keyword is a whole word: "rapid" is not "api", "timeouts" is "timeout"
    s_expect (c, "rapid growth", NULL, NULL, NULL, "", NULL);
    s_expect (c, "payment api timeouts since 9:00", NULL, "后端接口", NULL, "P2", "");
    //  gibberish: nothing matched, triage, no priority
    classifier_result_t r;
    s_decide (c, "asdkjh qwe zzz 12345 ？？", NULL, &r);
    cr_assert (r.triage);
    cr_assert_not (r.matched);
    cr_assert_null (r.subcategory);
    cr_assert_str_eq (r.priority, "");
    cr_assert_float_eq (r.confidence, 0.0, 1e-9);
    //  a tie between two sub-categories: matched, but no margin, so triage
    s_decide (c, "快递 态度", NULL, &r);
    cr_assert (r.matched);
    cr_assert (r.triage);
    cr_assert_float_eq (r.confidence, 0.0, 1e-9);
    cr_assert_not_null (r.runner_up);
    //  more keywords, more confidence; always within [0, 1]
    classifier_result_t one, three;
    s_decide (c, "快递", NULL, &one);
    s_decide (c, "快递 物流 包裹 没更新", NULL, &three);
    cr_assert_gt (three.confidence, one.confidence);
    cr_assert_leq (three.confidence, 1.0);
    cr_assert_geq (one.confidence, 0.0);
    cr_assert_eq (three.keyword_count, 4);
    //  a keyword inside a longer one found too counts once: 在哪里 holds 在哪
    s_decide (c, "优惠券在哪里", NULL, &r);
    cr_assert_eq (r.keyword_count, 2);
    classifier_destroy (&c);
    classifier_destroy (&c);
}

Test (classifier_scorer, priority_reasons_built_in)
{
    classifier_t *c = s_small_classifier ();
    //  personal safety raises a logistics ticket to P1
    s_expect (c, "快递里的食品变质了 孩子吃了拉肚子", NULL, "物流信息更新延迟", NULL, "P1", "personal_safety");
    //  negated: not injured is no reason
    s_expect (c, "包裹破了 人没有受伤 物流也没更新", NULL, "物流信息更新延迟", NULL, "P2", "");
    //  money taken, public threat
    s_expect (c, "优惠券没用上 钱被扣了 怎么用", NULL, "功能操作", NULL, "P1", "money_taken");
    s_expect (c, "客服态度差还挂电话 我要找媒体曝光 打12315", NULL, "客户投诉", NULL, "P1", "public_threat");
    //  a monitor alert with wide scope
    s_expect (c, "[ALERT] order api timeout, 所有用户 affected", "monitor", "后端接口", NULL, "P1", "wide_scope_alert");
    //  P3 for how-to and suggestions; P2 reasons raise P3 to P2
    s_expect (c, "优惠券怎么用", NULL, "功能操作", NULL, "P3", "");
    s_expect (c, "想谈代理合作", NULL, "合作/建议", NULL, "P3", "");
    s_expect (c, "优惠券怎么用 退款失败了", NULL, "功能操作", NULL, "P2", "refund_failed");
    //  a triage ticket still carries what the reasons say
    classifier_result_t r;
    s_decide (c, "吃了以后食物中毒 xyz", NULL, &r);
    cr_assert (r.triage);
    cr_assert_str_eq (r.priority, "P1");
    cr_assert (s_has_reason (&r, "personal_safety"));
    classifier_destroy (&c);
}

static size_t
s_fake_model (void *model, const char *text, size_t len, classifier_guess_t *out, size_t k)
{
    (void) text;
    (void) len;
    const char *answer = model;
    if (!answer || k == 0)
        return 0;
    out [0].label = answer;
    out [0].confidence = 0.93;
    return 1;
}

Test (classifier_scorer, a_trained_model_can_take_the_choice)
{
    classifier_t *c = s_small_classifier ();
    classifier_result_t r;
    //  the model chooses; keywords still give the third level, reasons the priority
    classifier_set_model (c, s_fake_model, "物流信息更新延迟");
    s_decide (c, "还是待揽收 我要曝光你们", NULL, &r);
    cr_assert_not (r.triage);
    cr_assert_str_eq (r.method, "model");
    cr_assert_str_eq (r.subcategory, "物流信息更新延迟");
    cr_assert_str_eq (r.third_level, "揽收超时");
    cr_assert_float_eq (r.confidence, 0.93, 1e-9);
    cr_assert_str_eq (r.priority, "P1");
    //  a label the taxonomy does not know, or no answer: keywords decide
    classifier_set_model (c, s_fake_model, "不存在的类别");
    s_decide (c, "优惠券怎么用", NULL, &r);
    cr_assert_str_eq (r.method, "keywords");
    cr_assert_str_eq (r.subcategory, "功能操作");
    classifier_set_model (c, s_fake_model, NULL);
    s_decide (c, "优惠券怎么用", NULL, &r);
    cr_assert_str_eq (r.method, "keywords");
    classifier_set_model (c, NULL, NULL);
    s_decide (c, "优惠券怎么用", NULL, &r);
    cr_assert_str_eq (r.method, "keywords");
    classifier_destroy (&c);
}

Test (classifier_scorer, lexicon_files)
{
    classifier_t *c = s_small_classifier ();
    //  missing or malformed: the reasons in use stay
    cr_assert_eq (classifier_load_lexicon (c, "/nonexistent/lexicon.json"), -1);
    char path [] = "/tmp/tf-lexicon-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    const char *bad = "{\"reasons\": 5}";
    cr_assert_eq (write (fd, bad, strlen (bad)), (ssize_t) strlen (bad));
    close (fd);
    cr_assert_eq (classifier_load_lexicon (c, path), -1);
    classifier_result_t r;
    s_decide (c, "快递到了 吃了食物中毒", NULL, &r);
    cr_assert_str_eq (r.priority, "P1");
    //  a valid one replaces them; bad entries are skipped
    FILE *f = fopen (path, "w");
    fputs ("{\"reasons\":[{\"code\":\"vip\",\"priority\":\"P1\",\"terms\":[\"VIP客户\",\"Gold Member\"]},"
           "{\"code\":\"Bad Code\",\"priority\":\"P1\",\"terms\":[\"快递\"]},"
           "{\"code\":\"x\",\"priority\":\"P9\",\"terms\":[\"快递\"]}]}", f);
    fclose (f);
    cr_assert_eq (classifier_load_lexicon (c, path), 1);
    s_decide (c, "快递到了 吃了食物中毒", NULL, &r);
    cr_assert_str_eq (r.priority, "P2");
    cr_assert_eq (r.reason_count, 0);
    s_decide (c, "我是gold member 快递没更新", NULL, &r);
    cr_assert_str_eq (r.priority, "P1");
    cr_assert (s_has_reason (&r, "vip"));
    unlink (path);
    classifier_destroy (&c);
}

Test (classifier_scorer, hostile_bytes_never_crash)
{
    classifier_t *c = s_small_classifier ();
    classifier_result_t r;
    //  invalid UTF-8, NULs, truncated sequences, a lone full-width lead
    const char junk [] = "\xff\xfe\xc0\xaf\x00\xe5\xbf\xab\x00\xef\xbc\xed\xa0\x80\xe3\x80";
    classifier_decide (c, junk, sizeof junk - 1, NULL, &r);
    cr_assert (r.triage);
    classifier_decide (c, NULL, 0, NULL, &r);
    cr_assert (r.triage);
    classifier_decide (c, "", 0, "monitor", &r);
    cr_assert (r.triage);
    //  a large text, keywords at the very end, and random bytes
    size_t n = 1 << 20;
    char *big = malloc (n);
    for (size_t i = 0; i < n; i++)
        big [i] = (char) (rand () & 0xff);
    classifier_decide (c, big, n, NULL, &r);
    memset (big, 'a', n);
    memcpy (big + n - 6, "快递", 6);
    classifier_decide (c, big, n, NULL, &r);
    cr_assert (r.matched);
    cr_assert_str_eq (r.subcategory, "物流信息更新延迟");
    free (big);
    //  an empty taxonomy: everything goes to triage
    classifier_t *empty = classifier_new (NULL, 0.5);
    s_decide (empty, "快递没更新 食物中毒", NULL, &r);
    cr_assert (r.triage);
    cr_assert_not (r.matched);
    cr_assert_str_eq (r.priority, "P1");
    classifier_destroy (&empty);
    classifier_destroy (&c);
}

//  --------------------------------------------------------------------------
//  The scorer on the real taxonomy and lexicon

Test (classifier_scorer, real_taxonomy_chinese_and_mixed)
{
    classifier_t *c = s_real_classifier (NULL, 0.5);
    s_expect (c, "快递三天了物流信息一直没更新 还是显示待揽收", NULL, "物流信息更新延迟", "揽收超时", "P2", "");
    s_expect (c, "请问优惠券怎么使用 在哪里领券", NULL, "功能操作", NULL, "P3", "");
    s_expect (c, "我的账号被盗了 有陌生设备登录", NULL, "账号被盗", NULL, "P1", "account_stolen");
    s_expect (c, "吃了你们卖的零食 全家食物中毒 已经去医院了 快递也慢", NULL, "物流信息更新延迟", NULL, "P1", "personal_safety");
    s_expect (c, "[ALERT] payment-api p99 latency 5.2s, error rate 12%, affects 10% orders", "monitor",
              "后端接口", NULL, "P1", "wide_scope_alert");
    s_expect (c, "客服态度很差 直接挂我电话 再不处理我就找媒体曝光", NULL, "客户投诉", NULL, "P1", "public_threat");
    s_expect (c, "建议增加夜间模式 希望能出这个功能", NULL, "功能建议", NULL, "P3", "");
    s_expect (c, "qwerty asdf 啊啊啊 123", NULL, NULL, NULL, "", "");
    classifier_destroy (&c);
}

//  The lexicon's own cases (deploy/taxonomy/priority_cases.csv): P1 agrees
//  on at least 95 % of the cases, and P1 recall (the costly mistake is a
//  missed P1) is at least 98 %; reasons agree on 90 %. Run with keywords
//  alone and with the trained default model deciding the sub-category.
static void
s_priority_cases (classifier_t *c, const char *what)
{
    char *path = s_path ("deploy/taxonomy/priority_cases.csv");
    char err [256];
    csvread_t *csv = csvread_open (path, CSVREAD_CSV, err, sizeof err);
    cr_assert (csv, "%s", err);
    int text_col = csvread_column_index (csv, "text");
    int prio_col = csvread_column_index (csv, "priority");
    int why_col = csvread_column_index (csv, "reasons");
    cr_assert (text_col >= 0 && prio_col >= 0 && why_col >= 0);
    size_t rows = 0, p1_agree = 0, reasons_agree = 0, p1_cases = 0, p1_found = 0, p1_false = 0;
    while (csvread_next (csv) == 1) {
        size_t len;
        const char *text = csvread_field (csv, (size_t) text_col, &len);
        const char *expected = csvread_field (csv, (size_t) prio_col, NULL);
        char why [256];
        snprintf (why, sizeof why, "%s", csvread_field (csv, (size_t) why_col, NULL));
        classifier_result_t r;
        classifier_decide (c, text, len, NULL, &r);
        bool p1 = strcmp (r.priority, "P1") == 0;
        bool want_p1 = strcmp (expected, "P1") == 0;
        p1_agree += p1 == want_p1;
        p1_cases += want_p1;
        p1_found += want_p1 && p1;
        p1_false += p1 && !want_p1;
        if (want_p1 && !p1)
            fprintf (stderr, "priority_cases (%s): missed P1: %s\n", what, text);
        //  the expected reasons, '|'-separated, are exactly the ones found
        size_t want = 0;
        bool all = true;
        char *save = NULL;
        for (char *code = strtok_r (why, "|", &save); code; code = strtok_r (NULL, "|", &save)) {
            want++;
            all = all && s_has_reason (&r, code);
        }
        reasons_agree += all && want == r.reason_count;
        rows++;
    }
    csvread_destroy (&csv);
    free (path);
    fprintf (stderr, "priority_cases (%s): %zu cases, P1 agrees on %zu (%.1f %%), P1 recall %zu/%zu (%.1f %%),"
             " %zu false P1, reasons agree on %zu (%.1f %%)\n", what, rows, p1_agree, 100.0 * p1_agree / rows,
             p1_found, p1_cases, 100.0 * p1_found / p1_cases, p1_false, reasons_agree,
             100.0 * reasons_agree / rows);
    cr_assert_gt (rows, 50);
    cr_assert_gt (p1_cases, 20);
    cr_assert_geq (p1_agree * 100, rows * 95, "%s: P1 agrees on %zu of %zu cases", what, p1_agree, rows);
    cr_assert_geq (p1_found * 100, p1_cases * 98, "%s: P1 recall %zu of %zu", what, p1_found, p1_cases);
    cr_assert_geq (reasons_agree * 100, rows * 90, "%s: reasons agree on %zu of %zu cases", what,
                   reasons_agree, rows);
}

Test (classifier_scorer, priority_cases_from_the_lexicon)
{
    classifier_t *c = s_real_classifier (NULL, 0.5);
    s_priority_cases (c, "keywords");
    char *model_path = s_path ("build/models/default.model");
    char err [512];
    classifier_models_t *models = classifier_models_load (model_path, err, sizeof err);
    cr_assert (models, "the default model (make builds it): %s", err);
    classifier_models_attach (models, c);
    s_priority_cases (c, "model");
    classifier_destroy (&c);
    classifier_models_destroy (&models);
    free (model_path);
}

//  The labelled tickets (deploy/taxonomy/train.csv): what the keyword
//  scorer classifies by itself is mostly right; the rest goes to triage.
Test (classifier_scorer, labelled_tickets_precision)
{
    classifier_t *c = s_real_classifier (NULL, 0.5);
    char *path = s_path ("deploy/taxonomy/train.csv");
    char err [256];
    csvread_pairs_t *pairs = csvread_pairs_new ();
    cr_assert_gt (csvread_pairs_load (pairs, path, CSVREAD_CSV, "text", "subcategory", err, sizeof err), 0, "%s", err);
    size_t classified = 0, right = 0;
    for (size_t i = 0; i < pairs->count; i++) {
        classifier_result_t r;
        classifier_decide (c, pairs->texts [i], pairs->lens [i], NULL, &r);
        if (r.triage)
            continue;
        classified++;
        right += strcmp (r.subcategory, pairs->labels [i]) == 0;
    }
    cr_assert_geq (classified * 100, pairs->count * 45, "only %zu of %zu classified", classified, pairs->count);
    cr_assert_geq (right * 100, classified * 80, "%zu of %zu classified ones right", right, classified);
    csvread_pairs_destroy (&pairs);
    free (path);
    classifier_destroy (&c);
}

//  --------------------------------------------------------------------------
//  The stage over the database

Test (classifier_stage, classifies_records_history_and_ignores_repeats)
{
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    classifier_t *c = classifier_new (db, 0.5);
    cr_assert (c);
    cr_assert_gt (classifier_load_lexicon (c, "/nonexistent"), -2);
    cr_assert_geq (classifier_load_taxonomy (c), 15);
    char *lexicon = s_path ("deploy/taxonomy/lexicon.json");
    cr_assert_gt (classifier_load_lexicon (c, lexicon), 0);
    free (lexicon);

    int64_t ids [3];
    ids [0] = s_submit (db, "stage", "app", "物流不更新", "快递三天了物流信息一直没更新 还是显示待揽收", NULL, 0);
    ids [1] = s_submit (db, "stage", "wechat", NULL, "我的账号被盗了 有陌生设备登录 还被盗刷了", NULL, 0);
    ids [2] = s_submit (db, "stage", "web", NULL, "zxcv qwer 1234 ???", NULL, 0);
    classifier_outcome_t out [3];
    cr_assert_eq (classifier_run_ids (c, ids, 3, out), 3);
    cr_assert_str_eq (out [0].status, "classified");
    cr_assert_str_eq (out [1].status, "classified");
    cr_assert_str_eq (out [2].status, "triage");

    //  the ticket carries the decision
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'classified'"
                                      " AND category = '订单物流' AND subcategory = '物流信息更新延迟'"
                                      " AND third_level = '揽收超时' AND priority = 'P2'"
                                      " AND confidence BETWEEN 0.5 AND 1 AND priority_reasons = '{}'",
                                  (long long) ids [0]), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'classified'"
                                      " AND subcategory = '账号被盗' AND priority = 'P1'"
                                      " AND 'account_stolen' = ANY (priority_reasons)"
                                      " AND 'money_taken' = ANY (priority_reasons)", (long long) ids [1]), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'triage'"
                                      " AND subcategory IS NULL AND priority IS NULL", (long long) ids [2]), 1);
    //  and its history says why
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'classified' AND from_status = 'received'"
                                      " AND to_status = 'classified' AND actor = 'classifier'"
                                      " AND data->>'subcategory' = '物流信息更新延迟' AND data->>'priority' = 'P2'"
                                      " AND (data->>'confidence')::float >= 0.5"
                                      " AND jsonb_typeof (data->'reasons') = 'array'"
                                      " AND data->>'third_level' = '揽收超时'"
                                      " AND jsonb_array_length (data->'keywords') > 0", (long long) ids [0]), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'classified' AND data->'reasons' ? 'account_stolen'",
                                  (long long) ids [1]), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'triage' AND to_status = 'triage'"
                                      " AND data->>'why' = 'no_match'", (long long) ids [2]), 1);

    //  a repeated event, and the reconciler on the same tickets: nothing changes
    cr_assert_eq (classifier_run_ids (c, ids, 3, out), 0);
    cr_assert_eq (classifier_run_ids (c, ids, 1, out), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq (s_count_events (db, ids [i], "classified"), 1);
    cr_assert_eq (s_count_events (db, ids [2], "triage"), 1);
    //  unknown ids are skipped
    int64_t unknown = INT64_MAX - 7;
    cr_assert_eq (classifier_run_ids (c, &unknown, 1, out), 0);
    classifier_destroy (&c);
    tf_db_destroy (&db);
}

Test (classifier_stage, a_person_classifies_and_corrections_are_recorded)
{
    tf_db_t *db = tf_test_db ();
    classifier_t *c = s_stage_classifier (db);
    char no [32];
    int64_t id = s_submit (db, "person", "phone", NULL, "blah blah 不知道说什么 但是吃了以后过敏了", no, sizeof no);
    classifier_outcome_t out;
    cr_assert_eq (classifier_run_ids (c, &id, 1, &out), 1);
    cr_assert_str_eq (out.status, "triage");
    //  a triage ticket with a P1 reason shows it already
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'triage'"
                                      " AND priority = 'P1' AND 'personal_safety' = ANY (priority_reasons)",
                                  (long long) id), 1);
    tf_error_t err;
    //  refused: unknown sub-category, unknown ticket; nothing changes
    cr_assert_eq (classifier_reclassify (c, no, "不存在", NULL, "agent-7", &out, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_BAD_VALUE);
    cr_assert_str_eq (err.field, "subcategory");
    cr_assert_eq (classifier_reclassify (c, "CS209901019999", "商品配送异常", NULL, "agent-7", &out, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_NOT_FOUND);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM classification_corrections WHERE ticket_id = %lld",
                                  (long long) id), 0);
    //  the person's classification: default priority raised by the P1 reason
    cr_assert_eq (classifier_reclassify (c, no, "商品配送异常", NULL, "agent-7", &out, &err), 0, "%s", err.message);
    cr_assert_str_eq (out.status, "classified");
    cr_assert_eq (out.ticket_id, id);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'classified'"
                                      " AND category = '订单物流' AND subcategory = '商品配送异常' AND priority = 'P1'"
                                      " AND confidence = 1", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM classification_corrections WHERE ticket_id = %lld"
                                      " AND predicted IS NULL AND corrected = '商品配送异常' AND actor = 'agent-7'"
                                      " AND text LIKE '%%过敏%%'", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                      " AND kind = 'classified' AND from_status = 'triage' AND actor = 'agent-7'"
                                      " AND data->>'method' = 'person'", (long long) id), 1);
    //  re-classified with an explicit priority: predicted is what it had
    cr_assert_eq (classifier_reclassify (c, no, "退换货申请", "P3", NULL, &out, &err), 0, "%s", err.message);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND subcategory = '退换货申请'"
                                      " AND priority = 'P3'", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM classification_corrections WHERE ticket_id = %lld"
                                      " AND predicted = '商品配送异常' AND corrected = '退换货申请' AND actor = 'unknown'",
                                  (long long) id), 1);
    //  a closed ticket cannot be classified
    cr_assert_eq (tf_test_scalar (db, "UPDATE tickets SET status = 'closed' WHERE id = %lld RETURNING 1",
                                  (long long) id), 1);
    cr_assert_eq (classifier_reclassify (c, no, "商品配送异常", NULL, "agent-7", &out, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_ILLEGAL_TRANSITION);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM classification_corrections WHERE ticket_id = %lld",
                                  (long long) id), 2);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'closed'"
                                      " AND subcategory = '退换货申请'", (long long) id), 1);
    classifier_destroy (&c);
    tf_db_destroy (&db);
}

//  A person's classification and the classifier's decision share one
//  priority rule: the default raised by the reasons, extreme emotion to P1
Test (classifier_stage, a_person_gets_the_same_priority_rule)
{
    tf_db_t *db = tf_test_db ();
    classifier_t *c = s_stage_classifier (db);
    tf_error_t err;
    classifier_outcome_t out;
    classifier_result_t r;

    //  furious without a reason word: extreme_emotion, P1, over a P3 default
    const char *furious = "THIS IS THE WORST SERVICE EVER!!! I AM SO ANGRY";
    char no [32];
    int64_t id = s_submit (db, "rule", "web", NULL, furious, no, sizeof no);
    s_decide (c, furious, NULL, &r);
    cr_assert_leq (r.sentiment, CLASSIFIER_SENTIMENT_EXTREME);
    cr_assert_str_eq (r.priority, "P1");
    cr_assert_eq (r.reason_count, 1);
    cr_assert_str_eq (r.reasons [0], "extreme_emotion");
    cr_assert_eq (classifier_reclassify (c, no, "功能操作", NULL, "agent-7", &out, &err), 0, "%s", err.message);
    cr_assert_str_eq (out.result.priority, "P1");
    cr_assert_eq (out.result.reason_count, 1);
    cr_assert_str_eq (out.result.reasons [0], "extreme_emotion");
    cr_assert_float_eq (out.result.sentiment, r.sentiment, 1e-12);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND priority = 'P1'"
                                      " AND priority_reasons = '{extreme_emotion}'", (long long) id), 1);

    //  an insult is a reason and lowers the mood: extreme_emotion once
    const char *insult = "你们这群骗子 我真的受够了！！！";
    id = s_submit (db, "rule", "web", NULL, insult, no, sizeof no);
    cr_assert_eq (classifier_reclassify (c, no, "功能操作", NULL, NULL, &out, &err), 0, "%s", err.message);
    cr_assert_str_eq (out.result.priority, "P1");
    cr_assert_eq (out.result.reason_count, 1, "%zu reasons", out.result.reason_count);

    //  a P2 reason raises a P3 default and leaves a P1 default alone
    const char *refund = "退款失败 已经三天了 麻烦看一下";
    id = s_submit (db, "rule", "web", NULL, refund, no, sizeof no);
    cr_assert_eq (classifier_reclassify (c, no, "功能操作", NULL, NULL, &out, &err), 0, "%s", err.message);
    cr_assert_str_eq (out.result.priority, "P2");
    cr_assert (s_has_reason (&out.result, "refund_failed"));
    cr_assert_eq (classifier_reclassify (c, no, "账号被盗", NULL, NULL, &out, &err), 0, "%s", err.message);
    cr_assert_str_eq (out.result.priority, "P1");
    //  the same text decided: the default of what it chose, raised the same way
    s_decide (c, refund, NULL, &r);
    cr_assert (s_has_reason (&r, "refund_failed"));
    if (!r.triage)
        cr_assert (strcmp (r.priority, "P2") <= 0, "decided %s", r.priority);
    else
        cr_assert_str_eq (r.priority, "P2");
    classifier_destroy (&c);
    tf_db_destroy (&db);
}

//  --------------------------------------------------------------------------
//  The actor

typedef struct {
    tf_config_t cfg;
    zsock_t *intake;            //  stands in for intake's ticket.received PUSH
    char intake_endpoint [256];
    zactor_t *actor;
    char *endpoint;
    char *events;
    zsock_t *pull;              //  the dispatcher's side of ticket.classified
    tf_db_t *db;
} rig_t;

//  model: the model file (NULL: the default one, build/models/default.model)
static void
s_rig_start_model (rig_t *rig, int stale_seconds, int reconcile_seconds, const char *model)
{
    memset (rig, 0, sizeof *rig);
    tf_test_config (&rig->cfg);
    if (model)
        rig->cfg.classifier_model = model;
    rig->db = tf_test_db ();
    s_taxonomy_fixture (rig->db);
    rig->intake = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    cr_assert (rig->intake);
    snprintf (rig->intake_endpoint, sizeof rig->intake_endpoint, "%s", zsock_endpoint (rig->intake));
    rig->cfg.intake_events_endpoint = rig->intake_endpoint;
    rig->cfg.stale_seconds = stale_seconds;
    rig->cfg.reconcile_seconds = reconcile_seconds;
    rig->cfg.classifier_publish_endpoint = "tcp://127.0.0.1:*";
    rig->actor = tf_test_service (&classifier_service, &rig->cfg, "ENDPOINT", &rig->endpoint);
    rig->events = tf_actor_query (rig->actor, "EVENTS");
    cr_assert (rig->events && strncmp (rig->events, "tcp://", 6) == 0);
    rig->pull = tf_test_pull (rig->events);
    zsock_set_rcvtimeo (rig->pull, 10000);
    zsock_set_sndtimeo (rig->intake, 2000);
    zclock_sleep (200);         //  let both connections settle
}

static void
s_rig_start (rig_t *rig, int stale_seconds, int reconcile_seconds)
{
    s_rig_start_model (rig, stale_seconds, reconcile_seconds, NULL);
}

static void
s_rig_stop (rig_t *rig)
{
    zsock_destroy (&rig->pull);
    zstr_free (&rig->events);
    zstr_free (&rig->endpoint);
    zactor_destroy (&rig->actor);
    zsock_destroy (&rig->intake);
    tf_db_destroy (&rig->db);
}

static void
s_send_received (rig_t *rig, int64_t id, const char *no)
{
    cr_assert_eq (tf_net_send_ticket_event (rig->intake, TF_MSG_RECEIVED, id, no), 0);
}

//  Waits for ticket.classified of ticket `id` (skipping others'); fails on timeout.
static void
s_expect_classified_event (rig_t *rig, int64_t id, const char *no)
{
    int64_t deadline = zclock_mono () + 10000;
    while (zclock_mono () < deadline) {
        zmsg_t *frames = NULL;
        tf_msg_t event;
        tf_error_t err;
        int rc = tf_net_recv_event (rig->pull, false, &frames, &event, &err);
        cr_assert (frames, "no ticket.classified event for %s", no);
        cr_assert_eq (rc, 0, "%s", err.message);
        cr_assert_eq (event.type, TF_MSG_CLASSIFIED);
        bool mine = tf_msg_int (&event, TF_F_CLASSIFIED_TICKET_ID) == id;
        if (mine) {
            const tf_value_t *v = &event.v [TF_F_CLASSIFIED_TICKET_NO];
            cr_assert (v->len == strlen (no) && memcmp (v->str, no, v->len) == 0);
        }
        zmsg_destroy (&frames);
        if (mine)
            return;
    }
    cr_assert_fail ("no ticket.classified event for %s", no);
}

Test (classifier_actor, event_in_classified_out_and_repeats_change_nothing)
{
    rig_t rig;
    s_rig_start (&rig, 86400, 5);
    char no [32], no2 [32];
    int64_t id = s_submit (rig.db, "actor", "taobao", NULL, "包裹到了 外箱破损 里面的杯子碎了两个", no, sizeof no);
    s_send_received (&rig, id, no);
    s_expect_classified_event (&rig, id, no);
    //  the event came after the commit: the ticket is classified for anyone
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'classified'"
                                          " AND subcategory = '商品配送异常' AND priority IS NOT NULL",
                                  (long long) id), 1);
    cr_assert_eq (s_count_events (rig.db, id, "classified"), 1);
    //  the same event twice more, then another ticket's: once that one is
    //  out, the repeats (sent before it, in order) were handled
    s_send_received (&rig, id, no);
    s_send_received (&rig, id, no);
    int64_t id2 = s_submit (rig.db, "actor", "app", NULL, "请问积分在哪里兑换 怎么操作", no2, sizeof no2);
    s_send_received (&rig, id2, no2);
    s_expect_classified_event (&rig, id2, no2);
    cr_assert_eq (s_count_events (rig.db, id, "classified"), 1);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'classified'"
                                          " AND subcategory = '功能操作' AND priority = 'P3'", (long long) id2), 1);
    //  a gibberish ticket goes to triage and announces nothing
    char no3 [32];
    int64_t id3 = s_submit (rig.db, "actor", "web", NULL, "zzzz qqqq 0000", no3, sizeof no3);
    s_send_received (&rig, id3, no3);
    int64_t deadline = zclock_mono () + 5000;
    while (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'triage'",
                           (long long) id3) != 1 && zclock_mono () < deadline)
        zclock_sleep (50);
    cr_assert_eq (s_count_events (rig.db, id3, "triage"), 1);
    //  an event for every ticket classified, none for triage (the reads wait
    //  for the loop to go round: what it decided has been announced)
    cr_assert_eq (tf_test_metric (rig.actor, "ticketflow_messages_sent_total"
                                  "{service=\"classifier\",type=\"ticket.classified\"}"),
                  tf_test_metric (rig.actor, "ticketflow_ticket_moves_total{service=\"classifier\",move=\"CLASSIFY\"}"),
                  "an event was sent for a triage ticket, or none for a classified one");
    cr_assert_geq (tf_test_metric (rig.actor, "ticketflow_ticket_moves_total{service=\"classifier\",move=\"TRIAGE\"}"), 1);
    //  garbage on the event socket is dropped, the actor carries on
    zmsg_t *junk = zmsg_new ();
    zmsg_addstr (junk, "ticket.received");
    zmsg_addmem (junk, "\xdd\xff\xff\xff\xff", 5);
    zmsg_send (&junk, rig.intake);
    junk = zmsg_new ();
    zmsg_addstr (junk, "only one frame");
    zmsg_send (&junk, rig.intake);
    tf_msg_t ping, reply;
    tf_msg_init (&ping, TF_MSG_PING);
    zmsg_t *reply_frames;
    tf_error_t err;
    cr_assert_eq (tf_net_request (rig.endpoint, &ping, 5000, &reply_frames, &reply, &err), 0);
    cr_assert_eq (reply.type, TF_MSG_PONG);
    cr_assert (reply.v [TF_F_PONG_SERVICE].len == 10 && memcmp (reply.v [TF_F_PONG_SERVICE].str, "classifier", 10) == 0);
    zmsg_destroy (&reply_frames);
    s_rig_stop (&rig);
}

Test (classifier_actor, the_reconciler_takes_tickets_left_in_received)
{
    //  only tickets waiting longer than an hour: the other tests' fresh ones
    //  are not this actor's to take
    rig_t rig;
    s_rig_start (&rig, 3600, 1);
    char no [32];
    int64_t id = s_submit (rig.db, "stale", "email", "退货", "买的鞋子尺码不合适 想申请七天无理由退货", no, sizeof no);
    cr_assert_eq (tf_test_scalar (rig.db, "UPDATE tickets SET status_changed_at = now () - interval '2 hours'"
                                          " WHERE id = %lld RETURNING 1", (long long) id), 1);
    //  no event was sent: the reconciler finds it (at start, then every second)
    s_expect_classified_event (&rig, id, no);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'classified'"
                                          " AND subcategory = '退换货申请'", (long long) id), 1);
    cr_assert_eq (s_count_events (rig.db, id, "classified"), 1);
    s_rig_stop (&rig);
}

static void
s_expect_error (const char *endpoint, const tf_msg_t *request, const char *code, const char *field)
{
    zmsg_t *frames;
    tf_msg_t reply;
    tf_error_t err;
    cr_assert_eq (tf_net_request (endpoint, request, 5000, &frames, &reply, &err), 0, "%s", err.message);
    cr_assert_eq (reply.type, TF_MSG_ERROR);
    const tf_value_t *v = &reply.v [TF_F_ERROR_CODE];
    cr_assert (v->len == strlen (code) && memcmp (v->str, code, v->len) == 0,
               "expected %s, got %.*s", code, (int) v->len, v->str);
    if (field) {
        v = &reply.v [TF_F_ERROR_FIELD];
        cr_assert (v->present && v->len == strlen (field) && memcmp (v->str, field, v->len) == 0,
                   "expected field %s", field);
    }
    zmsg_destroy (&frames);
}

Test (classifier_actor, ticket_classify_requests)
{
    rig_t rig;
    s_rig_start (&rig, 86400, 5);
    char no [32];
    int64_t id = s_submit (rig.db, "request", "chat", NULL, "xyzzy plugh frobozz 0000", no, sizeof no);
    s_send_received (&rig, id, no);
    int64_t deadline = zclock_mono () + 5000;
    while (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'triage'",
                           (long long) id) != 1 && zclock_mono () < deadline)
        zclock_sleep (50);
    cr_assert_eq (s_count_events (rig.db, id, "triage"), 1);

    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_CLASSIFY_TICKET);
    tf_msg_set_cstr (&m, TF_F_CLASSIFY_TICKET_TICKET_NO, no);
    tf_msg_set_cstr (&m, TF_F_CLASSIFY_TICKET_SUBCATEGORY, "没有这个类");
    tf_msg_set_cstr (&m, TF_F_CLASSIFY_TICKET_ACTOR, "supervisor-li");
    s_expect_error (rig.endpoint, &m, TF_ERR_BAD_VALUE, "subcategory");
    tf_msg_set_cstr (&m, TF_F_CLASSIFY_TICKET_SUBCATEGORY, "合作/建议");
    tf_msg_set_cstr (&m, TF_F_CLASSIFY_TICKET_PRIORITY, "P2");
    zmsg_t *frames;
    tf_msg_t reply;
    tf_error_t err;
    cr_assert_eq (tf_net_request (rig.endpoint, &m, 5000, &frames, &reply, &err), 0);
    cr_assert_eq (reply.type, TF_MSG_UPDATED);
    cr_assert (reply.v [TF_F_UPDATED_STATUS].len == 10 && memcmp (reply.v [TF_F_UPDATED_STATUS].str, "classified", 10) == 0);
    cr_assert (reply.v [TF_F_UPDATED_TICKET_NO].len == strlen (no));
    zmsg_destroy (&frames);
    s_expect_classified_event (&rig, id, no);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'classified'"
                                          " AND subcategory = '合作/建议' AND category = '其他咨询' AND priority = 'P2'",
                                  (long long) id), 1);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM classification_corrections WHERE ticket_id = %lld"
                                          " AND predicted IS NULL AND corrected = '合作/建议'"
                                          " AND actor = 'supervisor-li'", (long long) id), 1);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                          " AND kind = 'classified' AND from_status = 'triage'"
                                          " AND actor = 'supervisor-li'", (long long) id), 1);

    //  a ticket further down the flow: illegal, nothing recorded
    cr_assert_eq (tf_test_scalar (rig.db, "UPDATE tickets SET status = 'closed' WHERE id = %lld RETURNING 1",
                                  (long long) id), 1);
    s_expect_error (rig.endpoint, &m, TF_ERR_ILLEGAL_TRANSITION, NULL);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM classification_corrections WHERE ticket_id = %lld",
                                  (long long) id), 1);
    //  unknown ticket; a bad priority; requests this service does not serve
    tf_msg_set_cstr (&m, TF_F_CLASSIFY_TICKET_TICKET_NO, "CS209901019999");
    s_expect_error (rig.endpoint, &m, TF_ERR_NOT_FOUND, NULL);
    tf_msg_clear (&m);
    tf_msg_t get;
    tf_msg_init (&get, TF_MSG_GET);
    tf_msg_set_cstr (&get, TF_F_GET_TICKET_NO, no);
    s_expect_error (rig.endpoint, &get, TF_ERR_UNKNOWN_TYPE, NULL);
    tf_msg_clear (&get);
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, rig.endpoint, 1 << 20);
    zsock_set_rcvtimeo (dealer, 5000);
    static const char b0 [] = "\x82\xa9ticket_no\xae" "CS209901019999\xabsubcategory\xa0";   //  empty sub-category
    static const char b1 [] = "\x83\xa9ticket_no\xae" "CS209901019999\xabsubcategory\xa1x\xa8priority\xa2P9";
    static const char b2 [] = "\xdd\xff\xff\xff\xff";
    static const char b3 [] = "\x80";
    const char *bodies [] = { b0, b1, b2, b3 };
    size_t lens [] = { sizeof b0 - 1, sizeof b1 - 1, sizeof b2 - 1, sizeof b3 - 1 };
    const char *codes [] = { TF_ERR_BAD_VALUE, TF_ERR_BAD_VALUE, TF_ERR_BAD_MSGPACK, TF_ERR_MISSING_FIELD };
    for (size_t i = 0; i < 4; i++) {
        tf_test_send_raw (dealer, "ticket.classify", bodies [i], lens [i]);
        zmsg_t *answer = zmsg_recv (dealer);
        cr_assert (answer, "no reply to hostile request %zu", i);
        cr_assert_eq (zmsg_size (answer), 3);
        zframe_t *delimiter = zmsg_pop (answer);
        zframe_destroy (&delimiter);
        zframe_t *type = zmsg_first (answer);
        zframe_t *body = zmsg_next (answer);
        cr_assert (zframe_streq (type, "error"));
        tf_msg_t e;
        cr_assert_eq (tf_codec_decode_body (TF_MSG_ERROR, zframe_data (body), zframe_size (body), &e, &err), 0);
        cr_assert (e.v [TF_F_ERROR_CODE].len == strlen (codes [i])
                   && memcmp (e.v [TF_F_ERROR_CODE].str, codes [i], strlen (codes [i])) == 0,
                   "hostile request %zu: expected %s, got %.*s", i, codes [i],
                   (int) e.v [TF_F_ERROR_CODE].len, e.v [TF_F_ERROR_CODE].str);
        zmsg_destroy (&answer);
    }
    zsock_destroy (&dealer);
    s_rig_stop (&rig);
}

Test (classifier_actor, lexicon_path_follows_the_taxonomy_file)
{
    tf_config_t cfg;
    memset (&cfg, 0, sizeof cfg);
    char path [4096];
    cfg.taxonomy_file = "/etc/ticketflow/taxonomy.json";
    classifier_service_lexicon_path (&cfg, path, sizeof path);
    cr_assert_str_eq (path, "/etc/ticketflow/lexicon.json");
    cfg.taxonomy_file = "";
    classifier_service_lexicon_path (&cfg, path, sizeof path);
    cr_assert (strstr (path, "/deploy/taxonomy/lexicon.json"));
}

//  --------------------------------------------------------------------------
//  The trained model in the service, classify.text, RELOAD, sentiment,
//  corrections

//  Waits until ticket id has left `received`; returns its status
static void
s_wait_decided (tf_db_t *db, int64_t id)
{
    int64_t deadline = zclock_mono () + 10000;
    while (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status <> 'received'",
                           (long long) id) != 1 && zclock_mono () < deadline)
        zclock_sleep (50);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status <> 'received'",
                                  (long long) id), 1, "ticket %lld was not classified", (long long) id);
}

//  Sends classify.text and returns the reply as JSON (caller decrefs)
static json_t *
s_classify_text (const char *endpoint, const char *text, const char *source)
{
    tf_msg_t m, reply;
    tf_msg_init (&m, TF_MSG_CLASSIFY_TEXT);
    tf_msg_set_cstr (&m, TF_F_CLASSIFY_TEXT_TEXT, text);
    tf_msg_set_cstr (&m, TF_F_CLASSIFY_TEXT_SOURCE, source);
    zmsg_t *frames;
    tf_error_t err;
    cr_assert_eq (tf_net_request (endpoint, &m, 5000, &frames, &reply, &err), 0, "%s", err.message);
    tf_msg_clear (&m);
    cr_assert_eq (reply.type, TF_MSG_CLASSIFY_RESULT, "classify.text answered %s", tf_schemas [reply.type].name);
    zframe_t *body = zmsg_last (frames);
    json_t *json = tf_json_from_body (zframe_data (body), zframe_size (body));
    cr_assert (json);
    zmsg_destroy (&frames);
    return json;
}

static const char *
s_json_str (json_t *obj, const char *key)
{
    const char *v = json_string_value (json_object_get (obj, key));
    return v? v: "";
}

//  The reconciler on its own: the input points where nothing binds, so no
//  ticket.received can arrive and only the reconciler can classify
Test (classifier_actor, the_reconciler_alone_classifies_what_no_event_announced)
{
    tf_test_alone ();           //  stale-seconds 0: it takes every received ticket there is
    tf_db_t *db = tf_test_db ();
    s_taxonomy_fixture (db);
    tf_config_t cfg;
    tf_test_config (&cfg);
    cfg.intake_events_endpoint = tf_test_nowhere ();
    cfg.stale_seconds = 0;
    cfg.reconcile_seconds = 1;
    zactor_t *actor = tf_test_service (&classifier_service, &cfg, "ENDPOINT", NULL);
    const char *reconciled = "ticketflow_reconciled_total{service=\"classifier\"}";
    char no [32];
    int64_t id = s_submit (db, "alone", "email", "退货", "买的鞋子尺码不合适 想申请七天无理由退货", no, sizeof no);
    s_wait_decided (db, id);
    cr_assert_geq (tf_test_wait_handled (actor, reconciled, 1, 5000), 1);
    cr_assert_eq (tf_test_metric (actor, "ticketflow_messages_received_total"
                                  "{service=\"classifier\",type=\"ticket.received\"}"), 0);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'classified'"
                                      " AND subcategory = '退换货申请' AND priority IS NOT NULL", (long long) id), 1);
    //  a later round takes a later ticket; the first is not taken again
    char later_no [32];
    int64_t later = s_submit (db, "alone", "app", NULL, "订单还没发货 想改一下收货地址", later_no, sizeof later_no);
    s_wait_decided (db, later);
    cr_assert_geq (tf_test_wait_handled (actor, reconciled, 2, 5000), 2);
    for (int i = 0; i < 2; i++)
        cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                          " AND kind IN ('classified', 'triage')", (long long) (i? later: id)), 1);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld AND kind = 'classified'"
                                      " AND from_status = 'received' AND actor = 'classifier'", (long long) id), 1);
    zactor_destroy (&actor);
    tf_db_destroy (&db);
}

Test (classifier_model, the_service_classifies_with_the_trained_model)
{
    rig_t rig;
    s_rig_start (&rig, 86400, 5);
    //  the default model is in use
    char *model = tf_actor_query (rig.actor, "MODEL");
    cr_assert (model && strstr (model, "build/models/default.model"), "model in use: '%s'", model);
    zstr_free (&model);

    struct { const char *text, *subcategory; } clear [] = {
        { "快递五天了还在转运中心 物流一直没更新 什么时候能到", "物流信息更新延迟" },
        { "手机收不到短信验证码 重发了好多次都没有", "验证码异常" },
        { "想申请退货 衣服尺码不合适 吊牌还在", "退换货申请" },
        { "我们公司想和你们谈渠道合作 怎么联系商务", "合作/建议" },
        { "the app keeps crashing on my new iphone after the update", "兼容性问题" },
    };
    size_t n = sizeof clear / sizeof clear [0];
    int64_t ids [8];
    char nos [8][32];
    for (size_t i = 0; i < n; i++) {
        ids [i] = s_submit (rig.db, "model", "app", NULL, clear [i].text, nos [i], sizeof nos [i]);
        s_send_received (&rig, ids [i], nos [i]);
    }
    char gib_no [32];
    int64_t gib = s_submit (rig.db, "model", "web", NULL, "qwfpgj arstdh zxcvbk 9999 ???", gib_no, sizeof gib_no);
    s_send_received (&rig, gib, gib_no);
    for (size_t i = 0; i < n; i++) {
        s_wait_decided (rig.db, ids [i]);
        cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'classified'"
                                              " AND subcategory = '%s' AND confidence >= 0.5 AND confidence <= 1"
                                              " AND sentiment BETWEEN -1 AND 1 AND text_signature IS NOT NULL",
                                      (long long) ids [i], clear [i].subcategory), 1,
                      "'%s' is not %s with a stored confidence", clear [i].text, clear [i].subcategory);
        cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                              " AND kind = 'classified' AND data->>'method' = 'model'"
                                              " AND jsonb_array_length (data->'alternatives') = 3"
                                              " AND data->'alternatives'->0->>'subcategory' = '%s'",
                                      (long long) ids [i], clear [i].subcategory), 1);
    }
    //  gibberish: the model does not know it, nothing matches: triage
    s_wait_decided (rig.db, gib);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id = %lld AND status = 'triage'"
                                          " AND subcategory IS NULL", (long long) gib), 1);
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM ticket_events WHERE ticket_id = %lld"
                                          " AND kind = 'triage' AND data->>'method' = 'none'", (long long) gib), 1);
    //  the third level of a logistics ticket comes with it
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE id = %lld"
                                          " AND third_level IN ('揽收超时', '中转异常', '派送失败')",
                                  (long long) ids [0]), 1);
    s_rig_stop (&rig);
}

Test (classifier_model, classify_text_answers_without_storing)
{
    rig_t rig;
    s_rig_start (&rig, 86400, 5);
    char text [256];
    snprintf (text, sizeof text, "我的账号被盗了 有陌生设备登录 余额被转走了 垃圾平台!!! %s", tf_test_unique ());
    long long tickets = tf_test_scalar (rig.db, "SELECT count(*) FROM tickets");
    json_t *r = s_classify_text (rig.endpoint, text, NULL);
    cr_assert_str_eq (s_json_str (r, "subcategory"), "账号被盗");
    cr_assert_str_eq (s_json_str (r, "category"), "账户安全");
    cr_assert_str_eq (s_json_str (r, "priority"), "P1");
    cr_assert_str_eq (s_json_str (r, "method"), "model");
    cr_assert (json_is_false (json_object_get (r, "triage")));
    double confidence = json_number_value (json_object_get (r, "confidence"));
    cr_assert (confidence >= 0.5 && confidence <= 1, "confidence %f", confidence);
    double sentiment = json_number_value (json_object_get (r, "sentiment"));
    cr_assert (sentiment < -0.5 && sentiment >= -1, "sentiment %f", sentiment);
    json_t *reasons = json_object_get (r, "reasons");
    bool stolen = false, money = false;
    size_t i;
    json_t *item;
    json_array_foreach (reasons, i, item) {
        stolen = stolen || strcmp (json_string_value (item), "account_stolen") == 0;
        money = money || strcmp (json_string_value (item), "money_taken") == 0;
    }
    cr_assert (stolen && money, "reasons account_stolen and money_taken expected");
    //  alternatives: three maps, best first, the chosen one first
    json_t *alternatives = json_object_get (r, "alternatives");
    cr_assert_eq (json_array_size (alternatives), 3);
    double last = 2;
    json_array_foreach (alternatives, i, item) {
        double c = json_number_value (json_object_get (item, "confidence"));
        cr_assert (c >= 0 && c <= last);
        last = c;
        cr_assert (*s_json_str (item, "subcategory"));
    }
    cr_assert_str_eq (s_json_str (json_array_get (alternatives, 0), "subcategory"), "账号被盗");
    json_decref (r);
    //  gibberish: triage, no sub-category, still a priority
    r = s_classify_text (rig.endpoint, "zzqx vvkw plmq", NULL);
    cr_assert (json_is_true (json_object_get (r, "triage")));
    cr_assert_null (json_object_get (r, "subcategory"));
    cr_assert_str_eq (s_json_str (r, "priority"), "P3");
    cr_assert_str_eq (s_json_str (r, "method"), "none");
    json_decref (r);
    //  a monitor alert with wide scope
    r = s_classify_text (rig.endpoint, "[ALERT] payment-api p99 latency 5.2s, error rate 12%, affects 10% orders",
                         "monitor");
    cr_assert_str_eq (s_json_str (r, "priority"), "P1");
    json_decref (r);
    //  nothing was stored
    cr_assert_eq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets WHERE body LIKE '%%%s%%'", tf_test_unique ()), 0);
    cr_assert_geq (tf_test_scalar (rig.db, "SELECT count(*) FROM tickets"), tickets);

    //  ticketctl classify --json "text" and the readable form; a ticket
    //  number still means a person's classification
    char endpoint_flag [300];
    snprintf (endpoint_flag, sizeof endpoint_flag, "--classifier-endpoint=%s", rig.endpoint);
    char *out_text = NULL, *err_text = NULL;
    size_t out_size = 0, err_size = 0;
    FILE *out = open_memstream (&out_text, &out_size);
    FILE *err = open_memstream (&err_text, &err_size);
    char *argv1 [] = { "ticketctl", "classify", "--json", "快递三天了物流信息一直没更新 还是显示待揽收",
                       endpoint_flag, NULL };
    cr_assert_eq (ticketctl_run (5, argv1, out, err), 0);
    fflush (out);
    json_t *printed = json_loads (out_text, 0, NULL);
    cr_assert (printed, "ticketctl printed no JSON: %s", out_text);
    cr_assert_str_eq (s_json_str (printed, "subcategory"), "物流信息更新延迟");
    cr_assert_eq (json_array_size (json_object_get (printed, "alternatives")), 3);
    cr_assert (json_is_number (json_object_get (printed, "sentiment")));
    json_decref (printed);
    fclose (out);
    free (out_text);
    out_text = NULL;
    out = open_memstream (&out_text, &out_size);
    char *argv2 [] = { "ticketctl", "classify", "请问优惠券在哪里领 怎么用", endpoint_flag, NULL };
    cr_assert_eq (ticketctl_run (4, argv2, out, err), 0);
    fflush (out);
    cr_assert (strstr (out_text, "功能操作") && strstr (out_text, "priority") && strstr (out_text, "alternatives"),
               "readable output: %s", out_text);
    fclose (out);
    free (out_text);
    out_text = NULL;
    out = open_memstream (&out_text, &out_size);
    char *argv3 [] = { "ticketctl", "classify", "CS209901019999", "--subcategory", "功能操作", endpoint_flag, NULL };
    cr_assert_eq (ticketctl_run (6, argv3, out, err), 1);       //  refused: no such ticket
    fflush (err);
    cr_assert (strstr (err_text, "not_found"), "ticketctl said: %s", err_text);
    fclose (out);
    fclose (err);
    free (out_text);
    free (err_text);
    s_rig_stop (&rig);
}

//  Two tiny models with the same texts and swapped labels
static void
s_tiny_model (const char *path, bool swapped)
{
    static const char *logistics [] = {
        "快递一直不动 物流没有更新", "包裹好几天没有物流信息", "物流信息停了三天没动",
        "快递到哪了 物流不更新", "单号查不到物流", "物流一直显示运输中"
    };
    static const char *howto [] = {
        "优惠券在哪里领取", "怎么使用积分兑换", "会员怎么开通", "怎么开发票", "在哪里修改地址",
        "优惠券怎么用"
    };
    const char *texts [12], *labels [12];
    size_t lens [12];
    for (size_t i = 0; i < 6; i++) {
        texts [i] = logistics [i];
        texts [6 + i] = howto [i];
        labels [i] = swapped? "功能操作": "物流信息更新延迟";
        labels [6 + i] = swapped? "物流信息更新延迟": "功能操作";
    }
    for (size_t i = 0; i < 12; i++)
        lens [i] = strlen (texts [i]);
    linmodel_params_t p;
    linmodel_params_default (&p);
    p.calib_folds = 0;
    p.temperature = 0.05;
    char err [256];
    linmodel_t *m = linmodel_train (texts, lens, labels, 12, &p, err, sizeof err);
    cr_assert (m, "%s", err);
    cr_assert_eq (linmodel_save (m, path, err, sizeof err), 0, "%s", err);
    linmodel_destroy (&m);
}

Test (classifier_model, reload_swaps_the_model_and_keeps_it_on_failure)
{
    char dir [] = "/tmp/tf-reload-XXXXXX";
    cr_assert (mkdtemp (dir));
    char path [256];
    snprintf (path, sizeof path, "%s/tiny.model", dir);
    s_tiny_model (path, false);
    rig_t rig;
    s_rig_start_model (&rig, 86400, 5, path);
    const char *text = "快递一直不动 物流没有更新";
    json_t *r = s_classify_text (rig.endpoint, text, NULL);
    cr_assert_str_eq (s_json_str (r, "subcategory"), "物流信息更新延迟");
    cr_assert_str_eq (s_json_str (r, "method"), "model");
    json_decref (r);

    //  tickets keep coming while the model is replaced: none is lost
    int64_t ids [10];
    char nos [10][32];
    for (int i = 0; i < 10; i++)
        ids [i] = s_submit (rig.db, "reload", "app", NULL, "包裹好几天没有物流信息 麻烦查一下", nos [i], sizeof nos [i]);
    for (int i = 0; i < 5; i++)
        s_send_received (&rig, ids [i], nos [i]);
    s_tiny_model (path, true);
    for (int i = 5; i < 10; i++)
        s_send_received (&rig, ids [i], nos [i]);
    char *answer = tf_actor_query (rig.actor, "RELOAD");
    cr_assert_str_eq (answer, "ok 2 labels");
    zstr_free (&answer);
    for (int i = 0; i < 10; i++) {
        s_wait_decided (rig.db, ids [i]);
        cr_assert_eq (s_count_events (rig.db, ids [i], "classified"), 1, "ticket %d was lost", i);
    }
    //  the swapped model decides now
    r = s_classify_text (rig.endpoint, text, NULL);
    cr_assert_str_eq (s_json_str (r, "subcategory"), "功能操作");
    json_decref (r);

    //  a corrupt file, a foreign file, no file: refused, the model stays
    FILE *f = fopen (path, "r+b");
    cr_assert (f);
    fseek (f, 100, SEEK_SET);
    fputc ('X', f);
    fputc ('Y', f);
    fclose (f);
    answer = tf_actor_query (rig.actor, "RELOAD");
    cr_assert (answer && strncmp (answer, "failed: ", 8) == 0, "RELOAD of a corrupt file answered '%s'", answer);
    zstr_free (&answer);
    f = fopen (path, "wb");
    fputs ("{\"this\": \"is not a model\"}", f);
    fclose (f);
    answer = tf_actor_query (rig.actor, "RELOAD");
    cr_assert (answer && strncmp (answer, "failed: ", 8) == 0, "RELOAD of a foreign file answered '%s'", answer);
    zstr_free (&answer);
    unlink (path);
    answer = tf_actor_query (rig.actor, "RELOAD");
    cr_assert (answer && strncmp (answer, "failed: ", 8) == 0, "RELOAD of no file answered '%s'", answer);
    zstr_free (&answer);
    r = s_classify_text (rig.endpoint, text, NULL);
    cr_assert_str_eq (s_json_str (r, "subcategory"), "功能操作");
    cr_assert_str_eq (s_json_str (r, "method"), "model");
    json_decref (r);
    s_rig_stop (&rig);
    rmdir (dir);
}

Test (classifier_model, a_missing_model_falls_back_to_keywords)
{
    rig_t rig;
    s_rig_start_model (&rig, 86400, 5, "/nonexistent/default.model");
    char *model = tf_actor_query (rig.actor, "MODEL");
    cr_assert_str_eq (model, "");
    zstr_free (&model);
    json_t *r = s_classify_text (rig.endpoint, "请问优惠券怎么使用 在哪里领券", NULL);
    cr_assert_str_eq (s_json_str (r, "subcategory"), "功能操作");
    cr_assert_str_eq (s_json_str (r, "method"), "keywords");
    json_decref (r);
    s_rig_stop (&rig);
}

Test (classifier_model, labels_outside_the_taxonomy_are_never_chosen)
{
    classifier_t *c = s_real_classifier (NULL, 0.5);
    //  a model that knows one taxonomy label and one foreign one
    const char *texts [] = { "月饼发霉", "月饼变质", "怎么用优惠券", "优惠券在哪" };
    const char *labels [] = { "不存在的类", "不存在的类", "功能操作", "功能操作" };
    size_t lens [4];
    for (int i = 0; i < 4; i++)
        lens [i] = strlen (texts [i]);
    linmodel_params_t p;
    linmodel_params_default (&p);
    p.calib_folds = 0;
    char err [256], path [] = "/tmp/tf-foreign-XXXXXX";
    int fd = mkstemp (path);
    cr_assert_geq (fd, 0);
    close (fd);
    linmodel_t *m = linmodel_train (texts, lens, labels, 4, &p, err, sizeof err);
    cr_assert (m);
    cr_assert_eq (linmodel_save (m, path, err, sizeof err), 0);
    linmodel_destroy (&m);
    classifier_models_t *models = classifier_models_load (path, err, sizeof err);
    cr_assert (models, "%s", err);
    cr_assert_eq (classifier_models_check (models, c), 1);
    classifier_models_attach (models, c);
    classifier_result_t r;
    s_decide (c, "月饼发霉", NULL, &r);
    cr_assert (r.subcategory == NULL || strcmp (r.subcategory, "不存在的类") != 0);
    cr_assert_str_eq (r.method, "model");                  //  its next label, which the taxonomy has
    cr_assert_str_eq (r.subcategory, "功能操作");
    classifier_destroy (&c);
    classifier_models_destroy (&models);
    unlink (path);
}

//  Sentiment: furious, polite and neutral texts, with the lexicon and with
//  the built-in lists; always in [-1, 1]
Test (classifier_sentiment, furious_polite_neutral)
{
    classifier_t *lexicon = s_real_classifier (NULL, 0.5);
    classifier_t *builtin = classifier_new (NULL, 0.5);
    struct { const char *text; double lo, hi; } table [] = {
        { "你们就是一群骗子 收了钱不发货！！！", -1, -0.7 },
        { "垃圾平台 垃圾客服 气死我了", -1, -0.7 },
        { "THIS IS THE WORST SERVICE EVER!!! I AM SO ANGRY", -1, -0.7 },
        { "this is terrible", -0.7, -0.3 },
        { "this is terrible and unacceptable", -1, -0.5 },
        { "客服态度很差 有点失望", -0.7, -0.2 },
        { "衣服有线头 不太满意", -0.5, -0.05 },
        { "请问怎么修改收货地址", -0.05, 0.05 },
        { "app更新后打开就闪退 APP版本 SMS API", -0.5, 0.05 },
        { "谢谢你们的耐心解答 服务很专业 非常满意", 0.5, 1 },
        { "Thank you so much, very helpful!", 0.3, 1 },
    };
    for (size_t i = 0; i < sizeof table / sizeof table [0]; i++) {
        double s = classifier_sentiment (lexicon, table [i].text, strlen (table [i].text));
        cr_assert (s >= table [i].lo && s <= table [i].hi, "'%s': %.3f not in [%.2f, %.2f]",
                   table [i].text, s, table [i].lo, table [i].hi);
        double b = classifier_sentiment (builtin, table [i].text, strlen (table [i].text));
        cr_assert (b >= -1 && b <= 1);
        cr_assert ((b < 0) == (s < -0.05) || fabs (b) < 0.3, "built-in '%s': %.3f vs %.3f", table [i].text, b, s);
    }
    //  the same words louder are angrier; negation turns a word around
    const char *calm = "太差了 很失望", *loud = "太差了！！！很失望！！！";
    cr_assert_lt (classifier_sentiment (lexicon, loud, strlen (loud)), classifier_sentiment (lexicon, calm, strlen (calm)));
    cr_assert_gt (classifier_sentiment (lexicon, "满意", 6), 0);
    cr_assert_lt (classifier_sentiment (lexicon, "不太满意", 12), 0);
    //  a far negator does not flip an insult: "收不到 垃圾短信箱"
    const char *spam = "验证码收不到 垃圾短信箱里也没有";
    cr_assert_lt (classifier_sentiment (lexicon, spam, strlen (spam)), 0);
    //  very negative adds extreme_emotion and P1
    classifier_result_t r;
    s_decide (lexicon, "快递三天没更新 你们这群骗子 我真的受够了！！！", NULL, &r);
    cr_assert_leq (r.sentiment, CLASSIFIER_SENTIMENT_EXTREME);
    cr_assert_str_eq (r.priority, "P1");
    cr_assert (s_has_reason (&r, "extreme_emotion"));
    s_decide (lexicon, "快递三天没更新 麻烦看一下 谢谢", NULL, &r);
    cr_assert_gt (r.sentiment, CLASSIFIER_SENTIMENT_EXTREME);
    cr_assert_not (s_has_reason (&r, "extreme_emotion"));
    //  hostile bytes, empty text, huge text: bounded, no crash
    const char junk [] = "\xff\xfe\xc0\xaf\x00!!!\xe5\xbf\xab\xef\xbc\x81\xef\xbc\x81";
    double j = classifier_sentiment (lexicon, junk, sizeof junk - 1);
    cr_assert (j >= -1 && j <= 1);
    cr_assert_float_eq (classifier_sentiment (lexicon, NULL, 0), 0, 1e-9);
    size_t n = 1 << 20;
    char *big = malloc (n);
    for (size_t i = 0; i < n; i++)
        big [i] = "垃圾!!"[i % 8];
    double g = classifier_sentiment (lexicon, big, n);
    cr_assert (g >= -1 && g <= -0.7);
    free (big);
    classifier_destroy (&builtin);
    classifier_destroy (&lexicon);
}

//  ticketflow-train --corrections: the agents' classifications become
//  training rows, through the library function and through the binary
Test (classifier_model, training_learns_from_corrections)
{
    tf_db_t *db = tf_test_db ();
    classifier_t *c = s_stage_classifier (db);
    char text [256], no [32];
    snprintf (text, sizeof text, "xylophone zebra quokka 批发 %s", tf_test_unique ());
    int64_t id = s_submit (db, "correction", "email", NULL, text, no, sizeof no);
    classifier_outcome_t out;
    tf_error_t err;
    cr_assert_eq (classifier_reclassify (c, no, "合作/建议", NULL, "agent-9", &out, &err), 0, "%s", err.message);
    cr_assert_eq (tf_test_scalar (db, "SELECT count(*) FROM classification_corrections WHERE ticket_id = %lld"
                                      " AND corrected = '合作/建议'", (long long) id), 1);
    //  the text as stored (intake masks long digit runs)
    char id_text [24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) id);
    PGresult *res = tf_db_query (db, "SELECT text FROM classification_corrections WHERE ticket_id = $1::int8",
                                 1, (const char *[]) { id_text });
    cr_assert (tf_db_ok (db, res, "correction text") && PQntuples (res) == 1);
    snprintf (text, sizeof text, "%s", PQgetvalue (res, 0, 0));
    PQclear (res);
    cr_assert (strstr (text, "xylophone zebra quokka"));

    //  a tiny labelled file without that label
    char dir [] = "/tmp/tf-train-XXXXXX";
    cr_assert (mkdtemp (dir));
    char csv [256], model [256], log [256];
    snprintf (csv, sizeof csv, "%s/tiny.csv", dir);
    snprintf (model, sizeof model, "%s/tiny.model", dir);
    snprintf (log, sizeof log, "%s/train.log", dir);
    FILE *f = fopen (csv, "w");
    fputs ("text,subcategory\n优惠券怎么用,功能操作\n积分在哪里兑换,功能操作\n会员怎么开通,功能操作\n"
           "快递三天没更新,物流信息更新延迟\n物流一直不动,物流信息更新延迟\n包裹到哪了,物流信息更新延迟\n", f);
    fclose (f);

    //  the library function
    csvread_pairs_t *pairs = csvread_pairs_new ();
    char why [512];
    cr_assert_eq (csvread_pairs_load (pairs, csv, CSVREAD_CSV, "text", "subcategory", why, sizeof why), 6, "%s", why);
    long added = classifier_corrections_load (db, pairs, why, sizeof why);
    cr_assert_geq (added, 1, "%s", why);
    bool found = false;
    for (size_t i = 6; i < pairs->count; i++)
        found = found || (strcmp (pairs->texts [i], text) == 0 && strcmp (pairs->labels [i], "合作/建议") == 0);
    cr_assert (found, "the correction is not among the training rows");
    linmodel_params_t p;
    linmodel_params_default (&p);
    p.calib_folds = 0;
    linmodel_t *m = linmodel_train ((const char *const *) pairs->texts, pairs->lens,
                                    (const char *const *) pairs->labels, pairs->count, &p, why, sizeof why);
    cr_assert (m, "%s", why);
    linmodel_guess_t g;
    cr_assert_eq (linmodel_predict (m, text, strlen (text), &g, 1), 1);
    cr_assert_str_eq (g.label, "合作/建议");
    linmodel_destroy (&m);
    csvread_pairs_destroy (&pairs);

    //  the binary (DATABASE_URL is the test database; a caller's
    //  TICKETFLOW_DATABASE_URL would win over it)
    tf_test_clear_environment ();
    char command [1024];
    snprintf (command, sizeof command, "%s/bin/ticketflow-train --data %s --label-column subcategory"
              " --corrections --calib-folds 0 --out %s > %s 2>&1", tf_home (), csv, model, log);
    cr_assert_eq (system (command), 0, "%s failed (see %s)", command, log);
    m = linmodel_load (model, why, sizeof why);
    cr_assert (m, "%s", why);
    cr_assert_eq (linmodel_predict (m, text, strlen (text), &g, 1), 1);
    cr_assert_str_eq (g.label, "合作/建议");
    linmodel_destroy (&m);
    f = fopen (log, "r");
    char line [512];
    bool said = false;
    while (fgets (line, sizeof line, f))
        said = said || strstr (line, "corrections from the database:");
    fclose (f);
    cr_assert (said);
    //  a database that is not there: a clear failure
    snprintf (command, sizeof command, "%s/bin/ticketflow-train --data %s --label-column subcategory"
              " --corrections --database-url 'host=/nonexistent dbname=x' --out %s > %s 2>&1",
              tf_home (), csv, model, log);
    cr_assert_neq (system (command), 0);
    unlink (csv);
    unlink (model);
    unlink (log);
    rmdir (dir);
    classifier_destroy (&c);
    tf_db_destroy (&db);
}
