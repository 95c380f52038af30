/*  =========================================================================
    linmodel - trained linear text classifier with calibrated probabilities

    See linmodel.h for the model, the calibration and the file format;
    training and prediction are here, the file format in linmodel_file.c.
    =========================================================================
*/
#include "linmodel_private.h"
#include "textfeat.h"
#include "tf_utf8.h"

#include <assert.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LM_STACK_FEATS      2048                    //  predict: stack vector
#define LM_STACK_CLASSES    256                     //  predict: stack scores

void
linmodel_error (char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    va_list args;
    va_start (args, fmt);
    vsnprintf (err, errlen, fmt, args);
    va_end (args);
}

//  -------------------------------------------------------------------------
//  Small helpers: RNG, hash map

static uint64_t
s_rand (uint64_t *state)
{
    //  splitmix64
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static size_t
s_rand_below (uint64_t *state, size_t n)
{
    return (size_t) (s_rand (state) % (uint64_t) n);
}

//  u32 -> u32 map, value 0 means empty (callers store count or index + 1)
typedef struct {
    uint32_t *keys;
    uint32_t *vals;
    size_t cap;                 //  power of two
    size_t count;
} s_map_t;

static int
s_map_init (s_map_t *map, size_t want)
{
    size_t cap = 1024;
    while (cap < want * 2)
        cap *= 2;
    map->keys = (uint32_t *) malloc (cap * sizeof (uint32_t));
    map->vals = (uint32_t *) calloc (cap, sizeof (uint32_t));
    map->cap = cap;
    map->count = 0;
    if (!map->keys || !map->vals) {
        free (map->keys);
        free (map->vals);
        map->keys = map->vals = NULL;
        return -1;
    }
    return 0;
}

static void
s_map_free (s_map_t *map)
{
    free (map->keys);
    free (map->vals);
    map->keys = map->vals = NULL;
}

static inline size_t
s_slot_of (uint32_t key, size_t mask)
{
    return (size_t) ((key * 2654435761u) ^ (key >> 16)) & mask;
}

static uint32_t *
s_map_find (const s_map_t *map, uint32_t key)
{
    size_t mask = map->cap - 1;
    for (size_t s = s_slot_of (key, mask); map->vals [s]; s = (s + 1) & mask)
        if (map->keys [s] == key)
            return &map->vals [s];
    return NULL;
}

//  Pointer to the value for key, inserted as 0 if new (caller must then
//  store non-zero). NULL on out of memory.
static uint32_t *
s_map_upsert (s_map_t *map, uint32_t key)
{
    if ((map->count + 1) * 2 > map->cap) {
        s_map_t bigger;
        if (s_map_init (&bigger, map->cap))
            return NULL;
        for (size_t i = 0; i < map->cap; i++)
            if (map->vals [i]) {
                size_t mask = bigger.cap - 1;
                size_t s = s_slot_of (map->keys [i], mask);
                while (bigger.vals [s])
                    s = (s + 1) & mask;
                bigger.keys [s] = map->keys [i];
                bigger.vals [s] = map->vals [i];
            }
        bigger.count = map->count;
        s_map_free (map);
        *map = bigger;
    }
    size_t mask = map->cap - 1;
    size_t s = s_slot_of (key, mask);
    for (; map->vals [s]; s = (s + 1) & mask)
        if (map->keys [s] == key)
            return &map->vals [s];
    map->keys [s] = key;
    map->count++;
    return &map->vals [s];
}

//  -------------------------------------------------------------------------
//  Model construction helpers

void
linmodel_free (linmodel_t *self)
{
    free (self->label_block);
    free (self->labels);
    free (self->feat_ids);
    free (self->idf);
    free (self->weights);
    free (self->bias);
    free (self->tab_keys);
    free (self->tab_vals);
    free (self);
}

//  Allocate arrays for the given sizes (labels filled by caller)
linmodel_t *
linmodel_alloc (uint32_t n_classes, uint32_t n_features, size_t label_bytes)
{
    linmodel_t *self = (linmodel_t *) calloc (1, sizeof (linmodel_t));
    if (!self)
        return NULL;
    self->n_classes = n_classes;
    self->n_features = n_features;
    size_t nf = n_features? n_features: 1;
    size_t tab = 16;
    while (tab < (size_t) n_features * 2)
        tab *= 2;
    self->tab_mask = tab - 1;
    self->label_block = (char *) malloc (label_bytes? label_bytes: 1);
    self->labels = (char **) calloc (n_classes, sizeof (char *));
    self->feat_ids = (uint32_t *) malloc (nf * sizeof (uint32_t));
    self->idf = (float *) malloc (nf * sizeof (float));
    self->weights = (float *) calloc (nf * n_classes, sizeof (float));
    self->bias = (float *) calloc (n_classes, sizeof (float));
    self->tab_keys = (uint32_t *) malloc (tab * sizeof (uint32_t));
    self->tab_vals = (uint32_t *) malloc (tab * sizeof (uint32_t));
    if (!self->label_block || !self->labels || !self->feat_ids || !self->idf
    ||  !self->weights || !self->bias || !self->tab_keys || !self->tab_vals) {
        linmodel_free (self);
        return NULL;
    }
    return self;
}

//  Build the lookup table from feat_ids
void
linmodel_index (linmodel_t *self)
{
    memset (self->tab_vals, 0xFF, (self->tab_mask + 1) * sizeof (uint32_t));
    for (uint32_t j = 0; j < self->n_features; j++) {
        size_t s = s_slot_of (self->feat_ids [j], self->tab_mask);
        while (self->tab_vals [s] != LM_NONE)
            s = (s + 1) & self->tab_mask;
        self->tab_keys [s] = self->feat_ids [j];
        self->tab_vals [s] = j;
    }
}

static inline uint32_t
s_model_lookup (const linmodel_t *self, uint32_t id)
{
    size_t s = s_slot_of (id, self->tab_mask);
    while (1) {
        uint32_t v = self->tab_vals [s];
        if (v == LM_NONE || self->tab_keys [s] == id)
            return v;
        s = (s + 1) & self->tab_mask;
    }
}

//  -------------------------------------------------------------------------
//  Training

typedef struct {
    size_t n_rows;
    size_t n_cols;
    size_t *rowptr;             //  n_rows + 1
    uint32_t *col;
    float *val;
} s_csr_t;

static void
s_csr_free (s_csr_t *x)
{
    free (x->rowptr);
    free (x->col);
    free (x->val);
    memset (x, 0, sizeof (*x));
}

typedef struct {
    double *alpha;
    double *qd;
    int8_t *y;
    uint32_t *index;
} s_work_t;

//  L2-regularised squared-hinge SVM, dual coordinate descent with shrinking
//  (Hsieh et al. 2008; LIBLINEAR solve_l2r_l1l2_svc, L2-loss case). Rows
//  are rows[0..m) of x with labels ypos (row is positive when
//  cls_of[row] == cls). w has n_cols + 1 entries (last: bias, feature 1).
static void
s_svm_solve (const s_csr_t *x, const uint32_t *rows, size_t m,
             const uint32_t *cls_of, uint32_t cls,
             const linmodel_params_t *p, s_work_t *wk, double *w, uint64_t *rng)
{
    const double diag = 0.5 / p->c;
    size_t nw = x->n_cols + 1;
    memset (w, 0, nw * sizeof (double));
    for (size_t s = 0; s < m; s++) {
        uint32_t r = rows [s];
        double sq = 1.0;        //  bias feature
        for (size_t e = x->rowptr [r]; e < x->rowptr [r + 1]; e++)
            sq += (double) x->val [e] * x->val [e];
        wk->qd [s] = sq + diag;
        wk->alpha [s] = 0;
        wk->y [s] = cls_of [r] == cls? 1: -1;
        wk->index [s] = (uint32_t) s;
    }
    size_t active = m;
    double pg_max_old = HUGE_VAL, pg_min_old = -HUGE_VAL;
    for (int iter = 0; iter < p->epochs; iter++) {
        double pg_max_new = -HUGE_VAL, pg_min_new = HUGE_VAL;
        for (size_t s = 0; s < active; s++) {
            size_t t = s + s_rand_below (rng, active - s);
            uint32_t tmp = wk->index [s];
            wk->index [s] = wk->index [t];
            wk->index [t] = tmp;
        }
        for (size_t s = 0; s < active; s++) {
            uint32_t i = wk->index [s];
            uint32_t r = rows [i];
            double yi = wk->y [i];
            double dot = w [nw - 1];
            for (size_t e = x->rowptr [r]; e < x->rowptr [r + 1]; e++)
                dot += w [x->col [e]] * x->val [e];
            double g = yi * dot - 1 + wk->alpha [i] * diag;
            double pg = 0;
            if (wk->alpha [i] == 0) {
                if (g > pg_max_old) {
                    active--;
                    wk->index [s] = wk->index [active];
                    wk->index [active] = i;
                    s--;
                    continue;
                }
                if (g < 0)
                    pg = g;
            }
            else
                pg = g;
            if (pg > pg_max_new)
                pg_max_new = pg;
            if (pg < pg_min_new)
                pg_min_new = pg;
            if (fabs (pg) > 1e-12) {
                double old = wk->alpha [i];
                double a = old - g / wk->qd [i];
                wk->alpha [i] = a > 0? a: 0;
                double d = (wk->alpha [i] - old) * yi;
                for (size_t e = x->rowptr [r]; e < x->rowptr [r + 1]; e++)
                    w [x->col [e]] += d * x->val [e];
                w [nw - 1] += d;
            }
        }
        if (pg_max_new - pg_min_new <= p->eps) {
            if (active == m)
                break;
            active = m;         //  converged on the shrunk set: check all
            pg_max_old = HUGE_VAL;
            pg_min_old = -HUGE_VAL;
            continue;
        }
        pg_max_old = pg_max_new;
        pg_min_old = pg_min_new;
        if (pg_max_old <= 0)
            pg_max_old = HUGE_VAL;
        if (pg_min_old >= 0)
            pg_min_old = -HUGE_VAL;
    }
}

static double
s_row_dot (const s_csr_t *x, uint32_t r, const double *w)
{
    double dot = w [x->n_cols];
    for (size_t e = x->rowptr [r]; e < x->rowptr [r + 1]; e++)
        dot += w [x->col [e]] * x->val [e];
    return dot;
}

//  Mean negative log-likelihood of softmax (beta * scores)
static double
s_nll (const float *scores, const uint32_t *gold, size_t m, size_t k, double beta)
{
    double total = 0;
    for (size_t i = 0; i < m; i++) {
        const float *s = scores + i * k;
        double mx = -HUGE_VAL;
        for (size_t c = 0; c < k; c++)
            if (s [c] > mx)
                mx = s [c];
        double sum = 0;
        for (size_t c = 0; c < k; c++)
            sum += exp (beta * (s [c] - mx));
        total += log (sum) - beta * (s [gold [i]] - mx);
    }
    return total / (double) m;
}

//  Temperature minimising held-out NLL; golden section over log (1/T)
static double
s_fit_temperature (const float *scores, const uint32_t *gold, size_t m, size_t k)
{
    double lo = log (0.01), hi = log (1000.0);
    const double phi = 0.6180339887498949;
    double a = hi - phi * (hi - lo), b = lo + phi * (hi - lo);
    double fa = s_nll (scores, gold, m, k, exp (a));
    double fb = s_nll (scores, gold, m, k, exp (b));
    for (int it = 0; it < 60; it++) {
        if (fa < fb) {
            hi = b;
            b = a;
            fb = fa;
            a = hi - phi * (hi - lo);
            fa = s_nll (scores, gold, m, k, exp (a));
        }
        else {
            lo = a;
            a = b;
            fa = fb;
            b = lo + phi * (hi - lo);
            fb = s_nll (scores, gold, m, k, exp (b));
        }
    }
    return 1.0 / exp ((lo + hi) / 2);
}

typedef struct {
    const char *label;
    uint32_t row;
} s_label_row_t;

static int
s_label_row_cmp (const void *a, const void *b)
{
    const s_label_row_t *x = (const s_label_row_t *) a, *y = (const s_label_row_t *) b;
    int c = strcmp (x->label, y->label);
    return c? c: (x->row > y->row) - (x->row < y->row);
}

static int
s_u32_cmp (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *) a, y = *(const uint32_t *) b;
    return (x > y) - (x < y);
}

