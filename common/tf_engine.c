#include "tf_engine.h"
#include "tf_policy.h"
#include "tf_private.h"
#include "tf_token.h"
#include "tf_actor.h"
#include "tf_log.h"
#include "tf_status.h"
#include "tf_ticket.h"
#include <limits.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <microhttpd.h>
#include <poll.h>
#include <stdatomic.h>
#include <string.h>

//  The loop wakes at least this often, so health answers stay true
#define LOOP_MAX_WAIT_MS    1000
//  /healthz fails when the loop has not gone round for this long
#define LOOP_STUCK_SECONDS  10
//  How long a service waits for its database at start before it serves
//  without one (health answers, `unavailable` to the rest)
#define START_WAIT_MS       5000
//  The waiting gauges are read at most this often
#define WAITING_EVERY_MS    1000

struct tf_engine_t {
    const tf_service_t *service;
    const tf_config_t *cfg;
    const char *name;
    void *state;
    tf_db_t *db;
    tf_metrics_t *metrics;
    zsock_t *pipe, *router, *pull;
    zsock_t **outputs;
    size_t noutputs;
    char **output_endpoints;
    char endpoint [256], inproc [64], ops_port [16];
    struct MHD_Daemon *ops;
    size_t batch;               //  cfg->batch_size
    tf_request_t **run;         //  consecutive requests of one type
    size_t nrun;
    size_t answered;            //  the run's requests before this index are answered
    int64_t *ids;               //  ticket ids of the events of one drain, per consumer
    size_t *nids;
    size_t nconsumers;
    int64_t next_reconcile, next_tick, next_waiting;
    bool terminated;
    int64_t moves_exported [TF_MOVE_COUNT];
    uint64_t reconnects_exported;
    _Atomic int64_t heartbeat;  //  zclock_mono () of the last turn of the loop
    _Atomic bool database_up;
    bool security_started;
    zcert_t *cert;              //  what our connections present
};

const tf_service_t *
tf_engine_service (tf_engine_t *self)
{
    return self->service;
}

const tf_config_t *
tf_engine_config (tf_engine_t *self)
{
    return self->cfg;
}

tf_db_t *
tf_engine_db (tf_engine_t *self)
{
    return self->db;
}

tf_metrics_t *
tf_engine_metrics (tf_engine_t *self)
{
    return self->metrics;
}

const char *
tf_engine_inproc (tf_engine_t *self)
{
    return self->inproc;
}

void
tf_engine_wake (tf_engine_t *self)
{
    self->next_tick = 0;
}

//  --------------------------------------------------------------------------
//  Sending

//  Counts a send of `type` that returned rc: sent, or dropped.
static int
s_sent (tf_engine_t *self, int rc, tf_msg_type_t type)
{
    tf_metrics_add (self->metrics, rc? TF_METRIC_SENDS_DROPPED: TF_METRIC_MESSAGES_OUT, tf_schemas [type].name, 1);
    return rc? -1: 0;
}

int
tf_engine_send (tf_engine_t *self, int output, const char *topic, const tf_msg_t *event)
{
    assert (output >= 0 && (size_t) output < self->noutputs);
    return s_sent (self, tf_net_send_event (self->outputs [output], topic, event), event->type);
}

int
tf_engine_send_ticket (tf_engine_t *self, int output, tf_msg_type_t type, int64_t id, const char *ticket_no)
{
    assert (output >= 0 && (size_t) output < self->noutputs);
    return s_sent (self, tf_net_send_ticket_event (self->outputs [output], type, id, ticket_no), type);
}

static void
s_answered (tf_engine_t *self, tf_request_t *request, const char *reply_type)
{
    tf_metrics_add (self->metrics, TF_METRIC_MESSAGES_OUT, reply_type, 1);
    tf_metrics_observe (self->metrics, TF_METRIC_REQUEST_SECONDS,
                        request->ok? tf_schemas [request->msg.type].name: "invalid",
                        (double) (zclock_mono () - request->received_at) / 1000.0);
}

static void
s_refuse (tf_engine_t *self, tf_request_t *request, const tf_error_t *err)
{
    assert (!request->replied);
    tf_request_refuse (self->router, request, err);
    tf_metrics_add (self->metrics, TF_METRIC_REFUSED, err->code, 1);
    s_answered (self, request, "error");
}

