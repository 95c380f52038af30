#include "classifier_service.h"
#include "classifier.h"
#include "classifier_model.h"
#include "tf_log.h"
#include "tf_ticket.h"
#include <math.h>
#include <msgpack.h>
#include <string.h>

enum { OUTPUT_CLASSIFIED, OUTPUT_INCIDENTS };

typedef struct {
    classifier_t *classifier;
    classifier_models_t *models;    //  NULL: the keyword scorer decides
    char model_path [4096];
    char reload_answer [600];
    classifier_outcome_t *outcomes; //  room for one batch
    size_t classified, triaged;     //  since start, for the log
    bool taxonomy_missing;          //  said so once; said again when it is back
} state_t;

void
classifier_service_lexicon_path (const tf_config_t *cfg, char *path, size_t size)
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
s_destroy (void **state_p)
{
    state_t *self = *state_p;
    if (!self)
        return;
    tf_info ("%zu classified, %zu sent to triage", self->classified, self->triaged);
    classifier_destroy (&self->classifier);
    classifier_models_destroy (&self->models);
    free (self->outcomes);
    free (self);
    *state_p = NULL;
}

static void
s_load_taxonomy (state_t *self)
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

static void *
s_create (tf_engine_t *engine)
{
    const tf_config_t *cfg = tf_engine_config (engine);
    state_t *self = calloc (1, sizeof *self);
    assert (self);
    self->outcomes = calloc ((size_t) cfg->batch_size, sizeof (classifier_outcome_t));
    self->classifier = classifier_new (tf_engine_db (engine), cfg->classifier_min_confidence / 100.0);
    if (!self->outcomes || !self->classifier) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    char lexicon [4096];
    classifier_service_lexicon_path (cfg, lexicon, sizeof lexicon);
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
    classifier_set_incidents (self->classifier, cfg->incident_threshold, cfg->incident_window_minutes,
                              (size_t) cfg->incident_memory_tickets, (size_t) cfg->incident_memory_groups);
    if (tf_db_conn (tf_engine_db (engine)))
        s_load_taxonomy (self);
    tf_info ("min confidence %d%%; incidents at %d similar tickets in %d min", cfg->classifier_min_confidence,
             cfg->incident_threshold, cfg->incident_window_minutes);
    return self;
}

//  After the commit: ticket.classified for each classified ticket (a
//  triage ticket waits for a person), incident.opened for each incident.
static void
s_announce (state_t *self, tf_engine_t *engine, int moved)
{
    for (int i = 0; i < moved; i++) {
        classifier_outcome_t *oc = &self->outcomes [i];
        if (streq (oc->status, tf_status_name (TF_STATUS_CLASSIFIED))) {
            tf_engine_send_ticket (engine, OUTPUT_CLASSIFIED, TF_MSG_CLASSIFIED, oc->ticket_id, oc->ticket_no);
            self->classified++;
        }
        else
            self->triaged++;
    }
    classifier_incident_t *incident;
    while ((incident = classifier_next_incident (self->classifier))) {
        tf_msg_t event;
        classifier_incident_event (incident, &event);
        tf_engine_send (engine, OUTPUT_INCIDENTS, "incident.", &event);
        tf_msg_clear (&event);
        tf_warn ("mass incident %lld opened: %lld tickets of %s%s%s", (long long) incident->id,
                 (long long) incident->ticket_count, incident->subcategory? incident->subcategory: "-",
                 incident->product? ", product ": "", incident->product? incident->product: "");
        classifier_incident_destroy (&incident);
    }
}

static int
s_received (void *state, tf_engine_t *engine, const int64_t *ids, size_t n)
{
    state_t *self = state;
    //  a service that started without its database has no taxonomy yet:
    //  without one every ticket would go to triage
    if (classifier_taxonomy_size (self->classifier) == 0)
        s_load_taxonomy (self);
    if (classifier_taxonomy_size (self->classifier) == 0)
        return -1;
    int moved = classifier_run_ids (self->classifier, ids, n, self->outcomes);
    s_announce (self, engine, moved);
    return moved;
}

