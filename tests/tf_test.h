/*  tf_test — what the Criterion tests share: the database the harness
    (tests/run.sh) created, a configuration with ephemeral endpoints, and
    one-line SQL checks.
*/
#ifndef TF_TEST_H
#define TF_TEST_H

#include "tf_config.h"
#include "tf_db.h"
#include "tf_engine.h"
#include <czmq.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

//  Unsets every TICKETFLOW_* variable but TICKETFLOW_HOME (where the
//  models are) and the harness's own TICKETFLOW_TEST_*, so that what a
//  developer exported for a stack of their own cannot change what a test
//  sees. DATABASE_URL stays: it names the harness's database.
void tf_test_clear_environment (void);

//  The default settings (the caller's TICKETFLOW_* are cleared first), with
//  every endpoint on tcp://127.0.0.1:* and HTTP on any free port; the log
//  level is TICKETFLOW_LOG_LEVEL if one was set, else error.
void tf_test_config (tf_config_t *cfg);

//  The keys the tests use (TICKETFLOW_HOME/var/test-keys, made by
//  tf_test_config when missing).
const char *tf_test_keys_dir (void);
//  This thread connects as `name` (a certificate in the test keys: a
//  service, operator, or one a test issued); NULL: back to the operator.
void tf_test_as (const char *name);

//  Event sockets between services take only services' keys: a PULL
//  connected to a service's PUSH as one (the reporting service's key), and
//  the same for a socket the test connects itself.
zsock_t *tf_test_pull (const char *endpoint);
void tf_test_as_service (zsock_t *sock);

//  A connection to the test database; the test fails when there is none.
tf_db_t *tf_test_db (void);

//  Runs SQL with printf-style formatting and returns the first column of the
//  first row as a number (-1 when there is no row).
long long tf_test_scalar (tf_db_t *db, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
//  Stores the ticket.submit *m as intake does, adding channel app and a
//  unique external id where it has none; clears *m. Fills ticket_no (32
//  bytes) when not NULL and returns the ticket's id.
int64_t tf_test_submit_msg (tf_db_t *db, tf_msg_t *m, char *ticket_no);
//  The same for a body and a customer (and the customer's contact time
//  when contacted_at is not NULL).
int64_t tf_test_submit (tf_db_t *db, const char *customer, const char *body, const char *contacted_at,
                        char *ticket_no);
//  Runs a statement that must succeed (the test fails otherwise).
void tf_test_sql (tf_db_t *db, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
//  Reads that scalar until it equals `want` (every 50 ms, up to
//  timeout_ms); returns the last value read.
long long tf_test_wait_scalar (tf_db_t *db, long long want, int timeout_ms, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

//  Starts an actor and fails the test when it does not answer `query`.
zactor_t *tf_test_actor (zactor_fn *fn, void *args, const char *query, char **answer);

//  Starts a service on the engine (cfg must outlive it) and fails the test
//  when it does not answer `query`; *answer (when given) gets the answer.
zactor_t *tf_test_service (const tf_service_t *service, const tf_config_t *cfg, const char *query, char **answer);
//  Starts a service without waiting for it.
zactor_t *tf_test_service_new (const tf_service_t *service, const tf_config_t *cfg);

//  A string unique to this test process (for external ids).
const char *tf_test_unique (void);

//  ------------------------------------------------------------------ isolation

//  Tests share one database and run two at a time. A test that asserts on
//  everything of a kind (what a reconciler takes, a service's counters)
//  calls tf_test_alone first: it waits until no other test holds the
//  database and keeps every other test out until it ends. Every
//  tf_test_db of the others takes the shared side of the same lock.
void tf_test_alone (void);

//  ------------------------------------------------------------------ ops

//  GET http://127.0.0.1:port/path; the body (caller frees) and the status
//  in *status. NULL when nothing answered.
char *tf_test_http_get (int port, const char *path, long *status);
//  The same for a whole URL; https:// trusts the certificate in `ca`.
char *tf_test_https_get (const char *url, const char *ca, long *status);
//  An operator's HTTP bearer token, made once per test process, and its
//  "Authorization: Bearer ..." header (tf_test_http_get sends it).
const char *tf_test_token (void);
const char *tf_test_bearer (void);

//  The value of one series of a service actor's /metrics, written as it
//  appears there: `ticketflow_ticket_moves_total{service="dispatcher",move="ASSIGN"}`.
//  0 when the series is not there (yet).
double tf_test_metric (zactor_t *actor, const char *series);

//  Waits (up to timeout_ms) until a series reaches at least `value`;
//  returns the last value read.
double tf_test_wait_metric (zactor_t *actor, const char *series, double value, int timeout_ms);

//  The same for a service that runs as a process, by its ops port.
double tf_test_port_metric (int port, const char *series);
double tf_test_port_wait_metric (int port, const char *series, double value, int timeout_ms);

//  Waits like tf_test_wait_metric, then until the actor's loop has gone
//  round once more: a message is counted as it is read and handled after,
//  so whatever the series counted has then been handled too. The positive
//  signal to wait for before asserting that something did not happen.
double tf_test_wait_handled (zactor_t *actor, const char *series, double value, int timeout_ms);

//  A TCP port on 127.0.0.1 that nothing listens on now.
int tf_test_free_port (void);

//  Starts bin/ticketflow-SERVICE with this process's environment, with
//  overrides (NAME=VALUE, NULL-terminated, or NULL) in place of what it
//  sets; its output is appended to `log`. It dies with the test process
//  (a test killed at its timeout runs no .fini). Asserts it started.
pid_t tf_test_spawn (const char *service, const char *log, const char *const *overrides);

//  Stops a process tf_test_spawn started: SIGTERM, SIGKILL after 5 s; 0: nothing.
void tf_test_stop (pid_t pid);

//  "ipc://DIR/NAME" (one of 8 buffers taken in turn).
const char *tf_test_ipc_endpoint (const char *dir, const char *name);

//  Sends a request as raw frames on a DEALER: the empty delimiter, `type`,
//  and `body` when not NULL (garbage included). Asserts it went out.
void tf_test_send_raw (zsock_t *dealer, const char *type, const void *body, size_t size);

//  An endpoint nothing binds: a service whose inputs point
//  here gets no event at all, so only its reconciler can take its tickets.
const char *tf_test_nowhere (void);

//  A tiny HTTP server for webhook tests: answers every request with
//  `status` and keeps the last request's body and the headers a sink sets.
//  Read the fields, and change status, under lock while it runs.
typedef struct {
    struct MHD_Daemon *daemon;
    int port;
    int status;
    pthread_mutex_t lock;
    int requests;
    char body [8192];
    size_t body_size;
    char content_type [128];
    char signature [256];       //  "" when the header was absent
    char idempotency_key [64];
    bool has_signature;
    bool has_idempotency_key;
} tf_test_hook_t;

tf_test_hook_t *tf_test_hook_new (int status);
void tf_test_hook_destroy (tf_test_hook_t **hook_p);
int tf_test_hook_requests (tf_test_hook_t *hook);
void tf_test_hook_set_status (tf_test_hook_t *hook, int status);

//  The file's first MB as a string (caller frees), or NULL when it cannot be read.
char *tf_test_read_file (const char *path);

//  Sends this process's stderr (the log) to a file until
//  tf_test_stderr_end, which gives back what was written (caller frees).
void tf_test_stderr_begin (void);
char *tf_test_stderr_end (void);

#endif
