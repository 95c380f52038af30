#include "sla_service.h"
#include "sla.h"
#include "tf_log.h"
#include "tf_ticket.h"

#define WINDOW_CAP      1024    //  most due timers held in memory
#define BREACH_BATCH    256     //  breaches marked per statement
#define RETRY_MS        250     //  after a pass that could not take what was due
#define TRACK_CHUNK     64      //  tickets given deadlines per statement
#define TRACK_EVERY_MS  250     //  how often new tickets are given their deadlines
#define FOREVER         INT64_MAX

enum { OUTPUT_RESOLVED, OUTPUT_PUBLISH };

typedef struct {
    sla_t *sla;
    //  the next window of due timers, soonest first, as zclock_mono ()
    //  deadlines computed from the database's "due in n ms": a jump of this
    //  host's wall clock moves nothing
    int64_t due [WINDOW_CAP];
    int ndue;
    int64_t next_check;         //  when to look for breaches next
    int64_t window_loaded_at;
    bool window_dirty;          //  a request paused, moved or met a deadline
    int64_t next_sweep;         //  when the reconciler looks at accepts and holds again
    int64_t next_track;         //  when to look for tickets without deadlines
    sla_fired_t fired [2 * BREACH_BATCH];
} state_t;

static void
s_destroy (void **state_p)
{
    state_t *self = *state_p;
    if (!self)
        return;
    sla_destroy (&self->sla);
    free (self);
    *state_p = NULL;
}

static void *
s_create (tf_engine_t *engine)
{
    state_t *self = calloc (1, sizeof *self);
    assert (self);
    self->next_check = 0;
    self->window_dirty = true;
    self->sla = sla_new (tf_engine_db (engine));
    if (!self->sla) {
        void *state = self;
        s_destroy (&state);
        return NULL;
    }
    const tf_config_t *cfg = tf_engine_config (engine);
    sla_settings_t settings = { .escalation_step_minutes = cfg->escalation_step_minutes };
    snprintf (settings.owner_sink, sizeof settings.owner_sink, "%s", cfg->owner_sink);
    snprintf (settings.sms_sink, sizeof settings.sms_sink, "%s", cfg->sms_sink);
    sla_configure (self->sla, &settings);
    return self;
}

