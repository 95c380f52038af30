#include "tf_taxonomy.h"
#include "tf_db.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *SQL_DEPARTMENTS =
    "INSERT INTO departments (code, name, name_en) "
    "SELECT d->>'code', d->>'name', d->>'name_en' FROM jsonb_array_elements ($1::jsonb -> 'departments') d "
    "ON CONFLICT (code) DO UPDATE SET name = EXCLUDED.name, name_en = EXCLUDED.name_en";

static const char *SQL_SUBCATEGORIES =
    "INSERT INTO taxonomy (subcategory, code, category, category_code, name_en, category_en,"
    "                      first_owner, department, response_minutes, resolution, deadline_text,"
    "                      default_priority, keywords, third_levels, solution_steps, phrases, example,"
    "                      hand_over_hours) "
    "SELECT s->>'name', s->>'code', c->>'name', c->>'code', s->>'name_en', c->>'name_en',"
    "       s->>'first_owner', s->>'department', (s->>'response_minutes')::int,"
    "       s->'resolution', s->>'deadline_text', s->>'default_priority',"
    "       ARRAY (SELECT jsonb_array_elements_text (coalesce (s->'keywords', '[]'))),"
    "       coalesce (s->'third_levels', '[]'), coalesce (s->'solution_steps', '[]'),"
    "       coalesce (s->'phrases', '{}'), s->>'example', (s->>'hand_over_hours')::int "
    "FROM jsonb_array_elements ($1::jsonb -> 'categories') c,"
    "     jsonb_array_elements (c->'subcategories') s "
    "ON CONFLICT (subcategory) DO UPDATE SET code = EXCLUDED.code, category = EXCLUDED.category,"
    "  category_code = EXCLUDED.category_code, name_en = EXCLUDED.name_en,"
    "  category_en = EXCLUDED.category_en, first_owner = EXCLUDED.first_owner,"
    "  department = EXCLUDED.department, response_minutes = EXCLUDED.response_minutes,"
    "  resolution = EXCLUDED.resolution, deadline_text = EXCLUDED.deadline_text,"
    "  default_priority = EXCLUDED.default_priority, keywords = EXCLUDED.keywords,"
    "  third_levels = EXCLUDED.third_levels, solution_steps = EXCLUDED.solution_steps,"
    "  phrases = EXCLUDED.phrases, example = EXCLUDED.example, hand_over_hours = EXCLUDED.hand_over_hours";

static const char *SQL_POLICY =
    "INSERT INTO sla_policy (priority, name, response_minutes, resolve_minutes) "
    "SELECT p->>'priority', p->>'name', (p->>'response_minutes')::int, (p->>'resolve_minutes')::int "
    "FROM jsonb_array_elements ($1::jsonb -> 'priority_policy') p "
    "ON CONFLICT (priority) DO UPDATE SET name = EXCLUDED.name,"
    "  response_minutes = EXCLUDED.response_minutes, resolve_minutes = EXCLUDED.resolve_minutes";

//  The calendar replaces what was there. Bad values fail the statement
//  (an unknown time zone, a time that is not HH:MM, closes before opens, a
//  day listed twice) and the message names the problem.
static const char *SQL_HOURS_CLEAR = "DELETE FROM service_hours WHERE $1::jsonb IS NOT NULL";
static const char *SQL_HOURS =
    "INSERT INTO service_hours (scope, timezone, opens, closes, working_days_only) "
    "SELECT h->>'scope', (SELECT name FROM pg_timezone_names WHERE name = $1::jsonb->>'timezone'),"
    "       (h->>'opens')::time, (h->>'closes')::time,"
    "       CASE h->>'days' WHEN 'every_day' THEN false WHEN 'working_days' THEN true END "
    "FROM jsonb_array_elements ($1::jsonb -> 'service_hours') h";
static const char *SQL_DAYS_CLEAR = "DELETE FROM calendar_days WHERE $1::jsonb IS NOT NULL";
static const char *SQL_DAYS =
    "INSERT INTO calendar_days (day, working, name) "
    "SELECT d::date, false, h->>'name' FROM jsonb_array_elements ($1::jsonb -> 'holidays') h,"
    "       generate_series ((h->'off'->>0)::date, (h->'off'->>1)::date, '1 day') d "
    "UNION ALL "
    "SELECT (w #>> '{}')::date, true, h->>'name' || ' (调休)' FROM jsonb_array_elements ($1::jsonb -> 'holidays') h,"
    "       jsonb_array_elements (h->'work') w";