static void
s_unanswered (tf_engine_t *self, tf_request_t *request)
{
    tf_error ("%s left a %s request unanswered: a bug; answering `internal`", self->name,
              tf_schemas [request->msg.type].name);
    tf_error_t err;
    tf_error_set (&err, TF_ERR_INTERNAL, NULL, "the service did not answer this request");
    s_refuse (self, request, &err);
}

//  Replies leave in the order of the run: when a handler answers a request,
//  the ones before it that it skipped get `internal` now, else their answer
//  would follow this one and a client that pipelines on one connection
//  would take each reply for the other's.
static void
s_answer_skipped (tf_engine_t *self, tf_request_t *request)
{
    size_t k = self->answered;
    while (k < self->nrun && self->run [k] != request)
        k++;
    if (k >= self->nrun)
        return;                 //  not in the run: answered around it, in order already
    for (size_t i = self->answered; i < k; i++)
        if (!self->run [i]->replied)
            s_unanswered (self, self->run [i]);
    self->answered = k + 1;
}

void
tf_engine_reply (tf_engine_t *self, tf_request_t *request, const tf_msg_t *reply)
{
    assert (!request->replied);
    s_answer_skipped (self, request);
    if (tf_request_reply (self->router, request, reply) == 0)
        s_answered (self, request, tf_schemas [reply->type].name);
    else {
        //  the reply could not be encoded: `internal` went out instead
        tf_metrics_add (self->metrics, TF_METRIC_REFUSED, TF_ERR_INTERNAL, 1);
        s_answered (self, request, "error");
    }
}

void
tf_engine_refuse (tf_engine_t *self, tf_request_t *request, const tf_error_t *err)
{
    assert (!request->replied);
    s_answer_skipped (self, request);
    s_refuse (self, request, err);
}

void
tf_engine_reply_updated (tf_engine_t *self, tf_request_t *request, const char *ticket_no, const char *status)
{
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_UPDATED);
    tf_msg_set_cstr (&reply, TF_F_UPDATED_TICKET_NO, ticket_no);
    tf_msg_set_cstr (&reply, TF_F_UPDATED_STATUS, status);
    tf_engine_reply (self, request, &reply);
    tf_msg_clear (&reply);
}

//  --------------------------------------------------------------------------
//  The ops HTTP face: /healthz, /readyz, /metrics. Runs in libmicrohttpd's
//  thread: it reads only atomics and the (locked) metrics.

static enum MHD_Result
s_ops_respond (struct MHD_Connection *conn, unsigned status, const char *type, char *text)
{
    struct MHD_Response *response = MHD_create_response_from_buffer (strlen (text), text,
                                                                     MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (text);
        return MHD_NO;
    }
    MHD_add_response_header (response, "Content-Type", type);
    MHD_add_response_header (response, "Cache-Control", "no-store");
    enum MHD_Result rc = MHD_queue_response (conn, status, response);
    MHD_destroy_response (response);
    return rc;
}

static double
s_loop_age (tf_engine_t *self)
{
    return (double) (zclock_mono () - atomic_load (&self->heartbeat)) / 1000.0;
}

