/*  notifier_service — the notifier on the engine (tf_engine.h): takes
    ticket.resolved (from sla) and ticket.feedback_received (from intake)
    on its PULL; sends ticket.confirmed (output EVENTS, to reporting) and
    ticket.reopened (output REOPEN, to the dispatcher); its reconciler
    takes resolved tickets and feedback whose event was lost; its timer is
    the outbox worker (about once a second, at once after new messages).
*/
#ifndef NOTIFIER_SERVICE_H
#define NOTIFIER_SERVICE_H

#include "tf_engine.h"

extern const tf_service_t notifier_service;

#endif