//  The templates replace what was there; tf_template_check fails the
//  statement on an unknown kind or variable and names it
static const char *SQL_TEMPLATES_CLEAR = "DELETE FROM message_templates WHERE $1::jsonb IS NOT NULL";
static const char *SQL_TEMPLATES =
    "INSERT INTO message_templates (kind, channel, subject, text) "
    "SELECT m->>'kind', coalesce (m->>'channel', '*'), coalesce (m->>'subject', ''), m->>'text' "
    "FROM jsonb_array_elements ($1::jsonb -> 'templates') m "
    "WHERE tf_template_check (m->>'kind', coalesce (m->>'channel', '*'), coalesce (m->>'text', '') || ' ' || coalesce (m->>'subject', ''))";

typedef struct {
    const char *sql;
    const char *what;
} step_t;

//  Runs the steps, each with the file's JSON as its parameter, in one
//  transaction; returns the rows the step `count_step` touched, or -1 with
//  err set (and nothing changed)
static int
s_load (tf_db_t *db, const char *path, const char *const *arrays, const step_t *steps, int count_step,
        char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file (path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf (err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    for (const char *const *a = arrays; *a; a++)
        if (!json_is_array (json_object_get (root, *a))) {
            snprintf (err, errlen, "%s: needs the array %s", path, *a);
            json_decref (root);
            return -1;
        }
    char *json = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    if (tf_db_begin (db)) {
        snprintf (err, errlen, "%s: cannot begin a transaction", path);
        free (json);
        return -1;
    }
    int count = 0;
    for (int i = 0; steps [i].sql && count >= 0; i++) {
        PGresult *res = tf_db_query (db, steps [i].sql, 1, (const char *[]) { json });
        int rc = res && PQresultStatus (res) == PGRES_COMMAND_OK? atoi (PQcmdTuples (res)): -1;
        if (rc < 0) {
            snprintf (err, errlen, "%s, %s: %s", path, steps [i].what,
                      res? PQresultErrorMessage (res): "no connection");
            count = -1;
        }
        else
        if (i == count_step)
            count = rc;
        PQclear (res);
    }
    free (json);
    if (count >= 0 && tf_db_finish (db, count) < 0) {
        snprintf (err, errlen, "%s: the commit failed", path);
        return -1;
    }
    if (count < 0)
        tf_db_finish (db, -1);
    return count;
}

int
tf_taxonomy_load (tf_db_t *db, const char *path, char *err, size_t errlen)
{
    const step_t steps [] = {
        { SQL_DEPARTMENTS, "departments" }, { SQL_SUBCATEGORIES, "sub-categories" },
        { SQL_POLICY, "SLA policy" }, { NULL, NULL }
    };
    return s_load (db, path, (const char *[]) { "departments", "categories", "priority_policy", NULL },
                   steps, 1, err, errlen);
}

int
tf_calendar_load (tf_db_t *db, const char *path, char *err, size_t errlen)
{
    const step_t steps [] = {
        { SQL_HOURS_CLEAR, "service hours" },
        { SQL_HOURS, "service hours (scope, timezone, opens and closes HH:MM, days every_day|working_days)" },
        { SQL_DAYS_CLEAR, "holidays" },
        { SQL_DAYS, "holidays (off: first and last date; work: dates; each day once)" },
        { NULL, NULL }
    };
    return s_load (db, path, (const char *[]) { "service_hours", "holidays", NULL }, steps, 3, err, errlen);
}

int
tf_templates_load (tf_db_t *db, const char *path, char *err, size_t errlen)
{
    const step_t steps [] = {
        { SQL_TEMPLATES_CLEAR, "templates" },
        { SQL_TEMPLATES, "templates (kind, channel, subject, text)" },
        { NULL, NULL }
    };
    return s_load (db, path, (const char *[]) { "templates", NULL }, steps, 1, err, errlen);
}
