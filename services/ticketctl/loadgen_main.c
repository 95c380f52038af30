//  ticketflow-loadgen: submits tickets to intake. Closed loop (default):
//  N tickets from K concurrent clients, each keeping a window of requests
//  in flight, as fast as intake takes them. Open loop (--rate): tickets on
//  a fixed schedule whatever intake answers, each with its scheduled send
//  time written out, so the latency a queue adds is not hidden by a sender
//  that slows down with it. Texts come from a CSV column (default: the
//  taxonomy training set), so the tickets classify like real ones.
#include "csvread.h"
#include "tf_config.h"
#include "tf_db.h"
#include "tf_log.h"
#include "tf_net.h"
#include "tf_security.h"
#include <math.h>
#include <pthread.h>
#include <time.h>

typedef struct {
    const char *endpoint;
    const char *run_id;
    const csvread_pairs_t *texts;
    int client, first, count, window;
    int accepted, errors;
} client_t;

//  Sends ticket n of the run; 0 if it went out.
static int
s_send (zsock_t *dealer, const char *run_id, const csvread_pairs_t *texts, int n)
{
    const char *text = texts->texts [(size_t) n % texts->count];
    char external [96], customer [32];
    snprintf (external, sizeof external, "%s-%d", run_id, n);
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
    int rc = 0;
    if (tf_codec_encode (&m, out, &err) || zmsg_send (&out, dealer)) {
        zmsg_destroy (&out);
        rc = -1;
    }
    tf_msg_clear (&m);
    return rc;
}

//  Reads one reply; true if intake accepted the ticket.
static bool
s_recv_accepted (zsock_t *dealer)
{
    zmsg_t *reply = zmsg_recv (dealer);
    //  [delimiter, type, body]
    zframe_t *type = reply && zmsg_size (reply) == 3? (zmsg_first (reply), zmsg_next (reply)): NULL;
    bool accepted = type && zframe_streq (type, "ticket.accepted");
    zmsg_destroy (&reply);
    return accepted;
}

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
            if (s_send (dealer, c->run_id, c->texts, c->first + sent)) {
                c->errors++;
                answered++;         //  never sent: nothing to wait for
            }
            sent++;
        }
        if (zpoller_wait (poller, 30000) != dealer) {
            if (!zpoller_terminated (poller))
                fprintf (stderr, "loadgen: client %d: no reply for 30 s\n", c->client);
            c->errors += c->count - answered;
            break;
        }
        if (s_recv_accepted (dealer))
            c->accepted++;
        else
            c->errors++;
        answered++;
    }
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    return NULL;
}

