#include "intake_service.h"
#include "intake.h"
#include "intake_http.h"
#include "tf_json.h"
#include "tf_log.h"
#include "tf_private.h"
#include "tf_ticket.h"
#include "tf_token.h"
#include <time.h>

enum { OUTPUT_RECEIVED, OUTPUT_FEEDBACK };

typedef struct {
    intake_t *intake;
    intake_http_t *http;
    char http_port [16];
    const tf_msg_t **msgs;      //  room for one batch
    intake_result_t *results;
    tf_request_t **stored;      //  the requests of a batch that go to the database
} state_t;

static void
s_destroy (void **state_p)
{
    state_t *self = *state_p;
    if (!self)
        return;
    intake_http_destroy (&self->http);
    intake_destroy (&self->intake);
    free (self->msgs);
    free (self->results);
    free (self->stored);
    free (self);
    *state_p = NULL;
}

static void *
s_create (tf_engine_t *engine)
{
    const tf_config_t *cfg = tf_engine_config (engine);
    state_t *self = calloc (1, sizeof *self);
    assert (self);
    self->msgs = calloc ((size_t) cfg->batch_size, sizeof (tf_msg_t *));
    self->results = calloc ((size_t) cfg->batch_size, sizeof (intake_result_t));
    self->stored = calloc ((size_t) cfg->batch_size, sizeof (tf_request_t *));
    self->intake = intake_new (tf_engine_db (engine));
    //  the HTTP gateway talks to the same request socket over inproc
    self->http = intake_http_new (cfg->http_address, cfg->intake_http_port, tf_engine_inproc (engine),
                                  cfg->request_timeout_ms, cfg->http_tls_cert, cfg->http_tls_key);
    if (!self->msgs || !self->results || !self->stored || !self->intake || !self->http) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    snprintf (self->http_port, sizeof self->http_port, "%d", intake_http_port (self->http));
    tf_info ("http %s:%s", cfg->http_address, self->http_port);
    return self;
}

//  A run of submissions: one transaction, then each answer, then each
//  ticket.received (only after the commit).
static void
s_submit (void *state, tf_engine_t *engine, tf_request_t **requests, size_t n)
{
    state_t *self = state;
    //  those refused by what the codec cannot check are answered first
    //  (answers go in order, so these come before the stored ones)
    tf_request_t **stored = self->stored;
    size_t k = 0;
    int64_t now = (int64_t) time (NULL);
    for (size_t i = 0; i < n; i++) {
        tf_error_t err;
        if (intake_check_submit (&requests [i]->msg, now, &err))
            tf_engine_refuse (engine, requests [i], &err);
        else {
            stored [k] = requests [i];
            self->msgs [k++] = &requests [i]->msg;
        }
    }
    intake_submit (self->intake, self->msgs, k, self->results);
    for (size_t i = 0; i < k; i++) {
        intake_result_t *r = &self->results [i];
        if (!r->ok) {
            tf_engine_refuse (engine, stored [i], &r->err);
            continue;
        }
        tf_msg_t reply;
        tf_msg_init (&reply, TF_MSG_ACCEPTED);
        tf_msg_set_cstr (&reply, TF_F_ACCEPTED_TICKET_NO, r->ticket_no);
        tf_msg_set_int (&reply, TF_F_ACCEPTED_TICKET_ID, r->ticket_id);
        tf_msg_set_bool (&reply, TF_F_ACCEPTED_DUPLICATE, r->duplicate);
        if (r->threaded)
            tf_msg_set_bool (&reply, TF_F_ACCEPTED_THREADED, true);
        char ref [64];
        tf_private_ref (r->ticket_no, ref, sizeof ref);
        tf_msg_set_cstr (&reply, TF_F_ACCEPTED_PUBLIC_REF, ref);
        tf_engine_reply (engine, stored [i], &reply);
        tf_msg_clear (&reply);
        if (!r->duplicate && !r->threaded)
            tf_engine_send_ticket (engine, OUTPUT_RECEIVED, TF_MSG_RECEIVED, r->ticket_id, r->ticket_no);
    }
}

