#include "classifier_server.h"
#include "classifier.h"
#include "classifier_model.h"
#include "tf_actor.h"
#include "tf_log.h"
#include "tf_net.h"
#include "tf_ticket.h"
#include <math.h>
#include <msgpack.h>
#include <string.h>

//  At most this many batches per reconcile tick, so requests keep flowing
#define RECONCILE_ROUNDS 16

typedef struct {
    const tf_config_t *cfg;
    zsock_t *router, *events, *pull, *publish;
    tf_db_t *db;
    classifier_t *classifier;
    classifier_models_t *models;    //  NULL: the keyword scorer decides
    char model_path [4096];
    char endpoint [256], events_endpoint [256], publish_endpoint [256];
    char reload_answer [600];
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
    classifier_models_destroy (&self->models);
    tf_db_destroy (&self->db);
    zsock_destroy (&self->router);
    zsock_destroy (&self->events);
    zsock_destroy (&self->pull);
    zsock_destroy (&self->publish);
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
        classifier_models_check (self->models, self->classifier);
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
    //  the trained model; without one the keyword scorer decides
    classifier_model_path (cfg, self->model_path, sizeof self->model_path);
    char why [600];
    self->models = classifier_models_load (self->model_path, why, sizeof why);
    if (self->models) {
        classifier_models_attach (self->models, self->classifier);
        tf_info ("model %s: %zu labels%s", self->model_path, classifier_models_labels (self->models),
                 classifier_models_third (self->models)? ", with the third-level model": "");
    }
    else
        tf_warn ("model not used: %s; the keyword scorer decides the sub-category "
                 "(make builds build/models/default.model; SIGHUP loads it)", why);
    classifier_set_incidents (self->classifier, cfg->incident_threshold, cfg->incident_window_minutes);
    s_load_taxonomy (self);

    self->router = tf_net_bind (ZMQ_ROUTER, cfg->classifier_endpoint, cfg->max_message_bytes);
    self->events = tf_net_bind (ZMQ_PUSH, cfg->classifier_events_endpoint, cfg->max_message_bytes);
    self->publish = tf_net_bind (ZMQ_PUB, cfg->classifier_publish_endpoint, cfg->max_message_bytes);
    self->pull = tf_net_connect (ZMQ_PULL, cfg->intake_events_endpoint, cfg->max_message_bytes);
    if (!self->router || !self->events || !self->publish || !self->pull)
        goto failed;
    snprintf (self->endpoint, sizeof self->endpoint, "%s", zsock_endpoint (self->router));
    snprintf (self->events_endpoint, sizeof self->events_endpoint, "%s", zsock_endpoint (self->events));
    snprintf (self->publish_endpoint, sizeof self->publish_endpoint, "%s", zsock_endpoint (self->publish));
    tf_info ("listening: requests %s, events %s, incidents %s; taking ticket.received from %s; "
             "min confidence %d%%; incidents at %d similar tickets in %d min", self->endpoint,
             self->events_endpoint, self->publish_endpoint, cfg->intake_events_endpoint,
             cfg->classifier_min_confidence, cfg->incident_threshold, cfg->incident_window_minutes);
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

//  After the commit: incident.opened for each incident opened, on the PUB
//  socket with topic "incident."
static void
s_publish_incidents (server_t *self)
{
    classifier_incident_t *incident;
    while ((incident = classifier_next_incident (self->classifier))) {
        tf_msg_t event;
        classifier_incident_event (incident, &event);
        tf_net_send_event (self->publish, "incident.", &event);
        tf_msg_clear (&event);
        tf_warn ("mass incident %lld opened: %lld tickets of %s%s%s", (long long) incident->id,
                 (long long) incident->ticket_count, incident->subcategory,
                 incident->product? ", product ": "", incident->product? incident->product: "");
        classifier_incident_destroy (&incident);
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
    s_publish_incidents (self);
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
        s_publish_incidents (self);
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
    tf_msg_type_t type;
    int64_t id;
    if (tf_ticket_recv_event (self->pull, &type, &id))
        return;
    if (type != TF_MSG_RECEIVED) {
        tf_warn ("event refused: '%s' is not ticket.received", tf_schemas [type].name);
        return;
    }
    bool seen = false;
    for (size_t i = 0; i < self->id_count && !seen; i++)
        seen = self->ids [i] == id;
    if (!seen)
        self->ids [self->id_count++] = id;
}

static void
s_refuse (server_t *self, tf_request_t *req, const tf_error_t *err)
{
    tf_request_refuse (self->router, req, err);
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

//  A msgpack array of strings
static void
s_set_list (tf_msg_t *msg, tf_field_id_t field, const char *const *items, size_t n)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, n);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen (items [i]);
        msgpack_pack_str (&pk, len);
        msgpack_pack_str_body (&pk, items [i], len);
    }
    tf_msg_set_raw (msg, field, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
}

//  A value the codec accepts for a FLOAT in lo..hi: finite, in range, 3 decimals
static double
s_bounded (double x, double lo, double hi)
{
    if (!isfinite (x))
        return lo > 0? lo: hi < 0? hi: 0;
    x = round (x * 1000.0) / 1000.0;
    return x < lo? lo: x > hi? hi: x;
}

//  classify.text: what the classifier would decide, nothing stored
static void
s_classify_text (server_t *self, tf_request_t *req)
{
    const tf_value_t *subject = &req->msg.v [TF_F_CLASSIFY_TEXT_SUBJECT];
    const tf_value_t *body = &req->msg.v [TF_F_CLASSIFY_TEXT_TEXT];
    const tf_value_t *scope = &req->msg.v [TF_F_CLASSIFY_TEXT_ALERT_SCOPE];
    //  the same text a ticket gives: subject, body, alert scope, one per line
    size_t len = 0;
    char *text = malloc (subject->len + body->len + scope->len + 3);
    assert (text);
    const tf_value_t *parts [] = { subject, body, scope };
    for (size_t i = 0; i < 3; i++)
        if (parts [i]->present && parts [i]->len) {
            if (len)
                text [len++] = '\n';
            memcpy (text + len, parts [i]->str, parts [i]->len);
            len += parts [i]->len;
        }
    text [len] = 0;
    char *source = tf_msg_strdup (&req->msg, TF_F_CLASSIFY_TEXT_SOURCE);
    classifier_result_t r;
    classifier_decide (self->classifier, text, len, source, &r);

    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_CLASSIFY_RESULT);
    if (!r.triage) {
        tf_msg_set_cstr (&reply, TF_F_CLASSIFY_RESULT_CATEGORY, r.category);
        tf_msg_set_cstr (&reply, TF_F_CLASSIFY_RESULT_SUBCATEGORY, r.subcategory);
        tf_msg_set_cstr (&reply, TF_F_CLASSIFY_RESULT_THIRD_LEVEL, r.third_level);
    }
    //  a triage text without a raising reason: routine until a person says otherwise
    tf_msg_set_cstr (&reply, TF_F_CLASSIFY_RESULT_PRIORITY, *r.priority? r.priority: "P3");
    tf_msg_set_float (&reply, TF_F_CLASSIFY_RESULT_CONFIDENCE, s_bounded (r.confidence, 0, 1));
    tf_msg_set_bool (&reply, TF_F_CLASSIFY_RESULT_TRIAGE, r.triage);
    tf_msg_set_float (&reply, TF_F_CLASSIFY_RESULT_SENTIMENT, s_bounded (r.sentiment, -1, 1));
    s_set_list (&reply, TF_F_CLASSIFY_RESULT_REASONS, r.reasons, r.reason_count);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, r.alternative_count);
    for (size_t i = 0; i < r.alternative_count; i++) {
        size_t n = strlen (r.alternatives [i].label);
        msgpack_pack_map (&pk, 2);
        msgpack_pack_str (&pk, 11);
        msgpack_pack_str_body (&pk, "subcategory", 11);
        msgpack_pack_str (&pk, n);
        msgpack_pack_str_body (&pk, r.alternatives [i].label, n);
        msgpack_pack_str (&pk, 10);
        msgpack_pack_str_body (&pk, "confidence", 10);
        msgpack_pack_double (&pk, s_bounded (r.alternatives [i].confidence, 0, 1));
    }
    tf_msg_set_raw (&reply, TF_F_CLASSIFY_RESULT_ALTERNATIVES, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    tf_msg_set_cstr (&reply, TF_F_CLASSIFY_RESULT_METHOD, r.method);
    tf_request_reply (self->router, req, &reply);
    tf_msg_clear (&reply);
    tf_debug ("classify.text: %s %s %.2f (%s)", r.triage? "triage": r.subcategory, r.priority,
              r.confidence, r.method);
    free (source);
    free (text);
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
    else
    if (req->msg.type == TF_MSG_CLASSIFY_TEXT)
        s_classify_text (self, req);
    else {
        tf_error_t err;
        tf_error_set (&err, TF_ERR_UNKNOWN_TYPE, NULL, "classifier does not handle '%s'",
                      tf_schemas [req->msg.type].name);
        s_refuse (self, req, &err);
    }
}

