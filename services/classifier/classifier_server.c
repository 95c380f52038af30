#include "classifier_server.h"
#include "classifier.h"
#include "tf_actor.h"
#include "tf_log.h"
#include "tf_net.h"
#include "tf_ticket.h"
#include <string.h>

//  At most this many batches per reconcile tick, so requests keep flowing
#define RECONCILE_ROUNDS 16

typedef struct {
    const tf_config_t *cfg;
    zsock_t *router, *events, *pull;
    tf_db_t *db;
    classifier_t *classifier;
    char endpoint [256], events_endpoint [256];
    int64_t *ids;               //  ticket ids of the waiting events
    size_t id_count;
    classifier_outcome_t *outcomes;
    int64_t next_reconcile;     //  zclock_mono ()
    size_t classified, triaged; //  since start, for the log
    bool taxonomy_missing;      //  said so once; said again when it is back
} server_t;

void
classifier_server_lexicon_path (const tf_config_t *cfg, char *path, size_t size)
{
    const char *file = cfg->taxonomy_file;
    const char *slash = file? strrchr (file, '/'): NULL;
    if (file && *file && slash)
        snprintf (path, size, "%.*s/lexicon.json", (int) (slash - file), file);
    else
    if (file && *file)
        snprintf (path, size, "lexicon.json");
    else
        snprintf (path, size, "%s/deploy/taxonomy/lexicon.json", tf_home ());
}

static void
s_server_destroy (server_t **self_p)
{
    server_t *self = *self_p;
    if (!self)
        return;
    classifier_destroy (&self->classifier);
    tf_db_destroy (&self->db);
    zsock_destroy (&self->router);
    zsock_destroy (&self->events);
    zsock_destroy (&self->pull);
    free (self->ids);
    free (self->outcomes);
    free (self);
    *self_p = NULL;
}

static void
s_load_taxonomy (server_t *self)
{
    int n = classifier_load_taxonomy (self->classifier);
    if (n > 0) {
        tf_info ("taxonomy: %d sub-categories", n);
        self->taxonomy_missing = false;
    }
    else
    if (!self->taxonomy_missing) {
        self->taxonomy_missing = true;
        tf_error ("taxonomy: %s; every ticket goes to triage until it is loaded "
                  "(bin/ticketflow-migrate loads deploy/taxonomy/taxonomy.json)",
                  n == 0? "the taxonomy table is empty": "cannot read the taxonomy table");
    }
}

static server_t *
s_server_new (const tf_config_t *cfg)
{
    server_t *self = calloc (1, sizeof *self);
    assert (self);
    self->cfg = cfg;
    self->ids = calloc ((size_t) cfg->batch_size, sizeof (int64_t));
    self->outcomes = calloc ((size_t) cfg->batch_size, sizeof (classifier_outcome_t));
    assert (self->ids && self->outcomes);
    self->db = tf_db_new (cfg->database_url, "ticketflow-classifier", cfg->timezone, 10000);
    if (!self->db
    ||  !(self->classifier = classifier_new (self->db, cfg->classifier_min_confidence / 100.0))) {
        tf_error ("cannot use the database at '%s'", cfg->database_url);
        goto failed;
    }
    char lexicon [4096];
    classifier_server_lexicon_path (cfg, lexicon, sizeof lexicon);
    int reasons = classifier_load_lexicon (self->classifier, lexicon);
    if (reasons > 0)
        tf_info ("lexicon %s: %d priority reasons", lexicon, reasons);
    s_load_taxonomy (self);

    self->router = tf_net_bind (ZMQ_ROUTER, cfg->classifier_endpoint, cfg->max_message_bytes);
    self->events = tf_net_bind (ZMQ_PUSH, cfg->classifier_events_endpoint, cfg->max_message_bytes);
    self->pull = tf_net_connect (ZMQ_PULL, cfg->intake_events_endpoint, cfg->max_message_bytes);
    if (!self->router || !self->events || !self->pull)
        goto failed;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", zsock_endpoint (self->router));
    snprintf (self->events_endpoint, sizeof self->events_endpoint, "%s", zsock_endpoint (self->events));
    tf_info ("listening: requests %s, events %s; taking ticket.received from %s; "
             "min confidence %d%%", self->endpoint, self->events_endpoint,
             cfg->intake_events_endpoint, cfg->classifier_min_confidence);
    return self;
failed:
    s_server_destroy (&self);
    return NULL;
}

//  After the commit: ticket.classified for each classified ticket (a
//  triage ticket waits for a person).
static void
s_announce (server_t *self, int moved)
{
    for (int i = 0; i < moved; i++) {
        classifier_outcome_t *oc = &self->outcomes [i];
        if (strcmp (oc->status, "classified") == 0) {
            tf_ticket_send_event (self->events, TF_MSG_CLASSIFIED, oc->ticket_id, oc->ticket_no);
            self->classified++;
            tf_debug ("%s classified: %s %s %.2f", oc->ticket_no, oc->result.subcategory,
                      oc->result.priority, oc->result.confidence);
        }
        else {
            self->triaged++;
            tf_debug ("%s to triage (confidence %.2f)", oc->ticket_no, oc->result.confidence);
        }
    }
}

static void
s_flush_events (server_t *self)
{
    if (self->id_count == 0)
        return;
    int moved = classifier_run_ids (self->classifier, self->ids, self->id_count, self->outcomes);
    if (moved < 0)
        tf_warn ("%zu tickets could not be classified now; the reconciler will retry", self->id_count);
    else
        s_announce (self, moved);
    self->id_count = 0;
}