static void
s_get (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    const tf_value_t *no = &request->msg.v [TF_F_GET_TICKET_NO];
    tf_error_t err;
    char *text = intake_ticket_json (self->intake, no->str, no->len, &err);
    json_t *json = text? json_loads (text, 0, NULL): NULL;
    free (text);
    if (!json) {
        if (text || !err.code)
            tf_error_set (&err, TF_ERR_INTERNAL, NULL, "cannot read the ticket");
        tf_engine_refuse (engine, request, &err);
        return;
    }
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_INFO);
    tf_json_set_field (&reply, TF_F_INFO_TICKET, json);
    json_decref (json);
    tf_engine_reply (engine, request, &reply);
    tf_msg_clear (&reply);
}

static void
s_feedback (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    tf_error_t err;
    int64_t ticket_id;
    int64_t feedback_id = intake_feedback (self->intake, &request->msg, &ticket_id, &err);
    if (feedback_id < 0) {
        tf_engine_refuse (engine, request, &err);
        return;
    }
    char ticket_no [TF_MAX_FEEDBACK_TICKET_NO + 1];
    tf_ticket_no_copy (&request->msg, TF_F_FEEDBACK_TICKET_NO, ticket_no, sizeof ticket_no);
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_FEEDBACK_RECORDED);
    tf_msg_set_cstr (&reply, TF_F_FEEDBACK_RECORDED_TICKET_NO, ticket_no);
    tf_msg_set_int (&reply, TF_F_FEEDBACK_RECORDED_FEEDBACK_ID, feedback_id);
    tf_engine_reply (engine, request, &reply);
    tf_msg_clear (&reply);
    tf_engine_send_ticket (engine, OUTPUT_FEEDBACK, TF_MSG_FEEDBACK_RECEIVED, ticket_id, ticket_no);
}

//  ticket.status: what the customer may see, by the public reference
static void
s_status (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    char *ref = tf_msg_strdup (&request->msg, TF_F_STATUS_PUBLIC_REF);
    char ticket_no [32];
    tf_error_t err;
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_STATUS_INFO);
    if (!tf_private_ref_check (ref, ticket_no, sizeof ticket_no))
        tf_error_set (&err, TF_ERR_NOT_FOUND, "public_ref", "no ticket has this reference");
    else
        intake_status (self->intake, ticket_no, &reply, &err);
    free (ref);
    if (reply.v [TF_F_STATUS_INFO_TICKET_NO].present)
        tf_engine_reply (engine, request, &reply);
    else
        tf_engine_refuse (engine, request, &err);
    tf_msg_clear (&reply);
}

//  token.create / token.revoke: the HTTP gateways' credentials
static void
s_token (void *state, tf_engine_t *engine, tf_request_t *request)
{
    (void) state;
    const tf_msg_t *m = &request->msg;
    tf_error_t err;
    tf_identity_t who = { .role = TF_ROLE_NONE };
    char *name = tf_msg_strdup (m, m->type == TF_MSG_TOKEN_CREATE? TF_F_TOKEN_CREATE_NAME: TF_F_TOKEN_REVOKE_NAME);
    snprintf (who.name, sizeof who.name, "%s", name);
    free (name);
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_TOKEN_CREATED);
    tf_msg_set_cstr (&reply, TF_F_TOKEN_CREATED_NAME, who.name);
    int rc = 0;
    if (m->type == TF_MSG_TOKEN_CREATE) {
        char *text = tf_msg_strdup (m, TF_F_TOKEN_CREATE_ROLE);
        who.role = tf_role_lookup (text);
        free (text);
        text = tf_msg_strdup (m, TF_F_TOKEN_CREATE_DEPARTMENT);
        snprintf (who.department, sizeof who.department, "%s", text? text: "");
        free (text);
        text = tf_msg_strdup (m, TF_F_TOKEN_CREATE_CHANNEL);
        snprintf (who.channel, sizeof who.channel, "%s", text? text: "");
        free (text);
        char token [64];
        rc = tf_token_create (tf_engine_db (engine), &who, token, sizeof token, &err);
        if (rc == 0) {
            tf_msg_set_cstr (&reply, TF_F_TOKEN_CREATED_TOKEN, token);
            tf_info ("token issued to %s (%s) by %s", who.name, tf_role_names [who.role], request->who.name);
        }
    }
    else {
        int revoked = tf_token_revoke (tf_engine_db (engine), who.name);
        rc = revoked < 0? tf_error_unavailable (&err): 0;
        tf_msg_set_int (&reply, TF_F_TOKEN_CREATED_REVOKED, revoked);
        if (revoked > 0)
            tf_info ("token of %s revoked by %s", who.name, request->who.name);
    }
    if (rc)
        tf_engine_refuse (engine, request, &err);
    else
        tf_engine_reply (engine, request, &reply);
    tf_msg_clear (&reply);
}

