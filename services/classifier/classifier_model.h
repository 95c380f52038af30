/*  classifier_model — the trained models a classifier uses: the default
    model (label = sub-category, e.g. build/models/default.model) and, from
    the same folder, third_level.model (label = third level) when it exists.
    Both are linmodel files (linmodel.h: versioned, checksummed; a corrupt
    or foreign file is refused with a message).

    The model answers only for text its vocabulary knows: when fewer than
    CLASSIFIER_MODEL_MIN_COVERAGE of the text's distinct words and CJK
    characters are known (linmodel_coverage: gibberish, another language),
    it has no answer and the keyword scorer decides.
*/
#ifndef CLASSIFIER_MODEL_H
#define CLASSIFIER_MODEL_H

#include "classifier.h"
#include "csvread.h"
#include "linmodel.h"
#include "tf_config.h"

#define CLASSIFIER_MODEL_MIN_COVERAGE 0.5
#define CLASSIFIER_THIRD_MODEL_NAME   "third_level.model"

typedef struct classifier_models_t classifier_models_t;

//  Loads the model at path and third_level.model next to it (a missing
//  third-level model is fine: keywords give the third level; a corrupt one
//  fails the load). NULL with a message in err.
classifier_models_t *classifier_models_load (const char *path, char *err, size_t errlen);
void classifier_models_destroy (classifier_models_t **self_p);

//  Hands both models to the classifier (NULL self: back to keywords). The
//  models must outlive their use: attach the next one before destroying.
void classifier_models_attach (classifier_models_t *self, classifier_t *classifier);

//  Labels of the sub-category model; the models themselves.
size_t classifier_models_labels (const classifier_models_t *self);
linmodel_t *classifier_models_main (const classifier_models_t *self);
linmodel_t *classifier_models_third (const classifier_models_t *self);
const char *classifier_models_path (const classifier_models_t *self);

//  Compares the labels with the classifier's taxonomy and logs (one
//  warning line each model) the labels the taxonomy does not have; such a
//  label is never chosen. Returns how many there are.
size_t classifier_models_check (const classifier_models_t *self, const classifier_t *classifier);

//  classifier_model_fn over a linmodel_t: the sub-category model (with the
//  coverage check) and the third-level model (without).
size_t classifier_model_predict (void *model, const char *text, size_t len,
                                 classifier_guess_t *out, size_t k);
size_t classifier_model_predict_third (void *model, const char *text, size_t len,
                                       classifier_guess_t *out, size_t k);

//  The model file a service uses: cfg->classifier_model, or when that is
//  empty $TICKETFLOW_HOME/build/models/default.model.
void classifier_model_path (const tf_config_t *cfg, char *path, size_t size);

//  Training data from the agents: the rows of classification_corrections
//  (text → corrected sub-category; the latest correction of each ticket)
//  appended to pairs. Returns the number added, or -1 with a message in err.
long classifier_corrections_load (tf_db_t *db, csvread_pairs_t *pairs, char *err, size_t errlen);

#endif
