/*  =========================================================================
    textfeat - Unicode-aware tokenizer and feature extraction for tickets

    See textfeat.h for the token scheme. The tokenizer is one pass over the
    code points: decode (tf_utf8_next: strict, U+FFFD on error), fold,
    classify, and feed a small state machine that emits tokens through a
    callback. Feature extraction hashes those tokens and merges duplicates
    with a small open-addressing table (stack storage for typical texts).
    =========================================================================
*/
#include "textfeat.h"
#include "tf_utf8.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define TF_DROP     0xFFFFFFFFu     //  fold result: character is removed

typedef enum {
    TF_SPACE,       //  separator, emits nothing
    TF_ALPHA,       //  part of a word
    TF_DIGIT,       //  ASCII digit, forms digit runs
    TF_APOS,        //  apostrophe: inside a word between letters only
    TF_CJK,         //  Han / kana: character n-grams
    TF_EMOJI,       //  emoji: token of its own plus class token
    TF_PUNCT_TOKEN, //  punctuation kept as a token (? ! currency)
} tf_class_t;

//  -------------------------------------------------------------------------
//  Folding: NFKC-lite + lower case

static uint32_t
s_fold (uint32_t cp)
{
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z')
            return cp + 32;
        if (cp < 0x20 || cp == 0x7F)
            return ' ';         //  controls, including NUL, tab, newline
        return cp;
    }
    if (cp >= 0xFF01 && cp <= 0xFF5E)
        return s_fold (cp - 0xFEE0);                //  full-width ASCII
    if (cp == 0x3000 || cp == 0x00A0 || cp == 0x1680
    || (cp >= 0x2000 && cp <= 0x200A)
    ||  cp == 0x2028 || cp == 0x2029 || cp == 0x202F || cp == 0x205F)
        return ' ';                                 //  spaces
    if (cp >= 0x80 && cp <= 0x9F)
        return ' ';                                 //  C1 controls
    if ((cp >= 0x200B && cp <= 0x200D) || cp == 0x2060 || cp == 0xFEFF
    ||  (cp >= 0xFE00 && cp <= 0xFE0F)             //  variation selectors
    ||  (cp >= 0x1F3FB && cp <= 0x1F3FF)            //  skin tones
    ||  (cp >= 0xE0000 && cp <= 0xE007F))           //  tags
        return TF_DROP;
    if (cp == 0x2018 || cp == 0x2019 || cp == 0x2032)
        return '\'';
    if (cp == 0x201C || cp == 0x201D)
        return '"';
    //  Lower case for the common alphabetic blocks
    if ((cp >= 0xC0 && cp <= 0xDE) && cp != 0xD7)
        return cp + 32;
    if (cp >= 0x100 && cp <= 0x17F) {
        if ((cp <= 0x137 || (cp >= 0x14A && cp <= 0x177)) && cp != 0x130) {
            if ((cp & 1) == 0)
                return cp + 1;
        }
        else
        if ((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) {
            if (cp & 1)
                return cp + 1;
        }
        return cp;
    }
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2)
        return cp + 32;                             //  Greek
    if (cp >= 0x410 && cp <= 0x42F)
        return cp + 32;                             //  Cyrillic
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 80;
    return cp;
}

