#include "dispatcher_server.h"
#include "dispatcher.h"
#include "tf_actor.h"
#include "tf_log.h"
#include "tf_net.h"
#include "tf_ticket.h"

typedef struct {
    const tf_config_t *cfg;
    zsock_t *router, *pull, *pub, *events;
    tf_db_t *db;
    dispatcher_t *dispatcher;
    char endpoint [256], publish_endpoint [256], events_endpoint [256];
    int64_t *classified, *reopened;     //  ids of the events of one batch
    size_t nclassified, nreopened;
    dispatcher_assignment_t *assigned;  //  room for one batch
    int64_t next_reconcile;             //  zclock_mono
} server_t;

static void
s_server_destroy (server_t **self_p)
{
    server_t *self = *self_p;
    if (!self)
        return;
    dispatcher_destroy (&self->dispatcher);
    tf_db_destroy (&self->db);
    zsock_destroy (&self->router);
    zsock_destroy (&self->pull);
    zsock_destroy (&self->pub);
    zsock_destroy (&self->events);
    free (self->classified);
    free (self->reopened);
    free (self->assigned);
    free (self);
    *self_p = NULL;
}

static server_t *
s_server_new (const tf_config_t *cfg)
{
    server_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cfg = cfg;
    size_t batch = (size_t) cfg->batch_size;
    self->classified = calloc (batch, sizeof (int64_t));
    self->reopened = calloc (batch, sizeof (int64_t));
    self->assigned = calloc (batch, sizeof (dispatcher_assignment_t));
    assert (self->classified && self->reopened && self->assigned);
    self->db = tf_db_new (cfg->database_url, "ticketflow-dispatcher", cfg->timezone, 10000);
    if (!self->db || !(self->dispatcher = dispatcher_new (self->db))) {
        tf_error ("cannot use the database at '%s'", cfg->database_url);
        goto failed;
    }
    self->router = tf_net_bind (ZMQ_ROUTER, cfg->dispatcher_endpoint, cfg->max_message_bytes);
    self->pub = tf_net_bind (ZMQ_PUB, cfg->dispatcher_publish_endpoint, cfg->max_message_bytes);
    self->events = tf_net_bind (ZMQ_PUSH, cfg->dispatcher_events_endpoint, cfg->max_message_bytes);
    if (!self->router || !self->pub || !self->events)
        goto failed;
    //  one PULL for both inputs: classifier's classified, notifier's reopened
    char *inputs = zsys_sprintf ("%s,%s", cfg->classifier_events_endpoint, cfg->notifier_reopen_endpoint);
    self->pull = tf_net_connect (ZMQ_PULL, inputs, cfg->max_message_bytes);
    zstr_free (&inputs);
    if (!self->pull)
        goto failed;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", zsock_endpoint (self->router));
    snprintf (self->publish_endpoint, sizeof self->publish_endpoint, "%s", zsock_endpoint (self->pub));
    snprintf (self->events_endpoint, sizeof self->events_endpoint, "%s", zsock_endpoint (self->events));
    tf_info ("listening: requests %s, ticket.assigned %s, ticket.claimed %s; taking events from %s and %s",
             self->endpoint, self->publish_endpoint, self->events_endpoint,
             cfg->classifier_events_endpoint, cfg->notifier_reopen_endpoint);
    self->next_reconcile = zclock_mono ();      //  at start, then every reconcile_seconds
    return self;
failed:
    s_server_destroy (&self);
    return NULL;
}

//  Publishes the committed assignments and frees them.
static void
s_publish (server_t *self, int count)
{
    for (int i = 0; i < count; i++) {
        tf_msg_t event;
        char topic [48];
        dispatcher_assignment_event (&self->assigned [i], &event, topic, sizeof topic);
        tf_net_send_event (self->pub, topic, &event);
        tf_msg_clear (&event);
        dispatcher_assignment_clear (&self->assigned [i]);
    }
}

//  Drains up to a batch of waiting events, then assigns them in one
//  transaction per input status.
static void
s_handle_events (server_t *self)
{
    size_t batch = (size_t) self->cfg->batch_size;
    self->nclassified = self->nreopened = 0;
    do {
        tf_msg_type_t type;
        int64_t id;
        if (tf_ticket_recv_event (self->pull, &type, &id)) {
            if (type == TF_MSG_NONE && zsys_interrupted)
                break;
        }
        else
        if (type == TF_MSG_CLASSIFIED)
            self->classified [self->nclassified++] = id;
        else
        if (type == TF_MSG_REOPENED)
            self->reopened [self->nreopened++] = id;
        else
            tf_warn ("event refused: dispatcher does not take '%s'", tf_schemas [type].name);
    } while (self->nclassified + self->nreopened < batch
          && (zsock_events (self->pull) & ZMQ_POLLIN));

    if (self->nclassified) {
        int count = dispatcher_assign (self->dispatcher, "classified", self->classified,
                                       self->nclassified, self->assigned);
        if (count < 0)
            tf_warn ("%zu classified ticket(s) not assigned now (database); the reconciler will retry",
                     self->nclassified);
        s_publish (self, count);
    }
    if (self->nreopened) {
        int count = dispatcher_assign (self->dispatcher, "reopened", self->reopened,
                                       self->nreopened, self->assigned);
        if (count < 0)
            tf_warn ("%zu reopened ticket(s) not assigned now (database); the reconciler will retry",
                     self->nreopened);
        s_publish (self, count);
    }
}