static void
s_reconcile (server_t *self)
{
    if (classifier_taxonomy_size (self->classifier) == 0)
        s_load_taxonomy (self);
    size_t limit = (size_t) self->cfg->batch_size;
    for (int round = 0; round < RECONCILE_ROUNDS; round++) {
        int moved = classifier_run_waiting (self->classifier, self->cfg->stale_seconds, limit,
                                            self->outcomes);
        if (moved <= 0)
            break;
        tf_info ("reconciler: %d tickets left in received were taken", moved);
        s_announce (self, moved);
        if ((size_t) moved < limit)
            break;
    }
    self->next_reconcile = zclock_mono () + self->cfg->reconcile_seconds * 1000;
}

static void
s_take_event (server_t *self)
{
    zmsg_t *frames = NULL;
    tf_msg_t msg;
    tf_error_t err;
    if (tf_net_recv_event (self->pull, false, &frames, &msg, &err))
        tf_warn ("event refused: %s: %s", err.code, err.message);
    else
    if (msg.type != TF_MSG_RECEIVED)
        tf_warn ("event refused: '%s' is not ticket.received", tf_schemas [msg.type].name);
    else {
        int64_t id = tf_msg_int (&msg, TF_F_RECEIVED_TICKET_ID);
        bool seen = false;
        for (size_t i = 0; i < self->id_count && !seen; i++)
            seen = self->ids [i] == id;
        if (!seen)
            self->ids [self->id_count++] = id;
    }
    zmsg_destroy (&frames);
}

static void
s_refuse (server_t *self, tf_request_t *req, const tf_error_t *err)
{
    tf_warn ("request refused: %s: %s%s%s", err->code, err->message,
             *err->field? " field=": "", err->field);
    tf_request_reply_error (self->router, req, err);
}

static void
s_classify (server_t *self, tf_request_t *req)
{
    char ticket_no [40];
    tf_ticket_no_copy (&req->msg, TF_F_CLASSIFY_TICKET_TICKET_NO, ticket_no, sizeof ticket_no);
    char *subcategory = tf_msg_strdup (&req->msg, TF_F_CLASSIFY_TICKET_SUBCATEGORY);
    char *priority = tf_msg_strdup (&req->msg, TF_F_CLASSIFY_TICKET_PRIORITY);
    char *actor = tf_msg_strdup (&req->msg, TF_F_CLASSIFY_TICKET_ACTOR);
    classifier_outcome_t *oc = &self->outcomes [0];
    tf_error_t err;
    if (classifier_reclassify (self->classifier, ticket_no, subcategory, priority, actor, oc, &err))
        s_refuse (self, req, &err);
    else {
        tf_msg_t reply;
        tf_msg_init (&reply, TF_MSG_UPDATED);
        tf_msg_set_cstr (&reply, TF_F_UPDATED_TICKET_NO, oc->ticket_no);
        tf_msg_set_cstr (&reply, TF_F_UPDATED_STATUS, oc->status);
        tf_request_reply (self->router, req, &reply);
        tf_msg_clear (&reply);
        tf_info ("%s classified by %s as %s %s", oc->ticket_no, actor? actor: "unknown",
                 subcategory, oc->result.priority);
        tf_ticket_send_event (self->events, TF_MSG_CLASSIFIED, oc->ticket_id, oc->ticket_no);
    }
    free (subcategory);
    free (priority);
    free (actor);
}

static void
s_handle_request (server_t *self, tf_request_t *req)
{
    if (!req->ok)
        s_refuse (self, req, &req->err);
    else
    if (req->msg.type == TF_MSG_PING)
        tf_request_reply_pong (self->router, req, "classifier");
    else
    if (req->msg.type == TF_MSG_CLASSIFY_TICKET)
        s_classify (self, req);
    else {
        tf_error_t err;
        tf_error_set (&err, TF_ERR_UNKNOWN_TYPE, NULL, "classifier does not handle '%s'",
                      tf_schemas [req->msg.type].name);
        s_refuse (self, req, &err);
    }
}

void
classifier_server_actor (zsock_t *pipe, void *args)
{
    server_t *self = s_server_new ((const tf_config_t *) args);
    if (!self) {
        tf_actor_failed (pipe);
        return;
    }
    zsock_signal (pipe, 0);
    const char *names [] = { "ENDPOINT", "EVENTS", NULL };
    const char *values [] = { self->endpoint, self->events_endpoint, NULL };
    zpoller_t *poller = zpoller_new (pipe, self->router, self->pull, NULL);
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
            if (req) {
                s_handle_request (self, req);
                tf_request_destroy (&req);
            }
        }
        else
        if (which == self->pull) {
            //  drain what is waiting, up to a batch, then commit it at once
            do
                s_take_event (self);
            while (self->id_count < (size_t) self->cfg->batch_size
                && (zsock_events (self->pull) & ZMQ_POLLIN));
            s_flush_events (self);
        }
        else
        if (zpoller_terminated (poller))
            break;
        if (zclock_mono () >= self->next_reconcile)
            s_reconcile (self);
    }
    tf_info ("stopping: %zu classified, %zu sent to triage", self->classified, self->triaged);
    zpoller_destroy (&poller);
    s_server_destroy (&self);
}
