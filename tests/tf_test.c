#include "tf_test.h"
#include "intake.h"
#include "tf_actor.h"
#include "tf_log.h"
#include "tf_private.h"
#include "tf_security.h"
#include "tf_token.h"
#include <limits.h>
#include <criterion/criterion.h>
#include <microhttpd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <sys/socket.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

void
tf_test_clear_environment (void)
{
    size_t i = 0;
    while (environ [i]) {
        const char *var = environ [i];
        size_t len = strcspn (var, "=");
        char name [256];
        if (strncmp (var, "TICKETFLOW_", 11) != 0 || strncmp (var, "TICKETFLOW_HOME=", 16) == 0
        ||  strncmp (var, "TICKETFLOW_TEST_", 16) == 0 || len >= sizeof name) {
            i++;
            continue;
        }
        snprintf (name, sizeof name, "%.*s", (int) len, var);
        unsetenv (name);
        i = 0;                  //  unsetenv moved the entries under us
    }
}

void
tf_test_config (tf_config_t *cfg)
{
    //  more logging is the one thing a developer may ask of the tests
    static char level [32];
    const char *asked = getenv ("TICKETFLOW_LOG_LEVEL");
    snprintf (level, sizeof level, "%s", asked? asked: "error");
    tf_test_clear_environment ();
    const char *names [tf_option_count + 1];
    for (size_t i = 0; i < tf_option_count; i++)
        names [i] = tf_options [i].name;
    names [tf_option_count] = NULL;
    char *argv [] = { "test", NULL };
    cr_assert_eq (tf_config_load (cfg, names, 1, argv, "test", "", NULL, NULL), 0);
    const char *any = "tcp://127.0.0.1:*";
    cfg->intake_endpoint = cfg->intake_events_endpoint = cfg->intake_feedback_endpoint = any;
    cfg->classifier_endpoint = cfg->classifier_events_endpoint = cfg->classifier_publish_endpoint = any;
    cfg->dispatcher_endpoint = cfg->dispatcher_publish_endpoint = cfg->dispatcher_events_endpoint = any;
    cfg->sla_endpoint = cfg->sla_events_endpoint = cfg->sla_publish_endpoint = any;
    cfg->notifier_endpoint = cfg->notifier_events_endpoint = cfg->notifier_reopen_endpoint = any;
    cfg->reporting_endpoint = any;
    cfg->intake_http_port = 0;
    cfg->reporting_http_port = 0;
    cfg->intake_ops_port = cfg->classifier_ops_port = cfg->dispatcher_ops_port = 0;
    cfg->sla_ops_port = cfg->notifier_ops_port = cfg->reporting_ops_port = 0;
    //  quiet unless asked: the tests provoke refusals on purpose
    cfg->log_level = level;
    tf_log_init ("test", cfg->log_level);
    //  security on, as in production: the services use the test keys, and
    //  this process connects as the operator unless a test says otherwise
    cfg->keys_dir = tf_test_keys_dir ();
    cr_assert_geq (tf_keys_init (cfg->keys_dir), 0);
    setenv ("TICKETFLOW_KEYS_DIR", cfg->keys_dir, 1);      //  for the programs a test runs
    cr_assert_eq (tf_security_client_start (cfg, "operator"), 0);
}

const char *
tf_test_keys_dir (void)
{
    static char dir [PATH_MAX];
    const char *home = getenv ("TICKETFLOW_HOME");
    snprintf (dir, sizeof dir, "%s/var/test-keys", home && *home? home: ".");
    return dir;
}

zsock_t *
tf_test_pull (const char *endpoint)
{
    tf_test_as ("reporting");
    zsock_t *pull = tf_net_connect (ZMQ_PULL, endpoint, 1 << 20);
    tf_test_as (NULL);
    return pull;
}

void
tf_test_as_service (zsock_t *sock)
{
    tf_test_as ("reporting");
    tf_security_client (sock);
    tf_test_as (NULL);
}

void
tf_test_as (const char *name)
{
    static _Thread_local zcert_t *cert;
    tf_security_use (NULL);
    zcert_destroy (&cert);
    if (name) {
        cert = tf_security_load_cert (name);
        cr_assert (cert, "no certificate %s", name);
        tf_security_use (cert);
    }
}

static void s_take_lock (bool alone);

