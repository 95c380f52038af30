/*  classifier_taxonomy — what the classifier knows: the taxonomy's
    sub-categories, their keywords and third levels (from the database or
    a taxonomy.json file, or added by hand), and the priority reasons
    (built in, or from a lexicon file).
*/
#include "classifier_private.h"
#include "tf_log.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Limits on what a taxonomy or lexicon may declare (they are data files)
#define THIRD_LEVELS_MAX    64
#define REASONS_MAX         64

//  The reasons used until a lexicon file is loaded: the core of each list.
#define TERMS_BUILTIN_MAX   24
typedef struct {
    const char *code, *priority;
    const char *terms [TERMS_BUILTIN_MAX];     //  the unused ones NULL
} builtin_reason_t;

static const builtin_reason_t s_builtin_reasons [] = {
    { "personal_safety", "P1", { "食物中毒", "中毒", "拉肚子", "腹泻", "呕吐", "过敏", "受伤", "烫伤",
                                 "烧伤", "触电", "漏电", "起火", "火灾", "冒烟", "爆炸", "自燃", "住院",
                                 "急诊", "变质", "发霉", "异物", "food poisoning", "injured", NULL } },
    { "money_taken", "P1", { "扣了两次", "重复扣款", "多扣", "被扣", "扣了钱", "钱被扣", "已扣款",
                             "扣款成功", "扣费", "盗刷", "被转走", "钱没了", "余额没了", "charged twice",
                             "unauthorized charge", "deducted", NULL } },
    { "account_stolen", "P1", { "被盗", "盗号", "被黑", "被人登录", "陌生登录", "异地登录", "异常登录",
                                "陌生设备", "不是我买的", "不是我操作", "密码被改", "手机号被改",
                                "hacked", "compromised", "someone logged", NULL } },
    { "public_threat", "P1", { "曝光", "找媒体", "媒体曝光", "记者", "电视台", "12315", "消协",
                               "消费者协会", "市场监管", "工商局", "律师", "起诉", "法院", "报警",
                               "黑猫投诉", "lawyer", "lawsuit", "the media", "journalist", NULL } },
    { "extreme_emotion", "P1", { "骗子", "骗钱", "垃圾公司", "垃圾平台", "垃圾客服", "什么垃圾", "去死",
                                 "气死", "气炸了", "滚蛋", "傻逼", "混蛋", "王八蛋", "无耻", "黑心", "人渣",
                                 "受够了", "忍无可忍", "scam", "fuck", "furious", "disgusting", NULL } },
    { "batch_complaint", "P1", { "整批", "一批货", "这批", "同一批", "同批次", "整箱都", "很多人都",
                                 "不止我一个", "whole batch", "many customers", NULL } },
    { "wide_scope_alert", "P1", { "全站", "所有用户", "全部用户", "大量用户", "大面积", "宕机",
                                  "服务不可用", "全部失败", "全平台", "所有订单", "系统崩了",
                                  "system down", "outage", "all users", "is down", NULL } },
    { "refund_failed", "P2", { "退款失败", "退款没到", "退款未到账", "没收到退款", "还没退", "不退款",
                               "refund failed", "no refund", NULL } },
};

void
classifier_reasons_builtin (classifier_t *self)
{
    size_t n = sizeof s_builtin_reasons / sizeof s_builtin_reasons [0];
    self->reasons = calloc (n, sizeof (reason_t));
    assert (self->reasons);
    for (size_t i = 0; i < n; i++) {
        reason_t *r = &self->reasons [self->reason_count++];
        r->code = strdup (s_builtin_reasons [i].code);
        snprintf (r->priority, sizeof r->priority, "%s", s_builtin_reasons [i].priority);
        classifier_keywords_add_all (&r->terms, s_builtin_reasons [i].terms, TERMS_BUILTIN_MAX);
    }
}

static void
s_reasons_free (classifier_t *self)
{
    for (size_t i = 0; i < self->reason_count; i++) {
        free (self->reasons [i].code);
        classifier_keywords_free (&self->reasons [i].terms);
    }
    free (self->reasons);
    self->reasons = NULL;
    self->reason_count = 0;
}

static void
s_subs_free (sub_t *subs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        sub_t *s = &subs [i];
        free (s->category);
        free (s->category_code);
        free (s->subcategory);
        classifier_keywords_free (&s->kw);
        for (size_t t = 0; t < s->third_count; t++) {
            free (s->thirds [t].name);
            classifier_keywords_free (&s->thirds [t].kw);
        }
        free (s->thirds);
    }
    free (subs);
}

void
classifier_taxonomy_free (classifier_t *self)
{
    s_subs_free (self->subs, self->sub_count);
    self->subs = NULL;
    self->sub_count = 0;
    s_reasons_free (self);
}