//  Keep stored numbers in the range the loader accepts
static float
s_clamp (double v)
{
    if (v > LM_VALUE_MAX)
        return LM_VALUE_MAX;
    if (v < -LM_VALUE_MAX)
        return -LM_VALUE_MAX;
    return (float) v;
}

void
linmodel_params_default (linmodel_params_t *p)
{
    assert (p);
    memset (p, 0, sizeof (*p));
    p->c = 1.0;
    p->epochs = 200;
    p->eps = 0.1;
    p->min_df = 1;
    p->calib_folds = 3;
    p->temperature = 0.1;
    p->seed = 1;
    p->verbose = 0;
}

//  Extract features of all rows, build vocabulary and the tf-idf matrix.
//  On success fills x (n_cols = vocabulary size), *ids_p (sorted feature
//  ids) and *idf_p.
static int
s_build_matrix (const char *const *texts, const size_t *lens, size_t n,
                const linmodel_params_t *p, s_csr_t *x,
                uint32_t **ids_p, float **idf_p, char *err, size_t errlen)
{
    int rc = -1;
    s_csr_t raw = { 0, 0, NULL, NULL, NULL };
    s_map_t df = { NULL, NULL, 0, 0 }, index = { NULL, NULL, 0, 0 };
    uint32_t *ids = NULL;
    float *idf = NULL;
    textfeat_vec_t *vec = textfeat_vec_new ();
    size_t cap = n * 64 + 1024;
    raw.rowptr = (size_t *) malloc ((n + 1) * sizeof (size_t));
    raw.col = (uint32_t *) malloc (cap * sizeof (uint32_t));
    raw.val = (float *) malloc (cap * sizeof (float));
    memset (x, 0, sizeof (*x));
    if (!vec || !raw.rowptr || !raw.col || !raw.val || s_map_init (&df, 65536))
        goto oom;

    //  Raw counts per row, document frequency per feature id
    size_t nnz = 0;
    raw.rowptr [0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (textfeat_extract (texts [i], lens [i], 0, vec))
            goto oom;
        if (nnz + vec->count > cap) {
            while (nnz + vec->count > cap)
                cap *= 2;
            uint32_t *col = (uint32_t *) realloc (raw.col, cap * sizeof (uint32_t));
            if (!col)
                goto oom;
            raw.col = col;
            float *val = (float *) realloc (raw.val, cap * sizeof (float));
            if (!val)
                goto oom;
            raw.val = val;
        }
        for (size_t e = 0; e < vec->count; e++) {
            raw.col [nnz] = vec->ids [e];
            raw.val [nnz] = vec->vals [e];
            nnz++;
            uint32_t *slot = s_map_upsert (&df, vec->ids [e]);
            if (!slot)
                goto oom;
            (*slot)++;
        }
        raw.rowptr [i + 1] = nnz;
    }

    //  Vocabulary: features in at least min_df rows, sorted by id
    size_t nf = 0;
    for (size_t s = 0; s < df.cap; s++)
        if (df.vals [s] >= (uint32_t) p->min_df)
            nf++;
    if (nf > LM_FEATURES_MAX) {
        linmodel_error (err, errlen, "too many features (%zu); raise min_df", nf);
        goto done;
    }
    ids = (uint32_t *) malloc ((nf? nf: 1) * sizeof (uint32_t));
    idf = (float *) malloc ((nf? nf: 1) * sizeof (float));
    if (!ids || !idf || s_map_init (&index, nf))
        goto oom;
    nf = 0;
    for (size_t s = 0; s < df.cap; s++)
        if (df.vals [s] >= (uint32_t) p->min_df)
            ids [nf++] = df.keys [s];
    qsort (ids, nf, sizeof (uint32_t), s_u32_cmp);
    for (size_t j = 0; j < nf; j++) {
        uint32_t d = *s_map_find (&df, ids [j]);
        //  Smooth idf as scikit-learn: ln ((1 + n) / (1 + df)) + 1
        idf [j] = (float) (log ((1.0 + (double) n) / (1.0 + d)) + 1.0);
        uint32_t *slot = s_map_upsert (&index, ids [j]);
        if (!slot)
            goto oom;
        *slot = (uint32_t) j + 1;
    }

    //  Weighted, normalised matrix over the vocabulary (in place over raw)
    size_t out = 0;
    for (size_t i = 0; i < n; i++) {
        size_t start = out;
        double norm2 = 0;
        for (size_t e = raw.rowptr [i]; e < raw.rowptr [i + 1]; e++) {
            uint32_t *slot = s_map_find (&index, raw.col [e]);
            if (!slot)
                continue;
            uint32_t j = *slot - 1;
            float v = (1.0f + logf (raw.val [e])) * idf [j];
            raw.col [out] = j;
            raw.val [out] = v;
            norm2 += (double) v * v;
            out++;
        }
        raw.rowptr [i] = start;
        if (norm2 > 0) {
            float scale = (float) (1.0 / sqrt (norm2));
            for (size_t e = start; e < out; e++)
                raw.val [e] *= scale;
        }
    }
    //  rowptr [i] now holds starts; shift to the usual n + 1 layout
    raw.rowptr [n] = out;
    raw.n_rows = n;
    raw.n_cols = nf;
    *x = raw;
    raw.rowptr = NULL;
    raw.col = NULL;
    raw.val = NULL;
    *ids_p = ids;
    *idf_p = idf;
    ids = NULL;
    idf = NULL;
    rc = 0;
    goto done;
oom:
    linmodel_error (err, errlen, "out of memory building the feature matrix");
done:
    s_csr_free (&raw);
    s_map_free (&df);
    s_map_free (&index);
    free (ids);
    free (idf);
    textfeat_vec_destroy (&vec);
    return rc;
}

