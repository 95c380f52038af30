#include "sla_server.h"
#include "sla.h"
#include "tf_actor.h"
#include "tf_log.h"
#include "tf_net.h"
#include "tf_ticket.h"

#define WINDOW_CAP 1024
#define BREACH_BATCH 256

typedef struct {
    const tf_config_t *cfg;
    zsock_t *router, *pull, *events, *pub;
    tf_db_t *db;
    sla_t *sla;
    char endpoint [256], events_endpoint [256], publish_endpoint [256];
    int64_t due [WINDOW_CAP];   //  the next window of due timers, soonest first
    int ndue;
    int64_t window_loaded_at, reconciled_at;
    int64_t *ids;
} server_t;

static void
s_server_destroy (server_t **self_p)
{
    server_t *self = *self_p;
    if (!self)
        return;
    sla_destroy (&self->sla);
    tf_db_destroy (&self->db);
    zsock_destroy (&self->router);
    zsock_destroy (&self->pull);
    zsock_destroy (&self->events);
    zsock_destroy (&self->pub);
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
    self->db = tf_db_new (cfg->database_url, "ticketflow-sla", cfg->timezone, 10000);
    if (!self->db || !(self->sla = sla_new (self->db))) {
        tf_error ("cannot use the database at '%s'", cfg->database_url);
        goto failed;
    }
    self->router = tf_net_bind (ZMQ_ROUTER, cfg->sla_endpoint, cfg->max_message_bytes);
    self->events = tf_net_bind (ZMQ_PUSH, cfg->sla_events_endpoint, cfg->max_message_bytes);
    self->pub = tf_net_bind (ZMQ_PUB, cfg->sla_publish_endpoint, cfg->max_message_bytes);
    self->pull = tf_net_connect (ZMQ_PULL, cfg->dispatcher_events_endpoint, cfg->max_message_bytes);
    if (!self->router || !self->events || !self->pub || !self->pull)
        goto failed;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", zsock_endpoint (self->router));
    snprintf (self->events_endpoint, sizeof self->events_endpoint, "%s", zsock_endpoint (self->events));
    snprintf (self->publish_endpoint, sizeof self->publish_endpoint, "%s", zsock_endpoint (self->pub));
    tf_info ("listening: requests %s, resolved %s, breaches %s; claimed from %s", self->endpoint,
             self->events_endpoint, self->publish_endpoint, cfg->dispatcher_events_endpoint);
    return self;
failed:
    s_server_destroy (&self);
    return NULL;
}

static void
s_load_window (server_t *self)
{
    int n = sla_window (self->sla, self->cfg->sla_window_seconds, self->due, WINDOW_CAP);
    self->ndue = n < 0? 0: n;
    self->window_loaded_at = zclock_mono ();
}

static void
s_breach (server_t *self)
{
    sla_breach_t breaches [BREACH_BATCH];
    int n;
    do {
        n = sla_breach_due (self->sla, breaches, BREACH_BATCH);
        for (int i = 0; i < n; i++) {
            sla_breach_t *b = &breaches [i];
            tf_warn ("deadline passed: %s %s (due %s, %s)", b->ticket_no, b->kind, b->due_at,
                     *b->department? b->department: "no department");
            tf_msg_t event;
            tf_msg_init (&event, TF_MSG_BREACHED);
            tf_msg_set_int (&event, TF_F_BREACHED_TICKET_ID, b->ticket_id);
            tf_msg_set_cstr (&event, TF_F_BREACHED_TICKET_NO, b->ticket_no);
            tf_msg_set_cstr (&event, TF_F_BREACHED_KIND, b->kind);
            tf_msg_set_cstr (&event, TF_F_BREACHED_DUE_AT, b->due_at);
            if (*b->department)
                tf_msg_set_cstr (&event, TF_F_BREACHED_DEPARTMENT, b->department);
            if (*b->priority)
                tf_msg_set_cstr (&event, TF_F_BREACHED_PRIORITY, b->priority);
            char topic [48];
            snprintf (topic, sizeof topic, "%s.", *b->department? b->department: "unassigned");
            tf_net_send_event (self->pub, topic, &event);
            tf_msg_clear (&event);
        }
    } while (n == BREACH_BATCH);
    s_load_window (self);
}

static void
s_reconcile (server_t *self)
{
    while (sla_track_missing (self->sla, (size_t) self->cfg->batch_size) == self->cfg->batch_size)
        ;
    int resumed = sla_expire_holds (self->sla);
    if (resumed > 0)
        tf_info ("%d tickets resumed: their expected resume time passed", resumed);
    self->reconciled_at = zclock_mono ();
    s_breach (self);
}

