#include "dispatcher_roster.h"
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SQL_LOCK =
    "SELECT name, department, ',' || array_to_string (skills, ',') || ',', capacity FROM agents "
    "WHERE department = ANY ($1::text[]) AND on_duty AND role = 'agent' AND capacity > 0 "
    "ORDER BY id FOR UPDATE";

//  In its own statement, after the lock: a snapshot that sees what the
//  dispatcher that held the lock before committed
static const char *SQL_LOADS =
    "SELECT a.name, " ROSTER_LOAD ("a.name") " FROM unnest ($1::text[]) a (name)";

static const char *SQL_ACKNOWLEDGE =
    "WITH t AS (SELECT t.id, t.priority, t.department, t.channel, t.assignee FROM tickets t"
    "           WHERE t.id = ANY ($1::int8[])),"
    " met AS (UPDATE sla_timers s SET met_at = tf_now () FROM t"
    "         WHERE s.ticket_id = t.id AND s.kind = 'acknowledgement' AND s.met_at IS NULL"
    "         AND s.breached_at IS NULL RETURNING s.id) "
    "INSERT INTO sla_timers (ticket_id, kind, round, due_at, calendar) "
    "SELECT t.id, 'acknowledgement',"
    "       coalesce ((SELECT max (s.round) + 1 FROM sla_timers s WHERE s.ticket_id = t.id"
    "                  AND s.kind = 'acknowledgement'), 0),"
    "       tf_business_add (tf_now (), 900, c.calendar), c.calendar "
    "FROM t CROSS JOIN LATERAL (SELECT CASE WHEN t.priority = 'P1' THEN NULL"
    "                           ELSE tf_hours_scope (t.department, t.channel) END AS calendar) c "
    "WHERE t.assignee IS NOT NULL "
    "ON CONFLICT (ticket_id, kind, round) DO NOTHING";

int
dispatcher_roster_prepare (tf_db_t *db)
{
    return tf_db_prepare (db, "roster_lock", SQL_LOCK, 1)
        || tf_db_prepare (db, "roster_loads", SQL_LOADS, 1)
        || tf_db_prepare (db, "roster_acknowledge", SQL_ACKNOWLEDGE, 1)? -1: 0;
}

int
dispatcher_roster_load (tf_db_t *db, const char *departments, roster_t *roster)
{
    memset (roster, 0, sizeof *roster);
    PGresult *res = tf_db_run (db, "roster_lock", 1, (const char *[]) { departments });
    if (!tf_db_ok (db, res, "lock the roster")) {
        PQclear (res);
        return -1;
    }
    int n = PQntuples (res);
    if (n == 0) {
        PQclear (res);
        return 0;               //  nobody on duty there: every ticket waits in the pool
    }
    roster->agents = calloc ((size_t) n, sizeof *roster->agents);
    assert (roster->agents);
    roster->count = (size_t) n;
    tf_db_array_t *names = tf_db_array_new ();
    for (int i = 0; i < n; i++) {
        roster_agent_t *a = &roster->agents [i];
        snprintf (a->name, sizeof a->name, "%s", PQgetvalue (res, i, 0));
        snprintf (a->department, sizeof a->department, "%s", PQgetvalue (res, i, 1));
        snprintf (a->skills, sizeof a->skills, "%s", PQgetvalue (res, i, 2));
        a->capacity = atoi (PQgetvalue (res, i, 3));
        tf_db_array_add (names, a->name);
    }
    PQclear (res);
    res = tf_db_run (db, "roster_loads", 1, (const char *[]) { tf_db_array_text (names) });
    tf_db_array_destroy (&names);
    int rc = tf_db_ok (db, res, "agents' load") && PQntuples (res) == n? 0: -1;
    for (int i = 0; rc == 0 && i < n; i++)
        roster->agents [i].load = atoi (PQgetvalue (res, i, 1));
    PQclear (res);
    if (rc)
        dispatcher_roster_clear (roster);
    return rc;
}

static bool
s_skilled (const roster_agent_t *a, const char *code)
{
    if (!code || !*code || strlen (a->skills) <= 2)
        return true;
    char needle [80];
    snprintf (needle, sizeof needle, ",%s,", code);
    return strstr (a->skills, needle) != NULL;
}

const char *
dispatcher_roster_pick (roster_t *roster, const char *department, const char *code, const char *except)
{
    roster_agent_t *best = NULL;
    for (size_t i = 0; i < roster->count; i++) {
        roster_agent_t *a = &roster->agents [i];
        if (strcmp (a->department, department) != 0 || a->load >= a->capacity || !s_skilled (a, code)
        ||  (except && strcmp (a->name, except) == 0))
            continue;
        if (!best || a->load < best->load)
            best = a;
    }
    if (!best)
        return NULL;
    best->load++;
    return best->name;
}

void
dispatcher_roster_clear (roster_t *roster)
{
    free (roster->agents);
    memset (roster, 0, sizeof *roster);
}

int
dispatcher_roster_acknowledge (tf_db_t *db, const char *ids)
{
    return tf_db_command (db, "roster_acknowledge", 1, (const char *[]) { ids }) < 0? -1: 0;
}
