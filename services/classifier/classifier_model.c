#include "classifier_model.h"
#include "tf_db.h"
#include "tf_log.h"
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct classifier_models_t {
    linmodel_t *main;
    linmodel_t *third;          //  NULL when there is none
    char *path;
};

classifier_models_t *
classifier_models_load (const char *path, char *err, size_t errlen)
{
    if (!path || !*path) {
        snprintf (err, errlen, "no model file given");
        return NULL;
    }
    char why [512];
    linmodel_t *main = linmodel_load (path, why, sizeof why);
    if (!main) {
        snprintf (err, errlen, "%s", why);
        return NULL;
    }
    //  the third-level model lives next to it
    const char *slash = strrchr (path, '/');
    char third_path [4096];
    if (slash)
        snprintf (third_path, sizeof third_path, "%.*s/%s", (int) (slash - path), path,
                  CLASSIFIER_THIRD_MODEL_NAME);
    else
        snprintf (third_path, sizeof third_path, "%s", CLASSIFIER_THIRD_MODEL_NAME);
    linmodel_t *third = NULL;
    if (strcmp (third_path, path) != 0 && access (third_path, F_OK) == 0) {
        third = linmodel_load (third_path, why, sizeof why);
        if (!third) {
            snprintf (err, errlen, "%s", why);
            linmodel_destroy (&main);
            return NULL;
        }
    }
    classifier_models_t *self = calloc (1, sizeof *self);
    assert (self);
    self->main = main;
    self->third = third;
    self->path = strdup (path);
    return self;
}

void
classifier_models_destroy (classifier_models_t **self_p)
{
    classifier_models_t *self = *self_p;
    if (!self)
        return;
    linmodel_destroy (&self->main);
    linmodel_destroy (&self->third);
    free (self->path);
    free (self);
    *self_p = NULL;
}

void
classifier_models_attach (classifier_models_t *self, classifier_t *classifier)
{
    if (self) {
        classifier_set_model (classifier, classifier_model_predict, self->main);
        if (self->third)
            classifier_set_third_model (classifier, classifier_model_predict_third, self->third);
        else
            classifier_set_third_model (classifier, NULL, NULL);
    }
    else {
        classifier_set_model (classifier, NULL, NULL);
        classifier_set_third_model (classifier, NULL, NULL);
    }
}

size_t
classifier_models_labels (const classifier_models_t *self)
{
    return linmodel_label_count (self->main);
}

linmodel_t *
classifier_models_main (const classifier_models_t *self)
{
    return self->main;
}

linmodel_t *
classifier_models_third (const classifier_models_t *self)
{
    return self->third;
}

const char *
classifier_models_path (const classifier_models_t *self)
{
    return self->path;
}

//  Logs the labels of model that `known` refuses; returns how many
static size_t
s_check (const linmodel_t *model, const char *what, const char *path, const classifier_t *classifier,
         bool (*known) (const classifier_t *, const char *))
{
    char list [1024] = "";
    size_t o = 0, unknown = 0;
    for (size_t i = 0; i < linmodel_label_count (model); i++) {
        const char *label = linmodel_label (model, i);
        if (known (classifier, label))
            continue;
        unknown++;
        if (o < sizeof list - 80)
            o += (size_t) snprintf (list + o, sizeof list - o, "%s'%.64s'", o? ", ": "", label);
    }
    if (unknown)
        tf_warn ("model %s: %zu of its %zu labels are not %s of the taxonomy and are never chosen: %s%s",
                 path, unknown, linmodel_label_count (model), what, list,
                 o >= sizeof list - 80? ", ...": "");
    return unknown;
}

size_t
classifier_models_check (const classifier_models_t *self, const classifier_t *classifier)
{
    if (!self || classifier_taxonomy_size (classifier) == 0)
        return 0;
    size_t unknown = s_check (self->main, "sub-categories", self->path, classifier,
                              classifier_has_subcategory);
    if (self->third)
        unknown += s_check (self->third, "third levels", CLASSIFIER_THIRD_MODEL_NAME, classifier,
                            classifier_has_third_level);
    return unknown;
}

static size_t
s_predict (const linmodel_t *model, const char *text, size_t len, classifier_guess_t *out, size_t k)
{
    linmodel_guess_t guesses [CLASSIFIER_GUESSES_MAX];
    if (k > CLASSIFIER_GUESSES_MAX)
        k = CLASSIFIER_GUESSES_MAX;
    size_t n = linmodel_predict (model, text, len, guesses, k);
    for (size_t i = 0; i < n; i++) {
        out [i].label = guesses [i].label;
        out [i].confidence = guesses [i].prob;
    }
    return n;
}

size_t
classifier_model_predict (void *model, const char *text, size_t len, classifier_guess_t *out, size_t k)
{
    if (!model || linmodel_coverage (model, text, len) < CLASSIFIER_MODEL_MIN_COVERAGE)
        return 0;
    return s_predict (model, text, len, out, k);
}

size_t
classifier_model_predict_third (void *model, const char *text, size_t len, classifier_guess_t *out, size_t k)
{
    return model? s_predict (model, text, len, out, k): 0;
}

void
classifier_model_path (const tf_config_t *cfg, char *path, size_t size)
{
    if (cfg->classifier_model && *cfg->classifier_model)
        snprintf (path, size, "%s", cfg->classifier_model);
    else
        snprintf (path, size, "%s/build/models/default.model", tf_home ());
}

long
classifier_corrections_load (tf_db_t *db, csvread_pairs_t *pairs, char *err, size_t errlen)
{
    PGresult *res = tf_db_query (db,
        "SELECT DISTINCT ON (ticket_id) text, corrected FROM classification_corrections "
        "ORDER BY ticket_id, id DESC", 0, NULL);
    if (!res || PQresultStatus (res) != PGRES_TUPLES_OK) {
        snprintf (err, errlen, "cannot read classification_corrections: %s",
                  res? PQresultErrorMessage (res): "no connection");
        size_t n = strlen (err);
        while (n && (err [n - 1] == '\n' || err [n - 1] == ' '))
            err [--n] = 0;
        PQclear (res);
        return -1;
    }
    long added = 0;
    int rows = PQntuples (res);
    for (int r = 0; r < rows; r++) {
        size_t label_len = (size_t) PQgetlength (res, r, 1);
        if (label_len == 0)
            continue;
        if (csvread_pairs_add (pairs, PQgetvalue (res, r, 0), (size_t) PQgetlength (res, r, 0),
                               PQgetvalue (res, r, 1), label_len)) {
            snprintf (err, errlen, "out of memory");
            PQclear (res);
            return -1;
        }
        added++;
    }
    PQclear (res);
    return added;
}
