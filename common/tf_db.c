#include "tf_db.h"
#include "tf_log.h"
#include "tf_private.h"
#include <czmq.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *name, *sql;
    int nparams;
} statement_t;

typedef enum { DB_DOWN, DB_CONNECTING, DB_UP } db_state_t;

//  How long one connection attempt may take (libpq enforces connect_timeout
//  only when it blocks), and the back-off between attempts.
#define ATTEMPT_MS      5000
#define BACKOFF_MIN_MS  100
#define BACKOFF_MAX_MS  5000

struct tf_db_t {
    PGconn *conn;
    db_state_t state;
    bool nonblocking;
    char *url, *application, *timezone;
    statement_t *statements;
    size_t nstatements;
    int64_t next_attempt;       //  zclock_mono() ms
    int64_t attempt_deadline;
    int backoff_ms;
    PostgresPollingStatusType polling;
    bool ever_connected;
    bool outage_logged;         //  one warning per outage, not one per attempt
    uint64_t reconnects;
    uint64_t sent;              //  statements run
    bool in_transaction;
    bool transaction_broken;    //  the connection was lost inside it
    int64_t pending [TF_DB_COUNTERS];
    int64_t committed [TF_DB_COUNTERS];
};

//  Starts a non-blocking connection attempt.
static void
s_connect_start (tf_db_t *self)
{
    //  the session time zone is the business one, so times read back in local time
    char options [160];
    snprintf (options, sizeof options, "-c TimeZone=%s -c client_min_messages=warning", self->timezone);
    //  keywords before dbname are defaults the URL may override; those
    //  after it are ours. Keepalives notice a server that vanished without
    //  closing the connection.
    const char *keys [] = { "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                            "keepalives_count", "dbname", "application_name", "options", NULL };
    const char *values [] = { "5", "1", "10", "5", "3", self->url, self->application, options, NULL };
    //  expand_dbname = 1: the url may be a conninfo string or a URI
    self->conn = PQconnectStartParams (keys, values, 1);
    self->attempt_deadline = zclock_mono () + ATTEMPT_MS;
    self->polling = PGRES_POLLING_WRITING;
    self->state = DB_CONNECTING;
    if (!self->conn || PQstatus (self->conn) == CONNECTION_BAD)
        self->polling = PGRES_POLLING_FAILED;
}

static void
s_connect_failed (tf_db_t *self, const char *why)
{
    if (!self->outage_logged)
        tf_warn ("database: cannot connect: %s (retrying, quietly, with back-off)", why);
    self->outage_logged = true;
    PQfinish (self->conn);
    self->conn = NULL;
    self->state = DB_DOWN;
    self->next_attempt = zclock_mono () + self->backoff_ms;
    self->backoff_ms = self->backoff_ms * 2 > BACKOFF_MAX_MS? BACKOFF_MAX_MS: self->backoff_ms * 2;
}

//  What the server says besides results (client_min_messages=warning: its
//  warnings, such as the one it sends as it shuts down) goes to our log as
//  one line, not raw to stderr
static void
s_notice (void *arg, const char *message)
{
    (void) arg;
    tf_warn ("database: %.*s", (int) strcspn (message, "\n"), message);
}

static void
s_connected (tf_db_t *self)
{
    //  a NULL processor would leave libpq's own, which prints to stderr
    PQsetNoticeProcessor (self->conn, s_notice, NULL);
    for (size_t i = 0; i < self->nstatements; i++) {
        statement_t *st = &self->statements [i];
        PGresult *res = PQprepare (self->conn, st->name, st->sql, st->nparams, NULL);
        bool ok = PQresultStatus (res) == PGRES_COMMAND_OK;
        if (!ok)
            tf_error ("database: cannot prepare %s: %s", st->name, PQresultErrorMessage (res));
        PQclear (res);
        if (!ok) {
            s_connect_failed (self, "statements could not be prepared");
            return;
        }
    }
    self->state = DB_UP;
    self->backoff_ms = BACKOFF_MIN_MS;
    self->outage_logged = false;
    if (self->ever_connected) {
        self->reconnects++;
        tf_info ("database: connected again (%s)", PQhost (self->conn));
    }
    else
        tf_debug ("database: connected (%s)", PQhost (self->conn));
    self->ever_connected = true;
}

//  Advances the attempt under way while its socket is ready; waits up to
//  wait_ms for it. Returns when it is up, failed, or not ready.
static void
s_connect_poll (tf_db_t *self, int wait_ms)
{
    int64_t until = zclock_mono () + wait_ms;
    while (self->state == DB_CONNECTING) {
        if (self->polling == PGRES_POLLING_FAILED) {
            s_connect_failed (self, self->conn? PQerrorMessage (self->conn): "out of memory");
            return;
        }
        if (self->polling == PGRES_POLLING_OK) {
            s_connected (self);
            return;
        }
        int64_t now = zclock_mono ();
        if (now >= self->attempt_deadline) {
            s_connect_failed (self, "no answer within 5 s");
            return;
        }
        struct pollfd pfd = {
            .fd = PQsocket (self->conn),
            .events = self->polling == PGRES_POLLING_READING? POLLIN: POLLOUT
        };
        int64_t left = until - now;
        int64_t deadline_left = self->attempt_deadline - now;
        int timeout = (int) (left < 0? 0: left < deadline_left? left: deadline_left);
        int ready = pfd.fd < 0? 1: poll (&pfd, 1, timeout);
        if (ready == 0 && zclock_mono () >= until)
            return;             //  not ready yet: the loop comes back
        if (ready < 0 && errno != EINTR)
            ready = 1;          //  let libpq find out what is wrong
        if (ready > 0)
            self->polling = PQconnectPoll (self->conn);
    }
}

tf_db_t *
tf_db_new (const char *url, const char *application, const char *timezone, int wait_ms)
{
    tf_db_t *self = calloc (1, sizeof *self);
    assert (self);
    self->url = strdup (url);
    self->timezone = strdup (timezone && *timezone? timezone: "UTC");
    self->application = strdup (application);
    self->backoff_ms = BACKOFF_MIN_MS;
    if (wait_ms < 0)
        return self;
    int64_t deadline = zclock_mono () + wait_ms;
    while (!tf_db_ready (self) && zclock_mono () < deadline && !zsys_interrupted)
        zclock_sleep (100);
    if (self->state != DB_UP)
        tf_db_destroy (&self);
    return self;
}

void
tf_db_destroy (tf_db_t **self_p)
{
    if (!*self_p)
        return;
    tf_db_t *self = *self_p;
    if (self->conn)
        PQfinish (self->conn);
    for (size_t i = 0; i < self->nstatements; i++) {
        free (self->statements [i].name);
        free (self->statements [i].sql);
    }
    free (self->statements);
    free (self->url);
    free (self->application);
    free (self->timezone);
    free (self);
    *self_p = NULL;
}

PGconn *
tf_db_conn (tf_db_t *self)
{
    return self->state == DB_UP? self->conn: NULL;
}

void
tf_db_set_nonblocking (tf_db_t *self, bool nonblocking)
{
    self->nonblocking = nonblocking;
}

int
tf_db_prepare (tf_db_t *self, const char *name, const char *sql, int nparams)
{
    //  modules sharing a connection may each register what they use
    for (size_t i = 0; i < self->nstatements; i++)
        if (streq (self->statements [i].name, name)) {
            assert (streq (self->statements [i].sql, sql));
            return 0;
        }
    self->statements = realloc (self->statements, (self->nstatements + 1) * sizeof (statement_t));
    assert (self->statements);
    statement_t *st = &self->statements [self->nstatements++];
    st->name = strdup (name);
    st->sql = strdup (sql);
    st->nparams = nparams;
    if (self->state != DB_UP)
        return 0;       //  prepared at the next connect
    PGresult *res = PQprepare (self->conn, name, sql, nparams, NULL);
    bool ok = PQresultStatus (res) == PGRES_COMMAND_OK;
    if (!ok)
        tf_error ("database: cannot prepare %s: %s", name, PQresultErrorMessage (res));
    PQclear (res);
    return ok? 0: -1;
}

//  The connection is gone or must go: drop it; the next tf_db_ready makes
//  a new one. A transaction under way is lost with it.
static void
s_drop (tf_db_t *self, const char *why)
{
    if (self->state == DB_DOWN)
        return;
    tf_warn ("database: connection dropped (%s); reconnecting", why);
    PQfinish (self->conn);
    self->conn = NULL;
    self->state = DB_DOWN;
    self->outage_logged = true;
    self->next_attempt = 0;
    if (self->in_transaction)
        self->transaction_broken = true;
}

bool
tf_db_ready (tf_db_t *self)
{
    //  libpq learns that the server closed an idle connection only when it
    //  reads: read what waits (never blocks), so a server gone while we were
    //  idle is found now, not by the next request
    if (self->state == DB_UP && (!PQconsumeInput (self->conn) || PQstatus (self->conn) == CONNECTION_BAD))
        s_drop (self, "the server closed it");
    if (self->state == DB_UP)
        return true;
    if (self->in_transaction)
        return false;           //  never finish a transaction on a new connection
    if (self->state == DB_DOWN) {
        if (zclock_mono () < self->next_attempt)
            return false;
        s_connect_start (self);
    }
    s_connect_poll (self, self->nonblocking? 0: ATTEMPT_MS);
    return self->state == DB_UP;
}

int
tf_db_socket (tf_db_t *self, short *events)
{
    if (self->state != DB_CONNECTING || !self->conn)
        return -1;
    *events = self->polling == PGRES_POLLING_READING? POLLIN: POLLOUT;
    return PQsocket (self->conn);
}

uint64_t
tf_db_reconnects (tf_db_t *self)
{
    return self->reconnects;
}

uint64_t
tf_db_statements (tf_db_t *self)
{
    return self->sent;
}

PGresult *
tf_db_run (tf_db_t *self, const char *name, int nparams, const char *const *params)
{
    if (!tf_db_ready (self))
        return NULL;
    self->sent++;
    return PQexecPrepared (self->conn, name, nparams, params, NULL, NULL, 0);
}

PGresult *
tf_db_query (tf_db_t *self, const char *sql, int nparams, const char *const *params)
{
    if (!tf_db_ready (self))
        return NULL;
    self->sent++;
    return PQexecParams (self->conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

//  SQLSTATEs after which this server will not do our work: connection
//  exceptions, shutdowns, and a server that has become read-only (a
//  demoted primary); a new connection may reach the one that will.
static bool
s_server_going_away (const char *sqlstate)
{
    return sqlstate && (strncmp (sqlstate, "08", 2) == 0
        || streq (sqlstate, "57P01") || streq (sqlstate, "57P02") || streq (sqlstate, "57P03")
        || streq (sqlstate, "25006"));
}

bool
tf_db_ok (tf_db_t *self, PGresult *res, const char *what)
{
    if (!res) {
        if (self->state == DB_UP && PQstatus (self->conn) == CONNECTION_BAD)
            s_drop (self, "the server closed it");
        tf_debug ("database: %s: no connection", what);
        return false;
    }
    ExecStatusType st = PQresultStatus (res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return true;
    const char *sqlstate = PQresultErrorField (res, PG_DIAG_SQLSTATE);
    if (s_server_going_away (sqlstate) || (self->conn && PQstatus (self->conn) == CONNECTION_BAD)) {
        char why [160];
        snprintf (why, sizeof why, "%s: SQLSTATE %s", what, sqlstate? sqlstate: "none");
        s_drop (self, why);
    }
    else
        tf_error ("database: %s failed: %s", what, PQresultErrorMessage (res));
    return false;
}

int
tf_db_exec (tf_db_t *self, const char *sql)
{
    PGresult *res = tf_db_query (self, sql, 0, NULL);
    int rc = tf_db_ok (self, res, sql)? 0: -1;
    PQclear (res);
    return rc;
}

int
tf_db_command (tf_db_t *self, const char *name, int nparams, const char *const *params)
{
    PGresult *res = tf_db_run (self, name, nparams, params);
    int rc = -1;
    if (tf_db_ok (self, res, name))
        rc = PQresultStatus (res) == PGRES_TUPLES_OK? PQntuples (res): atoi (PQcmdTuples (res));
    PQclear (res);
    return rc;
}

int
tf_db_begin (tf_db_t *self)
{
    assert (!self->in_transaction);
    memset (self->pending, 0, sizeof self->pending);
    self->transaction_broken = false;
    if (tf_db_exec (self, "BEGIN"))
        return -1;
    self->in_transaction = true;
    return 0;
}

int
tf_db_finish (tf_db_t *self, int rc)
{
    assert (self->in_transaction);
    bool broken = self->transaction_broken;
    self->in_transaction = false;
    self->transaction_broken = false;
    if (broken)
        return -1;              //  the connection went, and the transaction with it
    if (rc < 0 || tf_db_exec (self, "COMMIT")) {
        if (rc < 0 && self->state == DB_UP)
            tf_db_exec (self, "ROLLBACK");
        return -1;
    }
    for (int i = 0; i < TF_DB_COUNTERS; i++)
        self->committed [i] += self->pending [i];
    return rc;
}

bool
tf_db_in_transaction (tf_db_t *self)
{
    return self->in_transaction;
}

void
tf_db_count_on_commit (tf_db_t *self, int index, int64_t n)
{
    assert (index >= 0 && index < TF_DB_COUNTERS);
    if (self->in_transaction)
        self->pending [index] += n;
    else
        self->committed [index] += n;
}

int64_t
tf_db_committed (tf_db_t *self, int index)
{
    assert (index >= 0 && index < TF_DB_COUNTERS);
    return self->committed [index];
}

//  --------------------------------------------------------------------------
//  Array parameters

struct tf_db_array_t {
    char *text;
    size_t len, cap;
    size_t count;
};

tf_db_array_t *
tf_db_array_new (void)
{
    tf_db_array_t *self = calloc (1, sizeof *self);
    assert (self);
    tf_db_array_reset (self);
    return self;
}

void
tf_db_array_destroy (tf_db_array_t **self_p)
{
    if (*self_p) {
        free ((*self_p)->text);
        free (*self_p);
        *self_p = NULL;
    }
}

static void
s_array_reserve (tf_db_array_t *self, size_t more)
{
    if (self->len + more + 2 <= self->cap)
        return;
    self->cap = (self->len + more + 2) * 2;
    self->text = realloc (self->text, self->cap);
    assert (self->text);
}

void
tf_db_array_reset (tf_db_array_t *self)
{
    s_array_reserve (self, 16);
    self->text [0] = '{';
    self->len = 1;
    self->count = 0;
}

static void
s_array_comma (tf_db_array_t *self)
{
    if (self->count++)
        self->text [self->len++] = ',';
}

void
tf_db_array_add_len (tf_db_array_t *self, const char *value, size_t len)
{
    s_array_reserve (self, 2 * len + 8);
    s_array_comma (self);
    if (!value) {
        memcpy (self->text + self->len, "NULL", 4);
        self->len += 4;
        return;
    }
    //  quoted, with " and \ escaped: any text is one element
    self->text [self->len++] = '"';
    for (size_t i = 0; i < len; i++) {
        if (value [i] == '"' || value [i] == '\\')
            self->text [self->len++] = '\\';
        self->text [self->len++] = value [i];
    }
    self->text [self->len++] = '"';
}

void
tf_db_array_add (tf_db_array_t *self, const char *value)
{
    tf_db_array_add_len (self, value, value? strlen (value): 0);
}

void
tf_db_array_add_int (tf_db_array_t *self, int64_t value)
{
    s_array_reserve (self, 24);
    s_array_comma (self);
    self->len += (size_t) sprintf (self->text + self->len, "%lld", (long long) value);
}

void
tf_db_array_add_double (tf_db_array_t *self, double value)
{
    s_array_reserve (self, 32);
    s_array_comma (self);
    if (!isfinite (value))
        value = 0;
    self->len += (size_t) sprintf (self->text + self->len, "%.6g", value);
}

const char *
tf_db_array_text (tf_db_array_t *self)
{
    self->text [self->len] = '}';
    self->text [self->len + 1] = 0;
    return self->text;
}

size_t
tf_db_array_count (const tf_db_array_t *self)
{
    return self->count;
}

char *
tf_db_id_array (const int64_t *ids, size_t n)
{
    tf_db_array_t *array = tf_db_array_new ();
    for (size_t i = 0; i < n; i++)
        tf_db_array_add_int (array, ids [i]);
    char *text = strdup (tf_db_array_text (array));
    tf_db_array_destroy (&array);
    return text;
}

//  --------------------------------------------------------------------------
//  Migrations

static int
s_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

char *
tf_read_file (const char *path)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    fseek (f, 0, SEEK_END);
    long size = ftell (f);
    fseek (f, 0, SEEK_SET);
    char *data = size >= 0? malloc ((size_t) size + 1): NULL;
    if (data && fread (data, 1, (size_t) size, f) == (size_t) size)
        data [size] = 0;
    else {
        free (data);
        data = NULL;
    }
    fclose (f);
    return data;
}

static int
s_exec (tf_db_t *db, const char *sql, int nparams, const char *const *params, char *err, size_t errlen,
        const char *what, bool *found)
{
    PGresult *res = tf_db_query (db, sql, nparams, params);
    ExecStatusType st = res? PQresultStatus (res): PGRES_FATAL_ERROR;
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)? 0: -1;
    if (rc)
        snprintf (err, errlen, "%s: %s", what, res? PQresultErrorMessage (res): "no connection");
    if (found)
        *found = rc == 0 && PQntuples (res) > 0;
    PQclear (res);
    return rc;
}

int
tf_db_migrate (tf_db_t *db, const char *sql_dir, char *err, size_t errlen)
{
    DIR *dir = opendir (sql_dir);
    if (!dir) {
        snprintf (err, errlen, "cannot open migrations folder %s", sql_dir);
        return -1;
    }
    char **files = NULL;
    size_t nfiles = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        size_t n = strlen (entry->d_name);
        if (n > 4 && strcmp (entry->d_name + n - 4, ".sql") == 0
        &&  entry->d_name [0] >= '0' && entry->d_name [0] <= '9') {
            files = realloc (files, (nfiles + 1) * sizeof (char *));
            files [nfiles++] = strdup (entry->d_name);
        }
    }
    closedir (dir);
    qsort (files, nfiles, sizeof (char *), s_cmp);

    int applied = 0;
    if (s_exec (db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version text PRIMARY KEY,"
                    " applied_at timestamptz NOT NULL DEFAULT now())", 0, NULL,
                err, errlen, "schema_migrations", NULL)) {
        //  two processes creating it at once: the loser retries once
        if (s_exec (db, "SELECT 1 FROM schema_migrations LIMIT 1", 0, NULL, err, errlen, "schema_migrations", NULL))
            applied = -1;
    }
    //  one transaction per file, under an advisory lock so two processes
    //  never apply one twice
    for (size_t i = 0; i < nfiles && applied >= 0; i++) {
        if (tf_db_begin (db)) {
            snprintf (err, errlen, "cannot begin a transaction");
            applied = -1;
            break;
        }
        const char *params [] = { files [i] };
        char what [300];
        snprintf (what, sizeof what, "migration %s", files [i]);
        bool done = false;
        int rc = s_exec (db, "SELECT pg_advisory_xact_lock (7100001)", 0, NULL, err, errlen, "lock", NULL);
        if (rc == 0)
            rc = s_exec (db, "SELECT 1 FROM schema_migrations WHERE version = $1", 1, params, err, errlen,
                         "schema_migrations", &done);
        if (rc == 0 && !done) {
            char path [4096];
            snprintf (path, sizeof path, "%s/%s", sql_dir, files [i]);
            char *sql = tf_read_file (path);
            if (!sql) {
                snprintf (err, errlen, "cannot read %s", path);
                rc = -1;
            }
            //  a file of several statements: the simple protocol
            else {
                PGconn *conn = tf_db_conn (db);
                PGresult *res = conn? PQexec (conn, sql): NULL;
                if (!res || PQresultStatus (res) != PGRES_COMMAND_OK) {
                    snprintf (err, errlen, "%s: %s", what, res? PQresultErrorMessage (res): "no connection");
                    rc = -1;
                }
                PQclear (res);
            }
            free (sql);
            if (rc == 0)
                rc = s_exec (db, "INSERT INTO schema_migrations (version) VALUES ($1)", 1, params, err, errlen,
                             what, NULL);
        }
        if (tf_db_finish (db, rc) < 0) {
            if (rc == 0)
                snprintf (err, errlen, "%s: the commit failed", what);
            applied = -1;
        }
        else
        if (!done)
            applied++;
    }
    for (size_t i = 0; i < nfiles; i++)
        free (files [i]);
    free (files);
    return applied;
}

const char *
tf_home (void)
{
    static char home [4096];
    if (*home)
        return home;
    const char *env = getenv ("TICKETFLOW_HOME");
    if (env && *env) {
        snprintf (home, sizeof home, "%s", env);
        return home;
    }
    char exe [4096];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe [n] = 0;
        for (int up = 0; up < 3; up++) {
            char *slash = strrchr (exe, '/');
            if (!slash)
                break;
            *slash = 0;
            char probe [4200];
            snprintf (probe, sizeof probe, "%s/deploy/sql", exe);
            if (access (probe, R_OK) == 0) {
                snprintf (home, sizeof home, "%s", exe);
                return home;
            }
        }
    }
    snprintf (home, sizeof home, ".");
    return home;
}

