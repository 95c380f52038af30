/*  =========================================================================
    test_textfeat - tokenizer, normalisation and feature extraction
    =========================================================================
*/
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../services/classifier/textfeat.h"
#include "tf_utf8.h"

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (textfeat, .timeout = 30);

//  Tokens collected as "\ntok1\ntok2\n...\n" so a token can be looked up
//  as "\n<tok>\n"
typedef struct {
    char *buf;
    size_t len, cap;
    size_t count;
    uint64_t digest;            //  FNV over the token stream
} toks_t;

static void
s_collect (const char *tok, size_t toklen, void *arg)
{
    toks_t *t = (toks_t *) arg;
    if (t->len + toklen + 2 > t->cap) {
        t->cap = (t->len + toklen + 2) * 2;
        t->buf = (char *) realloc (t->buf, t->cap + 1);
        cr_assert_not_null (t->buf);
    }
    if (t->len == 0)
        t->buf [t->len++] = '\n';
    memcpy (t->buf + t->len, tok, toklen);
    t->len += toklen;
    t->buf [t->len++] = '\n';
    t->buf [t->len] = 0;
    t->count++;
    for (size_t i = 0; i < toklen; i++)
        t->digest = (t->digest ^ (unsigned char) tok [i]) * 0x100000001b3ULL;
    t->digest = (t->digest ^ 0xFF) * 0x100000001b3ULL;
}

static toks_t
s_tokens (const char *text, size_t len)
{
    toks_t t = { NULL, 0, 0, 0, 0xcbf29ce484222325ULL };
    textfeat_tokens (text, len, s_collect, &t);
    return t;
}

static int
s_has (const toks_t *t, const char *tok)
{
    if (!t->buf)
        return 0;
    char needle [256];
    snprintf (needle, sizeof needle, "\n%s\n", tok);
    return strstr (t->buf, needle) != NULL;
}

Test (textfeat, mixed_scripts)
{
    const char *text = "我的订单CS20231027还没到 where is my order???";
    toks_t t = s_tokens (text, strlen (text));
    //  CJK character 1..3-grams within each run
    cr_expect (s_has (&t, "h:我"));
    cr_expect (s_has (&t, "h:我的"));
    cr_expect (s_has (&t, "h:订单"));
    cr_expect (s_has (&t, "h:我的订"));
    cr_expect (s_has (&t, "h:还没到"));
    //  ...but never across the Latin word in between
    cr_expect (!s_has (&t, "h:单还"));
    //  Order number: letters + digit class (8 digits -> "000")
    cr_expect (s_has (&t, "w:cs"));
    cr_expect (s_has (&t, "w:000"));
    cr_expect (!s_has (&t, "w:cs20231027"));
    cr_expect (!s_has (&t, "w:20231027"));
    //  English words, bigrams, trigrams, char n-grams with boundaries
    cr_expect (s_has (&t, "w:where"));
    cr_expect (s_has (&t, "w:order"));
    cr_expect (s_has (&t, "b:my order"));
    cr_expect (s_has (&t, "t:is my order"));
    cr_expect (s_has (&t, "g:<wh"));
    cr_expect (s_has (&t, "g:rder>"));
    cr_expect (s_has (&t, "g:<is>"));
    cr_expect (!s_has (&t, "w:Where"));
    //  Punctuation splits and '?' is kept as a token
    cr_expect (s_has (&t, "p:?"));
    cr_expect (!s_has (&t, "w:order???"));
    free (t.buf);
}

Test (textfeat, full_width_folding)
{
    //  "ＡＢＣ１２３" + ideographic space + "Ｘ"
    const char *text = "ＡＢＣ１２３\xE3\x80\x80Ｘ";
    toks_t t = s_tokens (text, strlen (text));
    cr_expect (s_has (&t, "w:abc"));
    cr_expect (s_has (&t, "w:00"), "3 digits are the 3-4 digit class");
    cr_expect (s_has (&t, "w:x"));
    cr_expect (s_has (&t, "b:00 x"), "ideographic space separates words");
    cr_expect (!s_has (&t, "w:ＡＢＣ"));
    char out [64];
    size_t n = textfeat_normalize (text, strlen (text), out, sizeof out);
    cr_expect_eq (n, strlen ("abc123 x"));
    cr_expect_str_eq (out, "abc123 x");
    free (t.buf);
}

