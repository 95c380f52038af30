//  ticketflow-migrate: applies deploy/sql/*.sql once each, in order.
#include "tf_config.h"
#include "tf_db.h"
#include "tf_log.h"
#include "tf_taxonomy.h"
#include <stdio.h>

int
main (int argc, char **argv)
{
    static const char *settings [] = { "database-url", "log-level", "taxonomy-file", "calendar-file", NULL };
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-migrate",
        "ticketflow-migrate — applies the numbered SQL migrations in deploy/sql/ that the\n"
        "database has not seen yet, each once, in order, recorded in schema_migrations.\n"
        "Running it again is a no-op. The folder is $TICKETFLOW_HOME/deploy/sql.\n"
        "Then loads the taxonomy file (departments, sub-categories with their owners,\n"
        "deadlines, keywords, solution steps and phrases, and the SLA policy) into the\n"
        "database, updating what changed, and the calendar file (service hours, public\n"
        "holidays and make-up working days), replacing what was there.\n\n"
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
    int applied = tf_db_migrate (db, dir, err, sizeof err);
    if (applied < 0) {
        fprintf (stderr, "error: %s\n", err);
        tf_db_destroy (&db);
        return 1;
    }
    printf ("migrations: %d applied\n", applied);
    char taxonomy [4200];
    if (*cfg.taxonomy_file)
        snprintf (taxonomy, sizeof taxonomy, "%s", cfg.taxonomy_file);
    else
        snprintf (taxonomy, sizeof taxonomy, "%s/deploy/taxonomy/taxonomy.json", tf_home ());
    int loaded = tf_taxonomy_load (db, taxonomy, err, sizeof err);
    if (loaded < 0) {
        fprintf (stderr, "error: %s\n", err);
        tf_db_destroy (&db);
        return 1;
    }
    printf ("taxonomy: %d sub-categories from %s\n", loaded, taxonomy);
    char calendar [4200];
    if (*cfg.calendar_file)
        snprintf (calendar, sizeof calendar, "%s", cfg.calendar_file);
    else
        snprintf (calendar, sizeof calendar, "%s/deploy/calendar.json", tf_home ());
    loaded = tf_calendar_load (db, calendar, err, sizeof err);
    tf_db_destroy (&db);
    if (loaded < 0) {
        fprintf (stderr, "error: %s\n", err);
        return 1;
    }
    printf ("calendar: %d holidays and make-up days from %s\n", loaded, calendar);
    return 0;
}
