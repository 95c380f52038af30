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

//  Settings as a service would read them (defaults + environment), with
//  every endpoint on tcp://127.0.0.1:* and HTTP on any free port.
void tf_test_config (tf_config_t *cfg);

//  A connection to the test database; the test fails when there is none.
tf_db_t *tf_test_db (void);

//  Runs SQL with printf-style formatting and returns the first column of the
//  first row as a number (-1 when there is no row).
long long tf_test_scalar (tf_db_t *db, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  Starts an actor and fails the test when it does not answer `query`.
zactor_t *tf_test_actor (zactor_fn *fn, void *args, const char *query, char **answer);

//  Starts a service on the engine (cfg must outlive it) and fails the test
//  when it does not answer `query`; *answer (when given) gets the answer.
zactor_t *tf_test_service (const tf_service_t *service, const tf_config_t *cfg, const char *query, char **answer);
//  Starts a service without waiting for it.
zactor_t *tf_test_service_new (const tf_service_t *service, const tf_config_t *cfg);

//  A string unique to this test process (for external ids).
const char *tf_test_unique (void);

#endif
