#include "classifier_sentiment.h"
#include "textfeat.h"
#include "tf_utf8.h"
#include <assert.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

//  Limits on what a lexicon may declare (it is a data file)
#define TERMS_MAX           8192
#define TERM_MAX_BYTES      128
//  A modifier reaches the next modifier or term at most this many bytes
//  later: one CJK character (非常的满意) or a space (not happy), so that
//  "收不到 垃圾短信箱" is no negated insult
#define MODIFIER_GAP        3
#define MULTIPLIER_MAX      3.0
//  Terms weaker than this describe the problem, not the mood
#define MILD_LIMIT          0.5
#define MILD_CAP            0.6
#define INSULT_VALUE        (-1.0)
#define INSULTS_COUNTED     3
#define AMP_MAX             0.6
#define SCALE               0.6

typedef enum { KIND_VALUE, KIND_INTENSIFIER, KIND_NEGATOR } kind_t;

typedef struct {
    char *text;                 //  normalised
    size_t len;
    kind_t kind;
    double value;               //  sentiment value or multiplier
    bool word_start, word_end;  //  ASCII letter or digit at that end: whole words only
} term_t;

typedef struct {
    term_t *items;
    size_t count;
    size_t first [257];         //  items sorted by first byte, then longest first
} terms_t;

struct classifier_sentiment_t {
    terms_t terms;              //  values, intensifiers, negators
    terms_t insults;
};

//  --------------------------------------------------------------------------
//  Built-in lists: the core of deploy/taxonomy/lexicon.json

typedef struct {
    const char *text;
    double value;
} builtin_t;

static const builtin_t s_negative [] = {
    { "垃圾", -0.8 }, { "骗子", -0.9 }, { "骗人", -0.8 }, { "坑人", -0.8 }, { "恶心", -0.8 },
    { "太差", -0.7 }, { "很差", -0.6 }, { "失望", -0.5 }, { "生气", -0.6 }, { "气死", -0.9 },
    { "愤怒", -0.8 }, { "受够了", -0.8 }, { "不满意", -0.6 }, { "投诉", -0.5 }, { "敷衍", -0.6 },
    { "态度差", -0.7 }, { "假货", -0.8 }, { "无语", -0.5 }, { "离谱", -0.6 }, { "慢", -0.3 },
    { "坏了", -0.4 }, { "失败", -0.4 }, { "terrible", -0.8 }, { "awful", -0.8 }, { "worst", -0.9 },
    { "angry", -0.7 }, { "furious", -0.9 }, { "unacceptable", -0.8 }, { "scam", -0.9 },
    { "disappointed", -0.6 }, { "useless", -0.7 }, { "bad", -0.5 }, { NULL, 0 }
};
static const builtin_t s_positive [] = {
    { "谢谢", 0.4 }, { "感谢", 0.5 }, { "满意", 0.6 }, { "非常满意", 0.8 }, { "好评", 0.6 },
    { "辛苦了", 0.5 }, { "不错", 0.4 }, { "耐心", 0.5 }, { "专业", 0.5 }, { "给力", 0.6 },
    { "thanks", 0.4 }, { "thank you", 0.5 }, { "great", 0.6 }, { "excellent", 0.7 },
    { "helpful", 0.5 }, { "perfect", 0.7 }, { NULL, 0 }
};
static const builtin_t s_intensifiers [] = {
    { "非常", 1.5 }, { "太", 1.4 }, { "特别", 1.4 }, { "十分", 1.4 }, { "真的", 1.3 },
    { "简直", 1.5 }, { "完全", 1.4 }, { "根本", 1.4 }, { "很", 1.3 }, { "very", 1.4 },
    { "really", 1.3 }, { "extremely", 1.7 }, { "so", 1.3 }, { NULL, 0 }
};
static const char *const s_negators [] = {
    "不", "没", "没有", "别", "未", "无", "不是", "不太", "并不", "not", "never", "don't",
    "didn't", "isn't", "wasn't", NULL
};
static const char *const s_insults [] = {
    "骗子", "骗钱", "垃圾公司", "垃圾平台", "垃圾客服", "什么垃圾", "去死", "气死", "气炸了",
    "滚蛋", "傻逼", "他妈的", "混蛋", "王八蛋", "无耻", "黑心", "人渣", "忍无可忍", "受够了",
    "scam", "fuck", "bullshit", "furious", "disgusting", "worst company", NULL
};