//  ticket.message: into the ticket's thread
static void
s_message (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    tf_error_t err;
    char ticket_no [32], status [16];
    if (intake_message (self->intake, &request->msg, ticket_no, status, &err))
        tf_engine_refuse (engine, request, &err);
    else
        tf_engine_reply_updated (engine, request, ticket_no, status);
}

static void
s_survey (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    tf_error_t err;
    char ticket_no [40], status [16];
    tf_ticket_no_copy (&request->msg, TF_F_SURVEY_TICKET_NO, ticket_no, sizeof ticket_no);
    if (intake_survey (self->intake, &request->msg, status, &err))
        tf_engine_refuse (engine, request, &err);
    else
        tf_engine_reply_updated (engine, request, ticket_no, status);
}

static const char *
s_query (void *state, tf_engine_t *engine, const char *command)
{
    (void) engine;
    return streq (command, "HTTP-PORT")? ((state_t *) state)->http_port: NULL;
}

static const char *const s_settings [] = {
    "database-url", "log-level", "security", "keys-dir", "timezone", "batch-size", "max-message-bytes",
    "intake-endpoint", "intake-events-endpoint", "intake-feedback-endpoint", "http-address", "http-tls-cert", "http-tls-key", "intake-http-port",
    "intake-ops-port", "request-timeout-ms", NULL
};

const tf_service_t intake_service = {
    .id = TF_SVC_INTAKE,
    .summary =
        "ticketflow-intake — the receive stage.\n"
        "Takes ticket.submit over ZeroMQ (ROUTER) and POST /v1/tickets over HTTP,\n"
        "masks personal numbers, numbers and stores each ticket, answers only after\n"
        "the commit, and publishes ticket.received. What waits on the socket is\n"
        "committed together: a batch of up to --batch-size costs a few statements.\n"
        "A customer's new submission about the same thread or order joins their open\n"
        "ticket as a message (threaded); a new customer ticket gets its receipt (out\n"
        "of service hours, the auto-reply with the next opening) in the outbox.\n"
        "Takes ticket.message (a customer's further message, into the ticket's thread),\n"
        "ticket.survey (the follow-up survey's answers) and the customer's\n"
        "ticket.feedback on resolved tickets, which goes on to the notifier. /healthz, /readyz and /metrics on --intake-ops-port.\n"
        "See proto/events.md.\n\n"
        "Usage: ticketflow-intake [--SETTING=VALUE ...]",
    .settings = s_settings,
    .request_setting = "intake-endpoint",
    .ops_port_setting = "intake-ops-port",
    .outputs = (const tf_output_t []) {
        [OUTPUT_RECEIVED] = { "EVENTS", ZMQ_PUSH, "intake-events-endpoint" },
        [OUTPUT_FEEDBACK] = { "FEEDBACK", ZMQ_PUSH, "intake-feedback-endpoint" },
        { .query = NULL }
    },
    .handlers = (const tf_handler_t []) {
        { .type = TF_MSG_SUBMIT, .handle = s_submit, .needs_database = true },
        { .type = TF_MSG_GET, .one = s_get, .needs_database = true },
        { .type = TF_MSG_FEEDBACK, .one = s_feedback, .needs_database = true },
        { .type = TF_MSG_MESSAGE, .one = s_message, .needs_database = true },
        { .type = TF_MSG_SURVEY, .one = s_survey, .needs_database = true },
        { .type = TF_MSG_STATUS, .one = s_status, .needs_database = true },
        { .type = TF_MSG_TOKEN_CREATE, .one = s_token, .needs_database = true },
        { .type = TF_MSG_TOKEN_REVOKE, .one = s_token, .needs_database = true },
        { .type = TF_MSG_NONE }
    },
    .create = s_create,
    .destroy = s_destroy,
    .query = s_query,
};
