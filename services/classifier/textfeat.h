/*  =========================================================================
    textfeat - Unicode-aware tokenizer and feature extraction for tickets

    Text is UTF-8 given as (pointer, length); it need not be NUL-terminated
    and may be hostile: invalid sequences (overlong forms, surrogates,
    truncated sequences, bytes C0/C1/F5..FF, stray continuation bytes) are
    replaced by U+FFFD, which acts as a separator. Nothing here asserts on
    input or reads outside [text, text + len).

    Normalisation ("NFKC-lite"): full-width ASCII U+FF01..U+FF5E folds to
    ASCII, ideographic space U+3000 and other Unicode spaces fold to ' ',
    control characters become ' ', zero-width characters and emoji
    modifiers are dropped, curly quotes fold to ASCII quotes, and letters are
    lower-cased (ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic).

    Tokens (each a feature string with a one-letter namespace prefix):
      w:<word>     a lower-cased word (letters, inner apostrophes); letter
                   and digit runs are split, so "cs2023" is "cs" + a digit
                   class; a digit run is a class token by length:
                   w:0 (1-2 digits), w:00 (3-4), w:000 (5-8), w:0000 (9+)
      b:<w1> <w2>  bigram of consecutive words (a CJK run breaks the chain)
      t:<w1> <w2> <w3>  trigram of consecutive words
      g:<ngram>    character 2..5-grams of "<word>" (boundary markers)
      h:<ngram>    CJK (Han, kana) character 1..3-grams within a CJK run
      w:<emoji>    the emoji itself plus the class token "w:<emoji>"
      p:<c>        the punctuation '?' and '!' and currency signs
    Words longer than TEXTFEAT_WORD_MAX code points are truncated.
    =========================================================================
*/
#ifndef TEXTFEAT_H_INCLUDED
#define TEXTFEAT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

//  Bump whenever the tokens or their weights change: models store it and
//  refuse to load under a different extractor.
#define TEXTFEAT_VERSION 1
#define TEXTFEAT_WORD_MAX 64

//  Sparse vector: ids[i] -> vals[i], count used of cap.
typedef struct {
    uint32_t *ids;
    float *vals;
    size_t count, cap;
    int owned;              //  1 if ids/vals are heap storage we free
} textfeat_vec_t;

//  Per-token callback for textfeat_tokens; tok is NOT NUL-terminated.
typedef void (textfeat_token_fn) (const char *tok, size_t toklen, void *arg);

//  Create an empty heap vector. Returns NULL on out of memory.
textfeat_vec_t *
    textfeat_vec_new (void);

//  Destroy a vector from textfeat_vec_new; sets *self_p to NULL, safe twice.
void
    textfeat_vec_destroy (textfeat_vec_t **self_p);

//  Initialise a vector over caller storage (e.g. stack arrays of cap
//  entries) so short texts need no allocation. If it must grow it moves to
//  the heap; call textfeat_vec_release when done.
void
    textfeat_vec_init (textfeat_vec_t *self, uint32_t *ids, float *vals, size_t cap);

//  Free heap storage of a vector set up by textfeat_vec_init (no-op if it
//  never grew).
void
    textfeat_vec_release (textfeat_vec_t *self);

//  Append one entry. Returns 0, or -1 on out of memory (vector unchanged).
int
    textfeat_vec_push (textfeat_vec_t *self, uint32_t id, float val);

//  Normalise text into out (at most out_cap - 1 bytes plus a NUL, cut at a
//  character boundary). Invalid UTF-8 becomes U+FFFD. Returns the number of
//  bytes written, excluding the NUL. out_cap 0 writes nothing.
size_t
    textfeat_normalize (const char *text, size_t len, char *out, size_t out_cap);

//  Call fn for every token of text, in text order. Deterministic.
void
    textfeat_tokens (const char *text, size_t len, textfeat_token_fn *fn, void *arg);

//  32-bit hash of a token string (what textfeat_extract uses as feature id).
uint32_t
    textfeat_hash (const char *tok, size_t toklen);

//  Clear out and fill it with the hashed tokens of text: ids are unique (in
//  first-occurrence order), vals are weighted counts. hash_bits 1..31 masks
//  ids to that many bits; 0 keeps the full 32-bit hash. Returns 0, or -1 on
//  out of memory (out then holds a prefix of the features).
int
    textfeat_extract (const char *text, size_t len, uint32_t hash_bits, textfeat_vec_t *out);

#ifdef __cplusplus
}
#endif

#endif
