//  ticketflow-dispatcher: the assign stage. Wiring only; see dispatcher_server.c.
#include "dispatcher_server.h"
#include "tf_actor.h"
#include "tf_log.h"

int
main (int argc, char **argv)
{
    static const char *settings [] = {
        "database-url", "log-level", "timezone", "batch-size", "max-message-bytes",
        "reconcile-seconds", "stale-seconds",
        "dispatcher-endpoint", "dispatcher-publish-endpoint", "dispatcher-events-endpoint",
        "classifier-events-endpoint", "notifier-reopen-endpoint", NULL
    };
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-dispatcher",
        "ticketflow-dispatcher — the assign stage.\n"
        "Takes ticket.classified (from the classifier) and ticket.reopened (from the\n"
        "notifier) on one PULL socket, routes each ticket to the department that the\n"
        "taxonomy table names for its sub-category (frontline when the sub-category is\n"
        "unknown; a reopened ticket goes back to its department and agent), commits\n"
        "classified/reopened -> assigned, then publishes ticket.assigned on a PUB socket\n"
        "with topic \"<department>.\" so each department subscribes to its own queue.\n"
        "Its request socket answers service.ping, queue.list (a department's open\n"
        "tickets, most urgent first: how a subscriber catches up on what PUB dropped),\n"
        "ticket.accept (assigned -> accepted; then ticket.claimed goes to sla on the\n"
        "events PUSH socket) and ticket.transfer (to another department, assigned afresh).\n"
        "Every reconcile-seconds it also takes tickets left in classified or reopened for\n"
        "stale-seconds (FOR UPDATE SKIP LOCKED), so a lost event never strands a ticket\n"
        "and several dispatchers can run against one database. See proto/events.md.\n\n"
        "Usage: ticketflow-dispatcher [--SETTING=VALUE ...]",
        NULL, NULL);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("dispatcher", cfg.log_level);
    return tf_actor_main (dispatcher_server_actor, &cfg, "ENDPOINT");
}
