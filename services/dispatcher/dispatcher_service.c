#include "dispatcher_service.h"
#include "dispatcher.h"
#include "tf_log.h"
#include "tf_ticket.h"

enum { OUTPUT_ASSIGNED, OUTPUT_CLAIMED };

//  How often the timer looks for unaccepted assignments and pool tickets
#define REBALANCE_EVERY_MS  1000

typedef struct {
    dispatcher_t *dispatcher;
    dispatcher_assignment_t *assigned;  //  room for one batch
    int64_t next_rebalance;
} state_t;

static void
s_destroy (void **state_p)
{
    state_t *self = *state_p;
    if (!self)
        return;
    dispatcher_destroy (&self->dispatcher);
    free (self->assigned);
    free (self);
    *state_p = NULL;
}

static void *
s_create (tf_engine_t *engine)
{
    state_t *self = calloc (1, sizeof *self);
    assert (self);
    self->assigned = calloc ((size_t) tf_engine_config (engine)->batch_size, sizeof (dispatcher_assignment_t));
    self->dispatcher = dispatcher_new (tf_engine_db (engine));
    if (!self->assigned || !self->dispatcher) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    return self;
}

//  Publishes the committed assignments and frees them.
static void
s_publish (state_t *self, tf_engine_t *engine, int count)
{
    for (int i = 0; i < count; i++) {
        tf_msg_t event;
        char topic [48];
        dispatcher_assignment_event (&self->assigned [i], &event, topic, sizeof topic);
        tf_engine_send (engine, OUTPUT_ASSIGNED, topic, &event);
        tf_msg_clear (&event);
        dispatcher_assignment_clear (&self->assigned [i]);
    }
}

//  ticket.classified and ticket.reopened alike: the ticket's status says
//  which move it takes
static int
s_assign (void *state, tf_engine_t *engine, const int64_t *ids, size_t n)
{
    state_t *self = state;
    int count = dispatcher_assign (self->dispatcher, ids, n, self->assigned);
    s_publish (self, engine, count);
    return count;
}

static int
s_reconcile (void *state, tf_engine_t *engine)
{
    state_t *self = state;
    const tf_config_t *cfg = tf_engine_config (engine);
    int count = dispatcher_reconcile (self->dispatcher, cfg->stale_seconds, (size_t) cfg->batch_size,
                                      self->assigned);
    s_publish (self, engine, count);
    return count;
}

static void
s_queue (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    tf_msg_t reply;
    tf_error_t err;
    if (dispatcher_queue (self->dispatcher, &request->msg, &reply, &err))
        tf_engine_refuse (engine, request, &err);
    else
        tf_engine_reply (engine, request, &reply);
    tf_msg_clear (&reply);
}

static void
s_agent (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    tf_msg_t reply;
    tf_error_t err;
    if (dispatcher_agent (self->dispatcher, &request->msg, &reply, &err))
        tf_engine_refuse (engine, request, &err);
    else {
        tf_engine_reply (engine, request, &reply);
        //  someone came on duty or got room: the pool may move at once
        self->next_rebalance = 0;
        tf_engine_wake (engine);
    }
    tf_msg_clear (&reply);
}

//  The timer: assignments nobody accepted in time go to the next agent,
//  and pool tickets to agents with room, once a second
static int64_t
s_tick (void *state, tf_engine_t *engine)
{
    state_t *self = state;
    int64_t now = zclock_mono ();
    if (now >= self->next_rebalance && tf_db_ready (tf_engine_db (engine))) {
        const tf_config_t *cfg = tf_engine_config (engine);
        size_t limit = (size_t) cfg->batch_size;
        int count = dispatcher_rebalance (self->dispatcher, cfg->owner_sink, limit, self->assigned);
        s_publish (self, engine, count);
        //  a full batch: more wait, come back once the loop has gone round
        self->next_rebalance = now + (count >= 0 && (size_t) count == limit? 0: REBALANCE_EVERY_MS);
    }
    else
    if (now >= self->next_rebalance)
        self->next_rebalance = now + REBALANCE_EVERY_MS;
    return self->next_rebalance;
}

static void
s_accept (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    int64_t id;
    tf_error_t err;
    char ticket_no [TF_MAX_ACCEPT_TICKET_NO + 1];
    tf_ticket_no_copy (&request->msg, TF_F_ACCEPT_TICKET_NO, ticket_no, sizeof ticket_no);
    if (dispatcher_accept (self->dispatcher, &request->msg, &id, &err))
        tf_engine_refuse (engine, request, &err);
    else {
        tf_engine_reply_updated (engine, request, ticket_no, tf_status_name (TF_STATUS_ACCEPTED));
        tf_engine_send_ticket (engine, OUTPUT_CLAIMED, TF_MSG_CLAIMED, id, ticket_no);
    }
}

