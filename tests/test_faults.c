//  Database faults: a service whose database is away, then comes, then
//  goes and comes again under it; a PostgreSQL immediate restart in the
//  middle of a flow; failover to the server that takes writes with a
//  multi-host URL.
//
//  Each test runs PostgreSQL clusters of its own (deploy/pg.sh --dir
//  var/test-pg-faults-NAME), because it stops, restarts and reconfigures
//  them, which the shared test database must never see. The suite's .fini
//  stops the services and destroys the clusters whatever the test did;
//  a test killed at its timeout runs no .fini, so its service processes die
//  with it (PR_SET_PDEATHSIG) and tests/run.sh destroys its clusters.
//  tests/run.sh runs this binary one test at a time.
#include "intake_service.h"
#include "tf_actor.h"
#include "tf_net.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <limits.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;

//  --------------------------------------------------------------------------
//  Clusters

#define CLUSTERS 2
static char s_clusters [CLUSTERS][32];      //  names to destroy at the end

//  Runs deploy/pg.sh COMMAND --dir var/test-pg-faults-NAME; its messages go
//  to the test log. Returns its exit status.
static int
s_pg (const char *command, const char *name)
{
    char line [4400];
    snprintf (line, sizeof line, "cd '%s' && deploy/pg.sh %s --dir var/test-pg-faults-%s >/dev/null",
              tf_home (), command, name);
    int rc = system (line);
    return WIFEXITED (rc)? WEXITSTATUS (rc): -1;
}

//  The cluster's libpq URL (key=value form) and its socket folder
static void
s_pg_url (const char *name, char *url, size_t size, char *socket, size_t socket_size)
{
    char line [4400];
    snprintf (line, sizeof line, "cd '%s' && deploy/pg.sh url --dir var/test-pg-faults-%s", tf_home (), name);
    FILE *out = popen (line, "r");
    cr_assert (out);
    cr_assert (fgets (url, (int) size, out), "pg.sh url printed nothing");
    pclose (out);
    url [strcspn (url, "\n")] = 0;
    const char *host = strstr (url, "host=");
    cr_assert (host, "no host in %s", url);
    snprintf (socket, socket_size, "%.*s", (int) strcspn (host + 5, " "), host + 5);
}

//  Starts cluster `slot` afresh (what a killed run left is destroyed
//  first), with the schema and the taxonomy.
static void
s_cluster_start (int slot, const char *name, char *url, size_t size, char *socket, size_t socket_size)
{
    snprintf (s_clusters [slot], sizeof s_clusters [slot], "%s", name);
    cr_assert_eq (s_pg ("destroy", name), 0);
    cr_assert_eq (s_pg ("start", name), 0, "cannot start the cluster var/test-pg-faults-%s", name);
    s_pg_url (name, url, size, socket, socket_size);
    char line [4400];
    snprintf (line, sizeof line, "cd '%s' && bin/ticketflow-migrate --database-url='%s' --keys-dir='%s' >/dev/null",
              tf_home (), url, tf_test_keys_dir ());
    cr_assert_eq (system (line), 0, "cannot migrate %s", url);
}

//  How many lines of the cluster's server log hold `text`
static int
s_server_log_count (const char *name, const char *text)
{
    char path [4200], line [2048];
    snprintf (path, sizeof path, "%s/var/test-pg-faults-%s/postgres.log", tf_home (), name);
    FILE *log = fopen (path, "r");
    cr_assert (log, "cannot read %s", path);
    int n = 0;
    while (fgets (line, sizeof line, log))
        n += strstr (line, text) != NULL;
    fclose (log);
    return n;
}

//  A connection of the test's own to one cluster
static tf_db_t *
s_connect (const char *url)
{
    tf_db_t *db = tf_db_new (url, "ticketflow-test-faults", "Asia/Shanghai", 5000);
    cr_assert (db, "cannot connect to %s", url);
    return db;
}

static long long
s_count (const char *url, const char *fmt, const char *value)
{
    tf_db_t *db = s_connect (url);
    long long n = tf_test_scalar (db, fmt, value);
    tf_db_destroy (&db);
    return n;
}