tf_db_t *
tf_test_db (void)
{
    const char *url = getenv ("DATABASE_URL");
    cr_assert (url && *url, "DATABASE_URL is not set: run the tests through `make test`");
    s_take_lock (false);
    //  the services' private-data key, for what the test stores as they do
    cr_assert_geq (tf_keys_init (tf_test_keys_dir ()), 0);
    cr_assert_eq (tf_private_init (tf_test_keys_dir ()), 0);
    tf_db_t *db = tf_db_new (url, "ticketflow-test", "Asia/Shanghai", 5000);
    cr_assert (db, "cannot connect to the test database %s", url);
    return db;
}

int64_t
tf_test_submit_msg (tf_db_t *db, tf_msg_t *m, char *ticket_no)
{
    static int counter;
    if (!tf_msg_has (m, TF_F_SUBMIT_CHANNEL))
        tf_msg_set_cstr (m, TF_F_SUBMIT_CHANNEL, "app");
    if (!tf_msg_has (m, TF_F_SUBMIT_EXTERNAL_ID)) {
        char ext [128];
        snprintf (ext, sizeof ext, "test-%s-%d-%d", tf_test_unique (), (int) getpid (), ++counter);
        tf_msg_set_cstr (m, TF_F_SUBMIT_EXTERNAL_ID, ext);
    }
    intake_t *intake = intake_new (db);
    cr_assert (intake);
    const tf_msg_t *batch [] = { m };
    intake_result_t r;
    cr_assert_eq (intake_submit (intake, batch, 1, &r), 0);
    cr_assert (r.ok, "%s", r.err.message);
    tf_msg_clear (m);
    intake_destroy (&intake);
    if (ticket_no)
        snprintf (ticket_no, 32, "%s", r.ticket_no);
    return r.ticket_id;
}

int64_t
tf_test_submit (tf_db_t *db, const char *customer, const char *body, const char *contacted_at, char *ticket_no)
{
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, body);
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, customer);
    if (contacted_at)
        tf_msg_set_cstr (&m, TF_F_SUBMIT_CONTACTED_AT, contacted_at);
    return tf_test_submit_msg (db, &m, ticket_no);
}

void
tf_test_sql (tf_db_t *db, const char *fmt, ...)
{
    char sql [8192];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (sql, sizeof sql, fmt, ap);
    va_end (ap);
    PGresult *res = tf_db_query (db, sql, 0, NULL);
    cr_assert (tf_db_ok (db, res, sql), "failed: %s", sql);
    PQclear (res);
}

long long
tf_test_scalar (tf_db_t *db, const char *fmt, ...)
{
    char sql [4096];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (sql, sizeof sql, fmt, ap);
    va_end (ap);
    PGresult *res = tf_db_query (db, sql, 0, NULL);
    cr_assert (tf_db_ok (db, res, sql), "query failed: %s", sql);
    long long v = PQntuples (res) > 0 && !PQgetisnull (res, 0, 0)? atoll (PQgetvalue (res, 0, 0)): -1;
    PQclear (res);
    return v;
}

long long
tf_test_wait_scalar (tf_db_t *db, long long want, int timeout_ms, const char *fmt, ...)
{
    char sql [4096];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (sql, sizeof sql, fmt, ap);
    va_end (ap);
    int64_t deadline = zclock_mono () + timeout_ms;
    long long got = tf_test_scalar (db, "%s", sql);
    while (got != want && zclock_mono () < deadline) {
        zclock_sleep (50);
        got = tf_test_scalar (db, "%s", sql);
    }
    return got;
}

zactor_t *
tf_test_actor (zactor_fn *fn, void *args, const char *query, char **answer)
{
    zactor_t *actor = zactor_new (fn, args);
    cr_assert (actor);
    char *reply = tf_actor_query (actor, query);
    cr_assert (reply && *reply && strcmp (reply, "ERROR") != 0, "the actor did not start");
    if (answer)
        *answer = reply;
    else
        zstr_free (&reply);
    return actor;
}

zactor_t *
tf_test_service_new (const tf_service_t *service, const tf_config_t *cfg)
{
    //  the actor reads its arguments for as long as it runs
    static tf_engine_args_t args [32];
    static size_t used;
    cr_assert (used < 32, "too many services in one test");
    args [used] = (tf_engine_args_t) { service, cfg };
    zactor_t *actor = zactor_new (tf_engine_actor, &args [used++]);
    cr_assert (actor);
    return actor;
}

zactor_t *
tf_test_service (const tf_service_t *service, const tf_config_t *cfg, const char *query, char **answer)
{
    zactor_t *actor = tf_test_service_new (service, cfg);
    char *reply = tf_actor_query (actor, query);
    cr_assert (reply && *reply && strcmp (reply, "ERROR") != 0, "the service did not start");
    if (answer)
        *answer = reply;
    else
        zstr_free (&reply);
    return actor;
}