static void
s_claimed (server_t *self)
{
    size_t n = 0;
    do {
        zmsg_t *frames;
        tf_msg_t event;
        tf_error_t err;
        if (tf_net_recv_event (self->pull, false, &frames, &event, &err) == 0 && event.type == TF_MSG_CLAIMED)
            self->ids [n++] = tf_msg_int (&event, TF_F_CLAIMED_TICKET_ID);
        else
            tf_warn ("event ignored: %s", event.type == TF_MSG_NONE || !err.code? "not ticket.claimed": err.message);
        zmsg_destroy (&frames);
    } while (n < (size_t) self->cfg->batch_size && (zsock_events (self->pull) & ZMQ_POLLIN));
    if (sla_track (self->sla, self->ids, n) == 0)
        s_load_window (self);
}

static void
s_request (server_t *self, tf_request_t *req)
{
    char status [16] = "";
    tf_error_t err = { 0 };
    int rc = -1;
    int64_t ticket_id = 0;
    tf_field_id_t no_field = TF_FIELD_COUNT;
    if (!req->ok) {
        err = req->err;
    }
    else
    switch (req->msg.type) {
        case TF_MSG_PING:
            tf_request_reply_pong (self->router, req, "sla");
            return;
        case TF_MSG_PROGRESS:
            rc = sla_progress (self->sla, &req->msg, status, &err);
            no_field = TF_F_PROGRESS_TICKET_NO;
            break;
        case TF_MSG_HOLD:
            rc = sla_hold (self->sla, &req->msg, status, &err);
            no_field = TF_F_HOLD_TICKET_NO;
            break;
        case TF_MSG_RESUME:
            rc = sla_resume (self->sla, &req->msg, status, &err);
            no_field = TF_F_RESUME_TICKET_NO;
            break;
        case TF_MSG_RESOLVE:
            rc = sla_resolve (self->sla, &req->msg, &ticket_id, status, &err);
            no_field = TF_F_RESOLVE_TICKET_NO;
            break;
        default:
            tf_error_set (&err, TF_ERR_UNKNOWN_TYPE, NULL, "sla does not handle '%s'",
                          tf_schemas [req->msg.type].name);
            break;
    }
    if (rc) {
        tf_warn ("request refused: %s: %s%s%s", err.code, err.message, *err.field? " field=": "", err.field);
        tf_request_reply_error (self->router, req, &err);
        return;
    }
    char ticket_no [40];
    tf_ticket_no_copy (&req->msg, no_field, ticket_no, sizeof ticket_no);
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_UPDATED);
    tf_msg_set_cstr (&reply, TF_F_UPDATED_TICKET_NO, ticket_no);
    tf_msg_set_cstr (&reply, TF_F_UPDATED_STATUS, status);
    tf_request_reply (self->router, req, &reply);
    tf_msg_clear (&reply);
    if (req->msg.type == TF_MSG_RESOLVE)
        tf_ticket_send_event (self->events, TF_MSG_RESOLVED, ticket_id, ticket_no);
    if (req->msg.type == TF_MSG_HOLD || req->msg.type == TF_MSG_RESUME)
        s_load_window (self);
}

void
sla_server_actor (zsock_t *pipe, void *args)
{
    server_t *self = s_server_new ((const tf_config_t *) args);
    if (!self) {
        tf_actor_failed (pipe);
        return;
    }
    zsock_signal (pipe, 0);
    const char *names [] = { "ENDPOINT", "EVENTS", "PUBLISH", NULL };
    const char *values [] = { self->endpoint, self->events_endpoint, self->publish_endpoint, NULL };
    s_reconcile (self);
    zpoller_t *poller = zpoller_new (pipe, self->router, self->pull, NULL);
    bool terminated = false;
    while (!terminated) {
        //  sleep until the next due timer, at most a second
        int64_t now_ms = zclock_time ();
        int timeout = 1000;
        if (self->ndue > 0) {
            int64_t wait = self->due [0] - now_ms;
            timeout = wait < 0? 0: wait < timeout? (int) wait: timeout;
        }
        void *which = zpoller_wait (poller, timeout);
        if (which == pipe)
            terminated = tf_actor_command (pipe, names, values);
        else
        if (which == self->router) {
            int served = 0;
            do {
                tf_request_t *req = tf_request_recv (self->router);
                if (!req)
                    break;
                s_request (self, req);
                tf_request_destroy (&req);
            } while (++served < self->cfg->batch_size && (zsock_events (self->router) & ZMQ_POLLIN));
        }
        else
        if (which == self->pull)
            s_claimed (self);
        else
        if (zpoller_terminated (poller))
            break;
        int64_t mono = zclock_mono ();
        if (self->ndue > 0 && self->due [0] <= zclock_time ())
            s_breach (self);
        if (mono - self->reconciled_at >= self->cfg->reconcile_seconds * 1000LL)
            s_reconcile (self);
        else
        if (mono - self->window_loaded_at >= self->cfg->sla_window_seconds * 500LL)
            s_load_window (self);
    }
    zpoller_destroy (&poller);
    s_server_destroy (&self);
}