linmodel_t *
linmodel_train (const char *const *texts, const size_t *lens,
                const char *const *labels, size_t n,
                const linmodel_params_t *params, char *err, size_t errlen)
{
    linmodel_params_t p;
    if (params)
        p = *params;
    else
        linmodel_params_default (&p);
    if (!(p.c > 0 && isfinite (p.c)) || p.epochs < 1 || !(p.eps > 0)
    ||  p.min_df < 1 || !(p.temperature >= LM_TEMPERATURE_MIN
                       && p.temperature <= LM_TEMPERATURE_MAX)) {
        linmodel_error (err, errlen, "bad training parameters (need c > 0, epochs >= 1, "
               "eps > 0, min_df >= 1, temperature in [1e-4, 1e4])");
        return NULL;
    }
    if (!texts || !lens || !labels || n < 2) {
        linmodel_error (err, errlen, "need at least two training rows");
        return NULL;
    }
    if (n > UINT32_MAX - 1) {
        linmodel_error (err, errlen, "too many training rows");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        if (!texts [i] && lens [i]) {
            linmodel_error (err, errlen, "row %zu: text is NULL", i);
            return NULL;
        }
        size_t ll = labels [i]? strlen (labels [i]): 0;
        if (ll == 0 || ll > LINMODEL_LABEL_MAX) {
            linmodel_error (err, errlen, "row %zu: label is empty or longer than %d bytes",
                   i, LINMODEL_LABEL_MAX);
            return NULL;
        }
    }

    linmodel_t *self = NULL;
    s_csr_t x = { 0, 0, NULL, NULL, NULL };
    uint32_t *ids = NULL, *cls_of = NULL, *rows = NULL, *fold_of = NULL;
    float *idf = NULL, *scores = NULL;
    double *w = NULL;
    s_work_t wk = { NULL, NULL, NULL, NULL };
    uint64_t rng = p.seed ^ 0x5DEECE66DULL;

    //  Classes: sorted distinct labels
    s_label_row_t *lr = (s_label_row_t *) malloc (n * sizeof (s_label_row_t));
    cls_of = (uint32_t *) malloc (n * sizeof (uint32_t));
    if (!lr || !cls_of)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        lr [i].label = labels [i];
        lr [i].row = (uint32_t) i;
    }
    qsort (lr, n, sizeof (s_label_row_t), s_label_row_cmp);
    size_t n_classes = 0, label_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || strcmp (lr [i].label, lr [i - 1].label)) {
            n_classes++;
            label_bytes += strlen (lr [i].label) + 1;
        }
        cls_of [lr [i].row] = (uint32_t) n_classes - 1;
    }
    if (n_classes < 2 || n_classes > LINMODEL_CLASSES_MAX) {
        linmodel_error (err, errlen, "need between 2 and %d distinct labels, found %zu",
               LINMODEL_CLASSES_MAX, n_classes);
        goto fail;
    }

    if (s_build_matrix (texts, lens, n, &p, &x, &ids, &idf, err, errlen))
        goto fail;
    if (p.verbose)
        fprintf (stderr, "linmodel: %zu rows, %zu classes, %zu features, %zu non-zeros\n",
                 n, n_classes, x.n_cols, x.rowptr [n]);

    self = linmodel_alloc ((uint32_t) n_classes, (uint32_t) x.n_cols, label_bytes);
    if (!self)
        goto oom;
    self->flags = LM_FLAG_SUBLINEAR | LM_FLAG_L2;
    self->hash_bits = 0;
    size_t off = 0, c = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || strcmp (lr [i].label, lr [i - 1].label)) {
            size_t ll = strlen (lr [i].label) + 1;
            memcpy (self->label_block + off, lr [i].label, ll);
            self->labels [c++] = self->label_block + off;
            off += ll;
        }
    if (x.n_cols) {
        memcpy (self->feat_ids, ids, x.n_cols * sizeof (uint32_t));
        memcpy (self->idf, idf, x.n_cols * sizeof (float));
    }
    linmodel_index (self);

    w = (double *) malloc ((x.n_cols + 1) * sizeof (double));
    wk.alpha = (double *) malloc (n * sizeof (double));
    wk.qd = (double *) malloc (n * sizeof (double));
    wk.y = (int8_t *) malloc (n);
    wk.index = (uint32_t *) malloc (n * sizeof (uint32_t));
    rows = (uint32_t *) malloc (n * sizeof (uint32_t));
    if (!w || !wk.alpha || !wk.qd || !wk.y || !wk.index || !rows)
        goto oom;

    //  Temperature scaling on held-out folds
    self->temperature = (float) p.temperature;
    size_t folds = p.calib_folds >= 2? (size_t) p.calib_folds: 0;
    if (folds && n >= folds * 2) {
        fold_of = (uint32_t *) malloc (n * sizeof (uint32_t));
        scores = (float *) malloc (n * n_classes * sizeof (float));
        uint32_t *gold = (uint32_t *) malloc (n * sizeof (uint32_t));
        if (!fold_of || !scores || !gold) {
            free (gold);
            goto oom;
        }
        //  Stratified: shuffle each class's rows, deal them round-robin
        //  (lr is sorted by label, so each class is a contiguous run)
        size_t deal = 0;
        for (size_t i = 0; i < n; ) {
            size_t j = i;
            while (j < n && cls_of [lr [j].row] == cls_of [lr [i].row])
                j++;
            for (size_t a = i; a + 1 < j; a++) {
                size_t b = a + s_rand_below (&rng, j - a);
                s_label_row_t t = lr [a];
                lr [a] = lr [b];
                lr [b] = t;
            }
            for (size_t a = i; a < j; a++)
                fold_of [lr [a].row] = (uint32_t) (deal++ % folds);
            i = j;
        }
        size_t m_all = 0;
        for (size_t f = 0; f < folds; f++) {
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (fold_of [i] != f)
                    rows [m++] = (uint32_t) i;
            for (uint32_t k = 0; k < n_classes; k++) {
                s_svm_solve (&x, rows, m, cls_of, k, &p, &wk, w, &rng);
                size_t h = m_all;
                for (size_t i = 0; i < n; i++)
                    if (fold_of [i] == f)
                        scores [(h++) * n_classes + k] = (float) s_row_dot (&x, (uint32_t) i, w);
            }
            for (size_t i = 0; i < n; i++)
                if (fold_of [i] == f)
                    gold [m_all++] = cls_of [i];
        }
        self->temperature = (float) s_fit_temperature (scores, gold, m_all, n_classes);
        if (p.verbose) {
            size_t right = 0;
            for (size_t i = 0; i < m_all; i++) {
                const float *s = scores + i * n_classes;
                size_t best = 0;
                for (size_t k = 1; k < n_classes; k++)
                    if (s [k] > s [best])
                        best = k;
                right += best == gold [i];
            }
            fprintf (stderr, "linmodel: %zu-fold held-out accuracy %.4f, temperature %.4f "
                     "(nll %.4f, at T=1 %.4f)\n", folds, (double) right / (double) m_all,
                     (double) self->temperature,
                     s_nll (scores, gold, m_all, n_classes, 1.0 / self->temperature),
                     s_nll (scores, gold, m_all, n_classes, 1.0));
        }
        free (gold);
    }

    //  Final model on all rows
    for (size_t i = 0; i < n; i++)
        rows [i] = (uint32_t) i;
    for (uint32_t k = 0; k < n_classes; k++) {
        s_svm_solve (&x, rows, n, cls_of, k, &p, &wk, w, &rng);
        for (size_t j = 0; j < x.n_cols; j++)
            self->weights [j * n_classes + k] = s_clamp (w [j]);
        self->bias [k] = s_clamp (w [x.n_cols]);
    }
    goto done;