const char *
tf_test_unique (void)
{
    static char unique [64];
    if (!*unique)
        snprintf (unique, sizeof unique, "%d-%lld", (int) getpid (), (long long) zclock_time ());
    return unique;
}

//  --------------------------------------------------------------------------
//  Isolation

//  The lock every test takes, shared or alone, on a connection of its own
//  held until the test process ends
#define TEST_LOCK "7100999"
static tf_db_t *s_lock_db;

static void
s_take_lock (bool alone)
{
    if (s_lock_db)
        return;
    const char *url = getenv ("DATABASE_URL");
    cr_assert (url && *url, "DATABASE_URL is not set: run the tests through `make test`");
    s_lock_db = tf_db_new (url, "ticketflow-test-lock", "Asia/Shanghai", 5000);
    cr_assert (s_lock_db, "cannot connect to the test database %s", url);
    cr_assert_eq (tf_db_exec (s_lock_db, alone? "SELECT pg_advisory_lock (" TEST_LOCK ")"
                                              : "SELECT pg_advisory_lock_shared (" TEST_LOCK ")"), 0);
}

void
tf_test_alone (void)
{
    cr_assert_null (s_lock_db, "tf_test_alone must come before the first tf_test_db");
    s_take_lock (true);
}

//  --------------------------------------------------------------------------
//  Ops

#include <curl/curl.h>

static size_t
s_collect (char *data, size_t size, size_t count, void *user)
{
    FILE *out = user;
    return fwrite (data, size, count, out);
}

const char *
tf_test_token (void)
{
    static char token [64];
    if (!*token) {
        tf_db_t *db = tf_test_db ();
        tf_identity_t who = { .role = TF_ROLE_OPERATOR };
        snprintf (who.name, sizeof who.name, "test-operator-%.40s", tf_test_unique ());
        tf_error_t err;
        cr_assert_eq (tf_token_create (db, &who, token, sizeof token, &err), 0, "%s", err.message);
        tf_db_destroy (&db);
    }
    return token;
}

const char *
tf_test_bearer (void)
{
    static char header [128];
    snprintf (header, sizeof header, "Authorization: Bearer %s", tf_test_token ());
    return header;
}

