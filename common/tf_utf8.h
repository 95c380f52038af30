/*  tf_utf8 — strict UTF-8 validation (no overlong forms, no surrogates,
    nothing above U+10FFFF, no NUL) for text that arrives from the network.
*/
#ifndef TF_UTF8_H
#define TF_UTF8_H

#include <stdbool.h>
#include <stddef.h>

//  True when s[0..len) is valid UTF-8 and holds no NUL byte.
bool tf_utf8_valid (const char *s, size_t len);

//  Length of the longest prefix of s[0..len) that is at most max bytes and
//  does not cut a multi-byte character (s must be valid UTF-8).
size_t tf_utf8_prefix (const char *s, size_t len, size_t max);

#endif