oom:
    linmodel_error (err, errlen, "out of memory while training");
fail:
    if (self) {
        linmodel_free (self);
        self = NULL;
    }
done:
    free (lr);
    free (cls_of);
    free (rows);
    free (fold_of);
    free (scores);
    free (ids);
    free (idf);
    free (w);
    free (wk.alpha);
    free (wk.qd);
    free (wk.y);
    free (wk.index);
    s_csr_free (&x);
    return self;
}

//  -------------------------------------------------------------------------
//  Prediction

//  score += sum of vals [i] x weight row ids [i]. The rows are scattered
//  over the weight matrix, so fetch the next rows early; restrict lets the
//  compiler vectorise the inner loop.
static void
s_accumulate (float *restrict score, const float *restrict weights, size_t nc,
              const uint32_t *ids, const float *vals, size_t m)
{
    for (size_t i = 0; i < m; i++) {
        if (i + 2 < m) {
            const char *next = (const char *) (weights + (size_t) ids [i + 2] * nc);
            for (size_t b = 0; b < nc * sizeof (float); b += 64)
                __builtin_prefetch (next + b);
        }
        const float *restrict row = weights + (size_t) ids [i] * nc;
        float v = vals [i];
        size_t c = 0;
        for (; c + 8 <= nc; c += 8) {
            //  Unrolled by hand so that -O2 turns it into vector code
            score [c + 0] += v * row [c + 0];
            score [c + 1] += v * row [c + 1];
            score [c + 2] += v * row [c + 2];
            score [c + 3] += v * row [c + 3];
            score [c + 4] += v * row [c + 4];
            score [c + 5] += v * row [c + 5];
            score [c + 6] += v * row [c + 6];
            score [c + 7] += v * row [c + 7];
        }
        for (; c < nc; c++)
            score [c] += v * row [c];
    }
}

