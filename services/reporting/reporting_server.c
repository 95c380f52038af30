#include "reporting_server.h"
#include "reporting.h"
#include "reporting_http.h"
#include "tf_actor.h"
#include "tf_log.h"
#include "tf_net.h"
#include "tf_ticket.h"

//  The reconciler takes at most this many batches per tick, so requests
//  are still answered while a large backlog drains.
#define RECONCILE_BATCHES 10

typedef struct {
    const tf_config_t *cfg;
    zsock_t *router, *events;
    tf_db_t *db;
    reporting_t *reporting;
    reporting_http_t *http;
    char endpoint [256], http_port [16], inproc [64];
    int64_t *ids;               //  ticket.confirmed ids of one drained batch
    int64_t next_reconcile;     //  zclock_mono ()
} server_t;

static void
s_server_destroy (server_t **self_p)
{
    server_t *self = *self_p;
    if (!self)
        return;
    reporting_http_destroy (&self->http);
    reporting_destroy (&self->reporting);
    tf_db_destroy (&self->db);
    zsock_destroy (&self->router);
    zsock_destroy (&self->events);
    free (self->ids);
    free (self);
    *self_p = NULL;
}

static server_t *
s_server_new (const tf_config_t *cfg)
{
    server_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cfg = cfg;
    self->ids = calloc ((size_t) cfg->batch_size, sizeof (int64_t));
    assert (self->ids);
    self->db = tf_db_new (cfg->database_url, "ticketflow-reporting", cfg->timezone, 10000);
    if (!self->db || !(self->reporting = reporting_new (self->db))) {
        tf_error ("cannot use the database at '%s'", cfg->database_url);
        goto failed;
    }
    self->router = tf_net_bind (ZMQ_ROUTER, cfg->reporting_endpoint, cfg->max_message_bytes);
    self->events = tf_net_connect (ZMQ_PULL, cfg->notifier_events_endpoint, cfg->max_message_bytes);
    if (!self->router || !self->events)
        goto failed;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", zsock_endpoint (self->router));
    //  the HTTP gateway talks to the same ROUTER over inproc
    snprintf (self->inproc, sizeof self->inproc, "inproc://reporting-%p", (void *) self);
    if (zsock_bind (self->router, "%s", self->inproc) < 0)
        goto failed;
    self->http = reporting_http_new (cfg->http_address, cfg->reporting_http_port, self->inproc,
                                     cfg->request_timeout_ms);
    if (!self->http)
        goto failed;
    snprintf (self->http_port, sizeof self->http_port, "%d", reporting_http_port (self->http));
    tf_info ("listening: requests %s, confirmed tickets from %s, http %s:%s", self->endpoint,
             cfg->notifier_events_endpoint, cfg->http_address, self->http_port);
    return self;
failed:
    s_server_destroy (&self);
    return NULL;
}

static void
s_refuse (server_t *self, tf_request_t *req)
{
    tf_request_refuse (self->router, req, &req->err);
}

static void
s_summary (server_t *self, tf_request_t *req)
{
    char *data;
    size_t size;
    if (reporting_summary_msgpack (self->reporting, &data, &size, &req->err)) {
        s_refuse (self, req);
        return;
    }
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_REPORT);
    tf_msg_set_raw (&reply, TF_F_REPORT_SUMMARY, data, size);
    tf_request_reply (self->router, req, &reply);
    tf_msg_clear (&reply);
    free (data);
}

static void
s_handle_request (server_t *self, tf_request_t *req)
{
    if (!req->ok)
        s_refuse (self, req);
    else
    switch (req->msg.type) {
        case TF_MSG_PING:
            tf_request_reply_pong (self->router, req, "reporting");
            break;
        case TF_MSG_REPORT_SUMMARY:
            s_summary (self, req);
            break;
        default:
            tf_error_set (&req->err, TF_ERR_UNKNOWN_TYPE, NULL, "reporting does not handle '%s'",
                          tf_schemas [req->msg.type].name);
            s_refuse (self, req);
            break;
    }
    tf_request_destroy (&req);
}

//  Drains waiting ticket.confirmed events (up to a batch) and closes them
//  in one transaction. Nothing is published: closed is the end of the flow
//  until archiving.
static void
s_handle_events (server_t *self)
{
    size_t n = 0;
    do {
        tf_msg_type_t type;
        int64_t id;
        if (tf_ticket_recv_event (self->events, &type, &id) == 0) {
            if (type == TF_MSG_CONFIRMED)
                self->ids [n++] = id;
            else
                tf_warn ("event ignored: expected ticket.confirmed, got %s", tf_schemas [type].name);
        }
        if (zsys_interrupted)
            break;
    } while (n < (size_t) self->cfg->batch_size && (zsock_events (self->events) & ZMQ_POLLIN));
    if (n && reporting_close (self->reporting, self->ids, n) < 0)
        tf_warn ("could not close %zu confirmed tickets now; the reconciler will", n);
}

static void
s_reconcile (server_t *self)
{
    size_t limit = (size_t) self->cfg->batch_size;
    for (int i = 0; i < RECONCILE_BATCHES; i++) {
        int closed = reporting_reconcile (self->reporting, self->cfg->stale_seconds, limit);
        if (closed < (int) limit)
            break;
    }
    self->next_reconcile = zclock_mono () + (int64_t) self->cfg->reconcile_seconds * 1000;
}

void
reporting_server_actor (zsock_t *pipe, void *args)
{
    server_t *self = s_server_new ((const tf_config_t *) args);
    if (!self) {
        tf_actor_failed (pipe);
        return;
    }
    zsock_signal (pipe, 0);
    const char *names [] = { "ENDPOINT", "HTTP-PORT", NULL };
    const char *values [] = { self->endpoint, self->http_port, NULL };
    zpoller_t *poller = zpoller_new (pipe, self->router, self->events, NULL);
    s_reconcile (self);
    bool terminated = false;
    while (!terminated) {
        int64_t wait = self->next_reconcile - zclock_mono ();
        void *which = zpoller_wait (poller, wait < 0? 0: wait > 1000? 1000: (int) wait);
        if (which == pipe)
            terminated = tf_actor_command (pipe, names, values);
        else
        if (which == self->router) {
            tf_request_t *req = tf_request_recv (self->router);
            if (req)
                s_handle_request (self, req);
        }
        else
        if (which == self->events)
            s_handle_events (self);
        else
        if (zpoller_terminated (poller))
            break;
        if (zclock_mono () >= self->next_reconcile)
            s_reconcile (self);
    }
    zpoller_destroy (&poller);
    s_server_destroy (&self);
}
