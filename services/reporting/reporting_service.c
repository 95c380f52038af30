#include "reporting_service.h"
#include "reporting.h"
#include "reporting_http.h"
#include "tf_log.h"

typedef struct {
    reporting_t *reporting;
    reporting_http_t *http;
    char http_port [16];
} state_t;

static void
s_destroy (void **state_p)
{
    state_t *self = *state_p;
    if (!self)
        return;
    reporting_http_destroy (&self->http);
    reporting_destroy (&self->reporting);
    free (self);
    *state_p = NULL;
}

static void *
s_create (tf_engine_t *engine)
{
    const tf_config_t *cfg = tf_engine_config (engine);
    state_t *self = calloc (1, sizeof *self);
    assert (self);
    self->reporting = reporting_new (tf_engine_db (engine));
    //  the HTTP gateway talks to the same request socket over inproc
    self->http = reporting_http_new (cfg->http_address, cfg->reporting_http_port, tf_engine_inproc (engine),
                                     cfg->request_timeout_ms, cfg->http_tls_cert, cfg->http_tls_key);
    if (!self->reporting || !self->http) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    snprintf (self->http_port, sizeof self->http_port, "%d", reporting_http_port (self->http));
    tf_info ("http %s:%s", cfg->http_address, self->http_port);
    return self;
}

static void
s_summary (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    char *data;
    size_t size;
    tf_error_t err;
    if (reporting_summary_msgpack (self->reporting, &data, &size, &err)) {
        tf_engine_refuse (engine, request, &err);
        return;
    }
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_REPORT);
    tf_msg_set_raw (&reply, TF_F_REPORT_SUMMARY, data, size);
    tf_engine_reply (engine, request, &reply);
    tf_msg_clear (&reply);
    free (data);
}

//  Closed is the end of the flow until archiving: nothing is sent on.
static int
s_confirmed (void *state, tf_engine_t *engine, const int64_t *ids, size_t n)
{
    (void) engine;
    return reporting_close (((state_t *) state)->reporting, ids, n);
}

static int
s_reconcile (void *state, tf_engine_t *engine)
{
    const tf_config_t *cfg = tf_engine_config (engine);
    return reporting_reconcile (((state_t *) state)->reporting, cfg->stale_seconds, (size_t) cfg->batch_size);
}

static const char *
s_query (void *state, tf_engine_t *engine, const char *command)
{
    (void) engine;
    return streq (command, "HTTP-PORT")? ((state_t *) state)->http_port: NULL;
}

static const char *const s_settings [] = {
    "database-url", "log-level", "security", "keys-dir", "timezone", "batch-size", "max-message-bytes",
    "reconcile-seconds", "stale-seconds", "notifier-events-endpoint",
    "reporting-endpoint", "http-address", "http-tls-cert", "http-tls-key", "reporting-http-port", "reporting-ops-port",
    "request-timeout-ms", NULL
};

const tf_service_t reporting_service = {
    .id = TF_SVC_REPORTING,
    .summary =
        "ticketflow-reporting — the archive stage and the metrics.\n"
        "Takes ticket.confirmed from the notifier (PULL) and closes each confirmed\n"
        "ticket (confirmed → closed, closed_at, a history row); a reconciler closes\n"
        "tickets left confirmed longer than --stale-seconds, at start and every\n"
        "--reconcile-seconds. Answers report.summary over ZeroMQ (ROUTER) and\n"
        "GET /v1/report/summary over HTTP with the same JSON: volumes by status,\n"
        "category, top-10 sub-category, priority, department and channel, backlog,\n"
        "average first response and resolution times, CSAT, reopen rate, SLA\n"
        "breaches and on-time rate, the outbox, resolution time per category.\n"
        "Reports only read the database. /healthz, /readyz and /metrics on\n"
        "--reporting-ops-port. See proto/events.md.\n\n"
        "Usage: ticketflow-reporting [--SETTING=VALUE ...]",
    .settings = s_settings,
    .request_setting = "reporting-endpoint",
    .ops_port_setting = "reporting-ops-port",
    .input_settings = (const char *const []) { "notifier-events-endpoint", NULL },
    .outputs = (const tf_output_t []) { { .query = NULL } },
    .handlers = (const tf_handler_t []) {
        { .type = TF_MSG_REPORT_SUMMARY, .one = s_summary, .needs_database = true },
        { .type = TF_MSG_NONE }
    },
    .consumers = (const tf_consumer_t []) {
        { TF_MSG_CONFIRMED, s_confirmed },
        { .type = TF_MSG_NONE }
    },
    .input_statuses = TF_FROM (CONFIRMED),
    .create = s_create,
    .destroy = s_destroy,
    .reconcile = s_reconcile,
    .query = s_query,
};