size_t
linmodel_predict (const linmodel_t *self, const char *text, size_t len,
                  linmodel_guess_t *out, size_t k)
{
    assert (self);
    assert (out || k == 0);
    if (k == 0)
        return 0;
    if (!text)
        len = 0;
    uint32_t ids_buf [LM_STACK_FEATS];
    float vals_buf [LM_STACK_FEATS];
    textfeat_vec_t vec;
    textfeat_vec_init (&vec, ids_buf, vals_buf, LM_STACK_FEATS);
    //  On out of memory we go on with the features extracted so far
    textfeat_extract (text, len, self->hash_bits, &vec);

    //  Map to the vocabulary, weight, normalise
    size_t m = 0;
    double norm2 = 0;
    for (size_t i = 0; i < vec.count; i++) {
        uint32_t j = s_model_lookup (self, vec.ids [i]);
        if (j == LM_NONE)
            continue;
        float v = vec.vals [i];
        if (self->flags & LM_FLAG_SUBLINEAR)
            v = 1.0f + logf (v);
        v *= self->idf [j];
        vec.ids [m] = j;
        vec.vals [m] = v;
        norm2 += (double) v * v;
        m++;
    }
    float scale = 1.0f;
    if ((self->flags & LM_FLAG_L2) && norm2 > 0)
        scale = (float) (1.0 / sqrt (norm2));

    size_t nc = self->n_classes;
    float score_buf [LM_STACK_CLASSES];
    float *score = nc <= LM_STACK_CLASSES? score_buf: (float *) malloc (nc * sizeof (float));
    if (!score) {
        textfeat_vec_release (&vec);
        return 0;
    }
    memset (score, 0, nc * sizeof (float));
    s_accumulate (score, self->weights, nc, vec.ids, vec.vals, m);
    textfeat_vec_release (&vec);

    //  Softmax with the fitted temperature
    float mx = -FLT_MAX;
    for (size_t c = 0; c < nc; c++) {
        score [c] = score [c] * scale + self->bias [c];
        if (score [c] > mx)
            mx = score [c];
    }
    float beta = 1.0f / self->temperature;
    double sum = 0;
    for (size_t c = 0; c < nc; c++) {
        score [c] = expf (beta * (score [c] - mx));     //  in (0, 1]
        sum += score [c];
    }

    //  Top k by insertion (strict > keeps the lower index first on ties)
    if (k > nc)
        k = nc;
    size_t filled = 0;
    for (size_t c = 0; c < nc; c++) {
        double prob = score [c] / sum;
        if (filled == k && prob <= out [k - 1].prob)
            continue;
        size_t pos = filled < k? filled++: k - 1;
        while (pos > 0 && out [pos - 1].prob < prob) {
            out [pos] = out [pos - 1];
            pos--;
        }
        out [pos].label = self->labels [c];
        out [pos].prob = prob;
    }
    if (score != score_buf)
        free (score);
    return filled;
}