//  Makes a server refuse writes (a standby or a demoted primary, as far as
//  a client can tell) or take them again. Returns once a new session sees
//  the change: by then the postmaster has reloaded and signalled the
//  sessions open now, which take it before their next command.
static void
s_read_only (const char *url, bool read_only)
{
    tf_db_t *db = s_connect (url);
    PGresult *res = PQexec (tf_db_conn (db), read_only? "ALTER SYSTEM SET default_transaction_read_only = on"
                                                      : "ALTER SYSTEM RESET default_transaction_read_only");
    cr_assert_eq (PQresultStatus (res), PGRES_COMMAND_OK, "%s", PQresultErrorMessage (res));
    PQclear (res);
    cr_assert_eq (tf_db_exec (db, "SELECT pg_reload_conf ()"), 0);
    tf_db_destroy (&db);
    const char *want = read_only? "on": "off";
    int64_t until = zclock_mono () + 10000;
    char seen [8] = "";
    while (!streq (seen, want) && zclock_mono () < until) {
        db = s_connect (url);
        res = PQexec (tf_db_conn (db), "SHOW default_transaction_read_only");
        snprintf (seen, sizeof seen, "%s", PQresultStatus (res) == PGRES_TUPLES_OK? PQgetvalue (res, 0, 0): "?");
        PQclear (res);
        tf_db_destroy (&db);
        if (!streq (seen, want))
            zclock_sleep (50);
    }
    cr_assert_str_eq (seen, want, "default_transaction_read_only did not become %s", want);
}

//  --------------------------------------------------------------------------
//  Services

static tf_config_t s_cfg;
static zactor_t *s_actor;           //  a service in this process
static char *s_endpoint;

#define PROCESSES 3
static const char *s_names [PROCESSES] = { "intake", "classifier", "dispatcher" };
static pid_t s_pids [PROCESSES];
static int s_ops [PROCESSES];       //  their ops ports
static char s_ipc [64];             //  the folder of their ipc:// endpoints, one per project folder

//  Starts bin/ticketflow-SERVICE with this process's environment; its
//  output goes to build/tests/test_faults.SERVICE.log, this run's only.
static pid_t
s_spawn (const char *service)
{
    char log [4200];
    snprintf (log, sizeof log, "%s/build/tests/test_faults.%s.log", tf_home (), service);
    unlink (log);
    return tf_test_spawn (service, log, NULL);
}

static const char *
s_ipc_endpoint (const char *name)
{
    return tf_test_ipc_endpoint (s_ipc, name);
}

//  Sends one request; returns its reply type (TF_MSG_NONE when nothing
//  answered in time) and copies the error code or the ticket number.
static tf_msg_type_t
s_request (const char *endpoint, tf_msg_t *request, int timeout_ms, char *text, size_t size)
{
    zmsg_t *frames = NULL;
    tf_msg_t reply;
    tf_error_t err;
    tf_msg_type_t type = TF_MSG_NONE;
    if (tf_net_request (endpoint, request, timeout_ms, &frames, &reply, &err) == 0) {
        type = reply.type;
        if (text && type == TF_MSG_ERROR)
            snprintf (text, size, "%.*s", (int) reply.v [TF_F_ERROR_CODE].len, reply.v [TF_F_ERROR_CODE].str);
        else
        if (text && type == TF_MSG_ACCEPTED)
            snprintf (text, size, "%.*s", (int) reply.v [TF_F_ACCEPTED_TICKET_NO].len,
                      reply.v [TF_F_ACCEPTED_TICKET_NO].str);
    }
    zmsg_destroy (&frames);
    tf_msg_clear (request);
    return type;
}

static bool
s_ping (const char *endpoint, int timeout_ms)
{
    tf_msg_t ping;
    tf_msg_init (&ping, TF_MSG_PING);
    return s_request (endpoint, &ping, timeout_ms, NULL, 0) == TF_MSG_PONG;
}

//  Bodies the classifier is sure of, so every ticket goes on to a department
static const char *s_bodies [] = {
    "快递三天了物流信息一直没更新，单号查不到，到底什么时候能送到",
    "改完密码还是登不上 说密码不对",
    "想取消订单退款 还没发货呢",
    "海鲜到的时候冰袋全化了 虾都不新鲜了",
    "绑卡的时候银行验证码收不到",
    "夜间模式下文字看不清 黑底黑字",
};
#define BODIES (sizeof s_bodies / sizeof s_bodies [0])

static tf_msg_type_t
s_submit (const char *endpoint, const char *external_id, const char *body, int timeout_ms, char *text, size_t size)
{
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "app");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, body);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_EXTERNAL_ID, external_id);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "faults-customer");
    return s_request (endpoint, &m, timeout_ms, text, size);
}

static long
s_http_status (int port, const char *path)
{
    long status;
    char *body = tf_test_http_get (port, path, &status);
    free (body);
    return body? status: 0;
}

static int
s_ops_port (zactor_t *actor)
{
    char *port = tf_actor_query (actor, "OPS-PORT");
    cr_assert (port && atoi (port) > 0, "the service has no ops port");
    int n = atoi (port);
    zstr_free (&port);
    return n;
}

