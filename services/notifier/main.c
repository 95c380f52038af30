//  ticketflow-notifier: the confirm stage and every outbound message.
//  Wiring only; see notifier_server.c.
#include "notifier_server.h"
#include "tf_actor.h"
#include "tf_log.h"

int
main (int argc, char **argv)
{
    static const char *settings [] = {
        "database-url", "log-level", "timezone", "batch-size", "max-message-bytes",
        "reconcile-seconds", "stale-seconds",
        "sla-events-endpoint", "intake-feedback-endpoint",
        "notifier-endpoint", "notifier-events-endpoint", "notifier-reopen-endpoint",
        "notifier-file", "notifier-webhook-url", "notifier-max-attempts", "notifier-retry-seconds",
        NULL
    };
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-notifier",
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
        "Answers service.ping on its request socket. See proto/events.md.\n\n"
        "Usage: ticketflow-notifier [--SETTING=VALUE ...]",
        NULL, NULL);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("notifier", cfg.log_level);
    return tf_actor_main (notifier_server_actor, &cfg, "ENDPOINT");
}