//  RELOAD (SIGHUP): the model files again. Loaded aside, swapped in only
//  when they load; the old ones stay otherwise. Runs between messages: the
//  sockets keep queueing meanwhile, nothing is lost.
static const char *
s_reload (server_t *self)
{
    char why [512];
    classifier_models_t *fresh = classifier_models_load (self->model_path, why, sizeof why);
    if (!fresh) {
        snprintf (self->reload_answer, sizeof self->reload_answer, "failed: %s", why);
        tf_warn ("reload: %s; the %s stays in use", why,
                 self->models? "model loaded before": "keyword scorer");
        return self->reload_answer;
    }
    classifier_models_attach (fresh, self->classifier);
    classifier_models_destroy (&self->models);
    self->models = fresh;
    classifier_models_check (self->models, self->classifier);
    snprintf (self->reload_answer, sizeof self->reload_answer, "ok %zu labels",
              classifier_models_labels (self->models));
    tf_info ("reload: model %s: %zu labels%s", self->model_path, classifier_models_labels (self->models),
             classifier_models_third (self->models)? ", with the third-level model": "");
    return self->reload_answer;
}

//  One pipe command: $TERM ends the actor, RELOAD reloads the models, any
//  other word is a query answered from the table. Returns true to end.
static bool
s_pipe_command (server_t *self, zsock_t *pipe)
{
    char *command = zstr_recv (pipe);
    if (!command)
        return true;
    if (streq (command, "$TERM")) {
        zstr_free (&command);
        return true;
    }
    const char *answer = "";
    if (streq (command, "RELOAD"))
        answer = s_reload (self);
    else
    if (streq (command, "ENDPOINT"))
        answer = self->endpoint;
    else
    if (streq (command, "EVENTS"))
        answer = self->events_endpoint;
    else
    if (streq (command, "PUBLISH"))
        answer = self->publish_endpoint;
    else
    if (streq (command, "MODEL"))
        answer = self->models? classifier_models_path (self->models): "";
    zstr_send (pipe, answer);
    zstr_free (&command);
    return false;
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
    zpoller_t *poller = zpoller_new (pipe, self->router, self->pull, NULL);
    s_reconcile (self);
    bool terminated = false;
    while (!terminated) {
        int64_t wait = self->next_reconcile - zclock_mono ();
        void *which = zpoller_wait (poller, wait < 0? 0: wait > 1000? 1000: (int) wait);
        if (which == pipe)
            terminated = s_pipe_command (self, pipe);
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