Test (textfeat, digit_classes)
{
    const char *text = "7 42 123 2023 123456 1234567890";
    toks_t t = s_tokens (text, strlen (text));
    cr_expect (s_has (&t, "b:0 0"), "1 and 2 digits share the class 0");
    cr_expect (s_has (&t, "b:00 00"), "3 and 4 digits share the class 00");
    cr_expect (s_has (&t, "b:000 0000"));
    cr_expect_eq (t.count, 6 + 5 + 4, "six units, five bigrams, four trigrams");
    free (t.buf);
}

Test (textfeat, emoji_and_apostrophes)
{
    //  grinning face, thumbs up + skin tone, heart + VS16, ZWJ family
    const char *text = "thanks 😀 👍🏻 ❤️ don't 'quoted' it’s";
    toks_t t = s_tokens (text, strlen (text));
    cr_expect (s_has (&t, "w:😀"));
    cr_expect (s_has (&t, "w:👍"));
    cr_expect (s_has (&t, "w:❤"));
    cr_expect (s_has (&t, "w:<emoji>"));
    cr_expect (!s_has (&t, "w:🏻"), "skin tone modifiers are dropped");
    cr_expect (s_has (&t, "w:don't"));
    cr_expect (s_has (&t, "w:quoted"), "outer quotes are not part of a word");
    cr_expect (s_has (&t, "w:it's"), "curly apostrophe folds to ASCII");
    cr_expect (s_has (&t, "b:don't quoted"), "emoji do not break the word chain");
    free (t.buf);
}

Test (textfeat, punctuation_and_case)
{
    const char *text = "HELLO,World!Ünïcode ΣΟΦΙΑ Привет";
    toks_t t = s_tokens (text, strlen (text));
    cr_expect (s_has (&t, "w:hello"));
    cr_expect (s_has (&t, "w:world"));
    cr_expect (s_has (&t, "p:!"));
    cr_expect (s_has (&t, "w:ünïcode"));
    cr_expect (s_has (&t, "w:σοφια"));
    cr_expect (s_has (&t, "w:привет"));
    free (t.buf);
}

Test (textfeat, embedded_nul_and_explicit_length)
{
    //  Exactly 5 bytes, no terminator: reading past len is a bug (ASan)
    char *text = (char *) malloc (5);
    memcpy (text, "ab\0cd", 5);
    toks_t t = s_tokens (text, 5);
    cr_expect (s_has (&t, "w:ab"));
    cr_expect (s_has (&t, "w:cd"));
    cr_expect (s_has (&t, "b:ab cd"), "NUL is a separator, not an end");
    toks_t u = s_tokens (text, 2);
    cr_expect (s_has (&u, "w:ab"));
    cr_expect (!s_has (&u, "w:cd"), "length is honoured");
    free (t.buf);
    free (u.buf);
    free (text);
}

Test (textfeat, empty_input)
{
    toks_t t = s_tokens ("", 0);
    cr_expect_eq (t.count, 0);
    toks_t u = s_tokens (NULL, 0);
    cr_expect_eq (u.count, 0);
    char out [4] = "xyz";
    cr_expect_eq (textfeat_normalize (NULL, 0, out, sizeof out), 0);
    cr_expect_str_eq (out, "");
    cr_expect_eq (textfeat_normalize ("abc", 3, out, 0), 0);
    textfeat_vec_t *v = textfeat_vec_new ();
    cr_assert_not_null (v);
    cr_expect_eq (textfeat_extract (NULL, 0, 0, v), 0);
    cr_expect_eq (v->count, 0);
    textfeat_vec_destroy (&v);
    cr_expect_null (v);
    textfeat_vec_destroy (&v);
}

Test (textfeat, normalize_truncates_at_char_boundary)
{
    const char *text = "ab我c";
    char out [5];
    size_t n = textfeat_normalize (text, strlen (text), out, sizeof out);
    //  "ab" + 3-byte char = 5 bytes does not fit in 4 + NUL
    cr_expect_eq (n, 2);
    cr_expect_str_eq (out, "ab");
}

//  Hostile byte sequences: must not crash, must be deterministic, must give
//  valid UTF-8 from normalize with the expected replacement characters.
typedef struct {
    char name [32];
    unsigned char bytes [16];
    size_t len;
    char expect [64];           //  expected normalize output ("" = skip)
    size_t expect_len;
} bad_case_t;

