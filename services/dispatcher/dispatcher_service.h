/*  dispatcher_service — the dispatcher on the engine (tf_engine.h):
    consumes ticket.classified (from the classifier) and ticket.reopened
    (from the notifier); outputs PUBLISH, a PUB for ticket.assigned (topic
    "<department>."), and EVENTS, a PUSH for ticket.claimed (to sla);
    answers queue.list, ticket.accept and ticket.transfer; its reconciler
    takes tickets left in classified or reopened.
*/
#ifndef DISPATCHER_SERVICE_H
#define DISPATCHER_SERVICE_H

#include "tf_engine.h"

extern const tf_service_t dispatcher_service;

#endif
