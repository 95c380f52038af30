#include "intake_server.h"
#include "intake.h"
#include "intake_http.h"
#include "tf_actor.h"
#include "tf_json.h"
#include "tf_log.h"
#include "tf_net.h"
#include "tf_ticket.h"

typedef struct {
    const tf_config_t *cfg;
    zsock_t *router, *events, *feedback;
    tf_db_t *db;
    intake_t *intake;
    intake_http_t *http;
    char endpoint [256], events_endpoint [256], feedback_endpoint [256], http_port [16], inproc [64];
    tf_request_t **batch;       //  waiting ticket.submit requests
    size_t batch_size;
} server_t;

static void
s_server_destroy (server_t **self_p)
{
    server_t *self = *self_p;
    if (!self)
        return;
    intake_http_destroy (&self->http);
    intake_destroy (&self->intake);
    tf_db_destroy (&self->db);
    zsock_destroy (&self->router);
    zsock_destroy (&self->events);
    zsock_destroy (&self->feedback);
    free (self->batch);
    free (self);
    *self_p = NULL;
}

static server_t *
s_server_new (const tf_config_t *cfg)
{
    server_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cfg = cfg;
    self->batch = calloc ((size_t) cfg->batch_size, sizeof (tf_request_t *));
    self->db = tf_db_new (cfg->database_url, "ticketflow-intake", cfg->timezone, 10000);
    if (!self->db || !(self->intake = intake_new (self->db))) {
        tf_error ("cannot use the database at '%s'", cfg->database_url);
        goto failed;
    }
    self->router = tf_net_bind (ZMQ_ROUTER, cfg->intake_endpoint, cfg->max_message_bytes);
    self->events = tf_net_bind (ZMQ_PUSH, cfg->intake_events_endpoint, cfg->max_message_bytes);
    self->feedback = tf_net_bind (ZMQ_PUSH, cfg->intake_feedback_endpoint, cfg->max_message_bytes);
    if (!self->router || !self->events || !self->feedback)
        goto failed;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", zsock_endpoint (self->router));
    snprintf (self->events_endpoint, sizeof self->events_endpoint, "%s", zsock_endpoint (self->events));
    snprintf (self->feedback_endpoint, sizeof self->feedback_endpoint, "%s", zsock_endpoint (self->feedback));
    //  the HTTP gateway talks to the same ROUTER over inproc
    snprintf (self->inproc, sizeof self->inproc, "inproc://intake-%p", (void *) self);
    if (zsock_bind (self->router, "%s", self->inproc) < 0)
        goto failed;
    self->http = intake_http_new (cfg->http_address, cfg->intake_http_port, self->inproc,
                                  cfg->request_timeout_ms);
    if (!self->http)
        goto failed;
    snprintf (self->http_port, sizeof self->http_port, "%d", intake_http_port (self->http));
    tf_info ("listening: requests %s, events %s, http %s:%s", self->endpoint,
             self->events_endpoint, cfg->http_address, self->http_port);
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
s_ticket_get (server_t *self, tf_request_t *req)
{
    const tf_value_t *no = &req->msg.v [TF_F_GET_TICKET_NO];
    tf_error_t err;
    char *text = intake_ticket_json (self->intake, no->str, no->len, &err);
    json_t *json = text? json_loads (text, 0, NULL): NULL;
    free (text);
    if (!json) {
        if (!text && err.code)
            tf_request_reply_error (self->router, req, &err);
        else {
            tf_error_set (&err, TF_ERR_INTERNAL, NULL, "cannot read the ticket");
            tf_request_reply_error (self->router, req, &err);
        }
        return;
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    tf_json_pack (&pk, json);
    json_decref (json);
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_INFO);
    tf_msg_set_raw (&reply, TF_F_INFO_TICKET, sbuf.data, sbuf.size);
    tf_request_reply (self->router, req, &reply);
    tf_msg_clear (&reply);
    msgpack_sbuffer_destroy (&sbuf);
}

static void
s_feedback (server_t *self, tf_request_t *req)
{
    tf_error_t err;
    int64_t ticket_id;
    int64_t feedback_id = intake_feedback (self->intake, &req->msg, &ticket_id, &err);
    if (feedback_id < 0) {
        req->err = err;
        s_refuse (self, req);
        return;
    }
    char ticket_no [40];
    tf_ticket_no_copy (&req->msg, TF_F_FEEDBACK_TICKET_NO, ticket_no, sizeof ticket_no);
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_FEEDBACK_RECORDED);
    tf_msg_set_cstr (&reply, TF_F_FEEDBACK_RECORDED_TICKET_NO, ticket_no);
    tf_msg_set_int (&reply, TF_F_FEEDBACK_RECORDED_FEEDBACK_ID, feedback_id);
    tf_request_reply (self->router, req, &reply);
    tf_msg_clear (&reply);
    tf_ticket_send_event (self->feedback, TF_MSG_FEEDBACK_RECEIVED, ticket_id, ticket_no);
}

