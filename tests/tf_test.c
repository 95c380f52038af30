#include "tf_test.h"
#include "tf_actor.h"
#include "tf_log.h"
#include <criterion/criterion.h>
#include <stdarg.h>
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
    //  quiet unless asked: the tests provoke refusals on purpose
    cfg->log_level = level;
    tf_log_init ("test", cfg->log_level);
}

tf_db_t *
tf_test_db (void)
{
    const char *url = getenv ("DATABASE_URL");
    cr_assert (url && *url, "DATABASE_URL is not set: run the tests through `make test`");
    tf_db_t *db = tf_db_new (url, "ticketflow-test", "Asia/Shanghai", 5000);
    cr_assert (db, "cannot connect to the test database %s", url);
    return db;
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

const char *
tf_test_unique (void)
{
    static char unique [64];
    if (!*unique)
        snprintf (unique, sizeof unique, "%d-%lld", (int) getpid (), (long long) zclock_time ());
    return unique;
}
