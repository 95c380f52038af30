/*  sla_server — the sla actor.

    Sockets: a ROUTER at sla-endpoint for ticket.progress, ticket.hold,
    ticket.resume, ticket.resolve and service.ping (each answered with
    ticket.updated or error); a PULL connected to dispatcher-events-endpoint
    for ticket.claimed (timers at once); a PUSH bound at sla-events-endpoint
    for ticket.resolved (to the notifier); a PUB bound at sla-publish-endpoint
    for sla.breached with topic "<department>." ("unassigned." when the
    ticket has no department yet).

    Only the timers due within sla-window-seconds are held in memory,
    reloaded every half window, after every breach pass and after anything
    that moves a deadline; the poll timeout is the time to the next one (at
    most 1 s). The reconciler (at start and every reconcile-seconds) creates
    missing timers, meets response timers of accepted tickets and resumes
    tickets whose expected resume time passed.

    Pipe queries: ENDPOINT (requests), EVENTS (ticket.resolved), PUBLISH
    (sla.breached).
*/
#ifndef SLA_SERVER_H
#define SLA_SERVER_H

#include "tf_config.h"
#include <czmq.h>

//  args: a tf_config_t that outlives the actor
void sla_server_actor (zsock_t *pipe, void *args);

#endif
