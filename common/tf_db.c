#include "tf_db.h"
#include "tf_log.h"
#include <czmq.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char *name, *sql;
    int nparams;
} statement_t;

struct tf_db_t {
    PGconn *conn;
    char *url, *application, *timezone;
    statement_t *statements;
    size_t nstatements;
    int64_t next_attempt;       //  zclock_mono() ms
    int backoff_ms;
};

static PGconn *
s_connect (tf_db_t *self, bool quiet)
{
    //  the session time zone is the business one, so times read back in local time
    char options [160];
    snprintf (options, sizeof options, "-c TimeZone=%s", self->timezone);
    const char *keys [] = { "dbname", "application_name", "connect_timeout", "options", NULL };
    const char *values [] = { self->url, self->application, "5", options, NULL };
    //  expand_dbname = 1: the url may be a conninfo string or a URI
    PGconn *conn = PQconnectdbParams (keys, values, 1);
    if (PQstatus (conn) != CONNECTION_OK) {
        if (!quiet)
            tf_warn ("database: cannot connect: %s", PQerrorMessage (conn));
        PQfinish (conn);
        return NULL;
    }
    PQsetNoticeProcessor (conn, NULL, NULL);
    PGresult *res = PQexec (conn, "SET client_min_messages = warning");
    PQclear (res);
    return conn;
}

static int
s_prepare_all (tf_db_t *self)
{
    for (size_t i = 0; i < self->nstatements; i++) {
        statement_t *st = &self->statements [i];
        PGresult *res = PQprepare (self->conn, st->name, st->sql, st->nparams, NULL);
        bool ok = PQresultStatus (res) == PGRES_COMMAND_OK;
        if (!ok)
            tf_error ("database: cannot prepare %s: %s", st->name, PQresultErrorMessage (res));
        PQclear (res);
        if (!ok)
            return -1;
    }
    return 0;
}

tf_db_t *
tf_db_new (const char *url, const char *application, const char *timezone, int wait_ms)
{
    tf_db_t *self = calloc (1, sizeof *self);
    assert (self);
    self->url = strdup (url);
    self->timezone = strdup (timezone && *timezone? timezone: "UTC");
    self->application = strdup (application);
    self->backoff_ms = 100;
    int64_t deadline = zclock_mono () + wait_ms;
    //  the first failure is logged, the retries are not
    bool quiet = false;
    while (!(self->conn = s_connect (self, quiet)) && zclock_mono () < deadline && !zsys_interrupted) {
        quiet = true;
        zclock_sleep (200);
    }
    if (!self->conn)
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
    return self->conn;
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
    if (!self->conn || PQstatus (self->conn) != CONNECTION_OK)
        return 0;       //  prepared at the next connect
    PGresult *res = PQprepare (self->conn, name, sql, nparams, NULL);
    bool ok = PQresultStatus (res) == PGRES_COMMAND_OK;
    if (!ok)
        tf_error ("database: cannot prepare %s: %s", name, PQresultErrorMessage (res));
    PQclear (res);
    return ok? 0: -1;
}

bool
tf_db_ready (tf_db_t *self)
{
    if (self->conn && PQstatus (self->conn) == CONNECTION_OK)
        return true;
    if (zclock_mono () < self->next_attempt)
        return false;
    if (self->conn) {
        PQfinish (self->conn);
        self->conn = NULL;
    }
    self->conn = s_connect (self, false);
    if (self->conn && s_prepare_all (self) == 0) {
        tf_info ("database: connected");
        self->backoff_ms = 100;
        return true;
    }
    if (self->conn) {
        PQfinish (self->conn);
        self->conn = NULL;
    }
    self->next_attempt = zclock_mono () + self->backoff_ms;
    self->backoff_ms = self->backoff_ms * 2 > 5000? 5000: self->backoff_ms * 2;
    return false;
}

PGresult *
tf_db_run (tf_db_t *self, const char *name, int nparams, const char *const *params)
{
    if (!tf_db_ready (self))
        return NULL;
    return PQexecPrepared (self->conn, name, nparams, params, NULL, NULL, 0);
}