//  Waits until `path` answers `status`; returns how long it took (ms), or -1.
static int64_t
s_wait_http (int port, const char *path, long status, int timeout_ms)
{
    int64_t start = zclock_mono ();
    while (zclock_mono () - start < timeout_ms) {
        if (s_http_status (port, path) == status)
            return zclock_mono () - start;
        zclock_sleep (50);
    }
    return -1;
}

static void
s_cleanup (void)
{
    zactor_destroy (&s_actor);
    zstr_free (&s_endpoint);
    for (int i = PROCESSES - 1; i >= 0; i--) {
        tf_test_stop (s_pids [i]);
        s_pids [i] = 0;
    }
    if (*s_ipc) {
        char line [128];
        snprintf (line, sizeof line, "rm -rf '%s'", s_ipc);
        if (system (line)) {}
    }
    for (int k = 0; k < CLUSTERS; k++)
        if (*s_clusters [k] && s_pg ("destroy", s_clusters [k]))
            fprintf (stderr, "faults: could not destroy var/test-pg-faults-%s\n", s_clusters [k]);
}

TestSuite (faults, .fini = s_cleanup, .timeout = 60);

//  --------------------------------------------------------------------------

Test (faults, a_service_without_its_database_answers_and_reconnects)
{
    static char url [512], socket [256];
    s_cluster_start (0, "away", url, sizeof url, socket, sizeof socket);
    //  its socket folder stays, with nothing listening in it
    cr_assert_eq (s_pg ("stop", "away"), 0);

    tf_test_config (&s_cfg);
    s_cfg.database_url = url;
    int64_t start = zclock_mono ();
    s_actor = tf_test_service (&intake_service, &s_cfg, "ENDPOINT", &s_endpoint);
    int64_t started = zclock_mono () - start;
    //  it waits 5 s for its database, then serves without it
    cr_assert_lt (started, 6500, "intake took %lld ms to start without its database", (long long) started);
    cr_assert (s_ping (s_endpoint, 1000), "no pong without the database");

    //  answered at once, again and again, while the reconnects back off
    char external_id [96], text [64];
    snprintf (external_id, sizeof external_id, "away-%s", tf_test_unique ());
    int64_t slowest = 0;
    for (int i = 0; i < 8; i++) {
        int64_t sent = zclock_mono ();
        tf_msg_type_t type = s_submit (s_endpoint, external_id, s_bodies [0], 2000, text, sizeof text);
        int64_t took = zclock_mono () - sent;
        cr_assert_eq (type, TF_MSG_ERROR, "a submission without the database got %s",
                      type == TF_MSG_NONE? "no answer": tf_schemas [type].name);
        cr_assert_str_eq (text, TF_ERR_UNAVAILABLE);
        slowest = took > slowest? took: slowest;
        zclock_sleep (120);
    }
    cr_assert_lt (slowest, 300, "`unavailable` took %lld ms", (long long) slowest);

    int ops = s_ops_port (s_actor);
    cr_assert_eq (s_http_status (ops, "/healthz"), 200);
    cr_assert_eq (s_http_status (ops, "/readyz"), 503);
    cr_assert_eq (tf_test_metric (s_actor, "ticketflow_database_up{service=\"intake\"}"), 0);

    //  the database comes: the service finds it by itself
    int64_t coming = zclock_mono ();
    cr_assert_eq (s_pg ("start", "away"), 0);
    int64_t came = zclock_mono () - coming;
    int64_t back = s_wait_http (ops, "/readyz", 200, 15000);
    cr_assert_geq (back, 0, "intake did not find its database within 15 s");
    cr_assert_eq (tf_test_metric (s_actor, "ticketflow_database_up{service=\"intake\"}"), 1);
    cr_assert_eq (s_submit (s_endpoint, external_id, s_bodies [0], 5000, text, sizeof text), TF_MSG_ACCEPTED,
                  "the same submission once the database is back: %s", text);
    cr_assert_eq (s_count (url, "SELECT count(*) FROM tickets WHERE external_id = '%s'", external_id), 1);

    //  it goes away under the idle service, which notices without a request
    int64_t going = zclock_mono ();
    cr_assert_eq (s_pg ("stop", "away"), 0);
    int64_t gone = zclock_mono () - going;
    int64_t noticed = s_wait_http (ops, "/readyz", 503, 5000);
    cr_assert_geq (noticed, 0, "/readyz still says ready 5 s after the database stopped");
    cr_assert_eq (tf_test_metric (s_actor, "ticketflow_database_up{service=\"intake\"}"), 0);
    snprintf (external_id, sizeof external_id, "away-again-%s", tf_test_unique ());
    int64_t sent = zclock_mono ();
    cr_assert_eq (s_submit (s_endpoint, external_id, s_bodies [0], 2000, text, sizeof text), TF_MSG_ERROR);
    cr_assert_str_eq (text, TF_ERR_UNAVAILABLE);
    cr_assert_lt (zclock_mono () - sent, 300);
    //  and comes back: the first submission after that goes in
    cr_assert_eq (s_pg ("start", "away"), 0);
    int64_t again = s_wait_http (ops, "/readyz", 200, 15000);
    cr_assert_geq (again, 0, "intake did not find its database again within 15 s");
    cr_assert_eq (tf_test_metric (s_actor, "ticketflow_database_reconnects_total{service=\"intake\"}"), 1);
    cr_assert_eq (s_submit (s_endpoint, external_id, s_bodies [0], 5000, text, sizeof text), TF_MSG_ACCEPTED,
                  "the first submission after the database came back: %s", text);
    cr_assert_eq (s_count (url, "SELECT count(*) FROM tickets WHERE external_id = '%s'", external_id), 1);
    fprintf (stderr, "faults: database away: started in %lld ms, `unavailable` within %lld ms;"
                     " the database took %lld ms to start, intake was ready %lld ms later;"
                     " stopped under it (%lld ms), not ready %lld ms later; back, ready again after %lld ms\n",
             (long long) started, (long long) slowest, (long long) came, (long long) back,
             (long long) gone, (long long) noticed, (long long) again);
}