#define FFFD "\xEF\xBF\xBD"

ParameterizedTestParameters (textfeat, bad_bytes)
{
    static bad_case_t cases [] = {
        { "trunc2", { 'a', 0xC3 }, 2, "a" FFFD, 4 },
        { "trunc3", { 0xE4, 0xB8, 'b' }, 3, FFFD "b", 4 },
        { "trunc3_end", { 'x', 0xE4, 0xB8 }, 3, "x" FFFD, 4 },
        { "trunc4", { 0xF0, 0x9F, 0x98 }, 3, FFFD, 3 },
        { "trunc4_mid", { 0xF0, 0x9F, ' ', 'z' }, 4, FFFD " z", 5 },
        { "overlong2", { 0xC0, 0xAF }, 2, FFFD FFFD, 6 },
        { "overlong3", { 0xE0, 0x80, 0xAF }, 3, FFFD FFFD FFFD, 9 },
        { "overlong4", { 0xF0, 0x80, 0x80, 0xAF }, 4, FFFD FFFD FFFD FFFD, 12 },
        { "surrogate", { 0xED, 0xA0, 0x80 }, 3, FFFD FFFD FFFD, 9 },
        { "above_max", { 0xF4, 0x90, 0x80, 0x80 }, 4, FFFD FFFD FFFD FFFD, 12 },
        { "f5", { 0xF5, 'a' }, 2, FFFD "a", 4 },
        { "bom_swapped", { 0xFF, 0xFE }, 2, FFFD FFFD, 6 },
        { "c1", { 0xC1, 0xBF }, 2, FFFD FFFD, 6 },
        { "lone_cont", { 0x80, 'a', 0xBF }, 3, FFFD "a" FFFD, 7 },
        { "many_cont", { 0x80, 0x81, 0x82, 0x83, 0x84, 0x85 }, 6,
          FFFD FFFD FFFD FFFD FFFD FFFD, 18 },
        { "nul", { 'a', 0, 'b' }, 3, "a b", 3 },
        { "mixed", { 'o', 'k', 0xE6, 0x88, 0x91, 0xC0, 0xE6, 0x88 }, 8,
          "ok我" FFFD FFFD, 11 },
        { "empty", { 0 }, 0, "", 0 },
    };
    return cr_make_param_array (bad_case_t, cases, sizeof cases / sizeof cases [0]);
}

ParameterizedTest (bad_case_t *c, textfeat, bad_bytes)
{
    //  Exact-size heap copy, so any over-read shows under ASan/valgrind
    char *text = (char *) malloc (c->len? c->len: 1);
    memcpy (text, c->bytes, c->len);
    toks_t a = s_tokens (text, c->len);
    toks_t b = s_tokens (text, c->len);
    cr_expect_eq (a.count, b.count, "%s: deterministic token count", c->name);
    cr_expect_eq (a.digest, b.digest, "%s: deterministic tokens", c->name);

    char out [128];
    size_t n = textfeat_normalize (text, c->len, out, sizeof out);
    cr_expect (tf_utf8_valid (out, n), "%s: normalize gives valid UTF-8", c->name);
    cr_expect_eq (n, c->expect_len, "%s: normalized length %zu", c->name, n);
    cr_expect (memcmp (out, c->expect, c->expect_len) == 0, "%s: normalized bytes", c->name);

    textfeat_vec_t *v1 = textfeat_vec_new (), *v2 = textfeat_vec_new ();
    cr_assert (v1 && v2);
    cr_expect_eq (textfeat_extract (text, c->len, 0, v1), 0);
    cr_expect_eq (textfeat_extract (text, c->len, 0, v2), 0);
    cr_expect_eq (v1->count, v2->count);
    for (size_t i = 0; i < v1->count && i < v2->count; i++) {
        cr_expect_eq (v1->ids [i], v2->ids [i]);
        cr_expect_eq (v1->vals [i], v2->vals [i]);
    }
    textfeat_vec_destroy (&v1);
    textfeat_vec_destroy (&v2);
    free (a.buf);
    free (b.buf);
    free (text);
}

//  64 KiB inputs: random bytes, one giant word, a long CJK run
static char *
s_big_input (int kind, size_t len)
{
    char *s = (char *) malloc (len);
    cr_assert_not_null (s);
    uint64_t x = 88172645463325252ULL;
    for (size_t i = 0; i < len; i++) {
        if (kind == 0) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            s [i] = (char) (x & 0xFF);
        }
        else
        if (kind == 1)
            s [i] = 'a' + (char) (i % 26);
        else {
            static const char han [] = "客服订单退款";       //  6 x 3 bytes
            s [i] = han [i % 18];
        }
    }
    return s;
}