bool
classifier_priority_valid (const char *p)
{
    return p && p [0] == 'P' && p [1] >= '1' && p [1] <= '3' && p [2] == 0;
}

static bool
s_code_valid (const char *code)
{
    size_t n = code? strlen (code): 0;
    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((code [i] >= 'a' && code [i] <= 'z') || (code [i] >= '0' && code [i] <= '9') || code [i] == '_'))
            return false;
    return true;
}

static const char *SQL_TAXONOMY =
    "SELECT subcategory, category, category_code, default_priority,"
    "       to_json (keywords)::text, third_levels::text "
    "FROM taxonomy ORDER BY category_code, code";

int
classifier_taxonomy_prepare (tf_db_t *db)
{
    return tf_db_prepare (db, "classifier_taxonomy", SQL_TAXONOMY, 0);
}

sub_t *
classifier_sub_find (const classifier_t *self, const char *name)
{
    for (size_t i = 0; name && i < self->sub_count; i++)
        if (strcmp (self->subs [i].subcategory, name) == 0)
            return &self->subs [i];
    return NULL;
}

int
classifier_add_subcategory (classifier_t *self, const char *category, const char *subcategory,
                            const char *default_priority, const char *const *keywords, size_t n)
{
    if (!category || !*category || !subcategory || !*subcategory
    ||  !classifier_priority_valid (default_priority) || classifier_sub_find (self, subcategory))
        return -1;
    self->subs = realloc (self->subs, (self->sub_count + 1) * sizeof (sub_t));
    assert (self->subs);
    sub_t *s = &self->subs [self->sub_count++];
    memset (s, 0, sizeof *s);
    s->category = strdup (category);
    s->subcategory = strdup (subcategory);
    snprintf (s->priority, sizeof s->priority, "%s", default_priority);
    classifier_keywords_add_all (&s->kw, keywords, n);
    return 0;
}

int
classifier_add_third_level (classifier_t *self, const char *subcategory, const char *name,
                            const char *const *keywords, size_t n)
{
    sub_t *s = classifier_sub_find (self, subcategory);
    if (!s || !name || !*name || s->third_count >= THIRD_LEVELS_MAX)
        return -1;
    s->thirds = realloc (s->thirds, (s->third_count + 1) * sizeof (third_t));
    assert (s->thirds);
    third_t *t = &s->thirds [s->third_count++];
    memset (t, 0, sizeof *t);
    t->name = strdup (name);
    classifier_keywords_add_all (&t->kw, keywords, n);
    return 0;
}

size_t
classifier_taxonomy_size (const classifier_t *self)
{
    return self->sub_count;
}

//  A load fills an empty table (classifier_add_subcategory refuses a name
//  that is there already) and frees the old one, set aside here, at the
//  end (s_subs_free).
static sub_t *
s_subs_set_aside (classifier_t *self, size_t *count)
{
    sub_t *old = self->subs;
    *count = self->sub_count;
    self->subs = NULL;
    self->sub_count = 0;
    return old;
}

//  Fills the sub-category just added with its keywords and third levels as
//  the taxonomy table and file hold them (JSON). A third level without a
//  name (or past THIRD_LEVELS_MAX) is skipped, with a warning when warn.
static void
s_sub_fill (classifier_t *self, sub_t *s, const json_t *keywords, const json_t *thirds, bool warn)
{
    classifier_keywords_add_json (&s->kw, keywords);
    size_t index;
    json_t *third;
    json_array_foreach (thirds, index, third) {
        const char *name = json_string_value (json_object_get (third, "name"));
        if (!name || classifier_add_third_level (self, s->subcategory, name, NULL, 0)) {
            if (warn)
                tf_warn ("taxonomy: a third level of '%s' has no name; skipped", s->subcategory);
            continue;
        }
        classifier_keywords_add_json (&s->thirds [s->third_count - 1].kw, json_object_get (third, "keywords"));
    }
}

int
classifier_load_taxonomy (classifier_t *self)
{
    if (!self->db)
        return -1;
    PGresult *res = tf_db_run (self->db, "classifier_taxonomy", 0, NULL);
    if (!tf_db_ok (self->db, res, "read taxonomy")) {
        PQclear (res);
        return -1;
    }
    size_t old_count;
    sub_t *old = s_subs_set_aside (self, &old_count);
    int rows = PQntuples (res);
    for (int r = 0; r < rows; r++) {
        const char *name = PQgetvalue (res, r, 0);
        if (classifier_add_subcategory (self, PQgetvalue (res, r, 1), name, PQgetvalue (res, r, 3), NULL, 0)) {
            tf_warn ("taxonomy: sub-category '%s' skipped (bad priority or repeated)", name);
            continue;
        }
        sub_t *s = &self->subs [self->sub_count - 1];
        s->category_code = strdup (PQgetvalue (res, r, 2));
        json_t *keywords = json_loads (PQgetvalue (res, r, 4), 0, NULL);
        json_t *thirds = json_loads (PQgetvalue (res, r, 5), 0, NULL);
        s_sub_fill (self, s, keywords, thirds, true);
        json_decref (keywords);
        json_decref (thirds);
        if (s->kw.count == 0)
            tf_warn ("taxonomy: sub-category '%s' has no keywords: only a person can choose it", name);
    }
    PQclear (res);
    s_subs_free (old, old_count);
    return (int) self->sub_count;
}