//  --------------------------------------------------------------------------
//  An immediate restart in the middle of a flow

#define CLIENTS 4
#define TICKETS 2000                //  in all, TICKETS / CLIENTS each

static char s_prefix [64];          //  external ids are PREFIX-N
static char s_numbers [TICKETS][24];    //  the ticket number each submission was acknowledged with
static atomic_int s_accepted, s_accepted_after, s_refused, s_unanswered;
static atomic_bool s_restarted, s_quit;

typedef struct {
    int first, count;
    char failure [200];             //  why it gave up, "" when it did not
} client_t;

//  Submits its tickets one after the other, each until it is acknowledged:
//  again after `unavailable` (with a pause, as a client should) or no answer.
static void *
s_client (void *args)
{
    client_t *self = args;
    int64_t until = zclock_mono () + 40000;
    const char *endpoint = s_ipc_endpoint ("intake");
    char endpoint_copy [200];
    snprintf (endpoint_copy, sizeof endpoint_copy, "%s", endpoint);
    for (int n = self->first; n < self->first + self->count && !atomic_load (&s_quit); ) {
        if (zclock_mono () > until) {
            snprintf (self->failure, sizeof self->failure, "ticket %d not acknowledged within 40 s", n);
            return NULL;
        }
        char external_id [96], text [64] = "";
        snprintf (external_id, sizeof external_id, "%s-%d", s_prefix, n);
        tf_msg_type_t type = s_submit (endpoint_copy, external_id, s_bodies [n % BODIES], 2000, text, sizeof text);
        if (type == TF_MSG_ACCEPTED) {
            snprintf (s_numbers [n], sizeof s_numbers [n], "%s", text);
            atomic_fetch_add (&s_accepted, 1);
            if (atomic_load (&s_restarted))
                atomic_fetch_add (&s_accepted_after, 1);
            n++;
        }
        else
        if (type == TF_MSG_ERROR && streq (text, TF_ERR_UNAVAILABLE)) {
            atomic_fetch_add (&s_refused, 1);
            zclock_sleep (20);
        }
        else
        if (type == TF_MSG_NONE)
            atomic_fetch_add (&s_unanswered, 1);
        else {
            snprintf (self->failure, sizeof self->failure, "ticket %d: %s %s", n, tf_schemas [type].name, text);
            return NULL;
        }
    }
    return NULL;
}

//  Pings every service all along: the database going does not stop them
//  answering
static atomic_bool s_pinging;
static int64_t s_slowest_pong [PROCESSES];
static int s_pongs_missed [PROCESSES];

static void *
s_pinger (void *args)
{
    (void) args;
    char endpoints [PROCESSES][200];
    for (int i = 0; i < PROCESSES; i++)
        snprintf (endpoints [i], sizeof endpoints [i], "%s", s_ipc_endpoint (s_names [i]));
    while (atomic_load (&s_pinging)) {
        for (int i = 0; i < PROCESSES; i++) {
            int64_t sent = zclock_mono ();
            if (!s_ping (endpoints [i], 2000))
                s_pongs_missed [i]++;
            int64_t took = zclock_mono () - sent;
            s_slowest_pong [i] = took > s_slowest_pong [i]? took: s_slowest_pong [i];
        }
        zclock_sleep (20);
    }
    return NULL;
}

