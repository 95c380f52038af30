/*  tf_db — one PostgreSQL connection of a service: connect with back-off,
    prepared statements that survive a reconnect, and the migrations.
*/
#ifndef TF_DB_H
#define TF_DB_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct tf_db_t tf_db_t;

//  Creates the handle and tries to connect until `wait_ms` has passed
//  (0: one try). Returns NULL only when no connection could be made.
//  The session runs in `timezone` (an IANA name), so dates are business dates.
tf_db_t *tf_db_new (const char *url, const char *application, const char *timezone, int wait_ms);
void tf_db_destroy (tf_db_t **self_p);
PGconn *tf_db_conn (tf_db_t *self);

//  Registers and prepares a statement; it is prepared again after every
//  reconnect. Registering a name again is a no-op. Returns 0 or -1 (logged).
int tf_db_prepare (tf_db_t *self, const char *name, const char *sql, int nparams);

//  Makes sure the connection is up (reconnecting with back-off, at most
//  one attempt per call). Returns true when it is usable.
bool tf_db_ready (tf_db_t *self);

//  Runs a prepared statement; params may hold NULLs. Returns the result
//  whatever its status (the caller checks), or NULL when the connection is
//  gone. The caller PQclear()s.
PGresult *tf_db_run (tf_db_t *self, const char *name, int nparams, const char *const *params);
//  Runs plain SQL with $n parameters (not prepared).
PGresult *tf_db_query (tf_db_t *self, const char *sql, int nparams, const char *const *params);
//  Runs a command and returns 0 when it succeeded (BEGIN, COMMIT, ...).
int tf_db_exec (tf_db_t *self, const char *sql);
//  True when res is a success of either kind; logs the error otherwise.
bool tf_db_ok (tf_db_t *self, PGresult *res, const char *what);

//  The ids as a PostgreSQL int8[] literal, "{1,2,3}", for one `= ANY ($n::int8[])`
//  parameter: a batch in one round trip. The caller frees.
char *tf_db_id_array (const int64_t *ids, size_t n);

//  Applies every deploy/sql/NNN_*.sql not yet in schema_migrations, in
//  order, each in its own transaction, under an advisory lock so that two
//  processes never apply one twice. Returns the number applied, or -1 with
//  a message in err.
int tf_db_migrate (PGconn *conn, const char *sql_dir, char *err, size_t errlen);

//  The project folder: $TICKETFLOW_HOME, else the parent of the folder of
//  this executable when it holds deploy/, else ".". Static storage.
const char *tf_home (void);

#endif