static tf_class_t
s_class (uint32_t cp)
{
    if (cp < 0x80) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z'))
            return TF_ALPHA;
        if (cp >= '0' && cp <= '9')
            return TF_DIGIT;
        if (cp == '\'')
            return TF_APOS;
        if (cp == '?' || cp == '!' || cp == '$')
            return TF_PUNCT_TOKEN;
        return TF_SPACE;
    }
    if (cp == 0xA3 || cp == 0xA5 || cp == 0x20AC)   //  £ ¥ €
        return TF_PUNCT_TOKEN;
    if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7)
        return TF_SPACE;                            //  Latin-1 symbols
    if ((cp >= 0x2E80 && cp <= 0x2FDF)              //  radicals
    ||  (cp >= 0x3040 && cp <= 0x30FF)              //  kana
    ||  (cp >= 0x3100 && cp <= 0x312F)              //  bopomofo
    ||  (cp >= 0x31A0 && cp <= 0x31FF)
    ||  (cp >= 0x3400 && cp <= 0x4DBF)              //  CJK ext A
    ||  (cp >= 0x4E00 && cp <= 0x9FFF)              //  CJK unified
    ||  (cp >= 0xF900 && cp <= 0xFAFF)              //  compatibility
    ||  (cp >= 0x20000 && cp <= 0x3FFFF))           //  ext B..
        return TF_CJK;
    if ((cp >= 0x1F000 && cp <= 0x1FAFF)
    ||  (cp >= 0x2600 && cp <= 0x27BF)              //  misc symbols, dingbats
    ||  (cp >= 0x2300 && cp <= 0x23FF)              //  watch, hourglass...
    ||  (cp >= 0x2B00 && cp <= 0x2BFF)              //  stars, arrows
    ||  cp == 0x3030 || cp == 0x303D || cp == 0x3297 || cp == 0x3299)
        return TF_EMOJI;
    if ((cp >= 0x2000 && cp <= 0x2BFF)              //  general punctuation..
    ||  (cp >= 0x3000 && cp <= 0x303F)              //  CJK punctuation
    ||  (cp >= 0xFE10 && cp <= 0xFE6F)              //  vertical/small forms
    ||  (cp >= 0xFF00 && cp <= 0xFFFF)              //  half-width, specials
    ||  (cp >= 0xD800 && cp <= 0xDFFF)              //  never decoded, safety
    ||  (cp >= 0xE000 && cp <= 0xF8FF)              //  private use
    ||  cp >= 0xF0000)
        return TF_SPACE;
    return TF_ALPHA;    //  other scripts: Latin, Greek, Cyrillic, Hangul...
}

//  -------------------------------------------------------------------------
//  Normalisation

size_t
textfeat_normalize (const char *text, size_t len, char *out, size_t out_cap)
{
    if (out_cap == 0)
        return 0;
    assert (out);
    assert (text || len == 0);
    size_t pos = 0, written = 0;
    while (pos < len) {
        uint32_t cp;
        pos += tf_utf8_next (text, len, pos, &cp);
        cp = s_fold (cp);
        if (cp == TF_DROP)
            continue;
        char buf [4];
        size_t n = tf_utf8_encode (cp, buf);
        if (written + n > out_cap - 1)
            break;
        memcpy (out + written, buf, n);
        written += n;
    }
    out [written] = 0;
    return written;
}

//  -------------------------------------------------------------------------
//  Tokenizer state machine

#define TF_TOK_MAX  (2 + 3 * TEXTFEAT_WORD_MAX * 4 + 8)

typedef struct {
    textfeat_token_fn *fn;
    void *arg;
    //  Current word: code points and UTF-8
    uint32_t word_cp [TEXTFEAT_WORD_MAX];
    size_t word_cps;            //  code points stored
    char word [TEXTFEAT_WORD_MAX * 4];
    size_t word_len;            //  bytes
    tf_class_t word_kind;       //  TF_ALPHA or TF_DIGIT
    size_t digits;              //  length of a digit run (uncapped)
    int pending_apos;           //  apostrophe seen after a letter
    //  Previous word for bigrams
    char prev [TEXTFEAT_WORD_MAX * 4];
    size_t prev_len;            //  0 = none
    char prev2 [TEXTFEAT_WORD_MAX * 4];     //  the word before prev
    size_t prev2_len;
    //  CJK run: last two code points
    uint32_t cjk1, cjk2;
    size_t cjk_run;
    char tok [TF_TOK_MAX];
} tf_state_t;

static void
s_emit (tf_state_t *st, char prefix, const char *a, size_t alen)
{
    st->tok [0] = prefix;
    st->tok [1] = ':';
    memcpy (st->tok + 2, a, alen);
    st->fn (st->tok, alen + 2, st->arg);
}

static void
s_word_append (tf_state_t *st, uint32_t cp)
{
    if (st->word_cps < TEXTFEAT_WORD_MAX) {
        st->word_cp [st->word_cps++] = cp;
        st->word_len += tf_utf8_encode (cp, st->word + st->word_len);
    }
}

