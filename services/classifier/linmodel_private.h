/*  =========================================================================
    linmodel_private - what linmodel.c (training, prediction) and
    linmodel_file.c (the model file: save, load, checks) share: the model
    in memory and how one is built. Not for use outside those files.
    =========================================================================
*/
#ifndef LINMODEL_PRIVATE_H_INCLUDED
#define LINMODEL_PRIVATE_H_INCLUDED

#include "linmodel.h"

#define LM_FEATURES_MAX     (1u << 26)
#define LM_FLAG_SUBLINEAR   1u                      //  1 + ln (tf)
#define LM_FLAG_L2          2u                      //  unit-length rows
#define LM_FLAGS_KNOWN      (LM_FLAG_SUBLINEAR | LM_FLAG_L2)
//  Loaded numbers are bounded so that scores stay finite in predict
#define LM_VALUE_MAX        1e6f
#define LM_TEMPERATURE_MIN  1e-4f
#define LM_TEMPERATURE_MAX  1e4f
#define LM_NONE             0xFFFFFFFFu

struct _linmodel_t {
    uint32_t n_classes;
    uint32_t n_features;
    uint32_t hash_bits;
    uint32_t flags;
    float temperature;
    char *label_block;          //  all labels, NUL-terminated, back to back
    char **labels;              //  n_classes pointers into label_block
    uint32_t *feat_ids;         //  n_features, strictly increasing
    float *idf;                 //  n_features
    float *weights;             //  n_features x n_classes, row per feature
    float *bias;                //  n_classes
    //  Lookup: feature id -> index, open addressing, LM_NONE = empty
    uint32_t *tab_keys;
    uint32_t *tab_vals;
    size_t tab_mask;
};

//  Writes a printf-style message to err[0..errlen), unless err is NULL.
void
    linmodel_error (char *err, size_t errlen, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));

//  A model with its arrays allocated for these sizes (labels, ids and
//  numbers for the caller to fill; weights and bias zero), or NULL when
//  memory ran out. linmodel_free frees one however far it was filled.
linmodel_t *
    linmodel_alloc (uint32_t n_classes, uint32_t n_features, size_t label_bytes);
void
    linmodel_free (linmodel_t *self);

//  Builds the feature id lookup from feat_ids, once they are filled.
void
    linmodel_index (linmodel_t *self);

#endif