//  Ports for the processes' ops servers, all held until each has its own:
//  ports asked of the kernel one after the other would all be the same
static void
s_free_ports (int *ports, int n)
{
    int fds [PROCESSES];
    assert (n <= PROCESSES);
    for (int i = 0; i < n; i++) {
        fds [i] = socket (AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
        socklen_t len = sizeof addr;
        cr_assert (fds [i] >= 0 && bind (fds [i], (struct sockaddr *) &addr, len) == 0
                   && getsockname (fds [i], (struct sockaddr *) &addr, &len) == 0);
        ports [i] = ntohs (addr.sin_port);
    }
    for (int i = 0; i < n; i++)
        close (fds [i]);
}

//  intake → classifier → dispatcher as processes on ipc:// endpoints in a
//  private folder, known before anything binds
static void
s_flow_start (const char *url)
{
    tf_test_config (&s_cfg);        //  the test keys, for us and (by the environment) for them
    //  named after the project folder, not made up: what a test killed at
    //  its timeout left is replaced here, and no other folder is touched
    unsigned hash = 5381;
    for (const char *p = tf_home (); *p; p++)
        hash = hash * 33 + (unsigned char) *p;
    snprintf (s_ipc, sizeof s_ipc, "/tmp/tffaults-%08x", hash);
    char line [128];
    snprintf (line, sizeof line, "rm -rf '%s'", s_ipc);
    cr_assert_eq (system (line), 0);
    cr_assert_eq (mkdir (s_ipc, 0700), 0, "cannot make %s", s_ipc);
    const char *endpoints [] = {
        "intake-endpoint", "intake-events-endpoint", "intake-feedback-endpoint",
        "classifier-endpoint", "classifier-events-endpoint", "classifier-publish-endpoint",
        "dispatcher-endpoint", "dispatcher-publish-endpoint", "dispatcher-events-endpoint",
        "notifier-reopen-endpoint", NULL
    };
    for (const char **e = endpoints; *e; e++) {
        char var [96], name [96];
        tf_config_env_name (*e, var, sizeof var);
        snprintf (name, sizeof name, "%.*s", (int) (strlen (*e) - strlen ("-endpoint")), *e);
        setenv (var, s_ipc_endpoint (name), 1);
    }
    setenv ("TICKETFLOW_DATABASE_URL", url, 1);
    setenv ("DATABASE_URL", url, 1);
    setenv ("TICKETFLOW_INTAKE_HTTP_PORT", "0", 1);
    setenv ("TICKETFLOW_RECONCILE_SECONDS", "1", 1);
    setenv ("TICKETFLOW_STALE_SECONDS", "2", 1);
    setenv ("TICKETFLOW_LOG_LEVEL", "info", 1);
    s_free_ports (s_ops, PROCESSES);
    for (int i = 0; i < PROCESSES; i++) {
        char var [96], setting [64], port [16];
        snprintf (setting, sizeof setting, "%s-ops-port", s_names [i]);
        tf_config_env_name (setting, var, sizeof var);
        snprintf (port, sizeof port, "%d", s_ops [i]);
        setenv (var, port, 1);
    }
    for (int i = 0; i < PROCESSES; i++)
        s_pids [i] = s_spawn (s_names [i]);
    for (int i = 0; i < PROCESSES; i++) {
        int64_t until = zclock_mono () + 15000;
        while (!s_ping (s_ipc_endpoint (s_names [i]), 200) && zclock_mono () < until)
            ;
        cr_assert (s_ping (s_ipc_endpoint (s_names [i]), 1000), "%s did not start (build/tests/test_faults.%s.log)",
                   s_names [i], s_names [i]);
    }
}

//  Lines of a service's log that libpq wrote itself, bypassing the
//  service's log ("WARNING:  terminating connection due to ...")
static int
s_raw_server_lines (const char *service, char *first, size_t size)
{
    char path [4200], line [1024];
    snprintf (path, sizeof path, "%s/build/tests/test_faults.%s.log", tf_home (), service);
    FILE *log = fopen (path, "r");
    cr_assert (log, "cannot read %s", path);
    int raw = 0;
    const char *severities [] = { "WARNING:", "NOTICE:", "FATAL:", "ERROR:", "LOG:", NULL };
    while (fgets (line, sizeof line, log))
        for (const char **s = severities; *s; s++)
            if (strncmp (line, *s, strlen (*s)) == 0 && raw++ == 0)
                snprintf (first, size, "%.*s", (int) strcspn (line, "\n"), line);
    fclose (log);
    return raw;
}

static long long
s_run_count (tf_db_t *db, const char *condition)
{
    return tf_test_scalar (db, "SELECT count(*) FROM tickets t WHERE t.channel = 'app'"
                               " AND t.external_id LIKE '%s-%%' AND %s", s_prefix, condition);
}

//  Tickets of the run whose history has not exactly one row reaching `statuses`
static long long
s_not_once (tf_db_t *db, const char *statuses)
{
    return tf_test_scalar (db, "SELECT count(*) FROM tickets t WHERE t.channel = 'app'"
                               " AND t.external_id LIKE '%s-%%' AND (SELECT count(*) FROM ticket_events e"
                               " WHERE e.ticket_id = t.id AND e.to_status IN (%s)) <> 1", s_prefix, statuses);
}

Test (faults, an_immediate_restart_in_the_middle_of_a_flow)
{
    static char url [512], socket [256];
    s_cluster_start (0, "restart", url, sizeof url, socket, sizeof socket);
    s_flow_start (url);
    snprintf (s_prefix, sizeof s_prefix, "faults-%s", tf_test_unique ());

    pthread_t pinger;
    atomic_store (&s_pinging, true);
    cr_assert_eq (pthread_create (&pinger, NULL, s_pinger, NULL), 0);
    client_t clients [CLIENTS];
    pthread_t threads [CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
        clients [c] = (client_t) { .first = c * (TICKETS / CLIENTS), .count = TICKETS / CLIENTS };
        cr_assert_eq (pthread_create (&threads [c], NULL, s_client, &clients [c]), 0);
    }
    //  in the middle: a quarter of the tickets acknowledged
    int64_t start = zclock_mono ();
    while (atomic_load (&s_accepted) < TICKETS / 4 && zclock_mono () - start < 30000)
        zclock_sleep (5);
    int before = atomic_load (&s_accepted);
    int64_t restart_at = zclock_mono ();
    int restarted = before >= TICKETS / 4? s_pg ("restart --immediate", "restart"): -1;
    int64_t restart_ms = zclock_mono () - restart_at;
    atomic_store (&s_restarted, true);
    if (restarted != 0)
        atomic_store (&s_quit, true);
    //  the clients end before any assertion can end the test
    for (int c = 0; c < CLIENTS; c++)
        pthread_join (threads [c], NULL);
    int64_t submitted_ms = zclock_mono () - start;
    atomic_store (&s_pinging, false);
    pthread_join (pinger, NULL);
    cr_assert_geq (before, TICKETS / 4, "only %d tickets acknowledged in 30 s", before);
    cr_assert_eq (restarted, 0, "pg.sh restart --immediate failed");
    for (int c = 0; c < CLIENTS; c++)
        cr_assert_str_empty (clients [c].failure, "client %d: %s", c, clients [c].failure);
    cr_assert_eq (atomic_load (&s_accepted), TICKETS);
    //  the restart came while tickets were coming, and the clients saw it
    cr_assert_gt (atomic_load (&s_accepted_after), 0, "every ticket was in before the restart ended");
    cr_assert_gt (atomic_load (&s_refused), 0, "no submission was refused during the restart");
    for (int i = 0; i < PROCESSES; i++)
        cr_assert_eq (s_pongs_missed [i], 0, "%s did not answer %d ping(s) within 2 s", s_names [i],
                      s_pongs_missed [i]);

    //  every acknowledged submission has its ticket, under the number it was given
    tf_db_t *db = s_connect (url);
    tf_db_array_t *externals = tf_db_array_new (), *numbers = tf_db_array_new ();
    for (int n = 0; n < TICKETS; n++) {
        char external_id [96];
        snprintf (external_id, sizeof external_id, "%s-%d", s_prefix, n);
        tf_db_array_add (externals, external_id);
        tf_db_array_add (numbers, s_numbers [n]);
    }
    const char *params [] = { tf_db_array_text (externals), tf_db_array_text (numbers) };
    PGresult *res = tf_db_query (db, "SELECT count(*) FROM unnest ($1::text[], $2::text[]) a (external_id, ticket_no)"
                                     " JOIN tickets t ON t.channel = 'app' AND t.external_id = a.external_id"
                                     " AND t.ticket_no = a.ticket_no", 2, params);
    cr_assert (tf_db_ok (db, res, "acknowledged tickets"));
    long long stored = atoll (PQgetvalue (res, 0, 0));
    PQclear (res);
    tf_db_array_destroy (&externals);
    tf_db_array_destroy (&numbers);
    cr_assert_eq (stored, TICKETS, "%lld of %d acknowledged tickets are stored as acknowledged", stored, TICKETS);
    cr_assert_eq (s_run_count (db, "true"), TICKETS);

    //  every ticket reaches a department, once
    int64_t wait_start = zclock_mono ();
    long long assigned = 0;
    while ((assigned = s_run_count (db, "t.status = 'assigned'")) < TICKETS && zclock_mono () - wait_start < 30000)
        zclock_sleep (200);
    int64_t assigned_ms = zclock_mono () - start;
    cr_assert_eq (assigned, TICKETS, "%lld of %d tickets assigned after 30 s (received %lld, classified %lld,"
                  " triage %lld; logs in build/tests/test_faults.*.log)", assigned, TICKETS,
                  s_run_count (db, "t.status = 'received'"), s_run_count (db, "t.status = 'classified'"),
                  s_run_count (db, "t.status = 'triage'"));
    cr_assert_eq (s_not_once (db, "'received'"), 0);
    cr_assert_eq (s_not_once (db, "'classified', 'triage'"), 0);
    cr_assert_eq (s_not_once (db, "'assigned'"), 0);
    tf_db_destroy (&db);

    //  no service went down with the database, and each made its connection again
    double reconnects [PROCESSES];
    for (int i = 0; i < PROCESSES; i++) {
        cr_assert_eq (waitpid (s_pids [i], NULL, WNOHANG), 0, "%s exited", s_names [i]);
        cr_assert (s_ping (s_ipc_endpoint (s_names [i]), 2000), "%s does not answer", s_names [i]);
        char series [128];
        snprintf (series, sizeof series, "ticketflow_database_reconnects_total{service=\"%s\"}", s_names [i]);
        reconnects [i] = tf_test_port_wait_metric (s_ops [i], series, 1, 10000);
        cr_assert_geq (reconnects [i], 1, "%s shows no reconnect", s_names [i]);
        snprintf (series, sizeof series, "ticketflow_database_up{service=\"%s\"}", s_names [i]);
        cr_assert_eq (tf_test_port_metric (s_ops [i], series), 1);
        cr_assert_eq (s_http_status (s_ops [i], "/readyz"), 200);
        //  what the server said as it went is in the service's log, as a log line
        char raw [256] = "";
        cr_assert_eq (s_raw_server_lines (s_names [i], raw, sizeof raw), 0,
                      "%s's log has lines libpq wrote itself: %s", s_names [i], raw);
    }
    fprintf (stderr, "faults: immediate restart after %d of %d tickets took %lld ms; refused %d submissions"
                     " (`unavailable`), %d unanswered, %d acknowledged after it; all submitted in %lld ms,"
                     " all assigned once in %lld ms; reconnects: intake %.0f, classifier %.0f, dispatcher %.0f;"
                     " slowest pong: intake %lld ms, classifier %lld ms, dispatcher %lld ms\n",
             before, TICKETS, (long long) restart_ms, atomic_load (&s_refused), atomic_load (&s_unanswered),
             atomic_load (&s_accepted_after), (long long) submitted_ms, (long long) assigned_ms,
             reconnects [0], reconnects [1], reconnects [2], (long long) s_slowest_pong [0],
             (long long) s_slowest_pong [1], (long long) s_slowest_pong [2]);
}

//  --------------------------------------------------------------------------
//  Failover with a multi-host URL

//  Submits until acknowledged (at most 15 s); returns the attempts it took.
static int
s_submit_until_accepted (const char *external_id)
{
    char text [64] = "";
    int64_t until = zclock_mono () + 15000;
    for (int attempt = 1; zclock_mono () < until; attempt++) {
        tf_msg_type_t type = s_submit (s_endpoint, external_id, s_bodies [1], 2000, text, sizeof text);
        if (type == TF_MSG_ACCEPTED)
            return attempt;
        cr_assert (type == TF_MSG_NONE || (type == TF_MSG_ERROR && streq (text, TF_ERR_UNAVAILABLE)),
                   "%s: %s %s", external_id, tf_schemas [type].name, text);
        zclock_sleep (50);
    }
    cr_assert_fail ("%s not acknowledged within 15 s", external_id);
    return 0;
}

Test (faults, failover_to_the_server_that_takes_writes)
{
    static char url_a [512], url_b [512], socket_a [256], socket_b [256], url [PATH_MAX + 1024];
    s_cluster_start (0, "a", url_a, sizeof url_a, socket_a, sizeof socket_a);
    s_cluster_start (1, "b", url_b, sizeof url_b, socket_b, sizeof socket_b);
    //  B stands in for a standby
    s_read_only (url_b, true);
    //  each cluster has its own password, in its pgpass under its socket
    //  folder's name: one file with both lines serves the two-host URL
    static char passfile [PATH_MAX];
    snprintf (passfile, sizeof passfile, "/tmp/tf-faults-%d.pgpass", getpid ());
    char line [3 * PATH_MAX];
    snprintf (line, sizeof line, "cd '%s' && umask 077 && cat var/test-pg-faults-a/pgpass var/test-pg-faults-b/pgpass > '%s'",
              tf_home (), passfile);
    cr_assert_eq (system (line), 0);
    snprintf (url, sizeof url, "host=%s,%s port=5432 dbname=ticketflow user=postgres target_session_attrs=read-write"
              " passfile=%s", socket_b, socket_a, passfile);
    tf_test_config (&s_cfg);
    s_cfg.database_url = url;
    s_actor = tf_test_service (&intake_service, &s_cfg, "ENDPOINT", &s_endpoint);
    int ops = s_ops_port (s_actor);
    cr_assert_eq (s_http_status (ops, "/readyz"), 200, "intake found no server that takes writes");

    const char *count = "SELECT count(*) FROM tickets WHERE external_id = '%s'";
    char first [96], second [96], third [96];
    snprintf (first, sizeof first, "failover-1-%s", tf_test_unique ());
    snprintf (second, sizeof second, "failover-2-%s", tf_test_unique ());
    snprintf (third, sizeof third, "failover-3-%s", tf_test_unique ());
    cr_assert_eq (s_submit_until_accepted (first), 1, "A takes writes: the first submission must go in at once");
    cr_assert_eq (s_count (url_a, count, first), 1, "the first ticket is not in A");
    cr_assert_eq (s_count (url_b, count, first), 0, "the first ticket is in B, the read-only one");

    //  failover: B takes writes, A no longer does
    s_read_only (url_b, false);
    s_read_only (url_a, true);
    //  the server's words for SQLSTATE 25006
    const char *refusal = " in a read-only transaction";
    cr_assert_eq (s_server_log_count ("a", refusal), 0);
    int attempts = s_submit_until_accepted (second);
    //  the first try met A's refusal (25006): the service dropped A and found B
    cr_assert_gt (attempts, 1, "the first write after the failover was not refused");
    cr_assert_eq (s_server_log_count ("a", refusal), 1, "A did not refuse one write as read-only");
    cr_assert_eq (s_count (url_b, count, second), 1, "the second ticket is not in B");
    cr_assert_eq (s_count (url_a, count, second), 0, "the second ticket is in A, the read-only one");
    cr_assert_eq (tf_test_metric (s_actor, "ticketflow_database_reconnects_total{service=\"intake\"}"), 1);
    //  and it stays there
    cr_assert_eq (s_submit_until_accepted (third), 1);
    cr_assert_eq (s_count (url_b, count, third), 1);
    cr_assert_eq (s_count (url_a, count, third), 0);
    cr_assert_eq (s_count (url_a, count, first), 1);
    cr_assert_eq (s_count (url_b, count, first), 0);

    //  and back: now the reconnect passes over B, first in the list, to reach A
    s_read_only (url_a, false);
    s_read_only (url_b, true);
    char fourth [96];
    snprintf (fourth, sizeof fourth, "failover-4-%s", tf_test_unique ());
    cr_assert_eq (s_server_log_count ("b", refusal), 0);
    int attempts_back = s_submit_until_accepted (fourth);
    cr_assert_gt (attempts_back, 1, "the first write after failing back was not refused");
    cr_assert_eq (s_server_log_count ("b", refusal), 1, "B did not refuse one write as read-only");
    cr_assert_eq (s_count (url_a, count, fourth), 1, "the fourth ticket is not in A");
    cr_assert_eq (s_count (url_b, count, fourth), 0, "the fourth ticket is in B, read-only again");
    cr_assert_eq (tf_test_metric (s_actor, "ticketflow_database_reconnects_total{service=\"intake\"}"), 2);
    cr_assert_eq (s_http_status (ops, "/readyz"), 200);
    fprintf (stderr, "faults: failover: the second ticket went into B at attempt %d, the fourth back into A"
                     " at attempt %d\n", attempts, attempts_back);
    unlink (passfile);
}
