/*  classifier_server — the classifier actor: a PULL connected to intake's
    ticket.received endpoint, a PUSH bound for ticket.classified, a ROUTER
    for requests (service.ping, ticket.classify), and the reconciler that
    takes tickets left in `received` longer than stale_seconds.

    Pipe queries: ENDPOINT (request endpoint), EVENTS (ticket.classified
    endpoint).
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