char *
tf_test_http_get (int port, const char *path, long *status)
{
    char url [256];
    snprintf (url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    return tf_test_https_get (url, NULL, status);
}

char *
tf_test_https_get (const char *url, const char *ca, long *status)
{
    char *body = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&body, &size);
    CURL *curl = curl_easy_init ();
    struct curl_slist *headers = curl_slist_append (NULL, tf_test_bearer ());
    curl_easy_setopt (curl, CURLOPT_URL, url);
    curl_easy_setopt (curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (curl, CURLOPT_WRITEFUNCTION, s_collect);
    curl_easy_setopt (curl, CURLOPT_WRITEDATA, out);
    curl_easy_setopt (curl, CURLOPT_TIMEOUT_MS, 5000L);
    if (ca) {
        curl_easy_setopt (curl, CURLOPT_CAINFO, ca);
        curl_easy_setopt (curl, CURLOPT_SSL_VERIFYHOST, 0L);     //  a test certificate, not for 127.0.0.1
    }
    CURLcode rc = curl_easy_perform (curl);
    curl_slist_free_all (headers);
    *status = 0;
    curl_easy_getinfo (curl, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup (curl);
    fclose (out);
    if (rc != CURLE_OK) {
        free (body);
        return NULL;
    }
    return body;
}

double
tf_test_metric (zactor_t *actor, const char *series)
{
    char *port = tf_actor_query (actor, "OPS-PORT");
    cr_assert (port && atoi (port) > 0, "the service has no ops port");
    double value = tf_test_port_metric (atoi (port), series);
    zstr_free (&port);
    return value;
}

double
tf_test_port_metric (int port, const char *series)
{
    long status;
    char *text = tf_test_http_get (port, "/metrics", &status);
    cr_assert (text && status == 200, "/metrics did not answer on port %d", port);
    double value = 0;
    size_t len = strlen (series);
    for (char *line = text; line && *line; line = strchr (line, '\n')? strchr (line, '\n') + 1: NULL)
        if (strncmp (line, series, len) == 0 && line [len] == ' ')
            value = atof (line + len + 1);
    free (text);
    return value;
}

double
tf_test_wait_metric (zactor_t *actor, const char *series, double value, int timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    double now = tf_test_metric (actor, series);
    while (now < value && zclock_mono () < until) {
        zclock_sleep (50);
        now = tf_test_metric (actor, series);
    }
    return now;
}

double
tf_test_port_wait_metric (int port, const char *series, double value, int timeout_ms)
{
    int64_t until = zclock_mono () + timeout_ms;
    double now = tf_test_port_metric (port, series);
    while (now < value && zclock_mono () < until) {
        zclock_sleep (50);
        now = tf_test_port_metric (port, series);
    }
    return now;
}

double
tf_test_wait_handled (zactor_t *actor, const char *series, double value, int timeout_ms)
{
    double now = tf_test_wait_metric (actor, series, value, timeout_ms);
    //  the loop answers its pipe first thing in a turn: once it has
    //  answered, the turn that counted the message has ended
    char *answer = tf_actor_query (actor, "OPS-PORT");
    cr_assert (answer, "the service did not answer its pipe");
    zstr_free (&answer);
    return now;
}

int
tf_test_free_port (void)
{
    //  the kernel's choice (ZeroMQ's "*" takes the lowest free port from
    //  49152 up, the same one call after call), never one this process
    //  handed out already (it may not be bound yet): a port the kernel
    //  repeats is held while it is asked again
    static int given [64];
    static size_t ngiven;
    int held [100];
    size_t nheld = 0;
    int port = 0;
    while (!port && nheld < 100) {
        int fd = socket (AF_INET, SOCK_STREAM, 0);
        cr_assert_geq (fd, 0);
        struct sockaddr_in addr = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
        socklen_t len = sizeof addr;
        cr_assert (bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0
                   && getsockname (fd, (struct sockaddr *) &addr, &len) == 0, "no free port");
        int candidate = ntohs (addr.sin_port);
        bool seen = false;
        for (size_t i = 0; i < ngiven && i < 64 && !seen; i++)
            seen = given [i] == candidate;
        if (seen)
            held [nheld++] = fd;
        else {
            close (fd);
            port = candidate;
        }
    }
    while (nheld)
        close (held [--nheld]);
    cr_assert_gt (port, 0, "no free port");
    given [ngiven++ % 64] = port;
    return port;
}

pid_t
tf_test_spawn (const char *service, const char *log, const char *const *overrides)
{
    char path [4200];
    snprintf (path, sizeof path, "%s/bin/ticketflow-%s", tf_home (), service);
    int fd = open (log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    cr_assert (fd >= 0, "cannot write %s", log);
    //  the environment, with the overrides in place of what it sets
    size_t n = 0;
    while (environ [n])
        n++;
    size_t noverrides = 0;
    while (overrides && overrides [noverrides])
        noverrides++;
    char **env = calloc (n + noverrides + 1, sizeof (char *));
    assert (env);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        bool replaced = false;
        for (size_t o = 0; o < noverrides && !replaced; o++) {
            size_t len = (size_t) (strchr (overrides [o], '=') - overrides [o]);
            replaced = strncmp (environ [i], overrides [o], len + 1) == 0;
        }
        if (!replaced)
            env [k++] = environ [i];
    }
    for (size_t o = 0; o < noverrides; o++)
        env [k++] = (char *) overrides [o];
    char *argv [] = { path, NULL };
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        dup2 (fd, 1);
        dup2 (fd, 2);
        execve (path, argv, env);
        _exit (127);
    }
    close (fd);
    free (env);
    cr_assert_gt (pid, 0, "cannot start %s", path);
    return pid;
}

void
tf_test_stop (pid_t pid)
{
    if (pid <= 0)
        return;
    kill (pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid (pid, NULL, WNOHANG) == pid)
            return;
        zclock_sleep (50);
    }
    kill (pid, SIGKILL);
    waitpid (pid, NULL, 0);
}

const char *
tf_test_ipc_endpoint (const char *dir, const char *name)
{
    static char value [8][256];
    static int next;
    char *v = value [next++ % 8];
    snprintf (v, sizeof value [0], "ipc://%s/%s", dir, name);
    return v;
}

void
tf_test_send_raw (zsock_t *dealer, const char *type, const void *body, size_t size)
{
    zmsg_t *m = zmsg_new ();
    zmsg_addmem (m, "", 0);
    zmsg_addstr (m, type);
    if (body)
        zmsg_addmem (m, body, size);
    cr_assert_eq (zmsg_send (&m, dealer), 0);
}

const char *
tf_test_nowhere (void)
{
    //  a path of this process that nobody creates: a free TCP port could be
    //  taken by the next ephemeral bind, and that peer's events with it
    static char endpoints [8][64];
    static int next;
    char *endpoint = endpoints [next % 8];
    snprintf (endpoint, 64, "ipc:///tmp/tf-nowhere-%d-%d", (int) getpid (), next++);
    return endpoint;
}

