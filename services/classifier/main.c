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
        "classifier-endpoint", "classifier-events-endpoint", "classifier-publish-endpoint",
        "classifier-model", "classifier-min-confidence", "incident-threshold",
        "incident-window-minutes", "taxonomy-file", NULL
    };
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-classifier",
        "ticketflow-classifier — the classify stage (received → classified, or → triage).\n"
        "Takes ticket.received from intake (PULL) and, every reconcile-seconds, any ticket\n"
        "left in `received` longer than stale-seconds, and classifies its subject, body,\n"
        "error text and alert. The sub-category comes from the trained model\n"
        "(classifier-model; empty: $TICKETFLOW_HOME/build/models/default.model, which make\n"
        "builds from deploy/taxonomy/train.csv); its calibrated probability is the\n"
        "confidence. The third level comes from third_level.model in the same folder when\n"
        "the sub-category has third levels. A missing, corrupt or foreign model file is one\n"
        "warning and the keyword scorer decides instead (taxonomy keywords, confidence from\n"
        "the margin over the runner-up); so does text the model hardly knows. Model labels\n"
        "that are not taxonomy sub-categories are logged and never chosen. Below\n"
        "classifier-min-confidence (percent), or when nothing matched, the ticket goes to\n"
        "`triage` for a person; otherwise it is `classified` with category, sub-category,\n"
        "priority and the priority reasons, in one transaction with its history row, and\n"
        "ticket.classified is pushed after the commit.\n"
        "Priority: the sub-category's default, raised by the reasons of lexicon.json (read\n"
        "from the folder of taxonomy-file, else deploy/taxonomy/; built-in lists when it is\n"
        "missing): P1 for personal safety, money taken, stolen account, public threat,\n"
        "extreme emotion, batch complaint, wide-scope alert; P2 for a failed refund. The\n"
        "sentiment score (-1..1, lexicon.json's \"sentiment\" lists plus repeated !/?, words\n"
        "in capitals and insults) is stored on the ticket; -0.7 or less adds extreme_emotion.\n"
        "Mass incidents (批量投诉): when incident-threshold tickets of one sub-category within\n"
        "incident-window-minutes have near-duplicate text (64-bit SimHash of character\n"
        "3-grams, at most 12 bits apart) or the same product, an incident is opened, the\n"
        "tickets are linked and raised to P1 (reason batch_complaint), and incident.opened\n"
        "is published on classifier-publish-endpoint (PUB, topic \"incident.\") after the\n"
        "commit; later matching tickets join it. An advisory lock per sub-category keeps two\n"
        "instances from opening two incidents for one burst.\n"
        "Requests (ROUTER): service.ping; ticket.classify for a person's classification of a\n"
        "triage (or received/classified) ticket, recorded in classification_corrections\n"
        "(ticketflow-train --corrections learns from them); classify.text to classify a text\n"
        "without creating a ticket (ticketctl classify --json \"text\").\n"
        "SIGHUP reloads the model files between two messages (nothing queued is lost); if\n"
        "they do not load, the model in use stays and the log says why.\n"
        "The taxonomy is read from the database at start (empty: everything goes to triage\n"
        "and the table is read again on each reconcile). See proto/events.md.\n\n"
        "Usage: ticketflow-classifier [--SETTING=VALUE ...]",
        NULL, NULL);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("classifier", cfg.log_level);
    return tf_actor_main (classifier_server_actor, &cfg, "ENDPOINT");
}