//  Capitalised words that are names, not shouting
static const char *const s_acronyms [] = {
    "APP", "API", "SMS", "VIP", "PDF", "USB", "IOS", "CPU", "GPS", "URL", "SKU", "CEO", "DNS",
    "SSL", "CDN", "SDK", "OTP", "PIN", "ATM", "QR", "EMS", "SF", "JD", "CS", "ID", "OK", "TV",
    "ALERT", "WARN", "ERROR", "INFO", "HTTP", "HTTPS", "JSON", "SQL", "DB", "UI", "AI", "MAC",
    "IMEI", "WIFI", "NFC", "LED", "LCD", "OLED", "AC", "DC", "PM", "AM", "NULL", NULL
};

//  --------------------------------------------------------------------------
//  Term lists

static bool
s_alnum (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static void
s_terms_free (terms_t *t)
{
    for (size_t i = 0; i < t->count; i++)
        free (t->items [i].text);
    free (t->items);
    memset (t, 0, sizeof *t);
}

//  Adds a term, normalised like the texts it is matched in. Terms that are
//  empty, too long, or only punctuation are skipped (the signals cover ! and ?).
static void
s_terms_add (terms_t *t, const char *text, size_t len, kind_t kind, double value)
{
    if (!text || len == 0 || len > TERM_MAX_BYTES || t->count >= TERMS_MAX || !isfinite (value))
        return;
    char buffer [TERM_MAX_BYTES * 3 + 1];
    size_t n = textfeat_normalize (text, len, buffer, sizeof buffer);
    size_t start = 0;
    while (start < n && buffer [start] == ' ')
        start++;
    while (n > start && buffer [n - 1] == ' ')
        n--;
    bool meaningful = false;
    for (size_t i = start; i < n && !meaningful; i++)
        meaningful = s_alnum ((unsigned char) buffer [i]) || (unsigned char) buffer [i] >= 0x80;
    if (!meaningful)
        return;
    term_t *items = realloc (t->items, (t->count + 1) * sizeof (term_t));
    assert (items);
    t->items = items;
    term_t *term = &t->items [t->count++];
    term->len = n - start;
    term->text = malloc (term->len + 1);
    assert (term->text);
    memcpy (term->text, buffer + start, term->len);
    term->text [term->len] = 0;
    term->kind = kind;
    term->value = value;
    term->word_start = s_alnum ((unsigned char) term->text [0]);
    term->word_end = s_alnum ((unsigned char) term->text [term->len - 1]);
}

static int
s_term_cmp (const void *a, const void *b)
{
    const term_t *x = a, *y = b;
    unsigned char fx = (unsigned char) x->text [0], fy = (unsigned char) y->text [0];
    if (fx != fy)
        return fx < fy? -1: 1;
    if (x->len != y->len)
        return x->len > y->len? -1: 1;      //  longest first
    return strcmp (x->text, y->text);
}

//  Sorts and indexes by first byte; a repeated term keeps its first entry
static void
s_terms_index (terms_t *t)
{
    if (t->count)
        qsort (t->items, t->count, sizeof (term_t), s_term_cmp);
    size_t kept = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (kept && t->items [kept - 1].len == t->items [i].len
        &&  strcmp (t->items [kept - 1].text, t->items [i].text) == 0) {
            free (t->items [i].text);
            continue;
        }
        t->items [kept++] = t->items [i];
    }
    t->count = kept;
    size_t i = 0;
    for (int b = 0; b < 256; b++) {
        t->first [b] = i;
        while (i < t->count && (unsigned char) t->items [i].text [0] == b)
            i++;
    }
    t->first [256] = t->count;
}

//  The longest term at text[at], or NULL
static const term_t *
s_match (const terms_t *t, const char *text, size_t len, size_t at)
{
    unsigned char b = (unsigned char) text [at];
    for (size_t i = t->first [b]; i < t->first [b + 1]; i++) {
        const term_t *term = &t->items [i];
        if (term->len > len - at || memcmp (text + at, term->text, term->len) != 0)
            continue;
        if (term->word_start && at > 0 && s_alnum ((unsigned char) text [at - 1]))
            continue;
        size_t after = at + term->len;
        if (term->word_end && after < len && s_alnum ((unsigned char) text [after]))
            continue;
        return term;
    }
    return NULL;
}

static void
s_add_builtin_values (terms_t *t, const builtin_t *list)
{
    for (size_t i = 0; list [i].text; i++)
        s_terms_add (t, list [i].text, strlen (list [i].text),
                     list == s_intensifiers? KIND_INTENSIFIER: KIND_VALUE, list [i].value);
}

