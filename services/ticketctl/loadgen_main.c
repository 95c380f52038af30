//  ticketflow-loadgen: submits N tickets to intake from K concurrent
//  clients, each keeping a window of requests in flight, and prints how
//  fast intake took them. Texts come from a CSV column (default: the
//  taxonomy training set), so the tickets classify like real ones.
#include "csvread.h"
#include "tf_config.h"
#include "tf_db.h"
#include "tf_log.h"
#include "tf_net.h"
#include <pthread.h>

typedef struct {
    const char *endpoint;
    const char *run_id;
    const csvread_pairs_t *texts;
    int client, first, count, window;
    int accepted, errors;
} client_t;

static void *
s_client (void *arg)
{
    client_t *c = arg;
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, c->endpoint, 1 << 20);
    zsock_set_sndtimeo (dealer, 5000);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int sent = 0, answered = 0;
    while (answered < c->count) {
        while (sent < c->count && sent - answered < c->window) {
            int n = c->first + sent;
            const char *text = c->texts->texts [(size_t) n % c->texts->count];
            char external [96], customer [32];
            snprintf (external, sizeof external, "%s-%d", c->run_id, n);
            snprintf (customer, sizeof customer, "load-%d", n % 5000);
            tf_msg_t m;
            tf_msg_init (&m, TF_MSG_SUBMIT);
            tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "app");
            tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, text);
            tf_msg_set_cstr (&m, TF_F_SUBMIT_EXTERNAL_ID, external);
            tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, customer);
            zmsg_t *out = zmsg_new ();
            zmsg_addmem (out, "", 0);
            tf_error_t err;
            if (tf_codec_encode (&m, out, &err) || zmsg_send (&out, dealer)) {
                zmsg_destroy (&out);
                c->errors++;
                answered++;         //  never sent: nothing to wait for
            }
            tf_msg_clear (&m);
            sent++;
        }
        if (zpoller_wait (poller, 30000) != dealer) {
            fprintf (stderr, "loadgen: client %d: no reply for 30 s\n", c->client);
            c->errors += c->count - answered;
            break;
        }
        zmsg_t *reply = zmsg_recv (dealer);
        //  [delimiter, type, body]
        zframe_t *type = zmsg_size (reply) == 3? (zmsg_first (reply), zmsg_next (reply)): NULL;
        if (type && zframe_streq (type, "ticket.accepted"))
            c->accepted++;
        else
            c->errors++;
        zmsg_destroy (&reply);
        answered++;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    return NULL;
}

int
main (int argc, char **argv)
{
    static const char *settings [] = { "intake-endpoint", "log-level", NULL };
    tf_config_t cfg;
    char *rest [64];
    int nrest = 0;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-loadgen",
        "ticketflow-loadgen — submits tickets to intake as fast as it takes them.\n\n"
        "Usage: ticketflow-loadgen [--tickets N] [--clients K] [--window W] [--run-id ID]\n"
        "                          [--texts CSV] [--text-column C]\n"
        "  --tickets N      tickets to submit (default 20000)\n"
        "  --clients K      concurrent clients, one thread and socket each (default 8)\n"
        "  --window W       requests in flight per client (default 32)\n"
        "  --run-id ID      prefix of the external ids (default: the time); tickets of a\n"
        "                   run are those with external_id LIKE 'ID-%'\n"
        "  --texts CSV      ticket texts (default $TICKETFLOW_HOME/deploy/taxonomy/train.csv)\n"
        "  --text-column C  its text column (default text)\n"
        "Prints: loadgen: <accepted> accepted, <errors> errors in <s> s, <rate> submits/s",
        &nrest, rest);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("loadgen", cfg.log_level);
    int tickets = 20000, clients = 8, window = 32;
    char run_id [64], texts_path [4200];
    snprintf (run_id, sizeof run_id, "bench%lld", (long long) zclock_time ());
    snprintf (texts_path, sizeof texts_path, "%s/deploy/taxonomy/train.csv", tf_home ());
    const char *text_column = "text";
    for (int i = 0; i + 1 < nrest; i += 2) {
        if (streq (rest [i], "--tickets")) tickets = atoi (rest [i + 1]);
        else if (streq (rest [i], "--clients")) clients = atoi (rest [i + 1]);
        else if (streq (rest [i], "--window")) window = atoi (rest [i + 1]);
        else if (streq (rest [i], "--run-id")) snprintf (run_id, sizeof run_id, "%s", rest [i + 1]);
        else if (streq (rest [i], "--texts")) snprintf (texts_path, sizeof texts_path, "%s", rest [i + 1]);
        else if (streq (rest [i], "--text-column")) text_column = rest [i + 1];
        else {
            fprintf (stderr, "error: unknown option %s (see --help)\n", rest [i]);
            return 2;
        }
    }
    if (nrest % 2 || tickets < 1 || clients < 1 || clients > 256 || window < 1) {
        fprintf (stderr, "error: bad arguments (see --help)\n");
        return 2;
    }
    csvread_pairs_t *texts = csvread_pairs_new ();
    char err [512];
    if (csvread_pairs_load (texts, texts_path, CSVREAD_AUTO, text_column, text_column, err, sizeof err) <= 0) {
        fprintf (stderr, "error: %s\n", err);
        return 1;
    }
    client_t *c = calloc ((size_t) clients, sizeof *c);
    pthread_t *threads = calloc ((size_t) clients, sizeof *threads);
    int64_t start = zclock_mono ();
    for (int i = 0; i < clients; i++) {
        c [i] = (client_t) { cfg.intake_endpoint, run_id, texts, i, tickets / clients * i,
                             i == clients - 1? tickets - tickets / clients * i: tickets / clients,
                             window, 0, 0 };
        pthread_create (&threads [i], NULL, s_client, &c [i]);
    }
    int accepted = 0, errors = 0;
    for (int i = 0; i < clients; i++) {
        pthread_join (threads [i], NULL);
        accepted += c [i].accepted;
        errors += c [i].errors;
    }
    double seconds = (double) (zclock_mono () - start) / 1000.0;
    printf ("loadgen: run %s: %d accepted, %d errors in %.2f s, %.0f submits/s\n",
            run_id, accepted, errors, seconds, accepted / (seconds > 0? seconds: 1));
    csvread_pairs_destroy (&texts);
    free (c);
    free (threads);
    return errors? 1: 0;
}
