/*  intake_service — the receive stage on the engine (tf_engine.h).

    Requests: ticket.submit (a run of them is committed in one
    transaction, then each is answered and ticket.received goes out on the
    EVENTS output), ticket.get, ticket.feedback (then
    ticket.feedback_received on the FEEDBACK output). The HTTP gateway
    (intake_http.c, intake-http-port) sends the same requests to the same
    request socket over inproc.

    Pipe queries beyond the engine's: HTTP-PORT.
*/
#ifndef INTAKE_SERVICE_H
#define INTAKE_SERVICE_H

#include "tf_engine.h"

extern const tf_service_t intake_service;

#endif
