/*  tf_db — one PostgreSQL connection of a service: connect and reconnect
    with back-off, prepared statements that survive a reconnect, one way to
    run a transaction, array parameters for set-based statements, and the
    migrations.

    A connection that fails, or a server that says it is going away or is
    read-only (SQLSTATE class 08, 57P01-57P03, 25006), is dropped and made
    again: with a multi-host URL (`host=a,b target_session_attrs=read-write`)
    libpq then finds the server that takes writes now. In non-blocking mode
    (a service loop) a reconnect never blocks: tf_db_ready starts or advances
    it and answers at once; the loop waits on tf_db_socket meanwhile.
*/
#ifndef TF_DB_H
#define TF_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tf_db_t tf_db_t;

//  Creates the handle. wait_ms > 0: tries to connect (blocking) until that
//  much time has passed, and returns NULL when it could not; wait_ms == 0:
//  one try, NULL on failure; wait_ms < 0: does not connect now (the first
//  tf_db_ready does). The session runs in `timezone` (an IANA name), so
//  dates are business dates.
tf_db_t *tf_db_new (const char *url, const char *application, const char *timezone, int wait_ms);
void tf_db_destroy (tf_db_t **self_p);
PGconn *tf_db_conn (tf_db_t *self);

//  Non-blocking mode: tf_db_ready never waits for a connection.
void tf_db_set_nonblocking (tf_db_t *self, bool nonblocking);

//  Registers and prepares a statement; it is prepared again after every
//  reconnect. Registering a name again is a no-op. Returns 0 or -1 (logged).
int tf_db_prepare (tf_db_t *self, const char *name, const char *sql, int nparams);

//  True when the connection is usable (it reads what waits on it first, so
//  a connection the server closed meanwhile is dropped here). When it is
//  not, makes one attempt (blocking mode: waits for it, at most 5 s) or
//  advances the attempt under way (non-blocking mode), respecting the
//  back-off (100 ms doubling to 5 s).
bool tf_db_ready (tf_db_t *self);
//  While a non-blocking connect is under way: its socket and whether to
//  wait for reading (POLLIN) or writing (POLLOUT); -1 otherwise.
int tf_db_socket (tf_db_t *self, short *events);
//  How many times a lost connection was made again since the handle was created.
uint64_t tf_db_reconnects (tf_db_t *self);
//  How many statements went to the server through tf_db_run and
//  tf_db_query (so a test can see what a batch costs).
uint64_t tf_db_statements (tf_db_t *self);

//  Runs a prepared statement; params may hold NULLs. Returns the result
//  whatever its status (the caller checks with tf_db_ok), or NULL when the
//  connection is gone. The caller PQclear()s.
PGresult *tf_db_run (tf_db_t *self, const char *name, int nparams, const char *const *params);
//  Runs plain SQL with $n parameters (not prepared).
PGresult *tf_db_query (tf_db_t *self, const char *sql, int nparams, const char *const *params);
//  Runs a command and returns 0 when it succeeded.
int tf_db_exec (tf_db_t *self, const char *sql);
//  True when res is a success of either kind; logs the error otherwise, and
//  drops the connection when the server is going away or read-only.
bool tf_db_ok (tf_db_t *self, PGresult *res, const char *what);
//  Runs a prepared statement that must succeed; returns the rows it
//  touched (or returned), or -1 (logged).
int tf_db_command (tf_db_t *self, const char *name, int nparams, const char *const *params);

//  The one way to run a transaction: tf_db_begin, the work, then
//  tf_db_finish with the work's result: rc >= 0 commits, rc < 0 rolls back.
//  Returns rc when it committed, -1 when it rolled back or COMMIT failed.
//  Counters given to tf_db_count_on_commit in between count only when the
//  transaction commits.
int tf_db_begin (tf_db_t *self);
int tf_db_finish (tf_db_t *self, int rc);
bool tf_db_in_transaction (tf_db_t *self);

//  Counters that count only what committed (index < TF_DB_COUNTERS).
#define TF_DB_COUNTERS 64
void tf_db_count_on_commit (tf_db_t *self, int index, int64_t n);
int64_t tf_db_committed (tf_db_t *self, int index);

//  An array parameter for `= ANY ($n::int8[])` or `unnest ($n::text[], ...)`:
//  one parameter carries a whole batch, so a batch costs one statement.
typedef struct tf_db_array_t tf_db_array_t;
tf_db_array_t *tf_db_array_new (void);
void tf_db_array_destroy (tf_db_array_t **self_p);
void tf_db_array_reset (tf_db_array_t *self);
//  Appends an element: a string (NULL: SQL NULL), a counted string, a number.
void tf_db_array_add (tf_db_array_t *self, const char *value);
void tf_db_array_add_len (tf_db_array_t *self, const char *value, size_t len);
void tf_db_array_add_int (tf_db_array_t *self, int64_t value);
void tf_db_array_add_double (tf_db_array_t *self, double value);
//  The literal, "{...}"; valid until the next change.
const char *tf_db_array_text (tf_db_array_t *self);
size_t tf_db_array_count (const tf_db_array_t *self);

//  The ids as a PostgreSQL int8[] literal, "{1,2,3}". The caller frees.
char *tf_db_id_array (const int64_t *ids, size_t n);

//  Applies every deploy/sql/NNN_*.sql not yet in schema_migrations, in
//  order, each in its own transaction, under an advisory lock so that two
//  processes never apply one twice. Returns the number applied, or -1 with
//  a message in err.
int tf_db_migrate (tf_db_t *self, const char *sql_dir, char *err, size_t errlen);

//  The password of `role` in a pgpass file (lines "*:*:*:ROLE:PASSWORD"):
//  the one there, else a new random one appended (the file made 0600).
//  0, or -1 when the file cannot be read or written.
int tf_db_role_password (const char *pgpass, const char *role, char *password, size_t size);

//  The connection string a service uses: `url` with its own role
//  (ticketflow_SERVICE) and the pgpass file when that file has a password
//  for it, else `url` as it is. The caller frees.
char *tf_db_service_url (const char *url, const char *service, const char *pgpass);

//  A whole file as a NUL-terminated string (caller frees); NULL when it
//  cannot be read.
char *tf_read_file (const char *path);

//  The project folder: $TICKETFLOW_HOME, else the parent of the folder of
//  this executable when it holds deploy/, else ".". Static storage.
const char *tf_home (void);

#endif
