/*  =========================================================================
    test_linmodel - training, calibrated prediction, model files
    =========================================================================
*/
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../services/classifier/linmodel.h"

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (linmodel, .timeout = 30);

//  A small Chinese + English ticket set, five labels
static const char *s_rows [][2] = {
    { "我的快递还没到", "物流" },
    { "订单什么时候发货", "物流" },
    { "where is my package", "物流" },
    { "物流信息一直没有更新", "物流" },
    { "the delivery is late again", "物流" },
    { "包裹显示已签收但我没收到", "物流" },
    { "my parcel has not arrived yet", "物流" },
    { "快递员不送货上门", "物流" },
    { "我要退款", "退款" },
    { "退款什么时候到账", "退款" },
    { "I want a refund for this order", "退款" },
    { "the refund has not been received", "退款" },
    { "申请退货退款怎么操作", "退款" },
    { "钱还没退回来", "退款" },
    { "please refund my money", "退款" },
    { "退款申请被拒绝了", "退款" },
    { "账号登录不上", "账户" },
    { "密码忘记了怎么办", "账户" },
    { "I cannot log in to my account", "账户" },
    { "how do I reset my password", "账户" },
    { "账户被冻结了", "账户" },
    { "验证码一直收不到", "账户" },
    { "my account is locked", "账户" },
    { "手机号换了怎么改绑定", "账户" },
    { "客服态度太差", "投诉" },
    { "我要投诉你们的服务", "投诉" },
    { "the agent was rude to me", "投诉" },
    { "I want to file a complaint", "投诉" },
    { "服务很差劲，非常不满意", "投诉" },
    { "投诉商家虚假宣传", "投诉" },
    { "terrible customer service", "投诉" },
    { "对处理结果不满意 complaint", "投诉" },
    { "怎么开发票", "发票" },
    { "发票抬头写错了", "发票" },
    { "I need an invoice please", "发票" },
    { "please send the VAT invoice", "发票" },
    { "电子发票在哪里下载", "发票" },
    { "需要增值税专用发票", "发票" },
    { "the invoice address is wrong", "发票" },
    { "发票什么时候能开出来", "发票" },
};
#define N_ROWS (sizeof s_rows / sizeof s_rows [0])

static const char *s_texts [N_ROWS];
static size_t s_lens [N_ROWS];
static const char *s_labels [N_ROWS];

static linmodel_t *
s_train (const linmodel_params_t *p)
{
    for (size_t i = 0; i < N_ROWS; i++) {
        s_texts [i] = s_rows [i][0];
        s_lens [i] = strlen (s_rows [i][0]);
        s_labels [i] = s_rows [i][1];
    }
    char err [256] = "";
    linmodel_t *m = linmodel_train (s_texts, s_lens, s_labels, N_ROWS, p, err, sizeof err);
    cr_assert_not_null (m, "train failed: %s", err);
    return m;
}

static char s_dir [64];

