#include "classifier_incident.h"
#include "textfeat.h"
#include "tf_log.h"
#include "tf_utf8.h"
#include <assert.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  Bytes of text hashed (a ticket body is at most 16 KB anyway)
#define SIMHASH_TEXT_MAX (64 * 1024)

//  --------------------------------------------------------------------------
//  SimHash

static uint64_t
s_mix (uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

//  Spaces, punctuation and symbols do not count; digits are folded by the caller
static bool
s_counts (uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7)
        return false;
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F)
    ||  (cp >= 0xFE10 && cp <= 0xFE6F) || (cp >= 0xFF00 && cp <= 0xFFFF))
        return false;
    return true;
}

uint64_t
classifier_simhash (const char *text, size_t len)
{
    if (!text || len == 0)
        return 0;
    if (len > SIMHASH_TEXT_MAX)
        len = SIMHASH_TEXT_MAX;
    size_t cap = len * 3 + 1;
    char *norm = malloc (cap);
    uint32_t *cps = malloc ((len + 1) * sizeof (uint32_t));
    assert (norm && cps);
    size_t n = textfeat_normalize (text, len, norm, cap);
    size_t count = 0;
    size_t at = 0;
    bool in_digits = false;
    while (at < n) {
        uint32_t cp;
        at += tf_utf8_next (norm, n, at, &cp);
        if (!s_counts (cp)) {
            in_digits = false;
            continue;
        }
        if (cp >= '0' && cp <= '9') {
            if (in_digits)
                continue;       //  a run of digits is one '0'
            in_digits = true;
            cp = '0';
        }
        else
            in_digits = false;
        cps [count++] = cp;
    }
    free (norm);
    int votes [64] = { 0 };
    size_t shingles = count >= 3? count - 2: count? 1: 0;
    for (size_t i = 0; i < shingles; i++) {
        uint64_t h = 0xcbf29ce484222325ULL;         //  FNV-1a over the code points
        for (size_t k = i; k < i + 3 && k < count; k++) {
            h ^= cps [k];
            h *= 0x100000001b3ULL;
        }
        h = s_mix (h);
        for (int b = 0; b < 64; b++)
            votes [b] += (h >> b) & 1? 1: -1;
    }
    free (cps);
    if (shingles == 0)
        return 0;
    uint64_t signature = 0;
    for (int b = 0; b < 64; b++)
        if (votes [b] > 0)
            signature |= 1ULL << b;
    return signature;
}

int
classifier_hamming (uint64_t a, uint64_t b)
{
    return __builtin_popcountll (a ^ b);
}

//  --------------------------------------------------------------------------
//  The incident

void
classifier_incident_destroy (classifier_incident_t **self_p)
{
    classifier_incident_t *self = *self_p;
    if (!self)
        return;
    free (self->subcategory);
    free (self->product);
    free (self->summary);
    for (size_t i = 0; i < self->ticket_no_count; i++)
        free (self->ticket_nos [i]);
    free (self);
    *self_p = NULL;
}

//  The start of a text, at most max bytes, cut at a character boundary,
//  with line breaks as spaces and "…" when it was cut
static char *
s_shorten (const char *text, size_t len, size_t max)
{
    char *out = malloc (max + 1);
    assert (out);
    //  a cut text leaves room for the ellipsis
    size_t keep = tf_utf8_prefix (text, len, len > max? max - 3: max);
    bool cut = keep < len;
    size_t o = 0;
    for (size_t i = 0; i < keep; i++)
        out [o++] = text [i] == '\n' || text [i] == '\r' || text [i] == '\t'? ' ': text [i];
    if (cut) {
        memcpy (out + o, "\xe2\x80\xa6", 3);
        o += 3;
    }
    out [o] = 0;
    if (o == 0) {
        free (out);
        out = strdup ("-");
    }
    return out;
}

char *
classifier_incident_summary (const char *text, size_t len)
{
    return s_shorten (text, len, CLASSIFIER_INCIDENT_SUMMARY_MAX);
}

int
classifier_incident_event (const classifier_incident_t *self, tf_msg_t *msg)
{
    tf_msg_init (msg, TF_MSG_INCIDENT_OPENED);
    tf_msg_set_int (msg, TF_F_INCIDENT_OPENED_INCIDENT_ID, self->id);
    tf_msg_set_cstr (msg, TF_F_INCIDENT_OPENED_SUBCATEGORY, self->subcategory);
    tf_msg_set_cstr (msg, TF_F_INCIDENT_OPENED_PRODUCT, self->product);
    tf_msg_set_int (msg, TF_F_INCIDENT_OPENED_TICKET_COUNT, self->ticket_count);
    tf_msg_set_cstr (msg, TF_F_INCIDENT_OPENED_SUMMARY, self->summary);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, self->ticket_no_count);
    for (size_t i = 0; i < self->ticket_no_count; i++) {
        size_t n = strlen (self->ticket_nos [i]);
        msgpack_pack_str (&pk, n);
        msgpack_pack_str_body (&pk, self->ticket_nos [i], n);
    }
    tf_msg_set_raw (msg, TF_F_INCIDENT_OPENED_TICKET_NOS, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return 0;
}