classifier_sentiment_t *
classifier_sentiment_new (void)
{
    classifier_sentiment_t *self = calloc (1, sizeof *self);
    assert (self);
    s_add_builtin_values (&self->terms, s_negative);
    s_add_builtin_values (&self->terms, s_positive);
    s_add_builtin_values (&self->terms, s_intensifiers);
    for (size_t i = 0; s_negators [i]; i++)
        s_terms_add (&self->terms, s_negators [i], strlen (s_negators [i]), KIND_NEGATOR, 0);
    for (size_t i = 0; s_insults [i]; i++)
        s_terms_add (&self->insults, s_insults [i], strlen (s_insults [i]), KIND_VALUE, INSULT_VALUE);
    s_terms_index (&self->terms);
    s_terms_index (&self->insults);
    return self;
}

void
classifier_sentiment_destroy (classifier_sentiment_t **self_p)
{
    classifier_sentiment_t *self = *self_p;
    if (!self)
        return;
    s_terms_free (&self->terms);
    s_terms_free (&self->insults);
    free (self);
    *self_p = NULL;
}

size_t
classifier_sentiment_size (const classifier_sentiment_t *self)
{
    return self->terms.count + self->insults.count;
}

//  Adds the entries of {"term": number} with values clamped to [lo, hi]
static void
s_load_map (terms_t *t, const json_t *map, kind_t kind, double lo, double hi)
{
    const char *key;
    const json_t *value;
    if (!json_is_object (map))
        return;
    json_object_foreach ((json_t *) map, key, value) {
        if (!json_is_number (value))
            continue;
        double v = json_number_value (value);
        v = v < lo? lo: v > hi? hi: v;
        s_terms_add (t, key, strlen (key), kind, v);
    }
}

int
classifier_sentiment_load (classifier_sentiment_t *self, const json_t *section, const json_t *insults)
{
    if (!json_is_object (section))
        return -1;
    terms_t terms;
    memset (&terms, 0, sizeof terms);
    s_load_map (&terms, json_object_get (section, "negative"), KIND_VALUE, -1, 1);
    s_load_map (&terms, json_object_get (section, "positive"), KIND_VALUE, -1, 1);
    s_load_map (&terms, json_object_get (section, "intensifiers"), KIND_INTENSIFIER, 0, MULTIPLIER_MAX);
    size_t index;
    const json_t *entry;
    json_array_foreach (json_object_get (section, "negators"), index, entry)
        if (json_is_string (entry))
            s_terms_add (&terms, json_string_value (entry), json_string_length (entry), KIND_NEGATOR, 0);
    size_t values = 0;
    for (size_t i = 0; i < terms.count; i++)
        values += terms.items [i].kind == KIND_VALUE;
    if (values == 0) {
        s_terms_free (&terms);
        return -1;
    }
    s_terms_index (&terms);
    s_terms_free (&self->terms);
    self->terms = terms;
    if (json_is_array (insults)) {
        terms_t list;
        memset (&list, 0, sizeof list);
        json_array_foreach (insults, index, entry)
            if (json_is_string (entry))
                s_terms_add (&list, json_string_value (entry), json_string_length (entry),
                             KIND_VALUE, INSULT_VALUE);
        s_terms_index (&list);
        s_terms_free (&self->insults);
        self->insults = list;
    }
    return (int) classifier_sentiment_size (self);
}

//  --------------------------------------------------------------------------
//  Scoring

//  A clause ends at , . ; : ! ? (folded from full width), newline, 。 、 or ；
static size_t
s_clause_break (const char *text, size_t len, size_t at)
{
    char c = text [at];
    if (c == ',' || c == '.' || c == ';' || c == ':' || c == '!' || c == '?')
        return 1;
    if ((unsigned char) c == 0xE3 && at + 2 < len && (unsigned char) text [at + 1] == 0x80
    &&  ((unsigned char) text [at + 2] == 0x82 || (unsigned char) text [at + 2] == 0x81))
        return 3;
    return 0;
}

