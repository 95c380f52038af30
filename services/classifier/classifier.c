/*  classifier — the classifier object: what it is made of and its
    settings. What it does is in the files next to it: classifier_keywords.c,
    classifier_taxonomy.c, classifier_decide.c and classifier_stage.c
    (classifier_private.h). See classifier.h.
*/
#include "classifier_private.h"
#include <assert.h>
#include <stdlib.h>

classifier_t *
classifier_new (tf_db_t *db, double min_confidence)
{
    classifier_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    self->min_confidence = min_confidence < 0? 0: min_confidence > 1? 1: min_confidence;
    classifier_reasons_builtin (self);
    self->sentiment = classifier_sentiment_new ();
    self->tx_incidents = zlistx_new ();
    self->incidents = zlistx_new ();
    assert (self->tx_incidents && self->incidents);
    zlistx_set_destructor (self->tx_incidents, (czmq_destructor *) classifier_incident_destroy);
    zlistx_set_destructor (self->incidents, (czmq_destructor *) classifier_incident_destroy);
    if (db && (classifier_stage_prepare (db) || classifier_taxonomy_prepare (db)))
        classifier_destroy (&self);
    return self;
}

void
classifier_destroy (classifier_t **self_p)
{
    classifier_t *self = *self_p;
    if (!self)
        return;
    classifier_taxonomy_free (self);
    classifier_sentiment_destroy (&self->sentiment);
    zlistx_destroy (&self->tx_incidents);
    zlistx_destroy (&self->incidents);
    classifier_index_destroy (&self->index);
    free (self);
    *self_p = NULL;
}

void
classifier_set_model (classifier_t *self, classifier_model_fn *fn, void *model)
{
    self->model_fn = fn;
    self->model = fn? model: NULL;
}

void
classifier_set_third_model (classifier_t *self, classifier_model_fn *fn, void *model)
{
    self->third_fn = fn;
    self->third_model = fn? model: NULL;
}

void
classifier_set_incidents (classifier_t *self, int threshold, int window_minutes, size_t recent, size_t groups)
{
    classifier_index_destroy (&self->index);
    self->incident_threshold = threshold >= 2 && window_minutes >= 1 && recent >= 1 && groups >= 1? threshold: 0;
    self->incident_window = window_minutes;
    if (self->incident_threshold)
        self->index = classifier_index_new (threshold, window_minutes * 60, recent, groups);
    self->index_fresh = false;
    self->index_seq = 0;
}

double
classifier_sentiment (const classifier_t *self, const char *text, size_t len)
{
    return classifier_sentiment_score (self->sentiment, text, len);
}

size_t
classifier_incident_memory (const classifier_t *self)
{
    return self->index? classifier_index_tickets (self->index): 0;
}

classifier_incident_t *
classifier_next_incident (classifier_t *self)
{
    return (classifier_incident_t *) zlistx_detach (self->incidents, NULL);
}