static void
s_reconcile (server_t *self)
{
    size_t batch = (size_t) self->cfg->batch_size;
    int count = dispatcher_reconcile (self->dispatcher, self->cfg->stale_seconds, batch, self->assigned);
    s_publish (self, count);
    //  a full batch: more may wait, come back at once (after serving the sockets)
    self->next_reconcile = zclock_mono ()
                         + ((size_t) count == batch? 0: self->cfg->reconcile_seconds * 1000LL);
}

static void
s_refuse (server_t *self, tf_request_t *req, const tf_error_t *err)
{
    tf_request_refuse (self->router, req, err);
}

static void
s_updated (server_t *self, tf_request_t *req, const char *ticket_no, const char *status)
{
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_UPDATED);
    tf_msg_set_cstr (&reply, TF_F_UPDATED_TICKET_NO, ticket_no);
    tf_msg_set_cstr (&reply, TF_F_UPDATED_STATUS, status);
    tf_request_reply (self->router, req, &reply);
    tf_msg_clear (&reply);
}

static void
s_handle_request (server_t *self, tf_request_t *req)
{
    if (!req->ok) {
        s_refuse (self, req, &req->err);
        return;
    }
    tf_error_t err;
    char ticket_no [40];
    switch (req->msg.type) {
        case TF_MSG_PING:
            tf_request_reply_pong (self->router, req, "dispatcher");
            break;
        case TF_MSG_QUEUE_LIST: {
            tf_msg_t reply;
            if (dispatcher_queue (self->dispatcher, &req->msg, &reply, &err))
                s_refuse (self, req, &err);
            else
                tf_request_reply (self->router, req, &reply);
            tf_msg_clear (&reply);
            break;
        }
        case TF_MSG_ACCEPT: {
            int64_t id;
            tf_ticket_no_copy (&req->msg, TF_F_ACCEPT_TICKET_NO, ticket_no, sizeof ticket_no);
            if (dispatcher_accept (self->dispatcher, &req->msg, &id, &err))
                s_refuse (self, req, &err);
            else {
                s_updated (self, req, ticket_no, "accepted");
                tf_ticket_send_event (self->events, TF_MSG_CLAIMED, id, ticket_no);
            }
            break;
        }
        case TF_MSG_TRANSFER: {
            tf_ticket_no_copy (&req->msg, TF_F_TRANSFER_TICKET_NO, ticket_no, sizeof ticket_no);
            if (dispatcher_transfer (self->dispatcher, &req->msg, &self->assigned [0], &err))
                s_refuse (self, req, &err);
            else {
                s_updated (self, req, ticket_no, "assigned");
                s_publish (self, 1);
            }
            break;
        }
        default:
            tf_error_set (&err, TF_ERR_UNKNOWN_TYPE, NULL, "dispatcher does not handle '%s'",
                          tf_schemas [req->msg.type].name);
            s_refuse (self, req, &err);
            break;
    }
}

void
dispatcher_server_actor (zsock_t *pipe, void *args)
{
    server_t *self = s_server_new ((const tf_config_t *) args);
    if (!self) {
        tf_actor_failed (pipe);
        return;
    }
    zsock_signal (pipe, 0);
    const char *names [] = { "ENDPOINT", "PUBLISH", "EVENTS", NULL };
    const char *values [] = { self->endpoint, self->publish_endpoint, self->events_endpoint, NULL };
    zpoller_t *poller = zpoller_new (pipe, self->router, self->pull, NULL);
    bool terminated = false;
    while (!terminated) {
        int64_t wait = self->next_reconcile - zclock_mono ();
        void *which = zpoller_wait (poller, wait < 0? 0: wait > 1000? 1000: (int) wait);
        if (which == pipe)
            terminated = tf_actor_command (pipe, names, values);
        else
        if (which == self->router) {
            //  requests one at a time (each its own transaction), a batch at most
            int served = 0;
            do {
                tf_request_t *req = tf_request_recv (self->router);
                if (!req)
                    break;
                s_handle_request (self, req);
                tf_request_destroy (&req);
            } while (++served < self->cfg->batch_size
                  && (zsock_events (self->router) & ZMQ_POLLIN));
        }
        else
        if (which == self->pull)
            s_handle_events (self);
        else
        if (zpoller_terminated (poller))
            break;
        if (!terminated && zclock_mono () >= self->next_reconcile)
            s_reconcile (self);
    }
    zpoller_destroy (&poller);
    s_server_destroy (&self);
}