//  A unit (word, digit class) is complete: emit it and its bigram
static void
s_unit (tf_state_t *st, const char *unit, size_t unit_len)
{
    s_emit (st, 'w', unit, unit_len);
    if (st->prev_len) {
        char *t = st->tok;
        t [0] = 'b';
        t [1] = ':';
        memcpy (t + 2, st->prev, st->prev_len);
        t [2 + st->prev_len] = ' ';
        memcpy (t + 3 + st->prev_len, unit, unit_len);
        st->fn (t, 3 + st->prev_len + unit_len, st->arg);
    }
    if (st->prev_len && st->prev2_len) {
        char *t = st->tok;
        size_t n = 0;
        t [n++] = 't';
        t [n++] = ':';
        memcpy (t + n, st->prev2, st->prev2_len);
        n += st->prev2_len;
        t [n++] = ' ';
        memcpy (t + n, st->prev, st->prev_len);
        n += st->prev_len;
        t [n++] = ' ';
        memcpy (t + n, unit, unit_len);
        n += unit_len;
        st->fn (t, n, st->arg);
    }
    memcpy (st->prev2, st->prev, st->prev_len);
    st->prev2_len = st->prev_len;
    memcpy (st->prev, unit, unit_len);
    st->prev_len = unit_len;
}

static void
s_word_flush (tf_state_t *st)
{
    if (st->word_kind == TF_DIGIT && st->digits) {
        static const char zeros [] = "0000";
        size_t n = st->digits <= 2? 1: st->digits <= 4? 2: st->digits <= 8? 3: 4;
        s_unit (st, zeros, n);
    }
    else
    if (st->word_kind == TF_ALPHA && st->word_cps) {
        s_unit (st, st->word, st->word_len);
        //  Character n-grams of "<word>", n = 2..5
        uint32_t cps [TEXTFEAT_WORD_MAX + 2];
        size_t n_cps = st->word_cps + 2;
        cps [0] = '<';
        memcpy (cps + 1, st->word_cp, st->word_cps * sizeof (uint32_t));
        cps [n_cps - 1] = '>';
        for (size_t n = 2; n <= 5; n++) {
            for (size_t i = 0; i + n <= n_cps; i++) {
                size_t len = 2;
                st->tok [0] = 'g';
                st->tok [1] = ':';
                for (size_t j = 0; j < n; j++)
                    len += tf_utf8_encode (cps [i + j], st->tok + len);
                st->fn (st->tok, len, st->arg);
            }
        }
    }
    st->word_cps = 0;
    st->word_len = 0;
    st->digits = 0;
    st->pending_apos = 0;
    st->word_kind = TF_SPACE;
}

static void
s_cjk_flush (tf_state_t *st)
{
    st->cjk_run = 0;
}

static void
s_feed (tf_state_t *st, uint32_t cp)
{
    tf_class_t cls = s_class (cp);
    if (cls != TF_CJK && st->cjk_run)
        s_cjk_flush (st);

    switch (cls) {
        case TF_ALPHA:
            if (st->word_kind != TF_ALPHA)
                s_word_flush (st);
            st->word_kind = TF_ALPHA;
            if (st->pending_apos) {
                s_word_append (st, '\'');
                st->pending_apos = 0;
            }
            s_word_append (st, cp);
            break;
        case TF_DIGIT:
            if (st->word_kind != TF_DIGIT)
                s_word_flush (st);
            st->word_kind = TF_DIGIT;
            st->digits++;
            break;
        case TF_APOS:
            if (st->word_kind == TF_ALPHA && !st->pending_apos)
                st->pending_apos = 1;
            else
                s_word_flush (st);
            break;
        case TF_CJK: {
            s_word_flush (st);
            st->prev_len = 0;       //  a CJK run breaks the word chain
            st->prev2_len = 0;
            char buf [12];
            size_t n = tf_utf8_encode (cp, buf);
            s_emit (st, 'h', buf, n);
            if (st->cjk_run >= 1) {
                size_t m = tf_utf8_encode (st->cjk2, buf);
                m += tf_utf8_encode (cp, buf + m);
                s_emit (st, 'h', buf, m);
            }
            if (st->cjk_run >= 2) {
                size_t m = tf_utf8_encode (st->cjk1, buf);
                m += tf_utf8_encode (st->cjk2, buf + m);
                m += tf_utf8_encode (cp, buf + m);
                s_emit (st, 'h', buf, m);
            }
            st->cjk1 = st->cjk2;
            st->cjk2 = cp;
            st->cjk_run++;
            break;
        }
        case TF_EMOJI: {
            s_word_flush (st);
            char buf [4];
            size_t n = tf_utf8_encode (cp, buf);
            s_emit (st, 'w', buf, n);
            s_emit (st, 'w', "<emoji>", 7);
            break;
        }
        case TF_PUNCT_TOKEN: {
            s_word_flush (st);
            char buf [4];
            size_t n = tf_utf8_encode (cp, buf);
            s_emit (st, 'p', buf, n);
            break;
        }
        case TF_SPACE:
        default:
            s_word_flush (st);
            break;
    }
}

