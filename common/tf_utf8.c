#include "tf_utf8.h"
#include <stdint.h>

bool
tf_utf8_valid (const char *s, size_t len)
{
    const uint8_t *p = (const uint8_t *) s;
    size_t i = 0;
    while (i < len) {
        uint8_t c = p [i];
        if (c == 0)
            return false;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF)      { need = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0)     { need = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; min = 0x10000; }
        else
            return false;               //  continuation byte, C0/C1, F5..FF
        if (len - i <= need)
            return false;               //  truncated sequence
        for (size_t k = 1; k <= need; k++) {
            if ((p [i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p [i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += need + 1;
    }
    return true;
}

size_t
tf_utf8_prefix (const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    while (n > 0 && ((uint8_t) s [n] & 0xC0) == 0x80)
        n--;
    return n;
}
