#include "notifier_service.h"
#include "notifier.h"
#include "tf_log.h"

//  The outbox worker: at most this many messages per round, and each sink
//  stops for the round once it has spent the budget (a webhook that times
//  out costs at most one 5 s timeout beyond it).
#define DELIVERY_BATCH      50
#define DELIVERY_BUDGET_MS  1000
#define DELIVERY_IDLE_MS    1000

enum { OUTPUT_CONFIRMED, OUTPUT_REOPENED };

typedef struct {
    notifier_t *notifier;
    notifier_feedback_t *results;
    size_t results_cap;
} state_t;

static void
s_destroy (void **state_p)
{
    state_t *self = *state_p;
    if (!self)
        return;
    notifier_destroy (&self->notifier);
    free (self->results);
    free (self);
    *state_p = NULL;
}

static void *
s_create (tf_engine_t *engine)
{
    const tf_config_t *cfg = tf_engine_config (engine);
    state_t *self = calloc (1, sizeof *self);
    assert (self);
    self->results_cap = (size_t) cfg->batch_size * 2;
    self->results = calloc (self->results_cap, sizeof (notifier_feedback_t));
    self->notifier = notifier_new (tf_engine_db (engine), cfg->notifier_max_attempts, cfg->notifier_retry_seconds);
    if (!self->notifier || notifier_add_config_sinks (self->notifier, cfg)) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    tf_info ("%zu sink(s)%s", notifier_sink_count (self->notifier),
             cfg->notifier_webhook_url && *cfg->notifier_webhook_url? " (file, webhook)": " (file)");
    return self;
}

//  What committed feedback decided goes on: ticket.confirmed to reporting,
//  ticket.reopened to the dispatcher.
static void
s_send_outcomes (state_t *self, tf_engine_t *engine, int n)
{
    for (int i = 0; i < n; i++) {
        notifier_feedback_t *r = &self->results [i];
        if (r->outcome == NOTIFIER_CONFIRMED)
            tf_engine_send_ticket (engine, OUTPUT_CONFIRMED, TF_MSG_CONFIRMED, r->ticket_id, r->ticket_no);
        else
        if (r->outcome == NOTIFIER_REOPENED)
            tf_engine_send_ticket (engine, OUTPUT_REOPENED, TF_MSG_REOPENED, r->ticket_id, r->ticket_no);
    }
}

static int
s_resolved (void *state, tf_engine_t *engine, const int64_t *ids, size_t n)
{
    int rc = notifier_request_confirmation (((state_t *) state)->notifier, ids, n);
    if (rc > 0)
        tf_engine_wake (engine);        //  deliver them at once
    return rc;
}

static int
s_feedback (void *state, tf_engine_t *engine, const int64_t *ids, size_t n)
{
    state_t *self = state;
    int done = notifier_process_feedback (self->notifier, ids, n, self->results, self->results_cap);
    if (done > 0)
        s_send_outcomes (self, engine, done);
    return done;
}

static int
s_reconcile (void *state, tf_engine_t *engine)
{
    state_t *self = state;
    const tf_config_t *cfg = tf_engine_config (engine);
    int requested = notifier_reconcile_resolved (self->notifier, cfg->stale_seconds, (size_t) cfg->batch_size);
    if (requested > 0)
        tf_engine_wake (engine);
    int answered = notifier_reconcile_feedback (self->notifier, cfg->stale_seconds, self->results,
                                                (size_t) cfg->batch_size);
    if (answered > 0)
        s_send_outcomes (self, engine, answered);
    if (requested < 0 || answered < 0)
        return -1;
    return requested > answered? requested: answered;
}

//  The outbox worker
static int64_t
s_tick (void *state, tf_engine_t *engine)
{
    state_t *self = state;
    if (!tf_db_ready (tf_engine_db (engine)))
        return zclock_mono () + DELIVERY_IDLE_MS;
    notifier_delivery_t stats;
    int n = notifier_deliver (self->notifier, DELIVERY_BATCH, DELIVERY_BUDGET_MS, &stats);
    if (n > 0)
        tf_debug ("outbox: %d claimed, %d sent, %d to retry, %d dead, %d deferred",
                  stats.claimed, stats.sent, stats.retried, stats.dead, stats.deferred);
    //  a full batch: more may be due, go again after a look at the sockets
    return zclock_mono () + (n == DELIVERY_BATCH && stats.deferred == 0? 0: DELIVERY_IDLE_MS);
}

static const char *const s_settings [] = {
    "database-url", "log-level", "timezone", "batch-size", "max-message-bytes",
    "reconcile-seconds", "stale-seconds",
    "sla-events-endpoint", "intake-feedback-endpoint",
    "notifier-endpoint", "notifier-events-endpoint", "notifier-reopen-endpoint", "notifier-ops-port",
    "http-address", "notifier-file", "notifier-webhook-url", "notifier-max-attempts", "notifier-retry-seconds",
    NULL
};

const tf_service_t notifier_service = {
    .id = TF_SVC_NOTIFIER,
    .summary =
        "ticketflow-notifier — the confirm stage and every outbound message.\n"
        "Takes ticket.resolved from sla and queues, per sink, a message asking the\n"
        "customer to confirm the fix and score it 1-5 (the manuals' closing words),\n"
        "in an outbox table. Delivers the outbox: the file sink appends one JSON line\n"
        "per message to --notifier-file, the webhook sink POSTs it as JSON to\n"
        "--notifier-webhook-url when set (2xx = delivered, 5 s timeout); failures are\n"
        "retried after --notifier-retry-seconds, doubling, and after\n"
        "--notifier-max-attempts a message is dead (reports show dead letters).\n"
        "Takes ticket.feedback_received from intake: solved confirms the ticket\n"
        "(csat; ticket.confirmed to reporting), not solved reopens it (ticket.reopened\n"
        "to the dispatcher); feedback on a ticket no longer resolved is ignored.\n"
        "A reconciler picks up resolved tickets and feedback whose event was lost.\n"
        "Answers service.ping on its request socket; /healthz, /readyz and /metrics\n"
        "on --notifier-ops-port. See proto/events.md.\n\n"
        "Usage: ticketflow-notifier [--SETTING=VALUE ...]",
    .settings = s_settings,
    .request_setting = "notifier-endpoint",
    .ops_port_setting = "notifier-ops-port",
    .input_settings = (const char *const []) { "sla-events-endpoint", "intake-feedback-endpoint", NULL },
    .outputs = (const tf_output_t []) {
        [OUTPUT_CONFIRMED] = { "EVENTS", ZMQ_PUSH, "notifier-events-endpoint" },
        [OUTPUT_REOPENED] = { "REOPEN", ZMQ_PUSH, "notifier-reopen-endpoint" },
        { .query = NULL }
    },
    .handlers = (const tf_handler_t []) { { .type = TF_MSG_NONE } },
    .consumers = (const tf_consumer_t []) {
        { TF_MSG_RESOLVED, s_resolved },
        { TF_MSG_FEEDBACK_RECEIVED, s_feedback },
        { .type = TF_MSG_NONE }
    },
    .waiting_sql =
        "SELECT 'outbox_due', count (*), extract (epoch FROM tf_now () - min (next_attempt_at)) "
        "FROM outbox WHERE status = 'pending' AND next_attempt_at <= tf_now () "
        "UNION ALL "
        "SELECT 'feedback', count (*), extract (epoch FROM tf_now () - min (received_at)) "
        "FROM feedback WHERE processed_at IS NULL",
    .create = s_create,
    .destroy = s_destroy,
    .reconcile = s_reconcile,
    .tick = s_tick,
};