PGresult *
tf_db_query (tf_db_t *self, const char *sql, int nparams, const char *const *params)
{
    if (!tf_db_ready (self))
        return NULL;
    return PQexecParams (self->conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

bool
tf_db_ok (tf_db_t *self, PGresult *res, const char *what)
{
    if (!res) {
        tf_warn ("database: %s: no connection", what);
        return false;
    }
    ExecStatusType st = PQresultStatus (res);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return true;
    tf_error ("database: %s failed: %s", what, PQresultErrorMessage (res));
    (void) self;
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

char *
tf_db_id_array (const int64_t *ids, size_t n)
{
    char *array = malloc (n * 21 + 3);
    assert (array);
    size_t o = 0;
    array [o++] = '{';
    for (size_t i = 0; i < n; i++)
        o += (size_t) sprintf (array + o, i? ",%lld": "%lld", (long long) ids [i]);
    array [o++] = '}';
    array [o] = 0;
    return array;
}

//  --------------------------------------------------------------------------
//  Migrations

static int
s_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

static char *
s_read_file (const char *path)
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
s_exec (PGconn *conn, const char *sql, char *err, size_t errlen, const char *what)
{
    PGresult *res = PQexec (conn, sql);
    ExecStatusType st = PQresultStatus (res);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)? 0: -1;
    if (rc)
        snprintf (err, errlen, "%s: %s", what, PQresultErrorMessage (res));
    PQclear (res);
    return rc;
}

int
tf_db_migrate (PGconn *conn, const char *sql_dir, char *err, size_t errlen)
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
    if (s_exec (conn, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                      " version text PRIMARY KEY,"
                      " applied_at timestamptz NOT NULL DEFAULT now())",
                err, errlen, "schema_migrations")) {
        //  two processes creating it at once: the loser retries once
        if (s_exec (conn, "SELECT 1 FROM schema_migrations LIMIT 1", err, errlen, "schema_migrations"))
            applied = -1;
    }
    for (size_t i = 0; i < nfiles && applied >= 0; i++) {
        if (s_exec (conn, "BEGIN; SELECT pg_advisory_xact_lock(7100001)", err, errlen, "lock")) {
            applied = -1;
            break;
        }
        const char *params [] = { files [i] };
        PGresult *res = PQexecParams (conn, "SELECT 1 FROM schema_migrations WHERE version = $1",
                                      1, NULL, params, NULL, NULL, 0);
        bool done = PQresultStatus (res) == PGRES_TUPLES_OK && PQntuples (res) == 1;
        bool failed = PQresultStatus (res) != PGRES_TUPLES_OK;
        PQclear (res);
        if (failed || done) {
            s_exec (conn, failed? "ROLLBACK": "COMMIT", err, errlen, "end");
            if (failed) {
                snprintf (err, errlen, "cannot read schema_migrations");
                applied = -1;
            }
            continue;
        }
        char path [4096];
        snprintf (path, sizeof path, "%s/%s", sql_dir, files [i]);
        char *sql = s_read_file (path);
        char what [300];
        snprintf (what, sizeof what, "migration %s", files [i]);
        if (!sql) {
            snprintf (err, errlen, "cannot read %s", path);
            applied = -1;
        }
        else
        if (s_exec (conn, sql, err, errlen, what) == 0) {
            res = PQexecParams (conn, "INSERT INTO schema_migrations (version) VALUES ($1)",
                                1, NULL, params, NULL, NULL, 0);
            if (PQresultStatus (res) != PGRES_COMMAND_OK) {
                snprintf (err, errlen, "%s: %s", what, PQresultErrorMessage (res));
                applied = -1;
            }
            PQclear (res);
        }
        else
            applied = -1;
        free (sql);
        if (applied < 0)
            s_exec (conn, "ROLLBACK", what, sizeof what, "rollback");
        else
        if (s_exec (conn, "COMMIT", err, errlen, what))
            applied = -1;
        else
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