//  English words of three or more capitals (not an acronym) in the raw text
static size_t
s_shouted_words (const char *text, size_t len)
{
    size_t count = 0;
    size_t i = 0;
    while (i < len) {
        unsigned char c = (unsigned char) text [i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))) {
            i++;
            continue;
        }
        size_t start = i;
        bool upper = true;
        while (i < len && (((unsigned char) text [i] >= 'a' && (unsigned char) text [i] <= 'z')
                       ||  ((unsigned char) text [i] >= 'A' && (unsigned char) text [i] <= 'Z'))) {
            upper = upper && text [i] >= 'A' && text [i] <= 'Z';
            i++;
        }
        size_t n = i - start;
        //  a word glued to digits (A380, CS2023) is a code, not a word
        bool glued = (start > 0 && s_alnum ((unsigned char) text [start - 1]))
                  || (i < len && s_alnum ((unsigned char) text [i]));
        if (!upper || n < 3 || glued)
            continue;
        bool acronym = false;
        for (size_t a = 0; s_acronyms [a] && !acronym; a++)
            acronym = strlen (s_acronyms [a]) == n && memcmp (s_acronyms [a], text + start, n) == 0;
        count += !acronym;
    }
    return count;
}

double
classifier_sentiment_score (const classifier_sentiment_t *self, const char *text, size_t len)
{
    if (!text || len == 0)
        return 0;
    size_t cap = len * 3 + 1;       //  each invalid byte may become U+FFFD
    char *norm = malloc (cap);
    assert (norm);
    size_t n = textfeat_normalize (text, len, norm, cap);

    double strong = 0, mild_neg = 0, mild_pos = 0;
    double multiplier = 1;
    bool negated = false, modified = false;
    size_t modifier_end = 0;
    size_t exclamations = 0, runs = 0, run = 0;
    size_t at = 0;
    while (at < n) {
        char c = norm [at];
        if (c == '!' || c == '?') {
            exclamations += c == '!';
            if (++run == 2)
                runs++;
        }
        else
        if (c != ' ')
            run = 0;
        size_t brk = s_clause_break (norm, n, at);
        if (brk) {
            modified = false;
            multiplier = 1;
            negated = false;
            at += brk;
            continue;
        }
        const term_t *term = s_match (&self->terms, norm, n, at);
        if (!term) {
            uint32_t cp;
            at += tf_utf8_next (norm, n, at, &cp);
            continue;
        }
        bool in_reach = modified && at - modifier_end <= MODIFIER_GAP;
        if (term->kind == KIND_VALUE) {
            double v = term->value;
            if (in_reach) {
                v *= multiplier;
                if (negated)
                    v = -v * 0.5;
            }
            if (fabs (term->value) < MILD_LIMIT) {
                if (v < 0)
                    mild_neg += v;
                else
                    mild_pos += v;
            }
            else
                strong += v;
            modified = false;
            multiplier = 1;
            negated = false;
        }
        else {
            if (!in_reach) {
                multiplier = 1;
                negated = false;
            }
            if (term->kind == KIND_INTENSIFIER) {
                multiplier *= term->value;
                if (multiplier > MULTIPLIER_MAX)
                    multiplier = MULTIPLIER_MAX;
            }
            else
                negated = !negated;
            modified = true;
            modifier_end = at + term->len;
        }
        at += term->len;
    }
    //  insults: each distinct one found anywhere
    size_t insults = 0;
    for (size_t i = 0; i < self->insults.count && insults < INSULTS_COUNTED; i++) {
        const term_t *term = &self->insults.items [i];
        const char *p = norm, *end = norm + n;
        while (p < end) {
            const char *hit = memmem (p, (size_t) (end - p), term->text, term->len);
            if (!hit)
                break;
            size_t where = (size_t) (hit - norm);
            bool ok = !(term->word_start && where > 0 && s_alnum ((unsigned char) norm [where - 1]))
                   && !(term->word_end && where + term->len < n
                        && s_alnum ((unsigned char) norm [where + term->len]));
            if (ok) {
                insults++;
                break;
            }
            p = hit + 1;
        }
    }
    free (norm);

    if (mild_neg < -MILD_CAP)
        mild_neg = -MILD_CAP;
    if (mild_pos > MILD_CAP)
        mild_pos = MILD_CAP;
    double sum = strong + mild_neg + mild_pos + INSULT_VALUE * (double) insults;
    double amp = 0.06 * (double) (exclamations > 10? 10: exclamations) + 0.2 * (double) runs
               + 0.15 * (double) s_shouted_words (text, len);
    if (amp > AMP_MAX)
        amp = AMP_MAX;
    double score = tanh (SCALE * sum * (1.0 + amp));
    if (!isfinite (score))
        score = 0;
    return score < -1? -1: score > 1? 1: score;
}
