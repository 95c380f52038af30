//  ticketflow-sla: the handle stage and the deadline clocks. Wiring only; see sla_server.c.
#include "sla_server.h"
#include "tf_actor.h"
#include "tf_log.h"

int
main (int argc, char **argv)
{
    static const char *settings [] = {
        "database-url", "log-level", "timezone", "batch-size", "max-message-bytes",
        "reconcile-seconds", "sla-window-seconds", "sla-endpoint", "sla-events-endpoint",
        "sla-publish-endpoint", "dispatcher-events-endpoint", NULL
    };
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-sla",
        "ticketflow-sla — the handle stage and every deadline clock.\n"
        "Answers ticket.progress (accepted|in_progress → in_progress, note masked), ticket.hold\n"
        "(reason and a future expected resume time; pauses the resolution clock), ticket.resume\n"
        "(the resolution deadline moves by the time on hold) and ticket.resolve (then sends\n"
        "ticket.resolved to the notifier) on its ROUTER, each with ticket.updated or error.\n"
        "Every ticket with a priority gets a response and a resolution deadline (rows in\n"
        "sla_timers: created_at + the sla_policy minutes of its priority), made at once on\n"
        "ticket.claimed from the dispatcher and by a reconciler (at start and every\n"
        "reconcile-seconds) for tickets nobody announced; the reconciler also resumes tickets\n"
        "whose expected resume time passed. The response deadline is met by the accept, the\n"
        "resolution deadline by the resolve. Only the timers due within sla-window-seconds are\n"
        "kept in memory; when one passes unmet and not paused, the ticket is marked and\n"
        "sla.breached is published with topic <department>. (once, whichever instance wins).\n"
        "Run any number of instances on one database. See proto/events.md.\n\n"
        "Usage: ticketflow-sla [--SETTING=VALUE ...]",
        NULL, NULL);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("sla", cfg.log_level);
    return tf_actor_main (sla_server_actor, &cfg, "ENDPOINT");
}
