/*  classifier_service — the classify stage on the engine (tf_engine.h):
    consumes ticket.received (from intake); outputs EVENTS, a PUSH for
    ticket.classified, and PUBLISH, a PUB for incident.opened (topic
    "incident."); answers ticket.classify (a person's classification) and
    classify.text (what it would decide, nothing stored); its reconciler
    takes tickets left in received.

    At start it loads the trained model (classifier-model, default
    $TICKETFLOW_HOME/build/models/default.model, and third_level.model next
    to it); a missing, corrupt or foreign file is one warning and the
    keyword scorer decides. SIGHUP (RELOAD) loads the model files again.

    Pipe queries beyond the engine's: MODEL (the model file in use, "" for
    none).
*/
#ifndef CLASSIFIER_SERVICE_H
#define CLASSIFIER_SERVICE_H

#include "tf_engine.h"

extern const tf_service_t classifier_service;

//  Where the priority lexicon is read from: lexicon.json next to
//  cfg->taxonomy_file, else $TICKETFLOW_HOME/deploy/taxonomy/lexicon.json.
void classifier_service_lexicon_path (const tf_config_t *cfg, char *path, size_t size);

#endif
