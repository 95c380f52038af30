//  ticketflow-migrate: applies deploy/sql/*.sql once each, in order.
#include "tf_config.h"
#include "tf_db.h"
#include "tf_log.h"
#include <stdio.h>

int
main (int argc, char **argv)
{
    static const char *settings [] = { "database-url", "log-level", NULL };
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-migrate",
        "ticketflow-migrate — applies the numbered SQL migrations in deploy/sql/ that the\n"
        "database has not seen yet, each once, in order, recorded in schema_migrations.\n"
        "Running it again is a no-op. The folder is $TICKETFLOW_HOME/deploy/sql.\n\n"
        "Usage: ticketflow-migrate [--database-url=URL]", NULL, NULL);
    if (rc)
        return rc > 0? 0: 2;
    tf_log_init ("migrate", cfg.log_level);
    tf_db_t *db = tf_db_new (cfg.database_url, "ticketflow-migrate", "UTC", 10000);
    if (!db) {
        fprintf (stderr, "error: cannot connect to the database '%s'\n", cfg.database_url);
        return 1;
    }
    char dir [4200], err [1024];
    snprintf (dir, sizeof dir, "%s/deploy/sql", tf_home ());
    int applied = tf_db_migrate (tf_db_conn (db), dir, err, sizeof err);
    tf_db_destroy (&db);
    if (applied < 0) {
        fprintf (stderr, "error: %s\n", err);
        return 1;
    }
    printf ("migrations: %d applied\n", applied);
    return 0;
}
