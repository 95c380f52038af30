//  ticketflow-classifier: the classify stage. Wiring only; see classifier_server.c.
#include "classifier_server.h"
#include "tf_actor.h"
#include "tf_log.h"

int
main (int argc, char **argv)
{
    static const char *settings [] = {
        "database-url", "log-level", "timezone", "batch-size", "max-message-bytes",
        "reconcile-seconds", "stale-seconds", "intake-events-endpoint",
        "classifier-endpoint", "classifier-events-endpoint", "classifier-min-confidence",
        "taxonomy-file", NULL
    };
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-classifier",
        "ticketflow-classifier — the classify stage (received → classified, or → triage).\n"
        "Takes ticket.received from intake (PULL) and, every reconcile-seconds, any ticket\n"
        "left in `received` longer than stale-seconds. Scores every sub-category of the\n"
        "taxonomy table by the keywords found in the ticket's subject, body, error text and\n"
        "alert (longer keywords weigh more), picks the best and its third level, and derives\n"
        "a confidence from the margin over the runner-up. Below classifier-min-confidence,\n"
        "or when nothing matched, the ticket goes to `triage` for a person; otherwise it is\n"
        "`classified` with category, sub-category, priority and the priority reasons, in one\n"
        "transaction with its history row, and ticket.classified is pushed after the commit.\n"
        "Priority: the sub-category's default, raised by the reasons of lexicon.json (read\n"
        "from the folder of taxonomy-file; built-in lists when it is missing): P1 for\n"
        "personal safety, money taken, stolen account, public threat, extreme emotion,\n"
        "batch complaint, wide-scope alert; P2 for a failed refund.\n"
        "Requests (ROUTER): service.ping, and ticket.classify for a person's classification\n"
        "of a triage (or received/classified) ticket, recorded in classification_corrections.\n"
        "The taxonomy is read from the database at start (empty: everything goes to triage\n"
        "and the table is read again on each reconcile). See proto/events.md.\n\n"
        "Usage: ticketflow-classifier [--SETTING=VALUE ...]",
        NULL, NULL);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("classifier", cfg.log_level);
    return tf_actor_main (classifier_server_actor, &cfg, "ENDPOINT");
}