//  Commits the waiting submissions, then replies and publishes.
static void
s_flush (server_t *self)
{
    size_t n = self->batch_size;
    if (n == 0)
        return;
    const tf_msg_t **msgs = calloc (n, sizeof *msgs);
    intake_result_t *results = calloc (n, sizeof *results);
    for (size_t i = 0; i < n; i++)
        msgs [i] = &self->batch [i]->msg;
    intake_submit (self->intake, msgs, n, results);
    for (size_t i = 0; i < n; i++) {
        tf_request_t *req = self->batch [i];
        if (!results [i].ok) {
            tf_warn ("submit failed: %s", results [i].err.message);
            tf_request_reply_error (self->router, req, &results [i].err);
        }
        else {
            tf_msg_t reply;
            tf_msg_init (&reply, TF_MSG_ACCEPTED);
            tf_msg_set_cstr (&reply, TF_F_ACCEPTED_TICKET_NO, results [i].ticket_no);
            tf_msg_set_int (&reply, TF_F_ACCEPTED_TICKET_ID, results [i].ticket_id);
            tf_msg_set_bool (&reply, TF_F_ACCEPTED_DUPLICATE, results [i].duplicate);
            tf_request_reply (self->router, req, &reply);
            tf_msg_clear (&reply);
            if (!results [i].duplicate) {
                tf_msg_t event;
                tf_msg_init (&event, TF_MSG_RECEIVED);
                tf_msg_set_int (&event, TF_F_RECEIVED_TICKET_ID, results [i].ticket_id);
                tf_msg_set_cstr (&event, TF_F_RECEIVED_TICKET_NO, results [i].ticket_no);
                tf_net_send_event (self->events, NULL, &event);
                tf_msg_clear (&event);
            }
        }
        tf_request_destroy (&self->batch [i]);
    }
    self->batch_size = 0;
    free (msgs);
    free (results);
}

static void
s_handle_request (server_t *self, tf_request_t *req)
{
    if (!req->ok) {
        s_refuse (self, req);
        tf_request_destroy (&req);
        return;
    }
    switch (req->msg.type) {
        case TF_MSG_SUBMIT:
            self->batch [self->batch_size++] = req;     //  replied to in s_flush
            return;
        case TF_MSG_PING:
            tf_request_reply_pong (self->router, req, "intake");
            break;
        case TF_MSG_GET:
            s_ticket_get (self, req);
            break;
        case TF_MSG_FEEDBACK:
            s_feedback (self, req);
            break;
        default:
            tf_error_set (&req->err, TF_ERR_UNKNOWN_TYPE, NULL, "intake does not handle '%s'",
                          tf_schemas [req->msg.type].name);
            s_refuse (self, req);
            break;
    }
    tf_request_destroy (&req);
}

void
intake_server_actor (zsock_t *pipe, void *args)
{
    server_t *self = s_server_new ((const tf_config_t *) args);
    if (!self) {
        tf_actor_failed (pipe);
        return;
    }
    zsock_signal (pipe, 0);
    const char *names [] = { "ENDPOINT", "EVENTS", "FEEDBACK", "HTTP-PORT", NULL };
    const char *values [] = { self->endpoint, self->events_endpoint, self->feedback_endpoint,
                              self->http_port, NULL };
    zpoller_t *poller = zpoller_new (pipe, self->router, NULL);
    bool terminated = false;
    while (!terminated) {
        void *which = zpoller_wait (poller, 1000);
        if (which == pipe)
            terminated = tf_actor_command (pipe, names, values);
        else
        if (which == self->router) {
            //  drain what is waiting, up to a batch, then commit it at once
            do {
                tf_request_t *req = tf_request_recv (self->router);
                if (!req)
                    break;
                s_handle_request (self, req);
            } while (self->batch_size < (size_t) self->cfg->batch_size
                  && (zsock_events (self->router) & ZMQ_POLLIN));
            s_flush (self);
        }
        else
        if (zpoller_terminated (poller))
            break;
    }
    zpoller_destroy (&poller);
    s_server_destroy (&self);
}
