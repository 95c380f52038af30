//  Keyword lists (classifier_keywords.c): normalisation, weights, matching,
//  scoring. The classifier's decisions are tested in test_classifier.c.
#include "classifier_private.h"
#include <criterion/criterion.h>
#include <string.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (classifier_keywords, .timeout = 30);

static void
s_expect_normalised (const char *text, size_t len, const char *want, size_t want_len)
{
    size_t n;
    char *out = classifier_normalise (text, len, &n);
    cr_expect_eq (n, want_len, "length %zu, expected %zu", n, want_len);
    cr_expect (memcmp (out, want, want_len) == 0, "normalised bytes differ");
    cr_expect_eq (out [n], 0);
    cr_expect_leq (n, len);
    free (out);
}

Test (classifier_keywords, normalise)
{
    //  full-width ASCII folds and is lower-cased; the ideographic space and
    //  controls become spaces; other characters stay
    s_expect_normalised ("ＡＢＣ　１２３\tX\x7f我", 27, "abc 123 x 我", 13);
    //  invalid sequences are copied as they are, ASCII around them folds
    s_expect_normalised ("\xff" "A\xc0\xaf\xef\xbc" "B\xed\xa0\x80", 10, "\xff" "a\xc0\xaf\xef\xbc" "b\xed\xa0\x80", 10);
    s_expect_normalised ("", 0, "", 0);
}

static keywords_t
s_list (const char *const *words, size_t n)
{
    keywords_t k = { NULL, 0 };
    classifier_keywords_add_all (&k, words, n);
    return k;
}

Test (classifier_keywords, adding)
{
    //  normalised, trimmed; empty, blank and repeated ones skipped
    const char *words [] = { "  Ｒｅｆｕｎｄ ", "refund", "", "   ", NULL, "快递" };
    keywords_t k = s_list (words, 6);
    cr_assert_eq (k.count, 2);
    cr_expect_str_eq (k.items [0].text, "refund");
    cr_expect (k.items [0].word_start && k.items [0].word_end);
    cr_expect_str_eq (k.items [1].text, "快递");
    cr_expect (!k.items [1].word_start && !k.items [1].word_end);
    //  weight: 1 + 0.5 per unit past the first, a CJK character one unit,
    //  an ASCII one half, at most 3.5
    cr_expect_float_eq (k.items [0].weight, 2.0, 1e-9);   //  6 letters: 3 units
    cr_expect_float_eq (k.items [1].weight, 1.5, 1e-9);
    classifier_keywords_free (&k);
    //  an invalid sequence counts as one character, as tf_utf8_next reads it
    const char *odd [] = { "\xe5\xbf" "x\xff", "很长很长很长很长的关键词" };
    k = s_list (odd, 2);
    cr_assert_eq (k.count, 2);
    cr_expect_float_eq (k.items [0].weight, 1.75, 1e-9);   //  1 + 0.5 + 1: 2.5 units
    cr_expect_float_eq (k.items [1].weight, 3.5, 1e-9);
    classifier_keywords_free (&k);
    cr_expect_eq (k.count, 0);
}

Test (classifier_keywords, matching_and_scoring)
{
    const char *words [] = { "app", "在哪", "在哪里", "受伤" };
    keywords_t k = s_list (words, 4);
    const char *text = "apps 在哪里 没有受伤 happy";
    size_t len = strlen (text);
    //  whole ASCII words (a plural s allowed), anywhere for CJK
    cr_expect (classifier_keyword_found (text, len, &k.items [0], false));
    cr_expect_not (classifier_keyword_found ("happy", 5, &k.items [0], false));
    cr_expect (classifier_keyword_found (text, len, &k.items [1], false));
    //  right after a negation it does not count, when negation is checked
    cr_expect (classifier_keyword_found (text, len, &k.items [3], false));
    cr_expect_not (classifier_keyword_found (text, len, &k.items [3], true));
    //  "在哪" counts only as part of "在哪里"; hits reported, capped
    const char *hits [4];
    size_t nhits;
    double score = classifier_keywords_score (&k, text, len, hits, &nhits, 4);
    cr_expect_float_eq (score, k.items [0].weight + k.items [2].weight + k.items [3].weight, 1e-9);
    cr_assert_eq (nhits, 3);
    cr_expect_str_eq (hits [0], "app");
    cr_expect_str_eq (hits [1], "在哪里");
    cr_expect_str_eq (hits [2], "受伤");
    classifier_keywords_score (&k, text, len, hits, &nhits, 1);
    cr_expect_eq (nhits, 1);
    cr_expect_float_eq (classifier_keywords_score (&k, "nothing", 7, NULL, NULL, 0), 0, 1e-9);
    classifier_keywords_free (&k);
}
