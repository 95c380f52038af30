/*  tf_utf8 — the one UTF-8 decoder of ticketflow, strict: no overlong
    forms, no surrogates, nothing above U+10FFFF. Validation of text from
    the network, cutting at a character boundary and the classifier's
    character walks all go through tf_utf8_next, so they agree on what a
    character is, including on invalid input.
*/
#ifndef TF_UTF8_H
#define TF_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TF_UTF8_REPLACEMENT 0xFFFDu     //  U+FFFD, what an invalid sequence decodes to

//  Decodes the character at s[at] (at < len) into *cp and returns the bytes
//  it takes, 1 to 4. An invalid or truncated sequence gives U+FFFD and takes
//  its maximal invalid subpart, at least one byte (as Unicode recommends),
//  so an error never swallows the valid character after it. NUL decodes
//  to 0.
size_t tf_utf8_next (const char *s, size_t len, size_t at, uint32_t *cp);

//  True when s[0..len) is valid UTF-8 and holds no NUL byte.
bool tf_utf8_valid (const char *s, size_t len);

//  Length of the longest prefix of s[0..len) that is at most max bytes and
//  does not cut a character (an invalid sequence counts as one character).
size_t tf_utf8_prefix (const char *s, size_t len, size_t max);

//  Writes the UTF-8 form of cp (a Unicode scalar value) to out, which has
//  room for 4 bytes, and returns its length.
size_t tf_utf8_encode (uint32_t cp, char *out);

#endif
