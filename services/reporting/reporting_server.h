/*  reporting_server — the reporting actor: a PULL that connects to the
    notifier's ticket.confirmed endpoint (cfg->notifier_events_endpoint), a
    ROUTER for requests (cfg->reporting_endpoint, plus inproc for the HTTP
    gateway: service.ping, report.summary), the HTTP gateway on
    cfg->http_address : cfg->reporting_http_port, and a reconciler that
    closes tickets confirmed longer than cfg->stale_seconds, at start and
    every cfg->reconcile_seconds.

    Pipe queries: ENDPOINT (request endpoint), HTTP-PORT.
*/
#ifndef REPORTING_SERVER_H
#define REPORTING_SERVER_H

#include "tf_config.h"
#include <czmq.h>

//  args: a tf_config_t that outlives the actor
void reporting_server_actor (zsock_t *pipe, void *args);

#endif