static void
s_transfer (void *state, tf_engine_t *engine, tf_request_t *request)
{
    state_t *self = state;
    tf_error_t err;
    char ticket_no [TF_MAX_TRANSFER_TICKET_NO + 1];
    tf_ticket_no_copy (&request->msg, TF_F_TRANSFER_TICKET_NO, ticket_no, sizeof ticket_no);
    if (dispatcher_transfer (self->dispatcher, &request->msg, &self->assigned [0], &err))
        tf_engine_refuse (engine, request, &err);
    else {
        tf_engine_reply_updated (engine, request, ticket_no, tf_status_name (TF_STATUS_ASSIGNED));
        s_publish (self, engine, 1);
    }
}

static const char *const s_settings [] = {
    "database-url", "log-level", "security", "keys-dir", "timezone", "batch-size", "max-message-bytes",
    "reconcile-seconds", "stale-seconds",
    "dispatcher-endpoint", "dispatcher-publish-endpoint", "dispatcher-events-endpoint",
    "classifier-events-endpoint", "notifier-reopen-endpoint", "http-address", "dispatcher-ops-port",
    "owner-sink", NULL
};

const tf_service_t dispatcher_service = {
    .id = TF_SVC_DISPATCHER,
    .summary =
        "ticketflow-dispatcher — the assign stage and the roster.\n"
        "Takes ticket.classified (from the classifier) and ticket.reopened (from the\n"
        "notifier) on one PULL socket and routes each ticket to the first owner of its\n"
        "sub-category in the taxonomy (the front line, mostly; frontline when the\n"
        "sub-category is unknown; a reopened ticket goes back to its department and\n"
        "agent), and there to an on-duty agent with the skill and room under their\n"
        "capacity, least loaded first, else to the department's pool. It commits\n"
        "classified/reopened -> assigned for a whole batch in a few statements, then\n"
        "publishes ticket.assigned on a PUB socket with topic \"<department>.\" so each\n"
        "department subscribes to its own queue. An agent has 15 minutes of service\n"
        "time to accept; then the ticket goes to the next agent (else back to the pool)\n"
        "and the team lead hears of it through the outbox (--owner-sink). Once a second\n"
        "it also gives pool tickets to agents who have room, and hands to the second line\n"
        "the tickets the front line kept longer than their sub-category allows\n"
        "(hand_over_hours: 物流信息更新延迟, 48 h).\n"
        "Its request socket answers service.ping, queue.list (a department's or an\n"
        "agent's open tickets, most urgent first), ticket.accept (assigned -> accepted;\n"
        "then ticket.claimed goes to sla on the events PUSH socket), ticket.transfer (to\n"
        "an agent, a department or the second line, with a reason) and the roster:\n"
        "agent.add, agent.update, agent.duty (off duty hands their tickets back to the\n"
        "pool) and agent.list.\n"
        "Every reconcile-seconds it also takes tickets left in classified or reopened for\n"
        "stale-seconds (FOR UPDATE SKIP LOCKED), so a lost event never strands a ticket\n"
        "and several dispatchers can run against one database. /healthz, /readyz and\n"
        "/metrics on --dispatcher-ops-port. See proto/events.md.\n\n"
        "Usage: ticketflow-dispatcher [--SETTING=VALUE ...]",
    .settings = s_settings,
    .request_setting = "dispatcher-endpoint",
    .ops_port_setting = "dispatcher-ops-port",
    .input_settings = (const char *const []) { "classifier-events-endpoint", "notifier-reopen-endpoint", NULL },
    .outputs = (const tf_output_t []) {
        [OUTPUT_ASSIGNED] = { "PUBLISH", ZMQ_PUB, "dispatcher-publish-endpoint" },
        [OUTPUT_CLAIMED] = { "EVENTS", ZMQ_PUSH, "dispatcher-events-endpoint" },
        { .query = NULL }
    },
    .handlers = (const tf_handler_t []) {
        { .type = TF_MSG_QUEUE_LIST, .one = s_queue, .needs_database = true },
        { .type = TF_MSG_ACCEPT, .one = s_accept, .needs_database = true },
        { .type = TF_MSG_TRANSFER, .one = s_transfer, .needs_database = true },
        { .type = TF_MSG_AGENT_ADD, .one = s_agent, .needs_database = true },
        { .type = TF_MSG_AGENT_UPDATE, .one = s_agent, .needs_database = true },
        { .type = TF_MSG_AGENT_DUTY, .one = s_agent, .needs_database = true },
        { .type = TF_MSG_AGENT_LIST, .one = s_agent, .needs_database = true },
        { .type = TF_MSG_NONE }
    },
    .consumers = (const tf_consumer_t []) {
        { TF_MSG_CLASSIFIED, s_assign },
        { TF_MSG_REOPENED, s_assign },
        { .type = TF_MSG_NONE }
    },
    .input_statuses = TF_FROM (CLASSIFIED) | TF_FROM (REOPENED),
    .create = s_create,
    .destroy = s_destroy,
    .reconcile = s_reconcile,
    .tick = s_tick,
};