//  -------------------------------------------------------------------------
//  Coverage: how much of a text the vocabulary knows

#define LM_COVER_SLOTS 2048     //  distinct units counted (a sample beyond)

typedef struct {
    const linmodel_t *model;
    uint32_t mask;
    uint64_t slots [LM_COVER_SLOTS];    //  id + 1, 0 = empty
    size_t units, known;
} s_cover_t;

static void
s_cover_token (const char *tok, size_t toklen, void *arg)
{
    s_cover_t *cv = (s_cover_t *) arg;
    if (toklen < 3 || tok [1] != ':')
        return;
    //  units: words (not the digit or emoji class tokens) and single CJK
    //  characters
    if (tok [0] == 'w') {
        if (tok [2] == '0' || tok [2] == '<')
            return;
    }
    else
    if (tok [0] == 'h') {
        uint32_t cp;
        if (tf_utf8_next (tok, toklen, 2, &cp) != toklen - 2)
            return;
    }
    else
        return;
    if (cv->units * 2 >= LM_COVER_SLOTS)
        return;
    uint32_t id = textfeat_hash (tok, toklen) & cv->mask;
    size_t s = (size_t) ((id * 2654435761u) & (LM_COVER_SLOTS - 1));
    while (cv->slots [s]) {
        if (cv->slots [s] == (uint64_t) id + 1)
            return;             //  seen: count distinct units only
        s = (s + 1) & (LM_COVER_SLOTS - 1);
    }
    cv->slots [s] = (uint64_t) id + 1;
    cv->units++;
    if (s_model_lookup (cv->model, id) != LM_NONE)
        cv->known++;
}

