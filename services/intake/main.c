//  ticketflow-intake: the receive stage. Wiring only; see intake_server.c.
#include "intake_server.h"
#include "tf_actor.h"
#include "tf_log.h"

int
main (int argc, char **argv)
{
    static const char *settings [] = {
        "database-url", "log-level", "timezone", "batch-size", "max-message-bytes",
        "intake-endpoint", "intake-events-endpoint", "intake-feedback-endpoint", "http-address", "intake-http-port",
        "request-timeout-ms", NULL
    };
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-intake",
        "ticketflow-intake — the receive stage.\n"
        "Takes ticket.submit over ZeroMQ (ROUTER) and POST /v1/tickets over HTTP,\n"
        "masks personal numbers, numbers and stores each ticket, answers only after\n"
        "the commit, and publishes ticket.received. Takes the customer's ticket.feedback\n"
        "on resolved tickets and hands it to the notifier. See proto/events.md.\n\n"
        "Usage: ticketflow-intake [--SETTING=VALUE ...]",
        NULL, NULL);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("intake", cfg.log_level);
    return tf_actor_main (intake_server_actor, &cfg, "ENDPOINT");
}