static void
s_make_dir (void)
{
    strcpy (s_dir, "/tmp/test_linmodel.XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_remove_dir (void)
{
    char cmd [128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_expect_eq (system (cmd), 0);
}

static unsigned char *
s_read_file (const char *path, size_t *size)
{
    FILE *f = fopen (path, "rb");
    cr_assert_not_null (f);
    fseek (f, 0, SEEK_END);
    long n = ftell (f);
    fseek (f, 0, SEEK_SET);
    unsigned char *buf = (unsigned char *) malloc ((size_t) n + 1);
    cr_assert_eq (fread (buf, 1, (size_t) n, f), (size_t) n);
    fclose (f);
    *size = (size_t) n;
    return buf;
}

//  Save a freshly trained model and return its bytes
static unsigned char *
s_model_bytes (size_t *size)
{
    linmodel_t *m = s_train (NULL);
    char path [128], err [256] = "";
    snprintf (path, sizeof path, "%s/m.bin", s_dir);
    cr_assert_eq (linmodel_save (m, path, err, sizeof err), 0, "%s", err);
    linmodel_destroy (&m);
    return s_read_file (path, size);
}

//  Expect the buffer to be refused with a message containing want (if any)
static void
s_expect_refused (const void *data, size_t size, const char *want, const char *what)
{
    char err [256] = "";
    linmodel_t *m = linmodel_load_buffer (data, size, err, sizeof err);
    cr_expect_null (m, "%s: corrupt model was accepted", what);
    linmodel_destroy (&m);
    cr_expect_gt (strlen (err), 10, "%s: no error message", what);
    if (want)
        cr_expect (strstr (err, want), "%s: error \"%s\" lacks \"%s\"", what, err, want);
}

static void
s_put_u32 (unsigned char *p, uint32_t v)
{
    p [0] = (unsigned char) v;
    p [1] = (unsigned char) (v >> 8);
    p [2] = (unsigned char) (v >> 16);
    p [3] = (unsigned char) (v >> 24);
}

//  Recompute the trailer checksum after a deliberate edit, so the content
//  checks behind the checksum get exercised too
static void
s_fix_crc (unsigned char *d, size_t size)
{
    uint32_t crc = 0xFFFFFFFFu;
    for (size_t i = 0; i < size - 8; i++) {
        crc ^= d [i];
        for (int k = 0; k < 8; k++)
            crc = crc & 1? 0xEDB88320u ^ (crc >> 1): crc >> 1;
    }
    s_put_u32 (d + size - 8, ~crc);
}

//  -------------------------------------------------------------------------

Test (linmodel, converges_on_mixed_chinese_english)
{
    linmodel_t *m = s_train (NULL);
    cr_expect_eq (linmodel_label_count (m), 5);
    cr_expect_gt (linmodel_feature_count (m), 100);
    double t = linmodel_temperature (m);
    cr_expect (t > 0 && isfinite (t));
    //  Labels sorted and distinct
    for (size_t i = 1; i < linmodel_label_count (m); i++)
        cr_expect_lt (strcmp (linmodel_label (m, i - 1), linmodel_label (m, i)), 0);
    cr_expect_null (linmodel_label (m, 5));

    size_t right = 0;
    for (size_t i = 0; i < N_ROWS; i++) {
        linmodel_guess_t g [5];
        size_t n = linmodel_predict (m, s_texts [i], s_lens [i], g, 5);
        cr_assert_eq (n, 5);
        double sum = 0;
        for (size_t k = 0; k < n; k++) {
            sum += g [k].prob;
            cr_expect (g [k].prob >= 0 && g [k].prob <= 1);
            if (k)
                cr_expect_geq (g [k - 1].prob, g [k].prob, "sorted by probability");
        }
        cr_expect (fabs (sum - 1.0) < 1e-6, "probabilities sum to 1, got %f", sum);
        right += strcmp (g [0].label, s_labels [i]) == 0;
    }
    cr_expect_eq (right, N_ROWS, "train accuracy %zu/%zu", right, (size_t) N_ROWS);
    linmodel_destroy (&m);
    cr_expect_null (m);
    linmodel_destroy (&m);
}

Test (linmodel, probabilities_are_sensible)
{
    linmodel_t *m = s_train (NULL);
    linmodel_guess_t clear, vague, g [2];
    const char *t1 = "退款 refund 退款到账 money back";
    cr_assert_eq (linmodel_predict (m, t1, strlen (t1), &clear, 1), 1);
    cr_expect_str_eq (clear.label, "退款");
    cr_expect_gt (clear.prob, 0.5, "clear example prob %f", clear.prob);
    const char *t2 = "你好 hello";
    cr_assert_eq (linmodel_predict (m, t2, strlen (t2), &vague, 1), 1);
    cr_expect_gt (clear.prob, vague.prob, "clear %f vs vague %f", clear.prob, vague.prob);
    //  Unseen Chinese phrasing still lands by character n-grams
    const char *t3 = "快递到哪了，还没收到包裹";
    cr_assert_eq (linmodel_predict (m, t3, strlen (t3), &clear, 1), 1);
    cr_expect_str_eq (clear.label, "物流");
    //  k edge cases
    cr_expect_eq (linmodel_predict (m, t1, strlen (t1), g, 0), 0);
    linmodel_guess_t all [10];
    cr_expect_eq (linmodel_predict (m, t1, strlen (t1), all, 10), 5, "k capped at labels");
    linmodel_destroy (&m);
}

Test (linmodel, hostile_text_is_classified)
{
    linmodel_t *m = s_train (NULL);
    linmodel_guess_t g [5];
    const char bad [] = "\xC0\xAF\xED\xA0\x80\xFF\xFE\x80 refund \xE4\xB8";
    cr_expect_eq (linmodel_predict (m, bad, sizeof bad - 1, g, 5), 5);
    cr_expect_eq (linmodel_predict (m, NULL, 0, g, 5), 5);
    cr_expect_eq (linmodel_predict (m, "", 0, g, 5), 5);
    double sum = 0;
    for (int k = 0; k < 5; k++)
        sum += g [k].prob;
    cr_expect (fabs (sum - 1.0) < 1e-6);
    //  Long text: takes the heap path
    size_t len = 64 * 1024;
    char *big = (char *) malloc (len);
    static const char unit [] = "退款 refund please now ";
    for (size_t i = 0; i < len; i++)
        big [i] = unit [i % (sizeof unit - 1)];
    cr_expect_eq (linmodel_predict (m, big, len, g, 1), 1);
    cr_expect_str_eq (g [0].label, "退款");
    free (big);
    linmodel_destroy (&m);
}

Test (linmodel, bad_training_input)
{
    char err [256] = "";
    const char *texts [] = { "a", "b", "c" };
    size_t lens [] = { 1, 1, 1 };
    const char *one [] = { "x", "x", "x" };
    cr_expect_null (linmodel_train (texts, lens, one, 3, NULL, err, sizeof err));
    cr_expect (strstr (err, "distinct labels"), "%s", err);
    const char *empty [] = { "x", "", "y" };
    cr_expect_null (linmodel_train (texts, lens, empty, 3, NULL, err, sizeof err));
    cr_expect (strstr (err, "row 1"), "%s", err);
    const char *two [] = { "x", "y", "y" };
    cr_expect_null (linmodel_train (texts, lens, two, 1, NULL, err, sizeof err));
    linmodel_params_t p;
    linmodel_params_default (&p);
    p.c = 0;
    cr_expect_null (linmodel_train (texts, lens, two, 3, &p, err, sizeof err));
    cr_expect (strstr (err, "parameters"), "%s", err);
    //  Tiny but valid: trains (no calibration folds possible)
    linmodel_t *m = linmodel_train (texts, lens, two, 3, NULL, err, sizeof err);
    cr_expect_not_null (m, "%s", err);
    linmodel_destroy (&m);
}

Test (linmodel, save_load_round_trip, .init = s_make_dir, .fini = s_remove_dir)
{
    linmodel_t *m = s_train (NULL);
    char path [128], err [256] = "";
    snprintf (path, sizeof path, "%s/model.bin", s_dir);
    cr_assert_eq (linmodel_save (m, path, err, sizeof err), 0, "%s", err);
    //  Saved atomically: nothing but the model is left in the directory
    DIR *dir = opendir (s_dir);
    struct dirent *de;
    int files = 0;
    while ((de = readdir (dir)))
        if (de->d_name [0] != '.') {
            files++;
            cr_expect_str_eq (de->d_name, "model.bin");
        }
    closedir (dir);
    cr_expect_eq (files, 1);

    linmodel_t *l = linmodel_load (path, err, sizeof err);
    cr_assert_not_null (l, "%s", err);
    cr_expect_eq (linmodel_label_count (l), linmodel_label_count (m));
    cr_expect_eq (linmodel_feature_count (l), linmodel_feature_count (m));
    cr_expect_eq (linmodel_temperature (l), linmodel_temperature (m));
    const char *probe [] = { "where is my package", "退款", "发票抬头", "hello 你好", "" };
    for (size_t i = 0; i < sizeof probe / sizeof probe [0]; i++) {
        linmodel_guess_t a [5], b [5];
        cr_assert_eq (linmodel_predict (m, probe [i], strlen (probe [i]), a, 5), 5);
        cr_assert_eq (linmodel_predict (l, probe [i], strlen (probe [i]), b, 5), 5);
        for (int k = 0; k < 5; k++) {
            cr_expect_str_eq (a [k].label, b [k].label);
            cr_expect_eq (a [k].prob, b [k].prob, "identical probabilities");
        }
    }
    //  Save over an existing file works too (rename replaces)
    cr_expect_eq (linmodel_save (l, path, err, sizeof err), 0, "%s", err);
    //  Same data and seed: byte-identical model
    char path2 [128];
    snprintf (path2, sizeof path2, "%s/model2.bin", s_dir);
    linmodel_t *m2 = s_train (NULL);
    cr_assert_eq (linmodel_save (m2, path2, err, sizeof err), 0, "%s", err);
    size_t s1, s2;
    unsigned char *b1 = s_read_file (path, &s1), *b2 = s_read_file (path2, &s2);
    cr_expect_eq (s1, s2);
    cr_expect (s1 == s2 && memcmp (b1, b2, s1) == 0, "deterministic training");
    free (b1);
    free (b2);
    //  Unwritable destination: error, nothing left behind
    cr_expect_eq (linmodel_save (m, "/nonexistent-dir/m.bin", err, sizeof err), -1);
    cr_expect (strstr (err, "nonexistent-dir"), "%s", err);
    linmodel_destroy (&m);
    linmodel_destroy (&m2);
    linmodel_destroy (&l);
}

Test (linmodel, flipped_bytes_refused, .init = s_make_dir, .fini = s_remove_dir)
{
    size_t size;
    unsigned char *d = s_model_bytes (&size);
    char err [256];
    linmodel_t *ok = linmodel_load_buffer (d, size, err, sizeof err);
    cr_assert_not_null (ok, "pristine model loads: %s", err);
    linmodel_destroy (&ok);
    //  Every header and trailer byte, and a stride through the payload
    size_t tested = 0;
    for (size_t i = 0; i < size; i += (i < 64 || i >= size - 8)? 1: 37) {
        char what [64];
        snprintf (what, sizeof what, "flip at %zu of %zu", i, size);
        d [i] ^= 0x20;
        s_expect_refused (d, size, NULL, what);
        d [i] ^= 0x20;
        tested++;
    }
    cr_expect_gt (tested, 200);
    //  One bit in the middle of the weights
    d [size / 2] ^= 1;
    s_expect_refused (d, size, "checksum", "one bit");
    free (d);
}

Test (linmodel, truncated_refused, .init = s_make_dir, .fini = s_remove_dir)
{
    size_t size;
    unsigned char *d = s_model_bytes (&size);
    size_t cuts [] = { 0, 1, 7, 8, 12, 40, 63, 64, 65, 100, size / 3, size / 2,
                       size - 9, size - 8, size - 4, size - 1 };
    for (size_t i = 0; i < sizeof cuts / sizeof cuts [0]; i++) {
        char what [64];
        snprintf (what, sizeof what, "truncated to %zu of %zu", cuts [i], size);
        //  Exact-size copy so an over-read would show under ASan/valgrind
        unsigned char *t = (unsigned char *) malloc (cuts [i] + 1);
        memcpy (t, d, cuts [i]);
        s_expect_refused (t, cuts [i], cuts [i] < 72? NULL: "truncated", what);
        free (t);
    }
    //  Extended by a byte: also refused
    unsigned char *e = (unsigned char *) malloc (size + 1);
    memcpy (e, d, size);
    e [size] = 0;
    s_expect_refused (e, size + 1, "file is", "extended");
    free (e);
    free (d);
}

Test (linmodel, bad_headers_refused, .init = s_make_dir, .fini = s_remove_dir)
{
    size_t size;
    unsigned char *d = s_model_bytes (&size);
    unsigned char *c = (unsigned char *) malloc (size);

    memcpy (c, d, size);
    c [0] = 'X';
    s_expect_refused (c, size, "bad magic", "wrong magic");

    memcpy (c, d, size);
    s_put_u32 (c + 8, 999);
    s_expect_refused (c, size, "version 999", "future version");
    s_fix_crc (c, size);
    s_expect_refused (c, size, "version 999", "future version, good checksum");

    memcpy (c, d, size);
    s_put_u32 (c + 28, 0xFFFFFFFFu);            //  n_features
    s_expect_refused (c, size, "implausible", "huge feature count");

    memcpy (c, d, size);
    s_put_u32 (c + 24, 65535);                  //  n_classes
    s_put_u32 (c + 28, 1u << 26);               //  n_features: 17 TB of weights
    s_put_u32 (c + 32, 200000);                 //  label bytes
    s_expect_refused (c, size, "payload size", "huge but bounded sizes");

    memcpy (c, d, size);
    s_put_u32 (c + 32, 0xFFFFFFF0u);            //  label bytes
    s_expect_refused (c, size, "implausible", "huge label block");

    memcpy (c, d, size);
    s_put_u32 (c + 40, 0xFFFFFFFFu);            //  payload bytes (low word)
    s_put_u32 (c + 44, 0x7FFFFFFFu);
    s_expect_refused (c, size, "payload size", "huge payload");

    memcpy (c, d, size);
    s_put_u32 (c + 24, 1);                      //  one class
    s_expect_refused (c, size, "implausible", "one class");

    memcpy (c, d, size);
    s_put_u32 (c + 16, 12345);                  //  feature extractor version
    s_fix_crc (c, size);
    s_expect_refused (c, size, "feature extractor version", "other extractor");

    memcpy (c, d, size);
    s_put_u32 (c + 48, 0x7FC00000u);            //  temperature NaN
    s_fix_crc (c, size);
    s_expect_refused (c, size, "temperature", "NaN temperature");

    //  Content checks behind a valid checksum: a weight made NaN
    memcpy (c, d, size);
    s_put_u32 (c + size - 8 - 4, 0x7FC00000u);  //  last bias value
    s_fix_crc (c, size);
    s_expect_refused (c, size, "non-finite", "NaN bias");

    //  A label length pointing past its block
    memcpy (c, d, size);
    c [64] = 0xFF;
    c [65] = 0x7F;
    s_fix_crc (c, size);
    s_expect_refused (c, size, "label", "label overrun");

    free (c);
    free (d);
}

Test (linmodel, foreign_files_refused, .init = s_make_dir, .fini = s_remove_dir)
{
    const char text [] = "text,category\nhello,greeting\nthis is not a model at all, "
                         "just some CSV text that is long enough to have a header\n";
    s_expect_refused (text, sizeof text - 1, "not a ticketflow model", "CSV text");
    s_expect_refused ("", 0, "too short", "empty");
    s_expect_refused (NULL, 0, "too short", "NULL");
    unsigned char zeros [4096] = { 0 };
    s_expect_refused (zeros, sizeof zeros, "bad magic", "zeros");

    char err [256] = "";
    char path [128];
    snprintf (path, sizeof path, "%s/nope.bin", s_dir);
    cr_expect_null (linmodel_load (path, err, sizeof err));
    cr_expect (strstr (err, "cannot open"), "%s", err);
    cr_expect_null (linmodel_load (s_dir, err, sizeof err));
    cr_expect (strstr (err, "not a regular file"), "%s", err);
    snprintf (path, sizeof path, "%s/text.csv", s_dir);
    FILE *f = fopen (path, "wb");
    fputs (text, f);
    fclose (f);
    cr_expect_null (linmodel_load (path, err, sizeof err));
    cr_expect (strstr (err, "text.csv") && strstr (err, "not a ticketflow model"), "%s", err);
}

Test (linmodel, metrics)
{
    const char *gold [] = { "a", "a", "b", "b" };
    const char *pred [] = { "a", "b", "b", "b" };
    linmodel_metrics_t m;
    cr_assert_eq (linmodel_metrics (gold, pred, 4, &m, NULL), 0);
    cr_expect_eq (m.n, 4);
    cr_expect_eq (m.correct, 3);
    cr_expect (fabs (m.accuracy - 0.75) < 1e-9);
    //  F1 a = 2/3, F1 b = 4/5
    cr_expect (fabs (m.macro_f1 - (2.0 / 3 + 0.8) / 2) < 1e-9, "macro_f1 %f", m.macro_f1);
    //  A predicted label absent from gold counts in the mean
    const char *pred2 [] = { "a", "a", "b", "c" };
    cr_assert_eq (linmodel_metrics (gold, pred2, 4, &m, NULL), 0);
    cr_expect_eq (m.n_labels, 3);
    cr_expect_eq (linmodel_metrics (NULL, NULL, 0, &m, NULL), 0);
    cr_expect_eq (m.n, 0);
}
