#include "tf_mask.h"
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static _Thread_local tf_mask_stats_t s_stats;
//  Where the masking in progress counts: tf_mask_text into s_stats, which
//  its callers read; tf_mask_quiet (log lines) into a counter nobody reads
static _Thread_local tf_mask_stats_t *s_count;

tf_mask_stats_t
tf_mask_last_stats (void)
{
    return s_stats;
}

static bool s_digit (char c) { return c >= '0' && c <= '9'; }
static bool s_alnum (char c) { return s_digit (c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

static bool
s_luhn (const char *d, size_t n)
{
    int sum = 0;
    for (size_t i = 0; i < n; i++) {
        int v = d [n - 1 - i] - '0';
        if (i % 2 == 1) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
    }
    return sum % 10 == 0;
}

static bool
s_mobile (const char *d, size_t n)
{
    return n == 11 && d [0] == '1' && d [1] >= '3' && d [1] <= '9';
}

static bool
s_id_card (const char *d, size_t n)
{
    if (n != 18)
        return false;
    //  region code, then a birth date 18xx-20xx with a valid month and day
    int year = (d [6] - '0') * 1000 + (d [7] - '0') * 100 + (d [8] - '0') * 10 + (d [9] - '0');
    int month = (d [10] - '0') * 10 + (d [11] - '0');
    int day = (d [12] - '0') * 10 + (d [13] - '0');
    return d [0] != '0' && year >= 1880 && year <= 2099 && month >= 1 && month <= 12
        && day >= 1 && day <= 31;
}

//  True when one of `labels` ends just before `at`, separators between
//  them allowed.
static bool
s_after_label (const char *text, size_t at, const char *const *labels)
{
    size_t end = at;
    //  skip separators between the label and the number
    while (end > 0 && (text [end - 1] == ' ' || text [end - 1] == ':' || text [end - 1] == '#'
                     || text [end - 1] == '.'))
        end--;
    //  also the full-width colon and space, and 是 / 为 ("卡号为…")
    while (end >= 3 && (memcmp (text + end - 3, "\xEF\xBC\x9A", 3) == 0
                     || memcmp (text + end - 3, "\xE3\x80\x80", 3) == 0
                     || memcmp (text + end - 3, "\xE6\x98\xAF", 3) == 0
                     || memcmp (text + end - 3, "\xE4\xB8\xBA", 3) == 0))
        end -= 3;
    while (end > 0 && (text [end - 1] == ' ' || text [end - 1] == ':'))
        end--;
    for (int i = 0; labels [i]; i++) {
        size_t n = strlen (labels [i]);
        if (end >= n && strncasecmp (text + end - n, labels [i], n) == 0)
            return true;
    }
    return false;
}

//  An order number is never a card, whatever its digits
static const char *s_order_labels [] = {
    "订单号", "订单编号", "订单", "单号", "运单号", "快递单号", "order no", "order number", "order",
    "order #", "order id", "tracking no", "tracking number", NULL
};

//  A number the customer calls a card is one, even when a typo breaks its
//  Luhn check digit: stored unmasked it would still be most of their card
static const char *s_card_labels [] = {
    "银行卡", "银行卡号", "卡号", "卡号是", "银行卡是", "card no", "card number", NULL
};

//  After these, 18 characters (17 digits and a digit or X) are an ID card
//  even when the birth date in them is not a date
static const char *s_id_labels [] = {
    "身份证号码", "身份证号", "身份证", "证件号码", "证件号", "ID", "id no", "id number", NULL
};

//  Writes the masked form of digits d[0..n) (digits and maybe a final X)
//  keeping `head` leading and `tail` trailing characters.
static size_t
s_emit (char *out, const char *d, size_t n, size_t head, size_t tail)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        out [o++] = (i < head || i >= n - tail)? d [i]: '*';
    return o;
}

//  A number token: digits, optionally grouped by single spaces or dashes,
//  optionally starting with '+'. Returns its end; collects its digits.
static size_t
s_scan_number (const char *text, size_t len, size_t start, char *digits, size_t *ndigits,
               size_t *group_ends, size_t *ngroups)
{
    size_t i = start, nd = 0, ng = 0;
    while (i < len) {
        if (s_digit (text [i])) {
            if (nd == 64)
                break;          //  the rest is copied as it is
            digits [nd++] = text [i];
            i++;
            continue;
        }
        if ((text [i] == 'X' || text [i] == 'x') && nd == 17 && (i + 1 >= len || !s_alnum (text [i + 1]))) {
            digits [nd++] = 'X';
            i++;
            break;
        }
        //  groups: 138 1234 5678, 138-1234-5678, 139.0000.0232, (139)0000-0239
        if ((text [i] == ' ' || text [i] == '-' || text [i] == '.' || text [i] == ')')
        &&  i + 1 < len && s_digit (text [i + 1]) && ng < 16) {
            group_ends [ng++] = nd;
            i++;
            continue;
        }
        break;
    }
    *ndigits = nd;
    *ngroups = ng;
    return i;
}

//  Classifies a digit string and writes its mask into out; 0 = not personal.
//  After a card label 16-19 digits are a card without the Luhn check.
static size_t
s_mask_digits (const char *d, size_t n, char *out, bool card_label, bool id_label)
{
    if (s_mobile (d, n)) {
        s_count->phones++;
        return s_emit (out, d, n, 3, 4);
    }
    if (n == 13 && d [0] == '8' && d [1] == '6' && s_mobile (d + 2, 11)) {
        s_count->phones++;
        return s_emit (out, d, n, 5, 4);
    }
    if (s_id_card (d, n) || (id_label && n == 18)) {
        s_count->id_cards++;
        return s_emit (out, d, n, 3, 4);
    }
    if (n >= 16 && n <= 19 && d [n - 1] != 'X' && (card_label || s_luhn (d, n))) {
        s_count->bank_cards++;
        return s_emit (out, d, n, 4, 4);
    }
    return 0;
}

static bool
s_email_char (char c)
{
    return s_alnum (c) || c == '.' || c == '_' || c == '-' || c == '+';
}

//  Full-width digits and the separators of a number (（）－．＋ and the
//  ideographic space) as their ASCII selves, so that "１３８…" or
//  "（139）0000－0239" is read as the number it is. Never longer.
static size_t
s_normalise (const char *text, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        const unsigned char *u = (const unsigned char *) text + i;
        if (i + 2 < len && u [0] == 0xEF && u [1] == 0xBC && u [2] >= 0x88 && u [2] <= 0x99) {
            static const char ascii [] = "()*+,-./0123456789";
            char c = ascii [u [2] - 0x88];
            if (c != '*' && c != ',' && c != '/') {
                out [o++] = c;
                i += 2;
                continue;
            }
        }
        if (i + 2 < len && u [0] == 0xE3 && u [1] == 0x80 && u [2] == 0x80) {
            out [o++] = ' ';
            i += 2;
            continue;
        }
        out [o++] = text [i];
    }
    return o;
}

