/*  sla_service — the sla service on the engine (tf_engine.h).

    Requests: ticket.progress, ticket.hold, ticket.resume, ticket.resolve
    (each answered with ticket.updated or error). Consumes ticket.claimed
    (timers at once). Outputs: EVENTS, a PUSH for ticket.resolved (to the
    notifier); PUBLISH, a PUB for sla.breached with topic "<department>."
    ("unassigned." when the ticket has no department yet).

    Its timer: only the deadlines due within sla-window-seconds are held in
    memory, reloaded every half window, after every breach pass and after
    anything that moves a deadline; the loop sleeps until the next one. The
    reconciler creates missing timers, meets response timers of accepted
    tickets and resumes tickets whose expected resume time passed.
*/
#ifndef SLA_SERVICE_H
#define SLA_SERVICE_H

#include "tf_engine.h"

extern const tf_service_t sla_service;

#endif
