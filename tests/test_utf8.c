//  The one UTF-8 decoder (tf_utf8_next) and what is built on it.
#include "tf_utf8.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (utf8, .timeout = 30);

#define R TF_UTF8_REPLACEMENT
#define STEPS_MAX 8

//  A byte string and, step by step, what tf_utf8_next must say of it
typedef struct {
    const char *name;
    const char *bytes;
    size_t len;
    bool valid;
    uint32_t cp [STEPS_MAX];
    size_t used [STEPS_MAX];
} utf8_case_t;

static const utf8_case_t s_cases [] = {
    //  valid, at the edges of each length
    { "ascii", "a~", 2, true, { 'a', '~' }, { 1, 1 } },
    { "two bytes", "\xC2\x80\xDF\xBF", 4, true, { 0x80, 0x7FF }, { 2, 2 } },
    { "three bytes", "\xE0\xA0\x80\xE6\x88\x91\xEF\xBF\xBF", 9, true, { 0x800, 0x6211, 0xFFFF }, { 3, 3, 3 } },
    { "around the surrogates", "\xED\x9F\xBF\xEE\x80\x80", 6, true, { 0xD7FF, 0xE000 }, { 3, 3 } },
    { "four bytes", "\xF0\x90\x80\x80\xF0\x9F\x98\xA1\xF4\x8F\xBF\xBF", 12, true,
      { 0x10000, 0x1F621, 0x10FFFF }, { 4, 4, 4 } },
    { "a written U+FFFD", "\xEF\xBF\xBD", 3, true, { R }, { 3 } },
    //  overlong forms: the lead byte alone is the invalid subpart
    { "overlong two", "\xC0\xAF", 2, false, { R, R }, { 1, 1 } },
    { "overlong two C1", "\xC1\xBF", 2, false, { R, R }, { 1, 1 } },
    { "overlong three", "\xE0\x9F\xBF", 3, false, { R, R, R }, { 1, 1, 1 } },
    { "overlong four", "\xF0\x8F\xBF\xBF", 4, false, { R, R, R, R }, { 1, 1, 1, 1 } },
    //  surrogates
    { "high surrogate", "\xED\xA0\x80", 3, false, { R, R, R }, { 1, 1, 1 } },
    { "low surrogate", "\xED\xBF\xBF", 3, false, { R, R, R }, { 1, 1, 1 } },
    //  truncated: the started sequence is one error, what follows decodes
    { "truncated two", "\xC3", 1, false, { R }, { 1 } },
    { "truncated three", "\xE6\x88", 2, false, { R }, { 2 } },
    { "truncated four", "\xF0\x9F\x98", 3, false, { R }, { 3 } },
    { "cut by ascii", "\xE6\x88" "a", 3, false, { R, 'a' }, { 2, 1 } },
    { "cut by a lead byte", "\xF0\x9F\xE6\x88\x91", 5, false, { R, 0x6211 }, { 2, 3 } },
    //  above U+10FFFF
    { "F4 90", "\xF4\x90\x80\x80", 4, false, { R, R, R, R }, { 1, 1, 1, 1 } },
    { "F5", "\xF5\x80\x80\x80", 4, false, { R, R, R, R }, { 1, 1, 1, 1 } },
    { "FF", "\xFF" "a", 2, false, { R, 'a' }, { 1, 1 } },
    //  stray continuation bytes, one error each
    { "stray continuation", "\x80\xBF", 2, false, { R, R }, { 1, 1 } },
    //  NUL decodes, but text with it is not valid
    { "NUL", "a\0b", 3, false, { 'a', 0, 'b' }, { 1, 1, 1 } },
    { "empty", "", 0, true, { 0 }, { 0 } },
};

Test (utf8, cases)
{
    for (size_t i = 0; i < sizeof s_cases / sizeof s_cases [0]; i++) {
        const utf8_case_t *c = &s_cases [i];
        cr_expect_eq (tf_utf8_valid (c->bytes, c->len), c->valid, "%s: valid", c->name);
        size_t at = 0, step = 0;
        while (at < c->len) {
            cr_assert_lt (step, STEPS_MAX, "%s: too many steps", c->name);
            uint32_t cp = 0xDEADBEEF;
            size_t used = tf_utf8_next (c->bytes, c->len, at, &cp);
            cr_expect_eq (cp, c->cp [step], "%s: step %zu gives U+%04X", c->name, step, cp);
            cr_expect_eq (used, c->used [step], "%s: step %zu takes %zu bytes", c->name, step, used);
            cr_assert_geq (used, 1);
            at += used;
            step++;
        }
        cr_expect_eq (at, c->len, "%s: steps end at the end", c->name);
        cr_expect (step == STEPS_MAX || c->used [step] == 0, "%s: fewer steps than expected", c->name);
    }
}