//  Loads the timers due within the window (never all of them).
static void
s_load_window (state_t *self, tf_engine_t *engine)
{
    int64_t in_ms [WINDOW_CAP];
    int n = sla_window (self->sla, tf_engine_config (engine)->sla_window_seconds, in_ms, WINDOW_CAP);
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
s_publish (tf_engine_t *engine, const sla_fired_t *f)
{
    tf_msg_t event;
    if (f->signal == SLA_ESCALATED) {
        tf_info ("escalated: %s to level %d (%s %s; %s)", f->ticket_no, f->level, f->role,
                 *f->escalated_to? f->escalated_to: "nobody on the roster", f->kind);
        tf_msg_init (&event, TF_MSG_ESCALATED);
        tf_msg_set_int (&event, TF_F_ESCALATED_TICKET_ID, f->ticket_id);
        tf_msg_set_cstr (&event, TF_F_ESCALATED_TICKET_NO, f->ticket_no);
        tf_msg_set_int (&event, TF_F_ESCALATED_LEVEL, f->level);
        tf_msg_set_cstr (&event, TF_F_ESCALATED_ROLE, f->role);
        if (*f->escalated_to)
            tf_msg_set_cstr (&event, TF_F_ESCALATED_ESCALATED_TO, f->escalated_to);
        tf_msg_set_cstr (&event, TF_F_ESCALATED_REASON, f->kind);
        if (*f->department)
            tf_msg_set_cstr (&event, TF_F_ESCALATED_DEPARTMENT, f->department);
        if (*f->priority)
            tf_msg_set_cstr (&event, TF_F_ESCALATED_PRIORITY, f->priority);
    }
    else {
        bool breach = f->signal == SLA_BREACHED;
        if (breach)
            tf_warn ("deadline passed: %s %s (due %s, %s)", f->ticket_no, f->kind, f->due_at,
                     *f->department? f->department: "no department");
        //  the two schemas have the same fields, in the same order
        tf_msg_init (&event, breach? TF_MSG_BREACHED: TF_MSG_WARNING);
        tf_msg_set_int (&event, breach? TF_F_BREACHED_TICKET_ID: TF_F_WARNING_TICKET_ID, f->ticket_id);
        tf_msg_set_cstr (&event, breach? TF_F_BREACHED_TICKET_NO: TF_F_WARNING_TICKET_NO, f->ticket_no);
        tf_msg_set_cstr (&event, breach? TF_F_BREACHED_KIND: TF_F_WARNING_KIND, f->kind);
        tf_msg_set_cstr (&event, breach? TF_F_BREACHED_DUE_AT: TF_F_WARNING_DUE_AT, f->due_at);
        if (*f->department)
            tf_msg_set_cstr (&event, breach? TF_F_BREACHED_DEPARTMENT: TF_F_WARNING_DEPARTMENT, f->department);
        if (*f->priority)
            tf_msg_set_cstr (&event, breach? TF_F_BREACHED_PRIORITY: TF_F_WARNING_PRIORITY, f->priority);
        if (*f->assignee)
            tf_msg_set_cstr (&event, breach? TF_F_BREACHED_ASSIGNEE: TF_F_WARNING_ASSIGNEE, f->assignee);
    }
    char topic [48];
    snprintf (topic, sizeof topic, "%s.", *f->department? f->department: "unassigned");
    tf_engine_send (engine, OUTPUT_PUBLISH, topic, &event);
    tf_msg_clear (&event);
}

//  Takes what is due (the database decides, by its clock), publishes what
//  went off after its commit, then reloads the window.
static void
s_breach (state_t *self, tf_engine_t *engine)
{
    int n, total = 0;
    size_t taken;
    do {
        n = sla_fire_due (self->sla, self->fired, BREACH_BATCH, &taken);
        for (int i = 0; i < n; i++)
            s_publish (engine, &self->fired [i]);
        total += n >= 0? (int) taken: 0;
    } while (n >= 0 && taken == BREACH_BATCH);
    s_load_window (self, engine);
    int64_t now = zclock_mono ();
    //  something is due yet nothing could be taken (another instance holds
    //  it, or the database is away): do not spin, look again shortly
    if ((n < 0 || total == 0) && self->next_check <= now)
        self->next_check = now + (n < 0? 1000: RETRY_MS);
}

//  Deadlines for the tickets that got a priority since the last look, up to
//  `limit`, in statements of TRACK_CHUNK tickets: each holds its tickets'
//  row locks while it runs, and the dispatcher and the classifier (linking
//  an incident) wait for them. Returns how many, or -1.
static int
s_track (state_t *self, size_t limit)
{
    int created = 0, n;
    do {
        size_t chunk = limit - (size_t) created < TRACK_CHUNK? limit - (size_t) created: TRACK_CHUNK;
        n = sla_track_missing (self->sla, chunk);
        created = n < 0? -1: created + n;
    } while (n == TRACK_CHUNK && (size_t) created < limit);
    if (created > 0)
        self->window_dirty = true;      //  an old ticket's deadline may be near
    return created;
}

//  The timer: new tickets' deadlines four times a second (a trickle, not a
//  burst every reconcile period), breaches when one is due, the window
//  when it is stale.
static int64_t
s_tick (void *state, tf_engine_t *engine)
{
    state_t *self = state;
    if (!tf_db_ready (tf_engine_db (engine)))
        return zclock_mono () + 1000;
    int64_t now = zclock_mono ();
    if (now >= self->next_track) {
        size_t limit = (size_t) tf_engine_config (engine)->batch_size;
        int created = s_track (self, limit);
        //  a full batch: more wait, come back once the loop has gone round
        self->next_track = now + (created < 0? 1000: (size_t) created == limit? 0: TRACK_EVERY_MS);
    }
    int64_t half_window = tf_engine_config (engine)->sla_window_seconds * 500LL;
    if (now >= self->next_check)
        s_breach (self, engine);
    else
    if (self->window_dirty || now - self->window_loaded_at >= half_window)
        s_load_window (self, engine);
    int64_t next = self->window_loaded_at + half_window;
    if (self->next_check < next)
        next = self->next_check;
    return self->next_track < next? self->next_track: next;
}

static int
s_reconcile (void *state, tf_engine_t *engine)
{
    state_t *self = state;
    size_t limit = (size_t) tf_engine_config (engine)->batch_size;
    //  Accepts and holds once per reconcile-seconds, not on every pass the
    //  engine repeats at once while a backlog of expired holds drains
    int met = 0, resumed = 0;
    int64_t now = zclock_mono ();
    if (now >= self->next_sweep) {
        met = sla_meet_responses (self->sla);
        if (met > 0)
            tf_info ("%d response deadline(s) met whose ticket.claimed was lost", met);
        resumed = sla_expire_holds (self->sla, limit);
        if (resumed > 0)
            tf_info ("%d ticket(s) resumed: their expected resume time passed", resumed);
        int seconds = tf_engine_config (engine)->reconcile_seconds;
        if (met >= 0 && resumed >= 0 && resumed < (int) limit)
            self->next_sweep = now + (seconds > 0? seconds: 1) * 1000LL;
    }
    self->window_dirty = true;
    tf_engine_wake (engine);
    //  a lost ticket.claimed and an expired hold: the engine counts them
    //  as reconciled (and comes back at once past a batch)
    return met < 0 || resumed < 0? -1: met + resumed;
}

//  ticket.claimed: timers at once; an old ticket may already be due
static int
s_claimed (void *state, tf_engine_t *engine, const int64_t *ids, size_t n)
{
    state_t *self = state;
    int rc = sla_track (self->sla, ids, n);
    if (rc >= 0) {
        self->window_dirty = true;
        tf_engine_wake (engine);
    }
    return rc;
}

typedef int (request_fn) (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
                          tf_error_t *err);

//  A request in its own transaction; the answer names the status after it.
static void
s_request (state_t *self, tf_engine_t *engine, tf_request_t *request, request_fn *fn, tf_field_id_t no_field)
{
    char status [16] = "", ticket_no [40];
    int64_t ticket_id = 0;
    tf_error_t err;
    if (fn (self->sla, &request->msg, &ticket_id, status, &err)) {
        tf_engine_refuse (engine, request, &err);
        return;
    }
    tf_ticket_no_copy (&request->msg, no_field, ticket_no, sizeof ticket_no);
    tf_engine_reply_updated (engine, request, ticket_no, status);
    //  after the commit: the notifier asks the customer to confirm
    if (request->msg.type == TF_MSG_RESOLVE)
        tf_engine_send_ticket (engine, OUTPUT_RESOLVED, TF_MSG_RESOLVED, ticket_id, ticket_no);
    //  a deadline paused, moved or met: the window changed
    self->window_dirty = true;
    tf_engine_wake (engine);
}

static void
s_progress (void *state, tf_engine_t *engine, tf_request_t *request)
{
    s_request (state, engine, request, sla_progress, TF_F_PROGRESS_TICKET_NO);
}

static void
s_hold (void *state, tf_engine_t *engine, tf_request_t *request)
{
    s_request (state, engine, request, sla_hold, TF_F_HOLD_TICKET_NO);
}

static void
s_resume (void *state, tf_engine_t *engine, tf_request_t *request)
{
    s_request (state, engine, request, sla_resume, TF_F_RESUME_TICKET_NO);
}

static void
s_resolve (void *state, tf_engine_t *engine, tf_request_t *request)
{
    s_request (state, engine, request, sla_resolve, TF_F_RESOLVE_TICKET_NO);
}

static void
s_reply (void *state, tf_engine_t *engine, tf_request_t *request)
{
    s_request (state, engine, request, sla_reply, TF_F_REPLY_TICKET_NO);
}

static void
s_note (void *state, tf_engine_t *engine, tf_request_t *request)
{
    s_request (state, engine, request, sla_note, TF_F_NOTE_TICKET_NO);
}

static const char *const s_settings [] = {
    "database-url", "log-level", "security", "keys-dir", "timezone", "batch-size", "max-message-bytes",
    "reconcile-seconds", "sla-window-seconds", "sla-endpoint", "sla-events-endpoint",
    "sla-publish-endpoint", "dispatcher-events-endpoint", "http-address", "sla-ops-port",
    "escalation-step-minutes", "owner-sink", "sms-sink", NULL
};

const tf_service_t sla_service = {
    .id = TF_SVC_SLA,
    .summary =
        "ticketflow-sla — the handle stage and every clock of a ticket.\n"
        "Answers ticket.progress (accepted|in_progress → in_progress, note masked; with\n"
        "public the customer gets the step), ticket.reply (a public reply to the customer;\n"
        "with ask, a request for information and the ticket waits on hold for the answer),\n"
        "ticket.note (an internal note in the thread), ticket.hold\n"
        "(reason and a future expected resume time; every clock pauses), ticket.resume (each\n"
        "clock gets back the open time it had left) and ticket.resolve (then sends\n"
        "ticket.resolved to the notifier) on its ROUTER, each with ticket.updated or error.\n"
        "Every ticket with a priority gets its clocks as rows in sla_timers, from the manuals'\n"
        "table in the taxonomy: a first response within 15 minutes of service time and a\n"
        "resolution deadline per sub-category (service minutes, hours or working days of\n"
        "deploy/calendar.json), each with a warning at 80 %; P1 around the clock, with the\n"
        "on-duty manager called at 5 minutes unaccepted and an SMS to its owner at 2 hours\n"
        "untouched; the progress cadence in hand (4 h, P1 1 h); the verification an hour\n"
        "after the fix; a new resolution deadline after a reopening. The clocks start at the\n"
        "customer's contact time. They are made within a quarter second of the\n"
        "classification (sla looks four times a second) or at once on ticket.claimed. A\n"
        "missed deadline marks the ticket, publishes sla.breached and climbs the chain:\n"
        "team lead, then supervisor and manager every escalation-step-minutes\n"
        "(sla.escalated); warnings and reminders publish sla.warning. Messages to staff go\n"
        "to the outbox on --owner-sink, the SMS on --sms-sink. Every time is the database's\n"
        "(tf_now ()). A reconciler (at start and every reconcile-seconds) meets the response\n"
        "deadline of an accept whose ticket.claimed was lost and resumes tickets whose\n"
        "expected resume time passed. Only the clocks due within sla-window-seconds are kept\n"
        "in memory; each fires once, whichever instance wins. Run any number of instances\n"
        "on one database. /healthz, /readyz and /metrics on --sla-ops-port. See\n"
        "proto/events.md.\n\n"
        "Usage: ticketflow-sla [--SETTING=VALUE ...]",
    .settings = s_settings,
    .request_setting = "sla-endpoint",
    .ops_port_setting = "sla-ops-port",
    .input_settings = (const char *const []) { "dispatcher-events-endpoint", NULL },
    .outputs = (const tf_output_t []) {
        [OUTPUT_RESOLVED] = { "EVENTS", ZMQ_PUSH, "sla-events-endpoint" },
        [OUTPUT_PUBLISH] = { "PUBLISH", ZMQ_PUB, "sla-publish-endpoint" },
        { .query = NULL }
    },
    .handlers = (const tf_handler_t []) {
        { .type = TF_MSG_PROGRESS, .one = s_progress, .needs_database = true },
        { .type = TF_MSG_HOLD, .one = s_hold, .needs_database = true },
        { .type = TF_MSG_RESUME, .one = s_resume, .needs_database = true },
        { .type = TF_MSG_RESOLVE, .one = s_resolve, .needs_database = true },
        { .type = TF_MSG_REPLY, .one = s_reply, .needs_database = true },
        { .type = TF_MSG_NOTE, .one = s_note, .needs_database = true },
        { .type = TF_MSG_NONE }
    },
    .consumers = (const tf_consumer_t []) {
        { TF_MSG_CLAIMED, s_claimed },
        { .type = TF_MSG_NONE }
    },
    //  deadlines that passed and are not marked yet: the breach pass is behind
    .waiting_sql =
        "SELECT 'overdue_timers', count (*), extract (epoch FROM tf_now () - min (next_at)) FROM sla_timers "
        "WHERE met_at IS NULL AND breached_at IS NULL AND paused_at IS NULL AND next_at <= tf_now () "
        "AND kind NOT IN ('acknowledgement', 'hand_over')",
    .create = s_create,
    .destroy = s_destroy,
    .reconcile = s_reconcile,
    .tick = s_tick,
};
