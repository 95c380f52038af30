/*  notifier_server — the notifier actor: a PULL connected to sla's
    ticket.resolved and intake's ticket.feedback_received endpoints, a PUSH
    for ticket.confirmed (reporting), a PUSH for ticket.reopened
    (dispatcher), a ROUTER for requests (service.ping), the reconciler
    (every reconcile_seconds) and the outbox worker (about once a second,
    at once after new messages were queued).

    Pipe queries: ENDPOINT (request endpoint), EVENTS (ticket.confirmed
    endpoint), REOPEN (ticket.reopened endpoint).
*/
#ifndef NOTIFIER_SERVER_H
#define NOTIFIER_SERVER_H

#include "tf_config.h"
#include <czmq.h>

//  args: a tf_config_t that outlives the actor
void notifier_server_actor (zsock_t *pipe, void *args);

#endif
