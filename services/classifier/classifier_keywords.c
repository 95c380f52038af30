/*  classifier_keywords — keyword lists: normalisation, matching, scoring.
    The taxonomy's keywords and the lexicon's reason terms are both kept
    and matched this way (classifier_private.h).
*/
#include "classifier_private.h"
#include "tf_utf8.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>

//  Limits on what a taxonomy or lexicon may declare (they are data files)
#define KEYWORD_MAX_BYTES   128
#define KEYWORDS_MAX        4096

//  --------------------------------------------------------------------------
//  Text normalisation: ASCII lower case, full-width ASCII (ＡＢＣ１２３) to
//  ASCII, the ideographic space and control characters to ' '. Never longer
//  than the input. Other characters, invalid sequences included, are copied
//  as they are: matching is byte-wise.

char *
classifier_normalise (const char *text, size_t len, size_t *out_len)
{
    char *out = malloc (len + 1);
    assert (out);
    size_t o = 0;
    size_t at = 0;
    while (at < len) {
        uint32_t cp;
        size_t used = tf_utf8_next (text, len, at, &cp);
        if (cp >= 0xFF01 && cp <= 0xFF5E)
            cp -= 0xFEE0;
        else
        if (cp == 0x3000)
            cp = ' ';
        if (cp < 0x20 || cp == 0x7F)
            out [o++] = ' ';
        else
        if (cp >= 'A' && cp <= 'Z')
            out [o++] = (char) (cp - 'A' + 'a');
        else
        if (cp < 0x80)
            out [o++] = (char) cp;
        else {
            memcpy (out + o, text + at, used);
            o += used;
        }
        at += used;
    }
    out [o] = 0;
    if (out_len)
        *out_len = o;
    return out;
}

