//  ticketflow-reporting: the archive stage and the metrics. Wiring only; see reporting_server.c.
#include "reporting_server.h"
#include "tf_actor.h"
#include "tf_log.h"

int
main (int argc, char **argv)
{
    static const char *settings [] = {
        "database-url", "log-level", "timezone", "batch-size", "max-message-bytes",
        "reconcile-seconds", "stale-seconds", "notifier-events-endpoint",
        "reporting-endpoint", "http-address", "reporting-http-port", "request-timeout-ms", NULL
    };
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-reporting",
        "ticketflow-reporting — the archive stage and the metrics.\n"
        "Takes ticket.confirmed from the notifier (PULL) and closes each confirmed\n"
        "ticket (confirmed → closed, closed_at, a history row); a reconciler closes\n"
        "tickets left confirmed longer than --stale-seconds, at start and every\n"
        "--reconcile-seconds. Answers report.summary over ZeroMQ (ROUTER) and\n"
        "GET /v1/report/summary over HTTP with the same JSON: volumes by status,\n"
        "category, top-10 sub-category, priority, department and channel, backlog,\n"
        "average first response and resolution times, CSAT, reopen rate, SLA\n"
        "breaches and on-time rate, the outbox, resolution time per category.\n"
        "Reports only read the database. See proto/events.md.\n\n"
        "Usage: ticketflow-reporting [--SETTING=VALUE ...]",
        NULL, NULL);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("reporting", cfg.log_level);
    return tf_actor_main (reporting_server_actor, &cfg, "ENDPOINT");
}