static enum MHD_Result
s_ops_handle (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    tf_engine_t *self = cls;
    (void) version;
    (void) upload_data;
    (void) con_cls;
    if (*upload_size) {
        *upload_size = 0;       //  a body is read and dropped
        return MHD_YES;
    }
    if (!streq (method, "GET") && !streq (method, "HEAD"))
        return s_ops_respond (conn, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain", strdup ("GET only\n"));
    const char *text_type = "text/plain; charset=utf-8";
    double age = s_loop_age (self);
    bool alive = age < LOOP_STUCK_SECONDS;
    if (streq (url, "/healthz"))
        return alive? s_ops_respond (conn, MHD_HTTP_OK, text_type, strdup ("ok\n"))
                    : s_ops_respond (conn, MHD_HTTP_SERVICE_UNAVAILABLE, text_type,
                                     zsys_sprintf ("stuck: the loop last went round %.0f s ago\n", age));
    if (streq (url, "/readyz")) {
        bool database = atomic_load (&self->database_up);
        if (alive && database)
            return s_ops_respond (conn, MHD_HTTP_OK, text_type, strdup ("ready\n"));
        return s_ops_respond (conn, MHD_HTTP_SERVICE_UNAVAILABLE, text_type,
                              zsys_sprintf ("not ready:%s%s\n", alive? "": " the loop is stuck",
                                            database? "": " no database connection"));
    }
    if (streq (url, "/metrics")) {
        tf_metrics_set (self->metrics, TF_METRIC_LOOP_AGE, NULL, age);
        char *text = tf_metrics_render (self->metrics);
        //  zsys_sprintf and tf_metrics_render both give malloc'ed text
        return s_ops_respond (conn, MHD_HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", text);
    }
    return s_ops_respond (conn, MHD_HTTP_NOT_FOUND, text_type,
                          strdup ("not found: /healthz, /readyz and /metrics are here\n"));
}

static int
s_ops_start (tf_engine_t *self)
{
    int port = self->service->ops_port_setting? tf_config_number (self->cfg, self->service->ops_port_setting): -1;
    snprintf (self->ops_port, sizeof self->ops_port, "%d", port);
    if (port < 0)
        return 0;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    if (inet_pton (AF_INET, self->cfg->http_address, &addr.sin_addr) != 1) {
        tf_error ("ops: '%s' is not an IPv4 address", self->cfg->http_address);
        return -1;
    }
    self->ops = MHD_start_daemon (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                  s_ops_handle, self,
                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 10,
                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned) 64,
                                  MHD_OPTION_END);
    if (!self->ops) {
        tf_error ("ops: cannot listen on %s:%d", self->cfg->http_address, port);
        return -1;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->ops, MHD_DAEMON_INFO_BIND_PORT);
    snprintf (self->ops_port, sizeof self->ops_port, "%d", info? info->port: port);
    return 0;
}

//  --------------------------------------------------------------------------
//  Making and unmaking

static void
s_engine_destroy (tf_engine_t **self_p)
{
    tf_engine_t *self = *self_p;
    if (!self)
        return;
    if (self->ops)
        MHD_stop_daemon (self->ops);
    if (self->state && self->service->destroy)
        self->service->destroy (&self->state);
    tf_db_destroy (&self->db);
    zsock_destroy (&self->router);
    if (self->security_started)
        tf_security_stop ();
    zsock_destroy (&self->pull);
    for (size_t i = 0; i < self->noutputs; i++) {
        zsock_destroy (&self->outputs [i]);
        free (self->output_endpoints [i]);
    }
    free (self->outputs);
    free (self->output_endpoints);
    free (self->run);
    free (self->ids);
    free (self->nids);
    tf_metrics_destroy (&self->metrics);
    tf_security_use (NULL);
    zcert_destroy (&self->cert);
    free (self);
    *self_p = NULL;
}

static tf_engine_t *
s_engine_new (const tf_service_t *service, const tf_config_t *cfg, zsock_t *pipe)
{
    tf_engine_t *self = calloc (1, sizeof *self);
    assert (self);
    self->service = service;
    self->cfg = cfg;
    self->pipe = pipe;
    self->name = tf_service_names [service->id];
    self->batch = (size_t) cfg->batch_size;
    self->metrics = tf_metrics_new (self->name);
    self->run = calloc (self->batch, sizeof (tf_request_t *));
    for (const tf_consumer_t *c = service->consumers; c && c->type != TF_MSG_NONE; c++)
        self->nconsumers++;
    self->ids = calloc (self->batch * (self->nconsumers + 1), sizeof (int64_t));
    self->nids = calloc (self->nconsumers + 1, sizeof (size_t));
    atomic_store (&self->heartbeat, zclock_mono ());
    char why [256];
    if (!tf_engine_check (service, why, sizeof why)) {
        tf_error ("%s", why);
        goto failed;
    }

    //  the database: wait a little at start, then never again
    char application [64];
    snprintf (application, sizeof application, "ticketflow-%s", self->name);
    //  as the service's own role when ticketflow-migrate gave it a password
    char keys [PATH_MAX], pgpass [PATH_MAX + 16];
    snprintf (pgpass, sizeof pgpass, "%s/pgpass", tf_keys_dir (cfg, keys, sizeof keys));
    char *url = tf_db_service_url (cfg->database_url, self->name, pgpass);
    self->db = tf_db_new (url, application, cfg->timezone, -1);
    free (url);
    int64_t deadline = zclock_mono () + START_WAIT_MS;
    while (!tf_db_ready (self->db) && zclock_mono () < deadline && !zsys_interrupted)
        zclock_sleep (100);
    tf_db_set_nonblocking (self->db, true);
    atomic_store (&self->database_up, tf_db_conn (self->db) != NULL);
    if (!atomic_load (&self->database_up))
        tf_warn ("the database at '%s' is not reachable yet: answering health requests and retrying",
                 cfg->database_url);

    //  who may connect: keys, the allow-list; this thread connects with our
    //  own; the key that keeps personal data private
    if (tf_security_start (cfg) || tf_private_init (keys))
        goto failed;
    self->security_started = true;
    if (tf_security_on ()) {
        if (!(self->cert = tf_security_load_cert (self->name)))
            goto failed;
        tf_security_use (self->cert);
    }

    //  sockets
    self->router = tf_net_bind (ZMQ_ROUTER, tf_config_string (cfg, service->request_setting),
                                cfg->max_message_bytes);
    if (!self->router)
        goto failed;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", zsock_endpoint (self->router));
    snprintf (self->inproc, sizeof self->inproc, "inproc://%s-%p", self->name, (void *) self);
    if (zsock_bind (self->router, "%s", self->inproc) < 0)
        goto failed;
    for (const tf_output_t *o = service->outputs; o && o->query; o++)
        self->noutputs++;
    self->outputs = calloc (self->noutputs + 1, sizeof (zsock_t *));
    self->output_endpoints = calloc (self->noutputs + 1, sizeof (char *));
    for (size_t i = 0; i < self->noutputs; i++) {
        const tf_output_t *o = &service->outputs [i];
        //  a PUB is an XPUB that decides each subscription (s_subscription)
        self->outputs [i] = tf_net_bind (o->type == ZMQ_PUB? ZMQ_XPUB: o->type,
                                         tf_config_string (cfg, o->setting), cfg->max_message_bytes);
        if (!self->outputs [i])
            goto failed;
        self->output_endpoints [i] = strdup (zsock_endpoint (self->outputs [i]));
    }
    if (service->input_settings && *service->input_settings) {
        char inputs [2048] = "";
        for (const char *const *s = service->input_settings; *s; s++) {
            size_t len = strlen (inputs);
            snprintf (inputs + len, sizeof inputs - len, "%s%s", len? ",": "", tf_config_string (cfg, *s));
        }
        self->pull = tf_net_connect (ZMQ_PULL, inputs, cfg->max_message_bytes);
        if (!self->pull)
            goto failed;
    }
    if (s_ops_start (self))
        goto failed;
    self->state = service->create (self);
    if (!self->state)
        goto failed;
    tf_info ("listening: requests %s, ops port %s%s", self->endpoint, self->ops_port,
             self->pull? ", taking events": "");
    return self;
failed:
    s_engine_destroy (&self);
    return NULL;
}

bool
tf_engine_check (const tf_service_t *service, char *why, size_t size)
{
    for (const tf_handler_t *h = service->handlers; h && h->type != TF_MSG_NONE; h++)
        if (!h->handle == !h->one) {
            snprintf (why, size, "%s: the handler of %s needs one of handle and one",
                      tf_service_names [service->id], tf_schemas [h->type].name);
            return false;
        }
    for (int t = 0; t < TF_MSG_COUNT; t++) {
        const tf_schema_def_t *schema = &tf_schemas [t];
        bool handled = false;
        for (const tf_handler_t *h = service->handlers; h && h->type != TF_MSG_NONE; h++)
            handled = handled || h->type == (tf_msg_type_t) t;
        bool owned = schema->kind == TF_KIND_REQUEST && schema->owner == service->id;
        if (owned && !handled) {
            snprintf (why, size, "%s owns %s (events.def) but has no handler for it",
                      tf_service_names [service->id], schema->name);
            return false;
        }
        if (handled && !owned) {
            snprintf (why, size, "%s handles %s, which events.def gives to %s",
                      tf_service_names [service->id], schema->name,
                      schema->kind == TF_KIND_REQUEST? tf_service_names [schema->owner]: "no service");
            return false;
        }
    }
    //  what a consumer takes is a bare {ticket_id, ticket_no} event on a PUSH:
    //  the events with more fields go out on PUB sockets, with a topic
    for (const tf_consumer_t *c = service->consumers; c && c->type != TF_MSG_NONE; c++) {
        int fields = 0;
        for (int f = 0; f < TF_FIELD_COUNT; f++)
            fields += tf_fields [f].schema == c->type;
        if (tf_schemas [c->type].kind != TF_KIND_EVENT || tf_net_ticket_id_field (c->type) == TF_FIELD_COUNT
        ||  fields != 2) {
            snprintf (why, size, "%s consumes %s, which is not a ticket event",
                      tf_service_names [service->id], tf_schemas [c->type].name);
            return false;
        }
    }
    return true;
}

//  --------------------------------------------------------------------------
//  Requests

static const tf_handler_t *
s_handler (tf_engine_t *self, tf_msg_type_t type)
{
    for (const tf_handler_t *h = self->service->handlers; h && h->type != TF_MSG_NONE; h++)
        if (h->type == type)
            return h;
    return NULL;
}

//  Hands the run of same-type requests to its handler, then makes sure
//  each was answered, and frees them.
static void
s_flush_run (tf_engine_t *self)
{
    if (self->nrun == 0)
        return;
    tf_msg_type_t type = self->run [0]->msg.type;
    const char *name = tf_schemas [type].name;
    int64_t start = zclock_mono ();
    self->answered = 0;
    const tf_handler_t *handler = s_handler (self, type);
    if (handler->handle)
        handler->handle (self->state, self, self->run, self->nrun);
    else
        for (size_t i = 0; i < self->nrun; i++)
            handler->one (self->state, self, self->run [i]);
    tf_metrics_observe (self->metrics, TF_METRIC_BATCH_SIZE, name, (double) self->nrun);
    tf_metrics_observe (self->metrics, TF_METRIC_BATCH_SECONDS, name, (double) (zclock_mono () - start) / 1000.0);
    for (size_t i = 0; i < self->nrun; i++) {
        if (!self->run [i]->replied)
            s_unanswered (self, self->run [i]);
        tf_request_destroy (&self->run [i]);
    }
    self->nrun = 0;
}

static void
s_pong (tf_engine_t *self, tf_request_t *request)
{
    tf_msg_t pong;
    tf_msg_init (&pong, TF_MSG_PONG);
    tf_msg_set_cstr (&pong, TF_F_PONG_SERVICE, self->name);
    tf_msg_set_cstr (&pong, TF_F_PONG_VERSION, TF_VERSION);
    tf_msg_set_int (&pong, TF_F_PONG_PID, getpid ());
    tf_engine_reply (self, request, &pong);
    tf_msg_clear (&pong);
}

//  One request: added to the run, or answered now (garbage, ping, not
//  ours, no database) after the run before it, so that every connection
//  gets its replies in the order it asked.
static void
s_take_request (tf_engine_t *self, tf_request_t *request)
{
    tf_metrics_add (self->metrics, TF_METRIC_MESSAGES_IN,
                    request->ok? tf_schemas [request->msg.type].name: "invalid", 1);
    tf_error_t err;
    //  who may ask this, of which ticket: before anything else sees it
    tf_db_t *db = tf_db_conn (self->db)? self->db: NULL;
    if (request->who.role == TF_ROLE_NONE && *request->token
    &&  tf_token_identity (db, request->token, &request->who) < 0) {
        s_flush_run (self);
        tf_error_unavailable (&err);
        tf_engine_refuse (self, request, &err);
        tf_request_destroy (&request);
        return;
    }
    if (request->ok && request->msg.type != TF_MSG_PING
    &&  tf_policy_check (&request->who, &request->msg, db, &err)) {
        s_flush_run (self);
        tf_engine_refuse (self, request, &err);
        tf_request_destroy (&request);
        return;
    }
    const tf_handler_t *handler = request->ok? s_handler (self, request->msg.type): NULL;
    bool batched = handler && (!handler->needs_database || tf_db_conn (self->db));
    if (batched) {
        if (self->nrun && self->run [0]->msg.type != request->msg.type)
            s_flush_run (self);
        self->run [self->nrun++] = request;
        return;
    }
    s_flush_run (self);
    if (!request->ok)
        tf_engine_refuse (self, request, &request->err);
    else
    if (request->msg.type == TF_MSG_PING)
        s_pong (self, request);
    else
    if (!handler) {
        tf_error_set (&err, TF_ERR_UNKNOWN_TYPE, NULL, "%s does not handle '%s'%s%s", self->name,
                      tf_schemas [request->msg.type].name,
                      tf_schemas [request->msg.type].owner > TF_SVC_ANY? "; send it to ": "",
                      tf_schemas [request->msg.type].owner > TF_SVC_ANY
                      ? tf_service_names [tf_schemas [request->msg.type].owner]: "");
        tf_engine_refuse (self, request, &err);
    }
    else {
        tf_error_unavailable (&err);
        tf_engine_refuse (self, request, &err);
    }
    tf_request_destroy (&request);
}

static void
s_drain_requests (tf_engine_t *self)
{
    size_t read = 0;
    do {
        tf_request_t *request = tf_request_recv (self->router);
        if (!request)
            break;
        s_take_request (self, request);
        if (self->nrun == self->batch)
            s_flush_run (self);
    } while (++read < self->batch && (zsock_events (self->router) & ZMQ_POLLIN));
    s_flush_run (self);
}

//  --------------------------------------------------------------------------
//  Events

static void
s_drain_events (tf_engine_t *self)
{
    memset (self->nids, 0, (self->nconsumers + 1) * sizeof (size_t));
    size_t read = 0;
    do {
        tf_msg_type_t type;
        int64_t id;
        tf_error_t err;
        if (tf_net_recv_ticket_event (self->pull, &type, &id, &err)) {
            if (!err.code)
                break;          //  interrupted
            tf_warn ("event dropped: %s: %s", err.code, err.message);
            tf_metrics_add (self->metrics, TF_METRIC_EVENTS_REFUSED, NULL, 1);
            continue;
        }
        tf_metrics_add (self->metrics, TF_METRIC_MESSAGES_IN, tf_schemas [type].name, 1);
        size_t c = 0;
        while (c < self->nconsumers && self->service->consumers [c].type != type)
            c++;
        if (c == self->nconsumers) {
            tf_warn ("event dropped: %s does not take '%s'", self->name, tf_schemas [type].name);
            tf_metrics_add (self->metrics, TF_METRIC_EVENTS_REFUSED, NULL, 1);
            continue;
        }
        int64_t *ids = self->ids + c * self->batch;
        bool seen = false;
        for (size_t i = 0; i < self->nids [c] && !seen; i++)
            seen = ids [i] == id;
        if (!seen)
            ids [self->nids [c]++] = id;
    } while (++read < self->batch && (zsock_events (self->pull) & ZMQ_POLLIN));

    for (size_t c = 0; c < self->nconsumers; c++) {
        size_t n = self->nids [c];
        if (n == 0)
            continue;
        const tf_consumer_t *consumer = &self->service->consumers [c];
        const char *name = tf_schemas [consumer->type].name;
        if (!tf_db_ready (self->db)) {
            tf_debug ("%zu %s event(s) left for the reconciler: no database", n, name);
            continue;
        }
        int64_t start = zclock_mono ();
        int moved = consumer->handle (self->state, self, self->ids + c * self->batch, n);
        tf_metrics_observe (self->metrics, TF_METRIC_BATCH_SIZE, name, (double) n);
        tf_metrics_observe (self->metrics, TF_METRIC_BATCH_SECONDS, name, (double) (zclock_mono () - start) / 1000.0);
        if (moved < 0)
            tf_warn ("%zu ticket(s) of %s not handled now; the reconciler will take them", n, name);
    }
}

//  --------------------------------------------------------------------------
//  Timers and gauges

static void
s_reconcile (tf_engine_t *self)
{
    if (!self->service->reconcile) {
        self->next_reconcile = INT64_MAX;
        return;
    }
    int seconds = self->cfg->reconcile_seconds > 0? self->cfg->reconcile_seconds: 1;
    int64_t later = zclock_mono () + (int64_t) seconds * 1000;
    if (!tf_db_ready (self->db)) {
        self->next_reconcile = later;
        return;
    }
    int taken = self->service->reconcile (self->state, self);
    if (taken > 0) {
        tf_metrics_add (self->metrics, TF_METRIC_RECONCILED, NULL, taken);
        tf_info ("reconciler: took %d ticket(s) whose event was lost or late", taken);
    }
    //  a full batch: more may wait; come back after a look at the sockets
    self->next_reconcile = taken >= (int) self->batch? 0: later;
}

//  Tickets waiting in each input status, and the age of the oldest
//  (each status on its own, so the (status, status_changed_at) index serves it)
static const char *SQL_WAITING =
    "SELECT s.status, w.n, w.age FROM unnest ($1::text[]) s (status), LATERAL"
    " (SELECT count (*) AS n, extract (epoch FROM tf_now () - min (t.status_changed_at)) AS age"
    "  FROM tickets t WHERE t.status = s.status) w";

static void
s_read_waiting (tf_engine_t *self)
{
    self->next_waiting = zclock_mono () + WAITING_EVERY_MS;
    const tf_service_t *service = self->service;
    if ((!service->waiting_sql && !service->input_statuses) || !tf_db_ready (self->db))
        return;
    char statuses [256];
    tf_ticket_status_array (service->input_statuses, statuses, sizeof statuses);
    PGresult *res = service->waiting_sql? tf_db_query (self->db, service->waiting_sql, 0, NULL)
                  : tf_db_query (self->db, SQL_WAITING, 1, (const char *[]) { statuses });
    if (tf_db_ok (self->db, res, "waiting work"))
        for (int r = 0; r < PQntuples (res); r++) {
            const char *queue = PQgetvalue (res, r, 0);
            tf_metrics_set (self->metrics, TF_METRIC_WAITING, queue, atof (PQgetvalue (res, r, 1)));
            tf_metrics_set (self->metrics, TF_METRIC_WAITING_AGE, queue,
                            PQgetisnull (res, r, 2)? 0: atof (PQgetvalue (res, r, 2)));
        }
    PQclear (res);
}

//  The database's numbers, copied into the metrics from the loop's side
static void
s_export_database (tf_engine_t *self)
{
    bool up = tf_db_conn (self->db) != NULL;
    if (up != atomic_load (&self->database_up)) {
        atomic_store (&self->database_up, up);
        tf_metrics_set (self->metrics, TF_METRIC_DB_UP, NULL, up);
        if (up)
            self->next_reconcile = 0;       //  catch up on what waited meanwhile
    }
    uint64_t reconnects = tf_db_reconnects (self->db);
    if (reconnects != self->reconnects_exported) {
        tf_metrics_add (self->metrics, TF_METRIC_DB_RECONNECTS, NULL, (double) (reconnects - self->reconnects_exported));
        self->reconnects_exported = reconnects;
    }
    for (int m = 0; m < TF_MOVE_COUNT; m++) {
        int64_t committed = tf_db_committed (self->db, m);
        if (committed != self->moves_exported [m]) {
            tf_metrics_add (self->metrics, TF_METRIC_MOVES, tf_moves [m].id,
                            (double) (committed - self->moves_exported [m]));
            self->moves_exported [m] = committed;
        }
    }
}

//  --------------------------------------------------------------------------
//  The pipe

static void
s_pipe_command (tf_engine_t *self)
{
    char *command = zstr_recv (self->pipe);
    if (!command || streq (command, "$TERM")) {
        self->terminated = true;
        zstr_free (&command);
        return;
    }
    const char *answer = NULL;
    if (streq (command, "RELOAD"))
        answer = self->service->reload? self->service->reload (self->state, self): "";
    else
    if (streq (command, "ENDPOINT"))
        answer = self->endpoint;
    else
    if (streq (command, "OPS-PORT"))
        answer = self->ops_port;
    for (size_t i = 0; !answer && i < self->noutputs; i++)
        if (streq (command, self->service->outputs [i].query))
            answer = self->output_endpoints [i];
    if (!answer && self->service->query)
        answer = self->service->query (self->state, self, command);
    zstr_send (self->pipe, answer? answer: "");
    zstr_free (&command);
}

//  --------------------------------------------------------------------------
//  Subscriptions: services and operators take any topic, agents and leads
//  their own department's (`<department>.`); any other is not made, with a
//  warning, so those events never reach that subscriber.

static void
s_subscription (zsock_t *xpub)
{
    zframe_t *frame = zframe_recv (xpub);
    if (!frame)
        return;
    size_t size = zframe_size (frame);
    const char *data = (const char *) zframe_data (frame);
    if (size >= 1 && (*data == 0 || *data == 1)) {
        tf_identity_t who;
        tf_security_identity (frame, &who);
        const char *topic = data + 1;
        size_t len = size - 1, dept = strlen (who.department);
        bool own = (who.role == TF_ROLE_AGENT || who.role == TF_ROLE_LEAD) && dept && len > dept
                && memcmp (topic, who.department, dept) == 0 && topic [dept] == '.';
        if (*data == 0 || who.role == TF_ROLE_SERVICE || who.role == TF_ROLE_OPERATOR || own)
            zmq_setsockopt (zsock_resolve (xpub), *data? ZMQ_SUBSCRIBE: ZMQ_UNSUBSCRIBE, topic, len);
        else
            tf_warn ("subscription to '%.*s' refused: %s (%s%s%s) reads only its own department's topic",
                     (int) (len > 64? 64: len), topic, who.name, tf_role_names [who.role],
                     *who.department? " of ": "", who.department);
    }
    zframe_destroy (&frame);
}

//  --------------------------------------------------------------------------
//  The loop

void
tf_engine_actor (zsock_t *pipe, void *args)
{
    const tf_engine_args_t *a = args;
    tf_engine_t *self = s_engine_new (a->service, a->cfg, pipe);
    if (!self) {
        tf_actor_failed (pipe);
        return;
    }
    zsock_signal (pipe, 0);
    tf_metrics_set (self->metrics, TF_METRIC_DB_UP, NULL, atomic_load (&self->database_up));
    self->next_reconcile = self->next_tick = self->next_waiting = 0;
    while (!self->terminated) {
        int64_t now = zclock_mono ();
        atomic_store (&self->heartbeat, now);
        int64_t next = now + LOOP_MAX_WAIT_MS;
        if (self->next_reconcile < next)
            next = self->next_reconcile;
        if (self->service->tick && self->next_tick < next)
            next = self->next_tick;
        zmq_pollitem_t items [4 + self->noutputs];
        items [0] = (zmq_pollitem_t) { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 };
        items [1] = (zmq_pollitem_t) { zsock_resolve (self->router), 0, ZMQ_POLLIN, 0 };
        zsock_t *polled [4 + self->noutputs];
        int nitems = 2;
        for (size_t i = 0; i < self->noutputs; i++)
            if (zsock_type (self->outputs [i]) == ZMQ_XPUB) {
                polled [nitems] = self->outputs [i];
                items [nitems++] = (zmq_pollitem_t) { zsock_resolve (self->outputs [i]), 0, ZMQ_POLLIN, 0 };
            }
        int last_output = nitems;
        int pull_item = -1;
        if (self->pull) {
            pull_item = nitems;
            items [nitems++] = (zmq_pollitem_t) { zsock_resolve (self->pull), 0, ZMQ_POLLIN, 0 };
        }
        short db_events = 0;
        int db_fd = tf_db_socket (self->db, &db_events);
        if (db_fd >= 0) {
            //  a connection under way wakes the loop when it can go on
            short events = (short) ((db_events & POLLIN? ZMQ_POLLIN: 0) | (db_events & POLLOUT? ZMQ_POLLOUT: 0));
            items [nitems++] = (zmq_pollitem_t) { NULL, db_fd, events, 0 };
        }
        else
        if (!tf_db_conn (self->db) && next > now + 100)
            next = now + 100;       //  a reconnect waits for its back-off
        long timeout = next <= now? 0: (long) (next - now);
        if (zmq_poll (items, nitems, timeout) < 0 && zsys_interrupted)
            break;
        if (items [0].revents & ZMQ_POLLIN) {
            s_pipe_command (self);
            if (self->terminated)
                break;
        }
        //  every turn, connected too: it finds a connection the server
        //  closed while we were idle, so health and requests know at once
        tf_db_ready (self->db);
        s_export_database (self);
        if (items [1].revents & ZMQ_POLLIN)
            s_drain_requests (self);
        for (int i = 2; i < last_output; i++)
            if (items [i].revents & ZMQ_POLLIN)
                s_subscription (polled [i]);
        if (pull_item >= 0 && (items [pull_item].revents & ZMQ_POLLIN))
            s_drain_events (self);
        now = zclock_mono ();
        if (now >= self->next_reconcile)
            s_reconcile (self);
        if (self->service->tick && zclock_mono () >= self->next_tick)
            self->next_tick = self->service->tick (self->state, self);
        if (zclock_mono () >= self->next_waiting)
            s_read_waiting (self);
        s_export_database (self);
    }
    s_engine_destroy (&self);
}

int
tf_engine_main (const tf_service_t *service, const char *program, int argc, char **argv)
{
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, service->settings, argc, argv, program, service->summary, NULL, NULL);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init (tf_service_names [service->id], cfg.log_level);
    tf_engine_args_t args = { service, &cfg };
    return tf_actor_main (tf_engine_actor, &args, "ENDPOINT");
}
