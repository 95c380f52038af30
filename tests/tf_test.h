/*  tf_test — what the Criterion tests share: the database the harness
    (tests/run.sh) created, a configuration with ephemeral endpoints, and
    one-line SQL checks.
*/
#ifndef TF_TEST_H
#define TF_TEST_H

#include "tf_config.h"
#include "tf_db.h"
#include <czmq.h>

//  Unsets every TICKETFLOW_* variable but TICKETFLOW_HOME (where the
//  models are) and the harness's own TICKETFLOW_TEST_*, so that what a
//  developer exported for a stack of their own cannot change what a test
//  sees. DATABASE_URL stays: it names the harness's database.
void tf_test_clear_environment (void);

//  The default settings (the caller's TICKETFLOW_* are cleared first), with
//  every endpoint on tcp://127.0.0.1:* and HTTP on any free port; the log
//  level is TICKETFLOW_LOG_LEVEL if one was set, else error.
void tf_test_config (tf_config_t *cfg);

//  A connection to the test database; the test fails when there is none.
tf_db_t *tf_test_db (void);

//  Runs SQL with printf-style formatting and returns the first column of the
//  first row as a number (-1 when there is no row).
long long tf_test_scalar (tf_db_t *db, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  Starts an actor and fails the test when it does not answer `query`.
zactor_t *tf_test_actor (zactor_fn *fn, void *args, const char *query, char **answer);

//  A string unique to this test process (for external ids).
const char *tf_test_unique (void);

#endif
