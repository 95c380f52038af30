#include "notifier_service.h"
#include "notifier.h"
#include "tf_json.h"
#include "tf_log.h"
#include "tf_ticket.h"

//  The outbox worker: at most this many messages per round, and each sink
//  stops for the round once it has spent the budget (a webhook that times
//  out costs at most one 5 s timeout beyond it).
#define DELIVERY_BATCH      500
#define DELIVERY_BUDGET_MS  1000
#define DELIVERY_IDLE_MS    1000

enum { OUTPUT_CONFIRMED, OUTPUT_REOPENED };

//  Long tickets' updates are looked for this often
#define STILL_WORKING_EVERY_MS  (10 * 60 * 1000)

typedef struct {
    notifier_t *notifier;
    notifier_feedback_t *results;
    size_t results_cap;
    int64_t next_still_working;
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
    tf_info ("%zu sink(s)", notifier_sink_count (self->notifier));
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

//  The reconciler's pass: lost events, then the periodic work (closing
//  unanswered tickets, the digest, long tickets' updates)
static int
s_reconcile (void *state, tf_engine_t *engine)
{
    state_t *self = state;
    const tf_config_t *cfg = tf_engine_config (engine);
    size_t batch = (size_t) cfg->batch_size;
    int requested = notifier_reconcile_resolved (self->notifier, cfg->stale_seconds, batch);
    int answered = notifier_reconcile_feedback (self->notifier, cfg->stale_seconds, self->results, batch);
    if (answered > 0)
        s_send_outcomes (self, engine, answered);
    int closed = notifier_close_unconfirmed (self->notifier, batch);
    int digest = notifier_digest (self->notifier, NULL);
    int long_ones = 0;
    if (zclock_mono () >= self->next_still_working) {
        long_ones = notifier_still_working (self->notifier, batch);
        if (long_ones >= 0 && (size_t) long_ones < batch)
            self->next_still_working = zclock_mono () + STILL_WORKING_EVERY_MS;
    }
    if (requested > 0 || closed > 0 || digest > 0 || long_ones > 0)
        tf_engine_wake (engine);        //  deliver them at once
    if (requested < 0 || answered < 0 || closed < 0 || digest < 0 || long_ones < 0)
        return -1;
    //  a full batch of any: the engine comes back at once
    int most = requested > answered? requested: answered;
    return most > closed? most: closed;
}

static void
s_followup_list (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    char *text = notifier_followups (self->notifier, &request->msg);
    json_t *json = text? json_loads (text, 0, NULL): NULL;
    free (text);
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_FOLLOWUP_ITEMS);
    if (json && tf_json_set_field (&reply, TF_F_FOLLOWUP_ITEMS_FOLLOWUPS, json) == 0)
        tf_engine_reply (engine, request, &reply);
    else {
        tf_error_t err;
        tf_error_unavailable (&err);
        tf_engine_refuse (engine, request, &err);
    }
    tf_msg_clear (&reply);
    json_decref (json);
}

static void
s_digest_send (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    char day [16];
    int customers = notifier_digest_now (self->notifier, day);
    if (customers < 0) {
        tf_error_t err;
        tf_error_unavailable (&err);
        tf_engine_refuse (engine, request, &err);
        return;
    }
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_DIGEST_SENT);
    tf_msg_set_cstr (&reply, TF_F_DIGEST_SENT_DAY, day);
    tf_msg_set_int (&reply, TF_F_DIGEST_SENT_CUSTOMERS, customers);
    tf_engine_reply (engine, request, &reply);
    tf_msg_clear (&reply);
    if (customers > 0)
        tf_engine_wake (engine);
}