void
textfeat_tokens (const char *text, size_t len, textfeat_token_fn *fn, void *arg)
{
    assert (fn);
    assert (text || len == 0);
    tf_state_t st;
    st.fn = fn;
    st.arg = arg;
    st.word_cps = 0;
    st.word_len = 0;
    st.word_kind = TF_SPACE;
    st.digits = 0;
    st.pending_apos = 0;
    st.prev_len = 0;
    st.prev2_len = 0;
    st.cjk1 = st.cjk2 = 0;
    st.cjk_run = 0;

    const unsigned char *s = (const unsigned char *) text;
    size_t pos = 0;
    while (pos < len) {
        size_t adv;
        uint32_t cp;
        if (s [pos] < 0x80) {       //  fast path for ASCII
            cp = s [pos];
            adv = 1;
            if (cp >= 'A' && cp <= 'Z')
                cp += 32;
            else
            if (cp < 0x20 || cp == 0x7F)
                cp = ' ';
        }
        else {
            adv = tf_utf8_next (text, len, pos, &cp);
            cp = s_fold (cp);
            if (cp == TF_DROP) {
                pos += adv;
                continue;
            }
        }
        pos += adv;
        s_feed (&st, cp);
    }
    s_word_flush (&st);
}

//  -------------------------------------------------------------------------
//  Hashing

