/*  tf_engine — the one service loop. A service is a descriptor (tf_service_t:
    its settings, the sockets it binds and connects, the requests it answers
    and the events it consumes, each with a handler, and its hooks) plus its
    stage functions; the engine does the rest, the same way for all six:

    * sockets: the request ROUTER (also bound on inproc, for HTTP gateways),
      the PULL of consumed events, the PUSH/PUB outputs;
    * the database: connects at start (waiting up to 5 s), then never blocks
      on it: while it is away, requests that need it get `unavailable` at
      once, `service.ping` and the health endpoints keep answering, and the
      connection is made again in the background;
    * draining: what waits on a socket is read up to batch-size messages;
      consecutive requests of one type go to their handler together, events
      of one type go to their consumer as one set of ticket ids;
    * who may: every request's sender (its CURVE key, or the HTTP token an
      in-process gateway passed on) is checked against its role before
      any handler sees the request (tf_policy.h); PUB outputs are XPUBs
      that subscribe agents and leads to their own department only;
    * request ownership: the engine owns every request; a handler answers
      each one exactly once with tf_engine_reply / tf_engine_refuse, and a
      request left unanswered gets `internal` (and a log line);
    * the reconciler hook every reconcile-seconds (at once again when it
      took a full batch), the service's own timer (tick), $TERM, RELOAD
      (SIGHUP), pipe queries for endpoints;
    * ops: /healthz, /readyz and Prometheus /metrics on the service's ops
      port (tf_metrics.h lists the numbers).

    Modelled on malamute's mlm_server_engine.inc: one loop, hooks per
    service.
*/
#ifndef TF_ENGINE_H
#define TF_ENGINE_H

#include "tf_codec.h"
#include "tf_config.h"
#include "tf_db.h"
#include "tf_metrics.h"
#include "tf_net.h"
#include "tf_status.h"
#include <czmq.h>

typedef struct tf_engine_t tf_engine_t;

//  Handles a run of requests of one type (n >= 1); answers each, in the
//  order given: one it skips gets `internal` when a later one is answered.
typedef void (tf_request_fn) (void *state, tf_engine_t *engine, tf_request_t **requests, size_t n);
//  Handles one request; answers it.
typedef void (tf_request_one_fn) (void *state, tf_engine_t *engine, tf_request_t *request);
//  Acts on the tickets of a run of events of one type (ids distinct).
//  Returns how many it moved, or -1 (the reconciler will find them).
typedef int (tf_event_fn) (void *state, tf_engine_t *engine, const int64_t *ids, size_t n);

typedef struct {
    tf_msg_type_t type;         //  a REQUEST that events.def says this service owns
    tf_request_fn *handle;      //  the run at once (a set-based stage), or NULL and:
    bool needs_database;        //  refused with `unavailable` at once while the database is away
    tf_request_one_fn *one;     //  each request of the run in turn
} tf_handler_t;

typedef struct {
    tf_msg_type_t type;         //  a {ticket_id, ticket_no} EVENT
    tf_event_fn *handle;
} tf_consumer_t;

typedef struct {
    const char *query;          //  the pipe query that answers its endpoint ("EVENTS")
    int type;                   //  ZMQ_PUSH or ZMQ_PUB
    const char *setting;        //  its endpoint setting ("intake-events-endpoint")
} tf_output_t;

typedef struct {
    tf_service_id_t id;
    const char *summary;                //  the first lines of --help
    const char *const *settings;        //  the settings it reads, NULL-terminated
    const char *request_setting;        //  the ROUTER's endpoint setting
    const char *ops_port_setting;       //  the ops HTTP port setting
    const char *const *input_settings;  //  endpoints its PULL connects to (NULL-terminated), or NULL
    const tf_output_t *outputs;         //  ends with { NULL }; services name them by index
    const tf_handler_t *handlers;       //  ends with { TF_MSG_NONE }; service.ping is the engine's
    const tf_consumer_t *consumers;     //  ends with { TF_MSG_NONE }, or NULL
    //  Work waiting in the database, for the waiting gauges: the statuses
    //  of its input tickets, or rows of (queue text, count bigint,
    //  oldest_seconds float8) from waiting_sql; neither: none.
    tf_status_set_t input_statuses;
    const char *waiting_sql;

    //  The stage's state, made once the sockets are bound and the
    //  database handle exists (it may not be connected yet). NULL: failed (logged).
    void *(*create) (tf_engine_t *engine);
    void (*destroy) (void **state_p);
    //  Takes tickets left waiting (lost or late events). Returns how many, -1 on error.
    int (*reconcile) (void *state, tf_engine_t *engine);
    //  The service's own timer: called when its time has come; returns the
    //  next time it wants (zclock_mono ms), INT64_MAX for none.
    int64_t (*tick) (void *state, tf_engine_t *engine);
    //  SIGHUP: reload what can be reloaded; the answer goes to the log.
    const char *(*reload) (void *state, tf_engine_t *engine);
    //  Pipe queries beyond the engine's; NULL: unknown.
    const char *(*query) (void *state, tf_engine_t *engine, const char *command);
} tf_service_t;

//  For the hooks
const tf_service_t *tf_engine_service (tf_engine_t *self);
const tf_config_t *tf_engine_config (tf_engine_t *self);
tf_db_t *tf_engine_db (tf_engine_t *self);
tf_metrics_t *tf_engine_metrics (tf_engine_t *self);
//  The request socket's inproc endpoint, for an HTTP gateway in the same process.
const char *tf_engine_inproc (tf_engine_t *self);
//  Calls the tick hook at the next turn of the loop.
void tf_engine_wake (tf_engine_t *self);

//  Sends an event on output `output` (its index in the descriptor), with
//  a topic frame first on a PUB. Counted; a drop is counted and logged at
//  debug level. Returns 0 when sent.
int tf_engine_send (tf_engine_t *self, int output, const char *topic, const tf_msg_t *event);
//  The {ticket_id, ticket_no} events (ticket.classified, ticket.claimed, ...)
int tf_engine_send_ticket (tf_engine_t *self, int output, tf_msg_type_t type, int64_t id,
                           const char *ticket_no);

//  Answers a request (once).
void tf_engine_reply (tf_engine_t *self, tf_request_t *request, const tf_msg_t *reply);
//  Refuses a request: one warning line, the `error` reply.
void tf_engine_refuse (tf_engine_t *self, tf_request_t *request, const tf_error_t *err);
//  `ticket.updated` {ticket_no, status}
void tf_engine_reply_updated (tf_engine_t *self, tf_request_t *request, const char *ticket_no,
                              const char *status);

//  The actor: args is a tf_engine_args_t that outlives it. Pipe commands:
//  $TERM; RELOAD (answers the reload hook's word, "" without one);
//  queries ENDPOINT (requests), OPS-PORT, each output's query, and the
//  service's own; "" for anything else, "ERROR" when the start failed.
typedef struct {
    const tf_service_t *service;
    const tf_config_t *cfg;
} tf_engine_args_t;
void tf_engine_actor (zsock_t *pipe, void *args);

//  A service's main: settings (--help), logging, the actor, signals.
int tf_engine_main (const tf_service_t *service, const char *program, int argc, char **argv);

//  True when the service's handler table covers exactly the requests
//  events.def says it owns (and its consumers are events), else false with
//  the first difference in why.
bool tf_engine_check (const tf_service_t *service, char *why, size_t size);

#endif
