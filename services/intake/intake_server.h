/*  intake_server — the intake actor: a ROUTER for requests (tcp + inproc
    for the HTTP gateway), a PUSH for ticket.received, the HTTP gateway, and
    the loop that drains waiting requests into one batch per transaction.

    Pipe queries: ENDPOINT (request endpoint), EVENTS (ticket.received
    endpoint), FEEDBACK (ticket.feedback_received endpoint), HTTP-PORT.
*/
#ifndef INTAKE_SERVER_H
#define INTAKE_SERVER_H

#include "tf_config.h"
#include <czmq.h>

//  args: a tf_config_t that outlives the actor
void intake_server_actor (zsock_t *pipe, void *args);

#endif
