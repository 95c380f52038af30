#include "sla_server.h"
#include "sla.h"
#include "tf_actor.h"
#include "tf_log.h"
#include "tf_net.h"
#include "tf_ticket.h"

#define WINDOW_CAP      1024    //  most due timers held in memory
#define BREACH_BATCH    256     //  breaches marked per statement
#define RETRY_MS        250     //  after a pass that could not take what was due
#define FOREVER         INT64_MAX

typedef struct {
    const tf_config_t *cfg;
    zsock_t *router, *pull, *events, *pub;
    tf_db_t *db;
    sla_t *sla;
    char endpoint [256], events_endpoint [256], publish_endpoint [256];
    //  the next window of due timers, soonest first, as zclock_mono ()
    //  deadlines computed from the database's "due in n ms": a jump of this
    //  host's wall clock moves nothing
    int64_t due [WINDOW_CAP];
    int ndue;
    int64_t next_check;         //  mono: when to look for breaches next
    int64_t window_loaded_at, reconciled_at;
    bool window_dirty;          //  reload the window after this batch
    int64_t *ids;               //  batch of claimed ticket ids
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
    assert (self->ids);
    self->next_check = FOREVER;
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

//  Loads the timers due within the window (never all of them).
static void
s_load_window (server_t *self)
{
    int64_t in_ms [WINDOW_CAP];
    int n = sla_window (self->sla, self->cfg->sla_window_seconds, in_ms, WINDOW_CAP);
    int64_t now = zclock_mono ();
    self->window_loaded_at = now;
    self->window_dirty = false;
    if (n < 0) {
        //  the database is away: keep what we had, look again in a second
        self->next_check = now + 1000;
        return;
    }
    self->ndue = n > WINDOW_CAP? WINDOW_CAP: n;
    for (int i = 0; i < self->ndue; i++)
        self->due [i] = now + in_ms [i];
    self->next_check = self->ndue? self->due [0]: FOREVER;
}

static void
s_publish (server_t *self, const sla_breach_t *b)
{
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

//  Marks what is due (the database decides, by its clock), publishes each
//  breach after its commit, then reloads the window.
static void
s_breach (server_t *self)
{
    if (!tf_db_ready (self->db)) {
        //  the database is away: tf_db logs the reconnect attempts
        self->next_check = zclock_mono () + 1000;
        return;
    }
    sla_breach_t *breaches = calloc (BREACH_BATCH, sizeof *breaches);
    assert (breaches);
    int n, total = 0;
    do {
        n = sla_breach_due (self->sla, breaches, BREACH_BATCH);
        for (int i = 0; i < n; i++)
            s_publish (self, &breaches [i]);
        total += n > 0? n: 0;
    } while (n == BREACH_BATCH);
    free (breaches);
    bool failed = n < 0;
    s_load_window (self);
    int64_t now = zclock_mono ();
    //  something is due yet nothing could be taken (another instance holds
    //  it, or the database is away): do not spin, look again shortly
    if ((failed || total == 0) && self->next_check <= now)
        self->next_check = now + (failed? 1000: RETRY_MS);
}

static void
s_reconcile (server_t *self)
{
    self->reconciled_at = zclock_mono ();
    if (!tf_db_ready (self->db)) {
        self->next_check = self->reconciled_at + 1000;
        return;
    }
    size_t limit = (size_t) self->cfg->batch_size;
    int taken, created = 0;
    while ((taken = sla_track_missing (self->sla, limit)) > 0) {
        created += taken;
        if ((size_t) taken < limit)
            break;
    }
    if (created > 0)
        tf_info ("timers created for %d tickets nobody announced", created);
    sla_meet_responses (self->sla);
    int resumed;
    while ((resumed = sla_expire_holds (self->sla, limit)) > 0) {
        tf_info ("%d tickets resumed: their expected resume time passed", resumed);
        if ((size_t) resumed < limit)
            break;
    }
    s_breach (self);
}

//  Drains up to a batch of ticket.claimed and creates their timers at once.
static void
s_claimed (server_t *self)
{
    size_t n = 0, read = 0;
    do {
        tf_msg_type_t type;
        int64_t id;
        if (tf_ticket_recv_event (self->pull, &type, &id) == 0) {
            if (type == TF_MSG_CLAIMED)
                self->ids [n++] = id;
            else
                tf_warn ("event ignored: sla takes ticket.claimed, not %s", tf_schemas [type].name);
        }
        else
        if (type == TF_MSG_NONE && zsys_interrupted)
            break;
    } while (++read < (size_t) self->cfg->batch_size && (zsock_events (self->pull) & ZMQ_POLLIN));
    if (n > 0 && sla_track (self->sla, self->ids, n) >= 0)
        s_load_window (self);   //  an old ticket may already be due
}

static void
s_request (server_t *self, tf_request_t *req)
{
    char status [16] = "";
    tf_error_t err = { 0 };
    int rc = -1;
    int64_t ticket_id = 0;
    tf_field_id_t no_field = TF_FIELD_COUNT;
    if (!req->ok)
        err = req->err;
    else
    switch (req->msg.type) {
        case TF_MSG_PING:
            tf_request_reply_pong (self->router, req, "sla");
            return;
        case TF_MSG_PROGRESS:
            no_field = TF_F_PROGRESS_TICKET_NO;
            rc = sla_progress (self->sla, &req->msg, &ticket_id, status, &err);
            break;
        case TF_MSG_HOLD:
            no_field = TF_F_HOLD_TICKET_NO;
            rc = sla_hold (self->sla, &req->msg, &ticket_id, status, &err);
            break;
        case TF_MSG_RESUME:
            no_field = TF_F_RESUME_TICKET_NO;
            rc = sla_resume (self->sla, &req->msg, &ticket_id, status, &err);
            break;
        case TF_MSG_RESOLVE:
            no_field = TF_F_RESOLVE_TICKET_NO;
            rc = sla_resolve (self->sla, &req->msg, &ticket_id, status, &err);
            break;
        default:
            tf_error_set (&err, TF_ERR_UNKNOWN_TYPE, NULL, "sla does not handle '%s'",
                          tf_schemas [req->msg.type].name);
            break;
    }
    if (rc) {
        tf_request_refuse (self->router, req, &err);
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
    //  after the commit: the notifier asks the customer to confirm
    if (req->msg.type == TF_MSG_RESOLVE)
        tf_ticket_send_event (self->events, TF_MSG_RESOLVED, ticket_id, ticket_no);
    //  a deadline paused, moved or met: the window changed
    self->window_dirty = true;
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
        int64_t wait = self->next_check - zclock_mono ();
        int timeout = wait <= 0? 0: wait > 1000? 1000: (int) wait;
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
            if (self->window_dirty)
                s_load_window (self);
        }
        else
        if (which == self->pull)
            s_claimed (self);
        else
        if (zpoller_terminated (poller))
            break;
        if (terminated)
            break;
        int64_t now = zclock_mono ();
        if (now - self->reconciled_at >= self->cfg->reconcile_seconds * 1000LL)
            s_reconcile (self);
        else
        if (now >= self->next_check)
            s_breach (self);
        else
        if (now - self->window_loaded_at >= self->cfg->sla_window_seconds * 500LL)
            s_load_window (self);
    }
    zpoller_destroy (&poller);
    s_server_destroy (&self);
}