uint32_t
textfeat_hash (const char *tok, size_t toklen)
{
    //  FNV-1a 64 over the bytes, then a murmur3-style finaliser folded to
    //  32 bits (FNV alone mixes the last bytes poorly).
    uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char *s = (const unsigned char *) tok;
    for (size_t i = 0; i < toklen; i++) {
        h ^= s [i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (uint32_t) (h ^ (h >> 32));
}

//  -------------------------------------------------------------------------
//  Sparse vectors

textfeat_vec_t *
textfeat_vec_new (void)
{
    textfeat_vec_t *self = (textfeat_vec_t *) calloc (1, sizeof (textfeat_vec_t));
    if (self)
        self->owned = 1;
    return self;
}

void
textfeat_vec_destroy (textfeat_vec_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        textfeat_vec_release (*self_p);
        free (*self_p);
        *self_p = NULL;
    }
}

void
textfeat_vec_init (textfeat_vec_t *self, uint32_t *ids, float *vals, size_t cap)
{
    assert (self);
    assert ((ids && vals) || cap == 0);
    self->ids = ids;
    self->vals = vals;
    self->cap = cap;
    self->count = 0;
    self->owned = 0;
}

void
textfeat_vec_release (textfeat_vec_t *self)
{
    assert (self);
    if (self->owned) {
        free (self->ids);
        free (self->vals);
    }
    self->ids = NULL;
    self->vals = NULL;
    self->count = self->cap = 0;
    self->owned = 1;
}

static int
s_vec_grow (textfeat_vec_t *self, size_t need)
{
    if (need <= self->cap)
        return 0;
    size_t cap = self->cap? self->cap * 2: 256;
    while (cap < need)
        cap *= 2;
    if (cap > SIZE_MAX / sizeof (uint32_t))
        return -1;
    uint32_t *ids = (uint32_t *) malloc (cap * sizeof (uint32_t));
    float *vals = (float *) malloc (cap * sizeof (float));
    if (!ids || !vals) {
        free (ids);
        free (vals);
        return -1;
    }
    if (self->count) {
        memcpy (ids, self->ids, self->count * sizeof (uint32_t));
        memcpy (vals, self->vals, self->count * sizeof (float));
    }
    if (self->owned) {
        free (self->ids);
        free (self->vals);
    }
    self->ids = ids;
    self->vals = vals;
    self->cap = cap;
    self->owned = 1;
    return 0;
}

int
textfeat_vec_push (textfeat_vec_t *self, uint32_t id, float val)
{
    assert (self);
    if (self->count == self->cap && s_vec_grow (self, self->count + 1))
        return -1;
    self->ids [self->count] = id;
    self->vals [self->count] = val;
    self->count++;
    return 0;
}

//  -------------------------------------------------------------------------
//  Feature extraction

//  Relative weight of each token namespace (raw count multiplier).
static float
s_weight (char prefix)
{
    switch (prefix) {
        case 'w': return 1.0f;
        case 'b': return 1.0f;
        case 'g': return 1.0f;
        case 'h': return 1.0f;
        case 'p': return 1.0f;
        case 't': return 1.0f;
        default:  return 1.0f;
    }
}

#define TF_SLOTS_STACK 4096     //  dedup table kept on the stack up to this

typedef struct {
    textfeat_vec_t *out;
    uint32_t mask;              //  id mask
    uint32_t *slots;            //  index + 1 into out, 0 = empty
    size_t nslots;              //  power of two
    uint32_t slot_stack [TF_SLOTS_STACK];
    int failed;
} tf_extract_t;

static void
s_extract_token (const char *tok, size_t toklen, void *arg)
{
    tf_extract_t *ex = (tf_extract_t *) arg;
    if (ex->failed)
        return;
    uint32_t id = textfeat_hash (tok, toklen) & ex->mask;
    float w = s_weight (tok [0]);
    //  Spread the id over the table with a multiplicative hash: masked ids
    //  may have few distinct low bits
    size_t s = (size_t) ((id * 2654435761u) & (ex->nslots - 1));
    while (ex->slots [s]) {
        uint32_t idx = ex->slots [s] - 1;
        if (ex->out->ids [idx] == id) {
            ex->out->vals [idx] += w;
            return;
        }
        s = (s + 1) & (ex->nslots - 1);
    }
    if (ex->out->count >= UINT32_MAX - 1 || textfeat_vec_push (ex->out, id, w)) {
        ex->failed = 1;
        return;
    }
    ex->slots [s] = (uint32_t) ex->out->count;
    if (ex->out->count * 2 > ex->nslots) {
        //  Rebuild at double size (re-probing with the same hash)
        size_t nslots = ex->nslots * 2;
        uint32_t *slots = nslots <= TF_SLOTS_STACK? NULL
                        : (uint32_t *) calloc (nslots, sizeof (uint32_t));
        if (nslots > TF_SLOTS_STACK && !slots) {
            ex->failed = 1;
            return;
        }
        if (!slots) {
            //  Still fits on the stack: rebuild in place
            memset (ex->slot_stack, 0, nslots * sizeof (uint32_t));
            slots = ex->slot_stack;
        }
        for (size_t i = 0; i < ex->out->count; i++) {
            size_t t = (size_t) ((ex->out->ids [i] * 2654435761u) & (nslots - 1));
            while (slots [t])
                t = (t + 1) & (nslots - 1);
            slots [t] = (uint32_t) i + 1;
        }
        if (ex->slots != ex->slot_stack)
            free (ex->slots);
        ex->slots = slots;
        ex->nslots = nslots;
    }
}

int
textfeat_extract (const char *text, size_t len, uint32_t hash_bits, textfeat_vec_t *out)
{
    assert (out);
    assert (text || len == 0);
    assert (hash_bits < 32);
    tf_extract_t ex;
    ex.out = out;
    ex.mask = hash_bits? (1u << hash_bits) - 1: 0xFFFFFFFFu;
    ex.slots = ex.slot_stack;
    ex.nslots = 512;
    ex.failed = 0;
    memset (ex.slot_stack, 0, ex.nslots * sizeof (uint32_t));
    out->count = 0;
    textfeat_tokens (text, len, s_extract_token, &ex);
    if (ex.slots != ex.slot_stack)
        free (ex.slots);
    return ex.failed? -1: 0;
}