static bool
s_alnum (unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

//  Weight of a keyword: a CJK (any non-ASCII) character counts 1, an ASCII
//  character 1/2; 1 for the shortest, +0.5 per unit up to 6 units (3.5).
static double
s_weight (const char *kw, size_t len)
{
    double units = 0;
    size_t at = 0;
    while (at < len) {
        uint32_t cp;
        at += tf_utf8_next (kw, len, at, &cp);
        units += cp == ' '? 0: cp < 0x80? 0.5: 1;
    }
    if (units < 1)
        units = 1;
    if (units > 6)
        units = 6;
    return 1.0 + 0.5 * (units - 1);
}

void
classifier_keywords_free (keywords_t *k)
{
    for (size_t i = 0; i < k->count; i++)
        free (k->items [i].text);
    free (k->items);
    k->items = NULL;
    k->count = 0;
}

//  Adds a keyword (normalised, trimmed; empty, too long or repeated ones are skipped)
void
classifier_keywords_add (keywords_t *k, const char *word, size_t len)
{
    if (!word || len == 0 || len > KEYWORD_MAX_BYTES || k->count >= KEYWORDS_MAX)
        return;
    size_t n;
    char *text = classifier_normalise (word, len, &n);
    size_t start = 0;
    while (start < n && text [start] == ' ')
        start++;
    while (n > start && text [n - 1] == ' ')
        n--;
    if (n == start) {
        free (text);
        return;
    }
    memmove (text, text + start, n - start);
    n -= start;
    text [n] = 0;
    for (size_t i = 0; i < k->count; i++)
        if (k->items [i].len == n && memcmp (k->items [i].text, text, n) == 0) {
            free (text);
            return;
        }
    k->items = realloc (k->items, (k->count + 1) * sizeof (keyword_t));
    assert (k->items);
    keyword_t *kw = &k->items [k->count++];
    kw->text = text;
    kw->len = n;
    kw->weight = s_weight (text, n);
    kw->word_start = s_alnum ((unsigned char) text [0]);
    kw->word_end = s_alnum ((unsigned char) text [n - 1]);
}

void
classifier_keywords_add_all (keywords_t *k, const char *const *words, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (words [i])
            classifier_keywords_add (k, words [i], strlen (words [i]));
}

//  Adds the strings of a JSON array; returns how many entries were strings
size_t
classifier_keywords_add_json (keywords_t *k, const json_t *array)
{
    size_t index, added = 0;
    const json_t *value;
    if (!json_is_array (array))
        return 0;
    json_array_foreach (array, index, value)
        if (json_is_string (value)) {
            classifier_keywords_add (k, json_string_value (value), json_string_length (value));
            added++;
        }
    return added;
}

//  Negations right before a term ("没有受伤": not injured)
static const char *const s_negators [] = { "没有", "没", "不", "未", "无", "并非", NULL };

static bool
s_negated (const char *text, size_t at)
{
    for (size_t i = 0; s_negators [i]; i++) {
        size_t n = strlen (s_negators [i]);
        if (at >= n && memcmp (text + at - n, s_negators [i], n) == 0)
            return true;
    }
    return false;
}

//  True when kw occurs in text[0..len) as a whole ASCII word where it begins
//  or ends with a letter or digit (a trailing plural "s" is allowed), and,
//  with check_negation, not right after a negation.
bool
classifier_keyword_found (const char *text, size_t len, const keyword_t *kw, bool check_negation)
{
    const char *p = text;
    const char *end = text + len;
    while (p < end) {
        const char *hit = memmem (p, (size_t) (end - p), kw->text, kw->len);
        if (!hit)
            return false;
        size_t at = (size_t) (hit - text);
        size_t after = at + kw->len;
        bool ok = true;
        if (kw->word_start && at > 0 && s_alnum ((unsigned char) text [at - 1]))
            ok = false;
        if (ok && kw->word_end && after < len && s_alnum ((unsigned char) text [after])) {
            ok = text [after] == 's' && (after + 1 == len || !s_alnum ((unsigned char) text [after + 1]));
        }
        if (ok && check_negation && s_negated (text, at))
            ok = false;
        if (ok)
            return true;
        p = hit + 1;
    }
    return false;
}

//  Score of one keyword list on a text: the sum of the weights of the
//  distinct keywords found, leaving out a keyword found only as part of a
//  longer one that was found too ("在哪" inside "在哪里"). Hits are reported
//  into hits[0..*nhits) up to cap.
double
classifier_keywords_score (const keywords_t *k, const char *text, size_t len, const char **hits,
                           size_t *nhits, size_t cap)
{
    //  small lists: a fixed buffer of found indexes
    size_t found_cap = k->count;
    size_t *found = found_cap? malloc (found_cap * sizeof (size_t)): NULL;
    size_t nfound = 0;
    for (size_t i = 0; i < k->count; i++)
        if (classifier_keyword_found (text, len, &k->items [i], false))
            found [nfound++] = i;
    double score = 0;
    size_t reported = 0;
    for (size_t a = 0; a < nfound; a++) {
        const keyword_t *kw = &k->items [found [a]];
        bool inside = false;
        for (size_t b = 0; b < nfound && !inside; b++) {
            const keyword_t *other = &k->items [found [b]];
            inside = b != a && other->len > kw->len && memmem (other->text, other->len, kw->text, kw->len);
        }
        if (inside)
            continue;
        score += kw->weight;
        if (hits && reported < cap)
            hits [reported++] = kw->text;
    }
    if (nhits)
        *nhits = reported;
    free (found);
    return score;
}

//  The third level whose keywords score best on a normalised text, or NULL
const char *
classifier_keywords_third (const sub_t *s, const char *norm, size_t len)
{
    const char *best = NULL;
    double best_score = 0;
    for (size_t t = 0; t < s->third_count; t++) {
        double score = classifier_keywords_score (&s->thirds [t].kw, norm, len, NULL, NULL, 0);
        if (score > best_score) {
            best_score = score;
            best = s->thirds [t].name;
        }
    }
    return best;
}