int
classifier_load_lexicon (classifier_t *self, const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file (path, 0, &jerr);
    if (!root) {
        tf_warn ("lexicon %s not loaded (%s, line %d); using the built-in reason lists",
                 path, jerr.text, jerr.line);
        return -1;
    }
    json_t *list = json_object_get (root, "reasons");
    reason_t *reasons = NULL;
    size_t count = 0;
    size_t index;
    json_t *entry;
    json_array_foreach (list, index, entry) {
        const char *code = json_string_value (json_object_get (entry, "code"));
        const char *priority = json_string_value (json_object_get (entry, "priority"));
        if (!s_code_valid (code) || !classifier_priority_valid (priority) || count >= REASONS_MAX) {
            tf_warn ("lexicon %s: reason %zu skipped (code must be [a-z0-9_]{1,32}, priority P1-P3)",
                     path, index);
            continue;
        }
        reasons = realloc (reasons, (count + 1) * sizeof (reason_t));
        assert (reasons);
        reason_t *r = &reasons [count++];
        memset (r, 0, sizeof *r);
        r->code = strdup (code);
        snprintf (r->priority, sizeof r->priority, "%s", priority);
        classifier_keywords_add_json (&r->terms, json_object_get (entry, "terms"));
    }
    //  the sentiment lists; the insults are the extreme_emotion terms
    const json_t *insults = NULL;
    json_array_foreach (list, index, entry) {
        const char *code = json_string_value (json_object_get (entry, "code"));
        if (code && strcmp (code, "extreme_emotion") == 0)
            insults = json_object_get (entry, "terms");
    }
    if (classifier_sentiment_load (self->sentiment, json_object_get (root, "sentiment"), insults) < 0)
        tf_warn ("lexicon %s has no usable \"sentiment\" object; using the built-in sentiment lists", path);
    json_decref (root);
    if (count == 0) {
        tf_warn ("lexicon %s holds no usable reasons; using the built-in reason lists", path);
        free (reasons);
        return -1;
    }
    s_reasons_free (self);
    self->reasons = reasons;
    self->reason_count = count;
    return (int) count;
}

bool
classifier_has_subcategory (const classifier_t *self, const char *name)
{
    return classifier_sub_find (self, name) != NULL;
}

bool
classifier_has_third_level (const classifier_t *self, const char *name)
{
    for (size_t i = 0; name && i < self->sub_count; i++)
        for (size_t t = 0; t < self->subs [i].third_count; t++)
            if (strcmp (self->subs [i].thirds [t].name, name) == 0)
                return true;
    return false;
}

int
classifier_load_taxonomy_file (classifier_t *self, const char *path)
{
    json_error_t jerr;
    json_t *root = json_load_file (path, 0, &jerr);
    if (!json_is_array (json_object_get (root, "categories"))) {
        tf_warn ("taxonomy %s not loaded (%s)", path, root? "no \"categories\" array": jerr.text);
        json_decref (root);
        return -1;
    }
    size_t old_count;
    sub_t *old = s_subs_set_aside (self, &old_count);
    size_t ci, si;
    json_t *cat, *sub;
    json_array_foreach (json_object_get (root, "categories"), ci, cat) {
        const char *category = json_string_value (json_object_get (cat, "name"));
        json_array_foreach (json_object_get (cat, "subcategories"), si, sub) {
            const char *name = json_string_value (json_object_get (sub, "name"));
            const char *priority = json_string_value (json_object_get (sub, "default_priority"));
            if (classifier_add_subcategory (self, category, name, priority, NULL, 0)) {
                tf_warn ("taxonomy %s: sub-category '%s' skipped (no name, bad priority or repeated)",
                         path, name? name: "?");
                continue;
            }
            sub_t *s = &self->subs [self->sub_count - 1];
            const char *code = json_string_value (json_object_get (cat, "code"));
            s->category_code = code? strdup (code): NULL;
            s_sub_fill (self, s, json_object_get (sub, "keywords"), json_object_get (sub, "third_levels"), false);
        }
    }
    json_decref (root);
    s_subs_free (old, old_count);
    return (int) self->sub_count;
}
