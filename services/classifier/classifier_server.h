/*  classifier_server — the classifier actor: a PULL connected to intake's
    ticket.received endpoint, a PUSH bound for ticket.classified, a PUB
    bound for incident.opened (topic "incident."), a ROUTER for requests
    (service.ping, ticket.classify, classify.text), and the reconciler that
    takes tickets left in `received` longer than stale_seconds.

    At start it loads the trained model (cfg->classifier_model, default
    $TICKETFLOW_HOME/build/models/default.model, and third_level.model next
    to it); a missing, corrupt or foreign file is one warning and the
    keyword scorer decides.

    Pipe queries: ENDPOINT (request endpoint), EVENTS (ticket.classified
    endpoint), PUBLISH (incident.opened endpoint), MODEL (the model file in
    use, "" for none), RELOAD (load the model files again, between two
    messages; answers "ok <n> labels", or "failed: <why>" and keeps the
    model in use). tf_actor_main sends RELOAD on SIGHUP.
*/
#ifndef CLASSIFIER_SERVER_H
#define CLASSIFIER_SERVER_H

#include "tf_config.h"
#include <czmq.h>

//  args: a tf_config_t that outlives the actor
void classifier_server_actor (zsock_t *pipe, void *args);

//  Where the priority lexicon is read from: lexicon.json next to
//  cfg->taxonomy_file, else $TICKETFLOW_HOME/deploy/taxonomy/lexicon.json.
void classifier_server_lexicon_path (const tf_config_t *cfg, char *path, size_t size);

#endif
