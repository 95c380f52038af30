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
        "Takes ticket.progress, ticket.hold (reason and expected resume time), ticket.resume\n"
        "and ticket.resolve (sends ticket.resolved to the notifier). Keeps a response and a\n"
        "resolution deadline per ticket from the sla_policy table (counted from creation;\n"
        "response met at accept, resolution at resolve, paused on hold), as rows that\n"
        "survive restarts, and publishes sla.breached (topic <department>.) when one passes.\n"
        "Tickets whose expected resume time passed are resumed. See proto/events.md.\n\n"
        "Usage: ticketflow-sla [--SETTING=VALUE ...]",
        NULL, NULL);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("sla", cfg.log_level);
    return tf_actor_main (sla_server_actor, &cfg, "ENDPOINT");
}