Test (utf8, never_reads_past_len)
{
    //  the byte after len would complete the sequence: it must not count
    const char text [] = "\xE6\x88\x91";
    uint32_t cp;
    cr_expect_eq (tf_utf8_next (text, 2, 0, &cp), 2);
    cr_expect_eq (cp, R);
    cr_expect_not (tf_utf8_valid (text, 2));
    cr_expect_eq (tf_utf8_next (text, 3, 0, &cp), 3);
    cr_expect_eq (cp, 0x6211);
}

Test (utf8, encode)
{
    const uint32_t cps [] = { 0x41, 0x80, 0x7FF, 0x800, 0x6211, 0xFFFD, 0xFFFF, 0x10000, 0x1F621, 0x10FFFF };
    for (size_t i = 0; i < sizeof cps / sizeof cps [0]; i++) {
        char out [4];
        size_t n = tf_utf8_encode (cps [i], out);
        uint32_t back;
        cr_expect (tf_utf8_valid (out, n), "U+%04X encodes to valid UTF-8", cps [i]);
        cr_expect_eq (tf_utf8_next (out, n, 0, &back), n);
        cr_expect_eq (back, cps [i]);
    }
}

Test (utf8, prefix)
{
    const char *text = "ab我的";     //  2 ASCII, then two 3-byte characters
    size_t len = strlen (text);
    cr_expect_eq (tf_utf8_prefix (text, len, 100), len);
    cr_expect_eq (tf_utf8_prefix (text, len, len), len);
    cr_expect_eq (tf_utf8_prefix (text, len, 4), 2);
    cr_expect_eq (tf_utf8_prefix (text, len, 5), 5);
    cr_expect_eq (tf_utf8_prefix (text, len, 7), 5);
    cr_expect_eq (tf_utf8_prefix (text, len, 0), 0);
    //  an invalid sequence is one character: never cut inside it either
    cr_expect_eq (tf_utf8_prefix ("a\xF0\x9F\x98" "b", 5, 3), 1);
    cr_expect_eq (tf_utf8_prefix ("a\xF0\x9F\x98" "b", 5, 4), 4);
}

//  Pieces of valid and invalid UTF-8, glued at random below
static const char *const s_pieces [] = {
    "a", "Z", " ", "\n", "\xC3\xA9", "\xE6\x88\x91", "\xEF\xBC\x81", "\xEF\xBF\xBD", "\xF0\x9F\x98\xA1",
    "\xF4\x8F\xBF\xBF", "\xC0", "\xC1\xBF", "\xE0\x80", "\xED\xA0\x80", "\xF4\x90", "\xF5", "\xFF",
    "\x80", "\xBF", "\xE6\x88", "\xF0\x9F\x98", "\xE6", "\xF0",
};

//  valid () and next () agree: a text is valid exactly when it has no NUL
//  and encoding what next () decodes gives the text back (an error becomes
//  U+FFFD, which differs from the bytes it replaced). prefix () cuts where
//  next () says a character ends.
Test (utf8, valid_next_and_prefix_agree)
{
    uint64_t state = 7;
    size_t npieces = sizeof s_pieces / sizeof s_pieces [0];
    size_t valid_seen = 0, invalid_seen = 0;
    for (int round = 0; round < 20000; round++) {
        char text [128];
        size_t len = 0;
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t parts = (size_t) (state >> 60);
        for (size_t p = 0; p < parts; p++) {
            state = state * 6364136223846793005ULL + 1442695040888963407ULL;
            //  mostly valid pieces, so that valid texts come up too
            size_t pick = (size_t) (state >> 33) % (npieces * 3);
            const char *piece = s_pieces [pick < npieces * 2? pick % 10: pick - npieces * 2];
            memcpy (text + len, piece, strlen (piece));
            len += strlen (piece);
        }
        if (round % 97 == 0 && len > 0)
            text [len / 2] = 0;
        char again [512];
        size_t n = 0, at = 0;
        bool nul = false;
        size_t ends [128];
        size_t nends = 0;
        ends [nends++] = 0;
        while (at < len) {
            uint32_t cp;
            size_t used = tf_utf8_next (text, len, at, &cp);
            cr_assert (used >= 1 && used <= 4 && at + used <= len);
            nul = nul || cp == 0;
            n += tf_utf8_encode (cp, again + n);
            at += used;
            ends [nends++] = at;
        }
        bool same = n == len && memcmp (again, text, len) == 0;
        bool valid = tf_utf8_valid (text, len);
        cr_assert_eq (valid, same && !nul, "round %d: valid () says %d", round, valid);
        valid? valid_seen++: invalid_seen++;
        for (size_t max = 0; max <= len; max++) {
            size_t cut = tf_utf8_prefix (text, len, max);
            size_t e = 0;
            while (e + 1 < nends && ends [e + 1] <= max)
                e++;
            cr_assert_eq (cut, ends [e], "round %d: prefix %zu cuts at %zu", round, max, cut);
        }
    }
    cr_expect_gt (valid_seen, 1000);
    cr_expect_gt (invalid_seen, 1000);
}