static int
s_reconcile (void *state, tf_engine_t *engine)
{
    state_t *self = state;
    const tf_config_t *cfg = tf_engine_config (engine);
    if (classifier_taxonomy_size (self->classifier) == 0)
        s_load_taxonomy (self);
    int moved = classifier_run_waiting (self->classifier, cfg->stale_seconds, (size_t) cfg->batch_size,
                                        self->outcomes);
    s_announce (self, engine, moved);
    return moved;
}

static void
s_classify_ticket (void *state, tf_engine_t *engine, tf_request_t *req)
{
    state_t *self = state;
    char ticket_no [TF_MAX_CLASSIFY_TICKET_TICKET_NO + 1];
    tf_ticket_no_copy (&req->msg, TF_F_CLASSIFY_TICKET_TICKET_NO, ticket_no, sizeof ticket_no);
    char *subcategory = tf_msg_strdup (&req->msg, TF_F_CLASSIFY_TICKET_SUBCATEGORY);
    char *priority = tf_msg_strdup (&req->msg, TF_F_CLASSIFY_TICKET_PRIORITY);
    char *actor = tf_msg_strdup (&req->msg, TF_F_CLASSIFY_TICKET_ACTOR);
    classifier_outcome_t *oc = &self->outcomes [0];
    tf_error_t err;
    if (classifier_reclassify (self->classifier, ticket_no, subcategory, priority, actor, oc, &err))
        tf_engine_refuse (engine, req, &err);
    else {
        tf_engine_reply_updated (engine, req, oc->ticket_no, oc->status);
        tf_info ("%s classified by %s as %s %s", oc->ticket_no, actor? actor: "unknown",
                 subcategory, oc->result.priority);
        tf_engine_send_ticket (engine, OUTPUT_CLASSIFIED, TF_MSG_CLASSIFIED, oc->ticket_id, oc->ticket_no);
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
s_classify_text (void *state, tf_engine_t *engine, tf_request_t *req)
{
    state_t *self = state;
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
    tf_engine_reply (engine, req, &reply);
    tf_msg_clear (&reply);
    tf_debug ("classify.text: %s %s %.2f (%s)", r.triage? "triage": r.subcategory, r.priority,
              r.confidence, r.method);
    free (source);
    free (text);
}

//  RELOAD (SIGHUP): the model files again. Loaded aside, swapped in only
//  when they load; the old ones stay otherwise. Runs between messages: the
//  sockets keep queueing meanwhile, nothing is lost.
static const char *
s_reload (void *state, tf_engine_t *engine)
{
    state_t *self = state;
    (void) engine;
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

static const char *
s_query (void *state, tf_engine_t *engine, const char *command)
{
    state_t *self = state;
    (void) engine;
    if (streq (command, "MODEL"))
        return self->models? classifier_models_path (self->models): "";
    return NULL;
}

static const char *const s_settings [] = {
    "database-url", "log-level", "security", "keys-dir", "timezone", "batch-size", "max-message-bytes",
    "reconcile-seconds", "stale-seconds", "intake-events-endpoint",
    "classifier-endpoint", "classifier-events-endpoint", "classifier-publish-endpoint",
    "classifier-model", "classifier-min-confidence", "incident-threshold",
    "incident-window-minutes", "incident-memory-tickets", "incident-memory-groups", "taxonomy-file",
    "http-address", "classifier-ops-port", NULL
};

const tf_service_t classifier_service = {
    .id = TF_SVC_CLASSIFIER,
    .summary =
        "ticketflow-classifier — the classify stage (received → classified, or → triage).\n"
        "Takes ticket.received from intake (PULL) and, every reconcile-seconds, any ticket\n"
        "left in `received` longer than stale-seconds, and classifies its subject, body,\n"
        "error text and alert. The sub-category comes from the trained model\n"
        "(classifier-model; empty: $TICKETFLOW_HOME/build/models/default.model, which make\n"
        "builds from deploy/taxonomy/train.csv); its calibrated probability is the\n"
        "confidence. The third level comes from third_level.model in the same folder when\n"
        "the sub-category has third levels. A missing, corrupt or foreign model file is one\n"
        "warning and the keyword scorer decides instead (taxonomy keywords, confidence from\n"
        "the margin over the runner-up); so does text the model hardly knows. Model labels\n"
        "that are not taxonomy sub-categories are logged and never chosen. Below\n"
        "classifier-min-confidence (percent), or when nothing matched, the ticket goes to\n"
        "`triage` for a person; otherwise it is `classified` with category, sub-category,\n"
        "priority and the priority reasons. A batch of tickets is stored in one\n"
        "transaction of a few statements, and ticket.classified is pushed after the commit.\n"
        "Priority: the sub-category's default, raised by the reasons of lexicon.json (read\n"
        "from the folder of taxonomy-file, else deploy/taxonomy/; built-in lists when it is\n"
        "missing): P1 for personal safety, money taken, stolen account, public threat,\n"
        "extreme emotion, batch complaint, wide-scope alert; P2 for a failed refund. The\n"
        "sentiment score (-1..1, lexicon.json's \"sentiment\" lists plus repeated !/?, words\n"
        "in capitals and insults) is stored on the ticket; -0.7 or less adds extreme_emotion.\n"
        "Mass incidents (批量投诉): when incident-threshold tickets of one sub-category within\n"
        "incident-window-minutes have near-duplicate text (64-bit SimHash of character\n"
        "3-grams, at most 12 bits apart) or the same product, an incident is opened, the\n"
        "tickets are linked and raised to P1 (reason batch_complaint), and incident.opened\n"
        "is published on classifier-publish-endpoint (PUB, topic \"incident.\") after the\n"
        "commit; later matching tickets join it. The check runs on an index in memory: the\n"
        "last incident-memory-tickets ungrouped tickets of each sub-category and\n"
        "incident-memory-groups groups of similar tickets, so its cost does not grow with\n"
        "the day's volume. Several instances keep their indexes in step under one advisory\n"
        "lock, so a burst split between them still opens one incident.\n"
        "Requests (ROUTER): service.ping; ticket.classify for a person's classification of a\n"
        "triage (or received/classified) ticket, recorded in classification_corrections\n"
        "(ticketflow-train --corrections learns from them); classify.text to classify a text\n"
        "without creating a ticket (ticketctl classify --json \"text\").\n"
        "SIGHUP reloads the model files between two messages (nothing queued is lost); if\n"
        "they do not load, the model in use stays and the log says why.\n"
        "The taxonomy is read from the database at start (empty: everything goes to triage\n"
        "and the table is read again on each reconcile). /healthz, /readyz and /metrics on\n"
        "--classifier-ops-port. See proto/events.md.\n\n"
        "Usage: ticketflow-classifier [--SETTING=VALUE ...]",
    .settings = s_settings,
    .request_setting = "classifier-endpoint",
    .ops_port_setting = "classifier-ops-port",
    .input_settings = (const char *const []) { "intake-events-endpoint", NULL },
    .outputs = (const tf_output_t []) {
        [OUTPUT_CLASSIFIED] = { "EVENTS", ZMQ_PUSH, "classifier-events-endpoint" },
        [OUTPUT_INCIDENTS] = { "PUBLISH", ZMQ_PUB, "classifier-publish-endpoint" },
        { .query = NULL }
    },
    .handlers = (const tf_handler_t []) {
        { .type = TF_MSG_CLASSIFY_TICKET, .one = s_classify_ticket, .needs_database = true },
        { .type = TF_MSG_CLASSIFY_TEXT, .one = s_classify_text },
        { .type = TF_MSG_NONE }
    },
    .consumers = (const tf_consumer_t []) {
        { TF_MSG_RECEIVED, s_received },
        { .type = TF_MSG_NONE }
    },
    .input_statuses = TF_FROM (RECEIVED),
    .create = s_create,
    .destroy = s_destroy,
    .reconcile = s_reconcile,
    .reload = s_reload,
    .query = s_query,
};
