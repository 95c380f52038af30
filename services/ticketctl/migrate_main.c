//  ticketflow-migrate: applies deploy/sql/*.sql once each, in order.
#include "tf_codec.h"
#include "tf_config.h"
#include "tf_db.h"
#include "tf_log.h"
#include "tf_private.h"
#include "tf_security.h"
#include "tf_taxonomy.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

//  Contact details stored before they were sealed (migration 010): sealed
//  now with the key from outside the database, the plain copies emptied.
static int
s_seal_contacts (tf_db_t *db, const tf_config_t *cfg)
{
    char keys [PATH_MAX];
    tf_keys_dir (cfg, keys, sizeof keys);
    if (tf_keys_init (keys) < 0 || tf_private_init (keys)) {
        fprintf (stderr, "error: no private-data key in %s\n", keys);
        return -1;
    }
    const char *params [] = { tf_private_key () };
    PGresult *res = tf_db_query (db,
        "UPDATE ticket_contacts SET name_sealed = coalesce (name_sealed, pgp_sym_encrypt (name, $1)),"
        " phone_sealed = coalesce (phone_sealed, pgp_sym_encrypt (phone, $1)),"
        " email_sealed = coalesce (email_sealed, pgp_sym_encrypt (email, $1)), name = NULL, phone = NULL, email = NULL"
        " WHERE name IS NOT NULL OR phone IS NOT NULL OR email IS NOT NULL", 1, params);
    int sealed = res && PQresultStatus (res) == PGRES_COMMAND_OK? atoi (PQcmdTuples (res)): -1;
    if (sealed < 0)
        fprintf (stderr, "error: cannot seal the contact details: %s\n", res? PQresultErrorMessage (res): "");
    else
    if (sealed > 0)
        printf ("contacts: %d sealed\n", sealed);
    PQclear (res);
    return sealed;
}

//  Each service's role (migration 011) gets a password, generated the first
//  time and kept in KEYS_DIR/pgpass (0600), where the services find it
//  (tf_engine). 0 also when there are no such roles (not a superuser).
static int
s_service_passwords (tf_db_t *db, const tf_config_t *cfg)
{
    PGresult *res = tf_db_query (db, "SELECT count(*) FROM pg_roles WHERE rolname LIKE 'ticketflow\\_%' AND rolcanlogin"
                                     " AND (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)", 0, NULL);
    int roles = res && PQresultStatus (res) == PGRES_TUPLES_OK? atoi (PQgetvalue (res, 0, 0)): 0;
    PQclear (res);
    if (roles == 0)
        return 0;
    char keys [PATH_MAX], path [PATH_MAX + 16];
    tf_keys_dir (cfg, keys, sizeof keys);
    snprintf (path, sizeof path, "%s/pgpass", keys);
    int set = 0;
    for (int s = TF_SVC_INTAKE; s < TF_SVC_COUNT; s++) {
        char role [64], password [64];
        snprintf (role, sizeof role, "ticketflow_%s", tf_service_names [s]);
        if (tf_db_role_password (path, role, password, sizeof password) < 0) {
            fprintf (stderr, "error: cannot read or write %s\n", path);
            return -1;
        }
        char *literal = PQescapeLiteral (tf_db_conn (db), password, strlen (password));
        char sql [256];
        snprintf (sql, sizeof sql, "ALTER ROLE %s PASSWORD %s", role, literal);
        PQfreemem (literal);
        if (tf_db_exec (db, sql)) {
            fprintf (stderr, "error: cannot set the password of %s\n", role);
            return -1;
        }
        set++;
    }
    printf ("roles: %d services connect as their own role (passwords in %s)\n", set, path);
    return set;
}

int
main (int argc, char **argv)
{
    static const char *settings [] = { "database-url", "log-level", "taxonomy-file", "calendar-file", "messages-file",
                                       "keys-dir", NULL };
    tf_config_t cfg;
    int rc = tf_config_load (&cfg, settings, argc, argv, "ticketflow-migrate",
        "ticketflow-migrate — applies the numbered SQL migrations in deploy/sql/ that the\n"
        "database has not seen yet, each once, in order, recorded in schema_migrations.\n"
        "Running it again is a no-op. The folder is $TICKETFLOW_HOME/deploy/sql.\n"
        "Then loads the taxonomy file (departments, sub-categories with their owners,\n"
        "deadlines, keywords, solution steps and phrases, and the SLA policy) into the\n"
        "database, updating what changed, and the calendar file (service hours, public\n"
        "holidays and make-up working days) and the messages file (the templates of\n"
        "what customers are sent), each replacing what was there. Last, it seals (pgcrypto,\n"
        "with KEYS_DIR/private.key) any contact details still stored in plain text, and\n"
        "gives each service's database role a password (made the first time, kept in\n"
        "KEYS_DIR/pgpass, where the services find it).\n\n"
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
    //  each reference file: its setting (empty: the default under deploy/)
    const struct {
        const char *label, *setting, *fallback, *what;
        int (*load) (tf_db_t *, const char *, char *, size_t);
    } files [] = {
        { "taxonomy", cfg.taxonomy_file, "deploy/taxonomy/taxonomy.json", "sub-categories", tf_taxonomy_load },
        { "calendar", cfg.calendar_file, "deploy/calendar.json", "holidays and make-up days", tf_calendar_load },
        { "messages", cfg.messages_file, "deploy/messages.json", "message templates", tf_templates_load },
    };
    for (size_t i = 0; i < sizeof files / sizeof files [0]; i++) {
        char path [4200];
        if (*files [i].setting)
            snprintf (path, sizeof path, "%s", files [i].setting);
        else
            snprintf (path, sizeof path, "%s/%s", tf_home (), files [i].fallback);
        int loaded = files [i].load (db, path, err, sizeof err);
        if (loaded < 0) {
            fprintf (stderr, "error: %s\n", err);
            tf_db_destroy (&db);
            return 1;
        }
        printf ("%s: %d %s from %s\n", files [i].label, loaded, files [i].what, path);
    }
    int sealed = s_seal_contacts (db, &cfg);
    int roles = sealed < 0? -1: s_service_passwords (db, &cfg);
    tf_db_destroy (&db);
    return roles < 0? 1: 0;
}