static void
s_followup_done (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    tf_error_t err;
    char status [16];
    if (notifier_followup_done (self->notifier, &request->msg, status, &err)) {
        tf_engine_refuse (engine, request, &err);
        return;
    }
    char ticket_no [40];
    tf_ticket_no_copy (&request->msg, TF_F_FOLLOWUP_DONE_TICKET_NO, ticket_no, sizeof ticket_no);
    tf_engine_reply_updated (engine, request, ticket_no, status);
    tf_engine_wake (engine);            //  a review's message, a tag: nothing to send, but cheap
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
    "database-url", "log-level", "security", "keys-dir", "timezone", "batch-size", "max-message-bytes",
    "reconcile-seconds", "stale-seconds",
    "sla-events-endpoint", "intake-feedback-endpoint",
    "notifier-endpoint", "notifier-events-endpoint", "notifier-reopen-endpoint", "notifier-ops-port",
    "http-address", "notifier-file", "notifier-webhook-url", "notifier-webhook-secret", "notifier-sms-url",
    "notifier-smtp-url", "notifier-smtp-from", "notifier-routes", "notifier-channels", "notifier-quiet-hours", "notifier-rate-limits",
    "notifier-digest-at", "notifier-close-days", "notifier-lease-seconds",
    "notifier-max-attempts", "notifier-retry-seconds",
    NULL
};

const tf_service_t notifier_service = {
    .id = TF_SVC_NOTIFIER,
    .summary =
        "ticketflow-notifier — the confirm stage, closing, follow-up and every outbound message.\n"
        "Delivers the outbox, where every service queues what it has to say. A customer\n"
        "message (receipt, out-of-hours reply, information request, reply, progress,\n"
        "digest, confirmation request, auto-close notice, survey: the templates of\n"
        "deploy/messages.json) goes to the sink --notifier-routes gives its channel: the\n"
        "file sink (--notifier-file, one JSON line per message), the webhook\n"
        "(--notifier-webhook-url), the SMS gateway (--notifier-sms-url) or e-mail by SMTP\n"
        "(--notifier-smtp-url); webhook and SMS POSTs are signed with\n"
        "--notifier-webhook-secret. A staff message goes to the sink it names. Texts are\n"
        "masked; a customer's SMS or push waits out --notifier-quiet-hours unless P1;\n"
        "--notifier-rate-limits caps each sink. Failures are retried after\n"
        "--notifier-retry-seconds, doubling; after --notifier-max-attempts a message is\n"
        "dead. Each message's state (queued, failed, sent, dead) is on its ticket.\n"
        "Takes ticket.resolved from sla and asks the customer to confirm. Takes\n"
        "ticket.feedback_received from intake: solved confirms (csat; ticket.confirmed\n"
        "to reporting), not solved reopens (ticket.reopened to the dispatcher). A\n"
        "resolved ticket unanswered for --notifier-close-days closes as auto_closed.\n"
        "A settled ticket gets a follow-up call task and a survey (followup.list,\n"
        "followup.done). The daily digest goes out at --notifier-digest-at (digest.send:\n"
        "at once).\n"
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
    .handlers = (const tf_handler_t []) {
        { .type = TF_MSG_FOLLOWUP_LIST, .one = s_followup_list, .needs_database = true },
        { .type = TF_MSG_FOLLOWUP_DONE, .one = s_followup_done, .needs_database = true },
        { .type = TF_MSG_DIGEST_SEND, .one = s_digest_send, .needs_database = true },
        { .type = TF_MSG_NONE }
    },
    .consumers = (const tf_consumer_t []) {
        { TF_MSG_RESOLVED, s_resolved },
        { TF_MSG_FEEDBACK_RECEIVED, s_feedback },
        { .type = TF_MSG_NONE }
    },
    .waiting_sql =
        "SELECT 'outbox_due', count (*), extract (epoch FROM tf_now () - min (next_attempt_at)) "
        "FROM outbox WHERE status IN ('queued', 'failed') AND next_attempt_at <= tf_now () "
        "UNION ALL "
        "SELECT 'feedback', count (*), extract (epoch FROM tf_now () - min (received_at)) "
        "FROM feedback WHERE processed_at IS NULL",
    .create = s_create,
    .destroy = s_destroy,
    .reconcile = s_reconcile,
    .tick = s_tick,
};
