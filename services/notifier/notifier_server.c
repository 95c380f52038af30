#include "notifier_server.h"
#include "notifier.h"
#include "tf_actor.h"
#include "tf_log.h"
#include "tf_net.h"
#include "tf_ticket.h"

//  The outbox worker: at most this many messages per round, and each sink
//  stops for the round once it has spent the budget (a webhook that times
//  out costs at most one 5 s timeout beyond it).
#define DELIVERY_BATCH      50
#define DELIVERY_BUDGET_MS  1000
#define DELIVERY_IDLE_MS    1000
//  The reconciler takes at most this many batches per round.
#define RECONCILE_ROUNDS    10

typedef struct {
    const tf_config_t *cfg;
    zsock_t *router, *pull, *events, *reopen;
    tf_db_t *db;
    notifier_t *notifier;
    char endpoint [256], events_endpoint [256], reopen_endpoint [256];
    int64_t *resolved, *feedback;   //  ticket ids of the events of one drain
    size_t nresolved, nfeedback;
    notifier_feedback_t *results;
    size_t results_cap;
    int64_t next_reconcile, next_delivery;  //  zclock_mono ()
} server_t;

static void
s_server_destroy (server_t **self_p)
{
    server_t *self = *self_p;
    if (!self)
        return;
    notifier_destroy (&self->notifier);
    tf_db_destroy (&self->db);
    zsock_destroy (&self->router);
    zsock_destroy (&self->pull);
    zsock_destroy (&self->events);
    zsock_destroy (&self->reopen);
    free (self->resolved);
    free (self->feedback);
    free (self->results);
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
    self->resolved = calloc (batch, sizeof (int64_t));
    self->feedback = calloc (batch, sizeof (int64_t));
    self->results_cap = batch * 2;
    self->results = calloc (self->results_cap, sizeof (notifier_feedback_t));
    assert (self->resolved && self->feedback && self->results);
    self->db = tf_db_new (cfg->database_url, "ticketflow-notifier", cfg->timezone, 10000);
    if (!self->db
    ||  !(self->notifier = notifier_new (self->db, cfg->notifier_max_attempts, cfg->notifier_retry_seconds))) {
        tf_error ("cannot use the database at '%s'", cfg->database_url);
        goto failed;
    }
    if (notifier_add_config_sinks (self->notifier, cfg))
        goto failed;
    self->router = tf_net_bind (ZMQ_ROUTER, cfg->notifier_endpoint, cfg->max_message_bytes);
    self->events = tf_net_bind (ZMQ_PUSH, cfg->notifier_events_endpoint, cfg->max_message_bytes);
    self->reopen = tf_net_bind (ZMQ_PUSH, cfg->notifier_reopen_endpoint, cfg->max_message_bytes);
    char upstream [600];
    snprintf (upstream, sizeof upstream, "%s,%s", cfg->sla_events_endpoint, cfg->intake_feedback_endpoint);
    self->pull = tf_net_connect (ZMQ_PULL, upstream, cfg->max_message_bytes);
    if (!self->router || !self->events || !self->reopen || !self->pull)
        goto failed;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", zsock_endpoint (self->router));
    snprintf (self->events_endpoint, sizeof self->events_endpoint, "%s", zsock_endpoint (self->events));
    snprintf (self->reopen_endpoint, sizeof self->reopen_endpoint, "%s", zsock_endpoint (self->reopen));
    tf_info ("listening: requests %s, confirmed %s, reopened %s; taking resolved and feedback from %s; "
             "%zu sink(s)%s", self->endpoint, self->events_endpoint, self->reopen_endpoint, upstream,
             notifier_sink_count (self->notifier),
             cfg->notifier_webhook_url && *cfg->notifier_webhook_url? " (file, webhook)": " (file)");
    return self;
failed:
    s_server_destroy (&self);
    return NULL;
}

static void
s_handle_request (server_t *self, tf_request_t *req)
{
    if (!req->ok) {
        tf_request_refuse (self->router, req, &req->err);
    }
    else
    if (req->msg.type == TF_MSG_PING)
        tf_request_reply_pong (self->router, req, "notifier");
    else {
        tf_error_t err;
        tf_error_set (&err, TF_ERR_UNKNOWN_TYPE, NULL, "notifier does not handle '%s'",
                      tf_schemas [req->msg.type].name);
        tf_request_refuse (self->router, req, &err);
    }
}

//  Sends what committed feedback decided: ticket.confirmed to reporting,
//  ticket.reopened to the dispatcher.
static void
s_send_outcomes (server_t *self, int n)
{
    for (int i = 0; i < n; i++) {
        notifier_feedback_t *r = &self->results [i];
        if (r->outcome == NOTIFIER_CONFIRMED)
            tf_ticket_send_event (self->events, TF_MSG_CONFIRMED, r->ticket_id, r->ticket_no);
        else
        if (r->outcome == NOTIFIER_REOPENED)
            tf_ticket_send_event (self->reopen, TF_MSG_REOPENED, r->ticket_id, r->ticket_no);
    }
}

