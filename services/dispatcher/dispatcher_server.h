/*  dispatcher_server — the dispatcher actor: a PULL connected to the
    classifier's ticket.classified and notifier's ticket.reopened PUSH
    endpoints, a PUB for ticket.assigned (topic "<department>."), a PUSH for
    ticket.claimed (for sla), a ROUTER for requests (service.ping,
    queue.list, ticket.accept, ticket.transfer), and the reconciler that
    takes tickets left in classified or reopened.

    Pipe queries: ENDPOINT (request endpoint), PUBLISH (ticket.assigned
    endpoint), EVENTS (ticket.claimed endpoint).
*/
#ifndef DISPATCHER_SERVER_H
#define DISPATCHER_SERVER_H

#include "tf_config.h"
#include <czmq.h>

//  args: a tf_config_t that outlives the actor
void dispatcher_server_actor (zsock_t *pipe, void *args);

#endif
