/*  reporting_service — the reporting service on the engine (tf_engine.h):
    takes ticket.confirmed (PULL from the notifier's events endpoint) and
    closes those tickets; its reconciler closes tickets left confirmed
    longer than stale-seconds; answers report.summary over ZeroMQ and
    GET /v1/report/summary over HTTP (reporting-http-port), both through the
    same request socket.

    Pipe queries beyond the engine's: HTTP-PORT.
*/
#ifndef REPORTING_SERVICE_H
#define REPORTING_SERVICE_H

#include "tf_engine.h"

extern const tf_service_t reporting_service;

#endif