static char *
s_mask (const char *raw, size_t raw_len, size_t *out_len)
{
    char *out = malloc (raw_len + 1);
    char *text = malloc (raw_len + 1);
    if (!out || !text) {
        free (out);
        free (text);
        return NULL;
    }
    size_t len = s_normalise (raw, raw_len, text);
    size_t o = 0, i = 0;
    while (i < len) {
        char c = text [i];
        //  e-mail: local@domain.tld — mask the local part after its first character
        if (c == '@' && o > 0 && s_email_char (out [o - 1])) {
            size_t d = i + 1, dots = 0;
            while (d < len && s_email_char (text [d])) {
                dots += text [d] == '.';
                d++;
            }
            if (dots > 0 && d > i + 3) {
                size_t l = o;
                while (l > 0 && s_email_char (out [l - 1]))
                    l--;
                for (size_t k = l + 1; k < o; k++)
                    out [k] = '*';
                //  collapse the masked run to three stars: the length is personal too
                if (o - l > 4) {
                    o = l + 4;
                }
                s_count->emails++;
                memcpy (out + o, text + i, d - i);
                o += d - i;
                i = d;
                continue;
            }
        }
        //  a number may follow letters (tel13900000231, ID110…), never digits
        bool starts_number = (s_digit (c) && (i == 0 || !s_digit (text [i - 1])))
                          || ((c == '+' || c == '(') && i + 1 < len && s_digit (text [i + 1])
                              && (i == 0 || !s_alnum (text [i - 1])));
        if (!starts_number) {
            out [o++] = c;
            i++;
            continue;
        }
        bool prefixed = c == '+' || c == '(';
        size_t begin = prefixed? i + 1: i;
        char digits [64], masked [64];
        size_t nd, ng, group_ends [16];
        size_t end = s_scan_number (text, len, begin, digits, &nd, group_ends, &ng);
        bool bounded = end >= len || !s_digit (text [end]);
        bool order = s_after_label (text, i, s_order_labels);
        size_t m = 0;
        if (bounded && !order)
            m = s_mask_digits (digits, nd, masked, s_after_label (text, i, s_card_labels),
                               s_after_label (text, i, s_id_labels));
        if (m) {
            if (prefixed)
                out [o++] = c;
            memcpy (out + o, masked, m);
            o += m;
            i = end;
            continue;
        }
        //  the whole token is not personal: try each group alone, so that
        //  "13812345678 13912345678" still masks both numbers
        size_t g_start = 0, pos = begin;
        if (prefixed)
            out [o++] = text [i];
        for (size_t g = 0; g <= ng; g++) {
            size_t g_end = g < ng? group_ends [g]: nd;
            size_t g_len = g_end - g_start;
            //  source bytes of this group: its digits, then one separator
            size_t mg = !order && ng > 0? s_mask_digits (digits + g_start, g_len, masked, false, false): 0;
            if (mg && (g < ng || bounded)) {
                memcpy (out + o, masked, mg);
                o += mg;
            }
            else {
                memcpy (out + o, text + pos, g_len);
                o += g_len;
            }
            pos += g_len;
            if (g < ng) {
                out [o++] = text [pos];
                pos++;
            }
            g_start = g_end;
        }
        //  a final X check digit is copied as it was
        if (pos < end) {
            memcpy (out + o, text + pos, end - pos);
            o += end - pos;
        }
        i = end;
    }
    out [o] = 0;
    free (text);
    if (out_len)
        *out_len = o;
    return out;
}

char *
tf_mask_text (const char *text, size_t len, size_t *out_len)
{
    memset (&s_stats, 0, sizeof s_stats);
    s_count = &s_stats;
    return s_mask (text, len, out_len);
}

char *
tf_mask_quiet (const char *text, size_t len, size_t *out_len)
{
    tf_mask_stats_t ignored;
    s_count = &ignored;
    char *out = s_mask (text, len, out_len);
    s_count = &s_stats;
    return out;
}