//  --------------------------------------------------------------------------
//  The webhook test server

typedef struct {
    char data [8192];
    size_t size;
} upload_t;

static void
s_copy_header (struct MHD_Connection *conn, const char *name, char *out, size_t size, bool *present)
{
    const char *value = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, name);
    *present = value != NULL;
    snprintf (out, size, "%s", value? value: "");
}

static enum MHD_Result
s_hook_handle (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
               const char *version, const char *data, size_t *data_size, void **con_cls)
{
    (void) url; (void) method; (void) version;
    tf_test_hook_t *hook = cls;
    upload_t *up = *con_cls;
    if (!up) {
        *con_cls = calloc (1, sizeof (upload_t));
        return MHD_YES;
    }
    if (*data_size) {
        size_t n = *data_size < sizeof up->data - up->size? *data_size: sizeof up->data - up->size;
        memcpy (up->data + up->size, data, n);
        up->size += n;
        *data_size = 0;
        return MHD_YES;
    }
    pthread_mutex_lock (&hook->lock);
    hook->requests++;
    memcpy (hook->body, up->data, up->size);
    hook->body [up->size < sizeof hook->body? up->size: sizeof hook->body - 1] = 0;
    hook->body_size = up->size;
    const char *type = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, "Content-Type");
    snprintf (hook->content_type, sizeof hook->content_type, "%s", type? type: "");
    s_copy_header (conn, "X-Ticketflow-Signature", hook->signature, sizeof hook->signature, &hook->has_signature);
    s_copy_header (conn, "Idempotency-Key", hook->idempotency_key, sizeof hook->idempotency_key,
                   &hook->has_idempotency_key);
    int status = hook->status;
    pthread_mutex_unlock (&hook->lock);
    struct MHD_Response *response = MHD_create_response_from_buffer (2, (void *) "ok", MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response (conn, (unsigned) status, response);
    MHD_destroy_response (response);
    return rc;
}

static void
s_hook_completed (void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode code)
{
    (void) cls; (void) conn; (void) code;
    free (*con_cls);
    *con_cls = NULL;
}

tf_test_hook_t *
tf_test_hook_new (int status)
{
    tf_test_hook_t *hook = calloc (1, sizeof *hook);
    hook->status = status;
    pthread_mutex_init (&hook->lock, NULL);
    hook->daemon = MHD_start_daemon (MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
                                     s_hook_handle, hook,
                                     MHD_OPTION_NOTIFY_COMPLETED, s_hook_completed, NULL,
                                     MHD_OPTION_END);
    cr_assert (hook->daemon, "cannot start the test HTTP server");
    hook->port = MHD_get_daemon_info (hook->daemon, MHD_DAEMON_INFO_BIND_PORT)->port;
    cr_assert (hook->port > 0);
    return hook;
}

void
tf_test_hook_destroy (tf_test_hook_t **hook_p)
{
    tf_test_hook_t *hook = *hook_p;
    MHD_stop_daemon (hook->daemon);
    pthread_mutex_destroy (&hook->lock);
    free (hook);
    *hook_p = NULL;
}

int
tf_test_hook_requests (tf_test_hook_t *hook)
{
    pthread_mutex_lock (&hook->lock);
    int n = hook->requests;
    pthread_mutex_unlock (&hook->lock);
    return n;
}

void
tf_test_hook_set_status (tf_test_hook_t *hook, int status)
{
    pthread_mutex_lock (&hook->lock);
    hook->status = status;
    pthread_mutex_unlock (&hook->lock);
}

char *
tf_test_read_file (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    char *data = calloc (1, 1 << 20);
    size_t n = fread (data, 1, (1 << 20) - 1, f);
    data [n] = 0;
    fclose (f);
    return data;
}

static int s_stderr_fd = -1, s_stderr_saved = -1;
static char s_stderr_path [64];

void
tf_test_stderr_begin (void)
{
    snprintf (s_stderr_path, sizeof s_stderr_path, "/tmp/tf-test-stderr-XXXXXX");
    s_stderr_fd = mkstemp (s_stderr_path);
    cr_assert_geq (s_stderr_fd, 0);
    fflush (stderr);
    s_stderr_saved = dup (2);
    dup2 (s_stderr_fd, 2);
}

char *
tf_test_stderr_end (void)
{
    fflush (stderr);
    dup2 (s_stderr_saved, 2);
    close (s_stderr_saved);
    close (s_stderr_fd);
    char *text = tf_test_read_file (s_stderr_path);
    unlink (s_stderr_path);
    cr_assert (text, "nothing captured");
    return text;
}
