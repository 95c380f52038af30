#include "tf_utf8.h"

//  The decoder. Returns false for an invalid or truncated sequence (*cp is
//  then U+FFFD), so that tf_utf8_valid can tell an error from a U+FFFD
//  written in the text.
static bool
s_decode (const uint8_t *s, size_t len, size_t at, uint32_t *cp, size_t *used)
{
    uint8_t b = s [at];
    if (b < 0x80) {
        *cp = b;
        *used = 1;
        return true;
    }
    size_t need;                        //  continuation bytes
    if (b >= 0xC2 && b <= 0xDF)
        need = 1;
    else
    if (b >= 0xE0 && b <= 0xEF)
        need = 2;
    else
    if (b >= 0xF0 && b <= 0xF4)
        need = 3;
    else {
        *cp = TF_UTF8_REPLACEMENT;      //  stray continuation, C0, C1, F5..FF
        *used = 1;
        return false;
    }
    //  The second byte's range is narrower after the lead bytes whose full
    //  range would let through overlongs (E0, F0), surrogates (ED) or code
    //  points above U+10FFFF (F4)
    uint8_t lo = b == 0xE0? 0xA0: b == 0xF0? 0x90: 0x80;
    uint8_t hi = b == 0xED? 0x9F: b == 0xF4? 0x8F: 0xBF;
    uint32_t value = b & (0x7Fu >> (need + 1));
    for (size_t i = 1; i <= need; i++) {
        if (at + i >= len || s [at + i] < lo || s [at + i] > hi) {
            *cp = TF_UTF8_REPLACEMENT;
            *used = i;
            return false;
        }
        value = (value << 6) | (s [at + i] & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    *cp = value;
    *used = need + 1;
    return true;
}

size_t
tf_utf8_next (const char *s, size_t len, size_t at, uint32_t *cp)
{
    size_t used;
    s_decode ((const uint8_t *) s, len, at, cp, &used);
    return used;
}

bool
tf_utf8_valid (const char *s, size_t len)
{
    size_t at = 0;
    while (at < len) {
        uint32_t cp;
        size_t used;
        if (!s_decode ((const uint8_t *) s, len, at, &cp, &used) || cp == 0)
            return false;
        at += used;
    }
    return true;
}

size_t
tf_utf8_prefix (const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t at = 0;
    while (at < max) {
        uint32_t cp;
        size_t used = tf_utf8_next (s, len, at, &cp);
        if (at + used > max)
            break;
        at += used;
    }
    return at;
}

size_t
tf_utf8_encode (uint32_t cp, char *out)
{
    if (cp < 0x80) {
        out [0] = (char) cp;
        return 1;
    }
    if (cp < 0x800) {
        out [0] = (char) (0xC0 | (cp >> 6));
        out [1] = (char) (0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out [0] = (char) (0xE0 | (cp >> 12));
        out [1] = (char) (0x80 | ((cp >> 6) & 0x3F));
        out [2] = (char) (0x80 | (cp & 0x3F));
        return 3;
    }
    out [0] = (char) (0xF0 | (cp >> 18));
    out [1] = (char) (0x80 | ((cp >> 12) & 0x3F));
    out [2] = (char) (0x80 | ((cp >> 6) & 0x3F));
    out [3] = (char) (0x80 | (cp & 0x3F));
    return 4;
}
