/*  =========================================================================
    linmodel - trained linear text classifier with calibrated probabilities

    Features come from textfeat (word 1-3 grams, char 2-5 grams in words,
    CJK char 1-3 grams); the model keeps a vocabulary of the hashed features
    seen in training (min_df pruning), weights them by sublinear tf x idf and
    normalises each text to unit L2 length. Classes are learnt one-vs-rest by
    L2-regularised squared-hinge linear SVMs solved with dual coordinate
    descent (the LIBLINEAR -s 1 solver, with shrinking).

    Probabilities: p = softmax (score / T). SVM scores are not probabilities,
    so T is fitted by temperature scaling: the training set is split into
    calib_folds stratified folds, a model is trained on the other folds, and
    T minimises the negative log-likelihood of the held-out scores (golden
    section on log T; the NLL is convex in 1/T). The final model is then
    trained on all rows. Top-1 of the softmax is the arg-max score, so
    calibration changes confidence, never the predicted label.

    Model file (little-endian; linmodel_file.c), written to a temp file
    then renamed:
        header   64 bytes: magic "TFLINMDL", format version, header size,
                 textfeat version, flags, n_classes, n_features, label bytes,
                 hash bits, payload bytes, temperature
        payload  labels (u16 length + bytes each), padding to 4,
                 feature ids (u32, strictly increasing), idf (f32),
                 weights (f32, n_features x n_classes), bias (f32 x n_classes)
        trailer  CRC-32 of header + payload, end magic "TFLE"
    Loading checks every size against the file length before allocating,
    verifies the checksum, then the contents (sorted ids, finite numbers).
    =========================================================================
*/
#ifndef LINMODEL_H_INCLUDED
#define LINMODEL_H_INCLUDED

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LINMODEL_FORMAT_VERSION 1
#define LINMODEL_LABEL_MAX      1024        //  bytes in one label
#define LINMODEL_CLASSES_MAX    65535

typedef struct _linmodel_t linmodel_t;

typedef struct {
    double c;               //  SVM cost C (larger = less regularisation)
    int epochs;             //  max dual coordinate descent passes per class
    double eps;             //  solver stopping tolerance
    int min_df;             //  keep features seen in at least this many texts
    int calib_folds;        //  folds for the temperature fit; < 2: no fit
    double temperature;     //  used when there is no fit
    uint64_t seed;          //  shuffling; same seed + data = same model
    int verbose;            //  progress lines on stderr
} linmodel_params_t;

typedef struct {
    const char *label;      //  owned by the model
    double prob;
} linmodel_guess_t;

typedef struct {
    size_t n;               //  rows scored
    size_t correct;
    double accuracy;
    double macro_f1;        //  mean F1 over labels in gold or predicted
    size_t n_labels;        //  labels in that mean
} linmodel_metrics_t;

//  Fill p with the defaults.
void
    linmodel_params_default (linmodel_params_t *p);

//  Train on n rows: texts[i] of lens[i] bytes (any bytes; texts[i] may be
//  NULL when lens[i] is 0), labels[i] NUL-terminated, non-empty. Needs at
//  least two distinct labels. p NULL means defaults. Returns NULL with a
//  message in err on bad input or out of memory.
linmodel_t *
    linmodel_train (const char *const *texts, const size_t *lens,
                    const char *const *labels, size_t n,
                    const linmodel_params_t *p, char *err, size_t errlen);

//  Classify text; fill out[0..k) with the k most probable labels, highest
//  first (ties by label order). Returns the number filled: min (k, labels),
//  or 0 if k is 0 or memory ran out. Only reads the model, so any number of
//  threads may call it at once; typical texts need no heap allocation.
size_t
    linmodel_predict (const linmodel_t *self, const char *text, size_t len,
                      linmodel_guess_t *out, size_t k);

//  Share of the text's distinct words and CJK characters that the model's
//  vocabulary knows, 0..1 (0 for an empty text). Text made of unknown
//  words (gibberish, another language) gets a low value even when the
//  probabilities look sure: callers use it to refuse an answer.
double
    linmodel_coverage (const linmodel_t *self, const char *text, size_t len);

//  Labels, in the model's (sorted) order.
size_t
    linmodel_label_count (const linmodel_t *self);
const char *
    linmodel_label (const linmodel_t *self, size_t index);

//  Vocabulary size and fitted temperature, for reports.
size_t
    linmodel_feature_count (const linmodel_t *self);
double
    linmodel_temperature (const linmodel_t *self);

//  Save atomically (temp file in the same directory + rename). Returns 0,
//  or -1 with a message in err.
int
    linmodel_save (const linmodel_t *self, const char *path, char *err, size_t errlen);

//  Load a model file, or a model image in memory. Returns NULL with a
//  message in err if the file is unreadable, foreign, corrupt, truncated,
//  of another format or feature version, or claims absurd sizes.
linmodel_t *
    linmodel_load (const char *path, char *err, size_t errlen);
linmodel_t *
    linmodel_load_buffer (const void *data, size_t size, char *err, size_t errlen);

//  Destroy; sets *self_p to NULL, safe twice.
void
    linmodel_destroy (linmodel_t **self_p);

//  Accuracy and macro-F1 of predicted against gold labels (n rows). With
//  report not NULL, also writes one line per label (precision, recall, F1,
//  support). Returns 0, or -1 on out of memory.
int
    linmodel_metrics (const char *const *gold, const char *const *pred, size_t n,
                      linmodel_metrics_t *m, FILE *report);

#ifdef __cplusplus
}
#endif

#endif