//  The password of a "*:*:*:ROLE:PASSWORD" line, or NULL
static char *
s_pgpass_lookup (const char *pgpass, const char *role)
{
    FILE *file = fopen (pgpass, "r");
    if (!file)
        return NULL;
    char line [512], prefix [128];
    snprintf (prefix, sizeof prefix, "*:*:*:%s:", role);
    char *found = NULL;
    while (!found && fgets (line, sizeof line, file))
        if (strncmp (line, prefix, strlen (prefix)) == 0) {
            line [strcspn (line, "\n")] = 0;
            found = strdup (line + strlen (prefix));
        }
    fclose (file);
    return found;
}

int
tf_db_role_password (const char *pgpass, const char *role, char *password, size_t size)
{
    char *known = s_pgpass_lookup (pgpass, role);
    if (known) {
        snprintf (password, size, "%s", known);
        free (known);
        return 0;
    }
    if (size < 33 || tf_private_random (password, 32, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"))
        return -1;
    int fd = open (pgpass, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char line [256];
    int len = snprintf (line, sizeof line, "*:*:*:%s:%s\n", role, password);
    bool ok = write (fd, line, (size_t) len) == len;
    close (fd);
    return ok? 0: -1;
}

//  A conninfo value quoted for a key=value string
static void
s_append_value (zchunk_t *out, const char *key, const char *value)
{
    zchunk_extend (out, key, strlen (key));
    zchunk_extend (out, "='", 2);
    for (const char *p = value; *p; p++) {
        if (*p == '\'' || *p == '\\')
            zchunk_extend (out, "\\", 1);
        zchunk_extend (out, p, 1);
    }
    zchunk_extend (out, "' ", 2);
}

char *
tf_db_service_url (const char *url, const char *service, const char *pgpass)
{
    char role [64];
    snprintf (role, sizeof role, "ticketflow_%s", service);
    char *known = s_pgpass_lookup (pgpass, role);
    PQconninfoOption *options = known? PQconninfoParse (url, NULL): NULL;
    free (known);
    if (!options)
        return strdup (url);
    //  the same server and database, as the role with its password: the
    //  URL's user and password (a URI's user:password@ included) give way
    zchunk_t *out = zchunk_new (NULL, 0);
    for (PQconninfoOption *o = options; o->keyword; o++)
        if (o->val && *o->val && !streq (o->keyword, "user") && !streq (o->keyword, "password")
        &&  !streq (o->keyword, "passfile"))
            s_append_value (out, o->keyword, o->val);
    PQconninfoFree (options);
    s_append_value (out, "user", role);
    s_append_value (out, "passfile", pgpass);
    zchunk_extend (out, "", 1);
    char *own = strdup ((const char *) zchunk_data (out));
    zchunk_destroy (&out);
    return own;
}
