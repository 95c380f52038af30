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
    "                      first_owner, department, response_minutes, resolve_minutes, deadline_text,"
    "                      default_priority, keywords, third_levels, solution_steps, phrases, example) "
    "SELECT s->>'name', s->>'code', c->>'name', c->>'code', s->>'name_en', c->>'name_en',"
    "       s->>'first_owner', s->>'department', (s->>'response_minutes')::int,"
    "       (s->>'resolve_minutes')::int, s->>'deadline_text', s->>'default_priority',"
    "       ARRAY (SELECT jsonb_array_elements_text (coalesce (s->'keywords', '[]'))),"
    "       coalesce (s->'third_levels', '[]'), coalesce (s->'solution_steps', '[]'),"
    "       coalesce (s->'phrases', '{}'), s->>'example' "
    "FROM jsonb_array_elements ($1::jsonb -> 'categories') c,"
    "     jsonb_array_elements (c->'subcategories') s "
    "ON CONFLICT (subcategory) DO UPDATE SET code = EXCLUDED.code, category = EXCLUDED.category,"
    "  category_code = EXCLUDED.category_code, name_en = EXCLUDED.name_en,"
    "  category_en = EXCLUDED.category_en, first_owner = EXCLUDED.first_owner,"
    "  department = EXCLUDED.department, response_minutes = EXCLUDED.response_minutes,"
    "  resolve_minutes = EXCLUDED.resolve_minutes, deadline_text = EXCLUDED.deadline_text,"
    "  default_priority = EXCLUDED.default_priority, keywords = EXCLUDED.keywords,"
    "  third_levels = EXCLUDED.third_levels, solution_steps = EXCLUDED.solution_steps,"
    "  phrases = EXCLUDED.phrases, example = EXCLUDED.example";

static const char *SQL_POLICY =
    "INSERT INTO sla_policy (priority, name, response_minutes, resolve_minutes) "
    "SELECT p->>'priority', p->>'name', (p->>'response_minutes')::int, (p->>'resolve_minutes')::int "
    "FROM jsonb_array_elements ($1::jsonb -> 'priority_policy') p "
    "ON CONFLICT (priority) DO UPDATE SET name = EXCLUDED.name,"
    "  response_minutes = EXCLUDED.response_minutes, resolve_minutes = EXCLUDED.resolve_minutes";

//  One statement with the taxonomy JSON as its parameter; the rows it
//  touched, or -1 with err set
static int
s_run (tf_db_t *db, const char *sql, const char *json, char *err, size_t errlen, const char *what)
{
    PGresult *res = tf_db_query (db, sql, 1, (const char *[]) { json });
    int rc = res && PQresultStatus (res) == PGRES_COMMAND_OK? atoi (PQcmdTuples (res)): -1;
    if (rc < 0)
        snprintf (err, errlen, "taxonomy %s: %s", what, res? PQresultErrorMessage (res): "no connection");
    PQclear (res);
    return rc;
}

int
tf_taxonomy_load (tf_db_t *db, const char *path, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_load_file (path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf (err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
        return -1;
    }
    if (!json_is_array (json_object_get (root, "departments"))
    ||  !json_is_array (json_object_get (root, "categories"))
    ||  !json_is_array (json_object_get (root, "priority_policy"))) {
        snprintf (err, errlen, "%s: needs the arrays departments, categories and priority_policy", path);
        json_decref (root);
        return -1;
    }
    char *json = json_dumps (root, JSON_COMPACT);
    json_decref (root);
    if (tf_db_begin (db)) {
        snprintf (err, errlen, "taxonomy: cannot begin a transaction");
        free (json);
        return -1;
    }
    int count = -1;
    if (s_run (db, SQL_DEPARTMENTS, json, err, errlen, "departments") >= 0
    &&  (count = s_run (db, SQL_SUBCATEGORIES, json, err, errlen, "sub-categories")) >= 0
    &&  s_run (db, SQL_POLICY, json, err, errlen, "SLA policy") < 0)
        count = -1;
    free (json);
    if (count >= 0 && tf_db_finish (db, count) < 0) {
        snprintf (err, errlen, "taxonomy: the commit failed");
        return -1;
    }
    if (count < 0)
        tf_db_finish (db, -1);
    return count;
}
