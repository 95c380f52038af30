/*  sla_server — the sla actor: a ROUTER for the handling requests, a PULL
    for ticket.claimed, a PUSH for ticket.resolved, a PUB for sla.breached.
    Only the timers due within sla-window-seconds are held in memory; the
    poll timeout is the time to the next one (at most 1 s).

    Pipe queries: ENDPOINT, EVENTS (ticket.resolved), PUBLISH (sla.breached).
*/
#ifndef SLA_SERVER_H
#define SLA_SERVER_H

#include "tf_config.h"
#include <czmq.h>

//  args: a tf_config_t that outlives the actor
void sla_server_actor (zsock_t *pipe, void *args);

#endif