static int64_t
s_usecs (clockid_t clock)
{
    struct timespec ts;
    clock_gettime (clock, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  Writes a wall-clock time in microseconds as an ISO time PostgreSQL reads
//  into timestamptz.
static void
s_print_time (FILE *file, int64_t usecs)
{
    time_t secs = (time_t) (usecs / 1000000);
    struct tm tm;
    gmtime_r (&secs, &tm);
    char text [32];
    strftime (text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
    fprintf (file, "%s.%06d+00", text, (int) (usecs % 1000000));
}

//  Open loop: ticket i is due at start + i / rate. One thread sends every
//  ticket that is due, then reads replies until the next one is due; a
//  reply never holds back a send. If sending falls behind (the socket's
//  queue is full), the late tickets go out at once and keep their
//  scheduled times, so the delay still counts against the pipeline.
static int
s_open_loop (const char *endpoint, const char *run_id, const csvread_pairs_t *texts,
             double rate, int tickets, const char *schedule_path)
{
    int64_t *sent_at = calloc ((size_t) tickets, sizeof *sent_at);
    assert (sent_at);
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, endpoint, 1 << 20);
    if (!dealer) {
        free (sent_at);
        return 1;
    }
    zsock_set_sndtimeo (dealer, 5000);
    zpoller_t *poller = zpoller_new (dealer, NULL);
    int sent = 0, answered = 0, accepted = 0, errors = 0;
    int64_t max_lag = 0;
    //  Pace by the monotonic clock; report wall-clock times, which the
    //  database's clock_timestamp () on this machine can be compared with.
    int64_t mono_start = s_usecs (CLOCK_MONOTONIC);
    int64_t wall_start = s_usecs (CLOCK_REALTIME);
    while (answered < tickets) {
        int64_t now = s_usecs (CLOCK_MONOTONIC) - mono_start;
        while (sent < tickets && (int64_t) (sent * 1e6 / rate) <= now) {
            int64_t due = (int64_t) (sent * 1e6 / rate);
            if (s_send (dealer, run_id, texts, sent)) {
                errors++;
                answered++;
            }
            now = s_usecs (CLOCK_MONOTONIC) - mono_start;
            sent_at [sent++] = now;
            if (now - due > max_lag)
                max_lag = now - due;
        }
        int timeout = 30000;
        if (sent < tickets)
            timeout = (int) ceil (((double) sent * 1e6 / rate - (double) now) / 1000.0);
        if (timeout < 1)
            timeout = 1;
        void *which = zpoller_wait (poller, timeout);
        if (which == dealer) {
            if (s_recv_accepted (dealer))
                accepted++;
            else
                errors++;
            answered++;
        }
        else
        if (zpoller_terminated (poller))
            break;
        else
        if (sent == tickets) {
            fprintf (stderr, "loadgen: no reply for 30 s\n");
            errors += tickets - answered;
            break;
        }
    }
    double elapsed = (double) (s_usecs (CLOCK_MONOTONIC) - mono_start) / 1e6;
    zpoller_destroy (&poller);
    zsock_destroy (&dealer);
    printf ("loadgen: run %s: %d sent at %.0f/s (latest send %.1f ms behind schedule),"
            " %d accepted, %d errors in %.2f s\n",
            run_id, sent, rate, (double) max_lag / 1000.0, accepted, errors, elapsed);

    int rc = errors? 1: 0;
    if (schedule_path) {
        FILE *file = fopen (schedule_path, "w");
        if (!file) {
            fprintf (stderr, "error: cannot write %s: %s\n", schedule_path, strerror (errno));
            rc = 1;
        }
        else {
            fprintf (file, "external_id,scheduled_at,sent_at\n");
            for (int i = 0; i < sent; i++) {
                fprintf (file, "%s-%d,", run_id, i);
                s_print_time (file, wall_start + (int64_t) (i * 1e6 / rate));
                fputc (',', file);
                s_print_time (file, wall_start + sent_at [i]);
                fputc ('\n', file);
            }
            if (fclose (file)) {
                fprintf (stderr, "error: cannot write %s: %s\n", schedule_path, strerror (errno));
                rc = 1;
            }
        }
    }
    free (sent_at);
    return rc;
}

int
main (int argc, char **argv)
{
    static const char *settings [] = { "intake-endpoint", "log-level", "security", "keys-dir", "cert", NULL };
    tf_config_t cfg;
    char *rest [64];
    int nrest = 0;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-loadgen",
        "ticketflow-loadgen — submits tickets to intake, as fast as it takes them\n"
        "(closed loop) or at a fixed rate (open loop, --rate).\n\n"
        "Usage: ticketflow-loadgen [--tickets N] [--clients K] [--window W] [--run-id ID]\n"
        "                          [--texts CSV] [--text-column C]\n"
        "       ticketflow-loadgen --rate R [--seconds S | --tickets N] [--schedule FILE] ...\n"
        "  --tickets N      tickets to submit (default 20000; with --rate, R x S if --seconds)\n"
        "  --clients K      closed loop: concurrent clients, one thread and socket each (default 8)\n"
        "  --window W       closed loop: requests in flight per client (default 32)\n"
        "  --rate R         open loop: send R tickets/s from one socket, ticket i due at\n"
        "                   start + i/R, never waiting for a reply before the next send\n"
        "                   (replies are read and counted); late sends keep their due time\n"
        "  --seconds S      with --rate: send for S seconds\n"
        "  --schedule FILE  with --rate: write a CSV line per ticket sent,\n"
        "                   external_id,scheduled_at,sent_at (UTC, microseconds)\n"
        "  --run-id ID      prefix of the external ids (default: the time); ticket i of a\n"
        "                   run has external_id 'ID-i'\n"
        "  --texts CSV      ticket texts (default $TICKETFLOW_HOME/deploy/taxonomy/train.csv)\n"
        "  --text-column C  its text column (default text)\n"
        "Prints: loadgen: run <ID>: <accepted> accepted, <errors> errors in <s> s, <rate> submits/s\n"
        "   or (--rate): loadgen: run <ID>: <n> sent at <R>/s (latest send <ms> ms behind\n"
        "                schedule), <accepted> accepted, <errors> errors in <s> s\n"
        "Exits 1 if a ticket was not accepted.",
        &nrest, rest);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("loadgen", cfg.log_level);
    //  every client thread presents --cert (default: the operator's)
    if (tf_security_client_start (&cfg, cfg.cert)) {
        fprintf (stderr, "error: cannot use the certificate '%s'\n", cfg.cert);
        return 2;
    }
    int tickets = 20000, clients = 8, window = 32;
    double rate = 0, seconds = 0;
    const char *schedule = NULL;
    bool tickets_given = false;
    char run_id [64], texts_path [4200];
    snprintf (run_id, sizeof run_id, "bench%lldr", (long long) zclock_time ());
    snprintf (texts_path, sizeof texts_path, "%s/deploy/taxonomy/train.csv", tf_home ());
    const char *text_column = "text";
    for (int i = 0; i + 1 < nrest; i += 2) {
        if (streq (rest [i], "--tickets")) { tickets = atoi (rest [i + 1]); tickets_given = true; }
        else if (streq (rest [i], "--rate")) rate = atof (rest [i + 1]);
        else if (streq (rest [i], "--seconds")) seconds = atof (rest [i + 1]);
        else if (streq (rest [i], "--schedule")) schedule = rest [i + 1];
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
    if (rate > 0 && seconds > 0 && !tickets_given)
        tickets = (int) llround (rate * seconds);
    if (nrest % 2 || tickets < 1 || clients < 1 || clients > 256 || window < 1
    ||  rate < 0 || seconds < 0 || (rate == 0 && (seconds > 0 || schedule))
    ||  (tickets_given && seconds > 0)) {
        fprintf (stderr, "error: bad arguments (see --help)\n");
        return 2;
    }
    csvread_pairs_t *texts = csvread_pairs_new ();
    char err [512];
    if (csvread_pairs_load (texts, texts_path, CSVREAD_AUTO, text_column, text_column, err, sizeof err) <= 0) {
        fprintf (stderr, "error: %s\n", err);
        return 1;
    }
    if (rate > 0) {
        rc = s_open_loop (cfg.intake_endpoint, run_id, texts, rate, tickets, schedule);
        csvread_pairs_destroy (&texts);
        return rc;
    }
    //  czmq sets itself up when the first socket is made; client threads
    //  doing that at the same time race into an assertion in zsys.
    zsys_init ();
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
    double elapsed = (double) (zclock_mono () - start) / 1000.0;
    printf ("loadgen: run %s: %d accepted, %d errors in %.2f s, %.0f submits/s\n",
            run_id, accepted, errors, elapsed, accepted / (elapsed > 0? elapsed: 1));
    csvread_pairs_destroy (&texts);
    free (c);
    free (threads);
    return errors? 1: 0;
}