double
linmodel_coverage (const linmodel_t *self, const char *text, size_t len)
{
    assert (self);
    if (!text || len == 0)
        return 0;
    s_cover_t *cv = (s_cover_t *) calloc (1, sizeof (s_cover_t));
    if (!cv)
        return 0;
    cv->model = self;
    cv->mask = self->hash_bits? (1u << self->hash_bits) - 1: 0xFFFFFFFFu;
    textfeat_tokens (text, len, s_cover_token, cv);
    double coverage = cv->units? (double) cv->known / (double) cv->units: 0;
    free (cv);
    return coverage;
}

size_t
linmodel_label_count (const linmodel_t *self)
{
    assert (self);
    return self->n_classes;
}

const char *
linmodel_label (const linmodel_t *self, size_t index)
{
    assert (self);
    return index < self->n_classes? self->labels [index]: NULL;
}

size_t
linmodel_feature_count (const linmodel_t *self)
{
    assert (self);
    return self->n_features;
}

double
linmodel_temperature (const linmodel_t *self)
{
    assert (self);
    return self->temperature;
}

void
linmodel_destroy (linmodel_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        linmodel_free (*self_p);
        *self_p = NULL;
    }
}

//  -------------------------------------------------------------------------
//  Metrics

static int
s_str_cmp (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static size_t
s_find_label (const char **sorted, size_t count, const char *label)
{
    size_t lo = 0, hi = count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp (sorted [mid], label);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    assert (0);                 //  every label was put in the table
    return 0;
}

int
linmodel_metrics (const char *const *gold, const char *const *pred, size_t n,
                  linmodel_metrics_t *m, FILE *report)
{
    assert (m);
    assert ((gold && pred) || n == 0);
    memset (m, 0, sizeof (*m));
    m->n = n;
    if (n == 0)
        return 0;
    const char **names = (const char **) malloc (2 * n * sizeof (char *));
    size_t *counts = (size_t *) calloc (6 * n, sizeof (size_t));
    if (!names || !counts) {
        free (names);
        free (counts);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        assert (gold [i] && pred [i]);
        names [2 * i] = gold [i];
        names [2 * i + 1] = pred [i];
    }
    qsort (names, 2 * n, sizeof (char *), s_str_cmp);
    size_t u = 0;
    for (size_t i = 0; i < 2 * n; i++)
        if (u == 0 || strcmp (names [u - 1], names [i]))
            names [u++] = names [i];
    size_t *tp = counts, *fp = counts + 2 * n, *fn = counts + 4 * n;
    for (size_t i = 0; i < n; i++) {
        size_t g = s_find_label (names, u, gold [i]);
        size_t p = s_find_label (names, u, pred [i]);
        if (g == p) {
            tp [g]++;
            m->correct++;
        }
        else {
            fn [g]++;
            fp [p]++;
        }
    }
    double f1_sum = 0;
    if (report)
        fprintf (report, "%-40s %9s %9s %9s %8s\n", "label", "precision", "recall", "f1", "support");
    for (size_t c = 0; c < u; c++) {
        double f1 = 2.0 * (double) tp [c] / (double) (2 * tp [c] + fp [c] + fn [c]);
        f1_sum += f1;
        if (report) {
            double prec = tp [c] + fp [c]? (double) tp [c] / (double) (tp [c] + fp [c]): 0;
            double rec = tp [c] + fn [c]? (double) tp [c] / (double) (tp [c] + fn [c]): 0;
            fprintf (report, "%-40s %9.4f %9.4f %9.4f %8zu\n", names [c], prec, rec, f1,
                     tp [c] + fn [c]);
        }
    }
    m->n_labels = u;
    m->accuracy = (double) m->correct / (double) n;
    m->macro_f1 = f1_sum / (double) u;
    free (names);
    free (counts);
    return 0;
}
