//  The classify stage: the keyword scorer (sub-category, third level,
//  confidence, priority reasons), the stage over the database (history,
//  triage, idempotency, a person's classification), and the actor over
//  ZeroMQ (events in and out, the reconciler, requests).
#include "classifier.h"
#include "classifier_server.h"
#include "csvread.h"
#include "intake.h"
#include "tf_actor.h"
#include "tf_net.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <jansson.h>
#include <unistd.h>

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

static int
s_fake_model (void *model, const char *text, size_t len, const char **subcategory, double *confidence)
{
    (void) text;
    (void) len;
    const char *answer = model;
    if (!answer)
        return -1;
    *subcategory = answer;
    *confidence = 0.93;
    return 0;
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

//  The lexicon's own cases (deploy/taxonomy/priority_cases.csv): every
//  P1 case gives P1 with its reasons, no other case gives P1.
Test (classifier_scorer, priority_cases_from_the_lexicon)
{
    classifier_t *c = s_real_classifier (NULL, 0.5);
    char *path = s_path ("deploy/taxonomy/priority_cases.csv");
    char err [256];
    csvread_t *csv = csvread_open (path, CSVREAD_CSV, err, sizeof err);
    cr_assert (csv, "%s", err);
    int text_col = csvread_column_index (csv, "text");
    int prio_col = csvread_column_index (csv, "priority");
    int why_col = csvread_column_index (csv, "reasons");
    cr_assert (text_col >= 0 && prio_col >= 0 && why_col >= 0);
    size_t rows = 0, p1_agree = 0, reasons_agree = 0;
    while (csvread_next (csv) == 1) {
        size_t len;
        const char *text = csvread_field (csv, (size_t) text_col, &len);
        const char *expected = csvread_field (csv, (size_t) prio_col, NULL);
        char why [256];
        snprintf (why, sizeof why, "%s", csvread_field (csv, (size_t) why_col, NULL));
        classifier_result_t r;
        classifier_decide (c, text, len, NULL, &r);
        bool p1 = strcmp (r.priority, "P1") == 0;
        p1_agree += p1 == (strcmp (expected, "P1") == 0);
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
    cr_assert_gt (rows, 50);
    cr_assert_geq (p1_agree * 100, rows * 95, "P1 agrees on %zu of %zu cases", p1_agree, rows);
    cr_assert_geq (reasons_agree * 100, rows * 90, "reasons agree on %zu of %zu cases", reasons_agree, rows);
    classifier_destroy (&c);
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
    s_taxonomy_fixture (db);
    classifier_t *c = classifier_new (db, 0.5);
    cr_assert (c);
    cr_assert_gt (classifier_load_taxonomy (c), 0);
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

static void
s_rig_start (rig_t *rig, int stale_seconds, int reconcile_seconds)
{
    memset (rig, 0, sizeof *rig);
    tf_test_config (&rig->cfg);
    rig->db = tf_test_db ();
    s_taxonomy_fixture (rig->db);
    rig->intake = tf_net_bind (ZMQ_PUSH, "tcp://127.0.0.1:*", 1 << 20);
    cr_assert (rig->intake);
    snprintf (rig->intake_endpoint, sizeof rig->intake_endpoint, "%s", zsock_endpoint (rig->intake));
    rig->cfg.intake_events_endpoint = rig->intake_endpoint;
    rig->cfg.stale_seconds = stale_seconds;
    rig->cfg.reconcile_seconds = reconcile_seconds;
    rig->actor = tf_test_actor (classifier_server_actor, &rig->cfg, "ENDPOINT", &rig->endpoint);
    rig->events = tf_actor_query (rig->actor, "EVENTS");
    cr_assert (rig->events && strncmp (rig->events, "tcp://", 6) == 0);
    rig->pull = tf_net_connect (ZMQ_PULL, rig->events, 1 << 20);
    zsock_set_rcvtimeo (rig->pull, 10000);
    zsock_set_sndtimeo (rig->intake, 2000);
    zclock_sleep (200);         //  let both connections settle
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
    tf_msg_t event;
    tf_msg_init (&event, TF_MSG_RECEIVED);
    tf_msg_set_int (&event, TF_F_RECEIVED_TICKET_ID, id);
    tf_msg_set_cstr (&event, TF_F_RECEIVED_TICKET_NO, no);
    zmsg_t *frames = zmsg_new ();
    tf_error_t err;
    cr_assert_eq (tf_codec_encode (&event, frames, &err), 0);
    cr_assert_eq (zmsg_send (&frames, rig->intake), 0);
    tf_msg_clear (&event);
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
    zsock_set_rcvtimeo (rig.pull, 300);
    zmsg_t *frames = zmsg_recv (rig.pull);
    cr_assert_null (frames, "an event was sent for a triage ticket");
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
    int64_t id = s_submit (rig.db, "request", "chat", NULL, "hmm 这个东西 那个 不知道怎么说", no, sizeof no);
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
    zsock_t *dealer = zsock_new_dealer (rig.endpoint);
    zsock_set_rcvtimeo (dealer, 5000);
    static const char b0 [] = "\x82\xa9ticket_no\xae" "CS209901019999\xabsubcategory\xa0";   //  empty sub-category
    static const char b1 [] = "\x83\xa9ticket_no\xae" "CS209901019999\xabsubcategory\xa1x\xa8priority\xa2P9";
    static const char b2 [] = "\xdd\xff\xff\xff\xff";
    static const char b3 [] = "\x80";
    const char *bodies [] = { b0, b1, b2, b3 };
    size_t lens [] = { sizeof b0 - 1, sizeof b1 - 1, sizeof b2 - 1, sizeof b3 - 1 };
    const char *codes [] = { TF_ERR_BAD_VALUE, TF_ERR_BAD_VALUE, TF_ERR_BAD_MSGPACK, TF_ERR_MISSING_FIELD };
    for (size_t i = 0; i < 4; i++) {
        zmsg_t *req = zmsg_new ();
        zmsg_addmem (req, "", 0);
        zmsg_addstr (req, "ticket.classify");
        zmsg_addmem (req, bodies [i], lens [i]);
        cr_assert_eq (zmsg_send (&req, dealer), 0);
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
    classifier_server_lexicon_path (&cfg, path, sizeof path);
    cr_assert_str_eq (path, "/etc/ticketflow/lexicon.json");
    cfg.taxonomy_file = "";
    classifier_server_lexicon_path (&cfg, path, sizeof path);
    cr_assert (strstr (path, "/deploy/taxonomy/lexicon.json"));
}