Test (textfeat, big_inputs)
{
    const size_t len = 64 * 1024;
    for (int kind = 0; kind < 3; kind++) {
        char *s = s_big_input (kind, len);
        toks_t a = s_tokens (s, len);
        toks_t b = s_tokens (s, len);
        cr_expect_eq (a.digest, b.digest, "kind %d deterministic", kind);
        cr_expect_gt (a.count, 0, "kind %d gives tokens", kind);
        textfeat_vec_t *v = textfeat_vec_new ();
        cr_assert_not_null (v);
        cr_expect_eq (textfeat_extract (s, len, 0, v), 0);
        cr_expect_gt (v->count, 0);
        //  Ids are unique
        for (size_t i = 1; i < v->count && i < 2000; i++)
            for (size_t j = 0; j < i; j++)
                cr_assert_neq (v->ids [i], v->ids [j]);
        char *out = (char *) malloc (len * 3 + 1);
        size_t n = textfeat_normalize (s, len, out, len * 3 + 1);
        cr_expect (tf_utf8_valid (out, n));
        free (out);
        textfeat_vec_destroy (&v);
        free (a.buf);
        free (b.buf);
        free (s);
    }
    //  The giant word is truncated to TEXTFEAT_WORD_MAX code points
    char *s = s_big_input (1, len);
    toks_t t = s_tokens (s, len);
    char expect [TEXTFEAT_WORD_MAX + 3] = "w:";
    memcpy (expect + 2, s, TEXTFEAT_WORD_MAX);
    expect [TEXTFEAT_WORD_MAX + 2] = 0;
    cr_expect (s_has (&t, expect));
    free (t.buf);
    free (s);
}

//  Sum of feature values = number of tokens; hash bits mask ids
static void
s_count (const char *tok, size_t toklen, void *arg)
{
    (void) tok;
    (void) toklen;
    (*(size_t *) arg)++;
}

Test (textfeat, extract_merges_and_masks)
{
    const char *text = "refund refund refund 退款退款 please";
    size_t tokens = 0;
    textfeat_tokens (text, strlen (text), s_count, &tokens);
    textfeat_vec_t *v = textfeat_vec_new ();
    cr_assert_not_null (v);
    cr_assert_eq (textfeat_extract (text, strlen (text), 0, v), 0);
    double sum = 0;
    for (size_t i = 0; i < v->count; i++)
        sum += v->vals [i];
    cr_expect_eq ((size_t) sum, tokens);
    cr_expect_lt (v->count, tokens, "duplicates are merged");
    //  "w:refund" appears three times
    uint32_t id = textfeat_hash ("w:refund", 8);
    int found = 0;
    for (size_t i = 0; i < v->count; i++)
        if (v->ids [i] == id) {
            cr_expect_eq (v->vals [i], 3.0f);
            found = 1;
        }
    cr_expect (found);
    cr_assert_eq (textfeat_extract (text, strlen (text), 10, v), 0);
    for (size_t i = 0; i < v->count; i++)
        cr_expect_lt (v->ids [i], 1u << 10);
    textfeat_vec_destroy (&v);
}

Test (textfeat, stack_vector_grows_to_heap)
{
    uint32_t ids [4];
    float vals [4];
    textfeat_vec_t v;
    textfeat_vec_init (&v, ids, vals, 4);
    const char *text = "the quick brown fox jumps over the lazy dog";
    cr_assert_eq (textfeat_extract (text, strlen (text), 0, &v), 0);
    cr_expect_gt (v.count, 4);
    cr_expect_neq (v.ids, ids, "moved to the heap");
    cr_expect_eq (v.owned, 1);
    textfeat_vec_release (&v);
    cr_expect_null (v.ids);
    //  Small text stays in the caller's storage
    textfeat_vec_init (&v, ids, vals, 4);
    cr_assert_eq (textfeat_extract ("a", 1, 0, &v), 0);
    cr_expect_eq (v.ids, ids);
    cr_expect_eq (v.count, 4, "w:a, g:<a, g:a>, g:<a>");
    textfeat_vec_release (&v);
}