//  Reads one event into the batch.
static void
s_recv_event (server_t *self)
{
    tf_msg_type_t type;
    int64_t id;
    if (tf_ticket_recv_event (self->pull, &type, &id))
        return;
    if (type == TF_MSG_RESOLVED)
        self->resolved [self->nresolved++] = id;
    else
    if (type == TF_MSG_FEEDBACK_RECEIVED)
        self->feedback [self->nfeedback++] = id;
    else
        tf_warn ("event refused: notifier does not take '%s'", tf_schemas [type].name);
}

static void
s_flush_events (server_t *self)
{
    if (self->nresolved) {
        int rc = notifier_request_confirmation (self->notifier, self->resolved, self->nresolved);
        if (rc < 0)
            tf_warn ("%zu resolved ticket(s) not handled now; the reconciler retries", self->nresolved);
        else
        if (rc > 0)
            self->next_delivery = 0;        //  deliver them at once
        self->nresolved = 0;
    }
    if (self->nfeedback) {
        int n = notifier_process_feedback (self->notifier, self->feedback, self->nfeedback,
                                           self->results, self->results_cap);
        if (n < 0)
            tf_warn ("feedback of %zu ticket(s) not handled now; the reconciler retries", self->nfeedback);
        else
            s_send_outcomes (self, n);
        self->nfeedback = 0;
    }
}

static void
s_reconcile (server_t *self)
{
    const tf_config_t *cfg = self->cfg;
    for (int round = 0; round < RECONCILE_ROUNDS; round++) {
        int rc = notifier_reconcile_resolved (self->notifier, cfg->stale_seconds, (size_t) cfg->batch_size);
        if (rc > 0)
            self->next_delivery = 0;
        if (rc < cfg->batch_size)
            break;
    }
    for (int round = 0; round < RECONCILE_ROUNDS; round++) {
        int n = notifier_reconcile_feedback (self->notifier, cfg->stale_seconds, self->results,
                                             self->results_cap);
        if (n > 0)
            s_send_outcomes (self, n);
        if (n < (int) self->results_cap)
            break;
    }
}

static void
s_deliver (server_t *self)
{
    notifier_delivery_t stats;
    int n = notifier_deliver (self->notifier, DELIVERY_BATCH, DELIVERY_BUDGET_MS, &stats);
    //  a full batch: more may be due, go again after a look at the sockets
    self->next_delivery = zclock_mono () + (n == DELIVERY_BATCH && stats.deferred == 0? 0: DELIVERY_IDLE_MS);
    if (n > 0)
        tf_debug ("outbox: %d claimed, %d sent, %d to retry, %d dead, %d deferred",
                  stats.claimed, stats.sent, stats.retried, stats.dead, stats.deferred);
}

void
notifier_server_actor (zsock_t *pipe, void *args)
{
    server_t *self = s_server_new ((const tf_config_t *) args);
    if (!self) {
        tf_actor_failed (pipe);
        return;
    }
    zsock_signal (pipe, 0);
    const char *names [] = { "ENDPOINT", "EVENTS", "REOPEN", NULL };
    const char *values [] = { self->endpoint, self->events_endpoint, self->reopen_endpoint, NULL };
    zpoller_t *poller = zpoller_new (pipe, self->router, self->pull, NULL);
    const tf_config_t *cfg = self->cfg;
    bool terminated = false;
    //  the reconciler and the outbox worker run at start, then on their clocks
    self->next_reconcile = self->next_delivery = 0;
    while (!terminated) {
        int64_t now = zclock_mono ();
        int64_t next = self->next_reconcile < self->next_delivery? self->next_reconcile: self->next_delivery;
        int timeout = next <= now? 0: next - now > 1000? 1000: (int) (next - now);
        void *which = zpoller_wait (poller, timeout);
        if (which == pipe)
            terminated = tf_actor_command (pipe, names, values);
        else
        if (which == self->router) {
            for (int i = 0; i < cfg->batch_size && (zsock_events (self->router) & ZMQ_POLLIN); i++) {
                tf_request_t *req = tf_request_recv (self->router);
                if (!req)
                    break;
                s_handle_request (self, req);
                tf_request_destroy (&req);
            }
        }
        else
        if (which == self->pull) {
            //  drain what is waiting, up to a batch, then act on it at once
            do
                s_recv_event (self);
            while (self->nresolved < (size_t) cfg->batch_size
                && self->nfeedback < (size_t) cfg->batch_size
                && (zsock_events (self->pull) & ZMQ_POLLIN));
            s_flush_events (self);
        }
        else
        if (zpoller_terminated (poller))
            break;
        if (terminated)
            break;
        now = zclock_mono ();
        if (now >= self->next_reconcile) {
            s_reconcile (self);
            self->next_reconcile = zclock_mono () + (int64_t) cfg->reconcile_seconds * 1000;
        }
        if (zclock_mono () >= self->next_delivery)
            s_deliver (self);
    }
    zpoller_destroy (&poller);
    s_server_destroy (&self);
}
