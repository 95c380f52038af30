//  The roster requests: agent.add, agent.update, agent.duty, agent.list.
#include "dispatcher_private.h"
#include "tf_json.h"
#include "tf_log.h"
#include "tf_ticket.h"
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  agent.items: the agents as a JSON array, built by the database
#define AGENTS_JSON                                                                             \
    "SELECT coalesce (jsonb_agg (jsonb_build_object ('name', a.name, 'department', a.department," \
    "  'role', a.role, 'skills', to_jsonb (a.skills), 'capacity', a.capacity,"                    \
    "  'load', " ROSTER_LOAD ("a.name") ", 'on_duty', a.on_duty,"                                 \
    "  'duty_manager', a.duty_manager, 'contact', a.contact) ORDER BY a.department, a.name),"    \
    "  '[]')::text FROM agents a "

static const char *SQL_LIST =
    AGENTS_JSON "WHERE $1::text IS NULL OR a.department = $1";

static const char *SQL_ONE =
    AGENTS_JSON "WHERE a.name = $1";

//  What a request names that must exist: the department, every skill
static const char *SQL_CHECK =
    "SELECT ($1::text IS NULL OR EXISTS (SELECT 1 FROM departments WHERE code = $1)),"
    "       (SELECT string_agg (c, ', ') FROM unnest (string_to_array (nullif ($2, ''), ',')) c"
    "        WHERE NOT EXISTS (SELECT 1 FROM taxonomy x WHERE x.code = btrim (c)))";

static const char *SQL_ADD =
    "INSERT INTO agents (name, department, role, skills, capacity, on_duty, duty_manager, contact) "
    "VALUES ($1, $2, $3, coalesce (string_to_array (nullif (replace ($4, ' ', ''), ''), ','), '{}'),"
    "        coalesce ($5::int, 10), coalesce ($6::boolean, false), coalesce ($7::boolean, false), $8) "
    "ON CONFLICT (name) DO NOTHING RETURNING name";

static const char *SQL_UPDATE =
    "UPDATE agents SET department = coalesce ($2, department), role = coalesce ($3, role),"
    "  skills = CASE WHEN $4::text IS NULL THEN skills"
    "                ELSE coalesce (string_to_array (nullif (replace ($4, ' ', ''), ''), ','), '{}') END,"
    "  capacity = coalesce ($5::int, capacity), contact = coalesce ($6, contact), updated_at = tf_now () "
    "WHERE name = $1 RETURNING name";

//  Off duty is never the on-duty manager; being the one takes it from the
//  one before
static const char *SQL_DUTY =
    "UPDATE agents SET on_duty = $2::boolean,"
    "  duty_manager = $2::boolean AND coalesce ($3::boolean, duty_manager), updated_at = tf_now () "
    "WHERE name = $1 RETURNING name";
static const char *SQL_CLEAR_DUTY_MANAGER =
    "UPDATE agents SET duty_manager = false WHERE duty_manager AND name <> $1 AND $2::boolean";

static const char *SQL_THEIR_TICKETS =
    "SELECT id FROM tickets WHERE assignee = $1 AND status = ANY ($2::text[]) ORDER BY id FOR UPDATE";

static const tf_ticket_columns_t s_handed_back = {
    "dispatcher_handed_back", ", assignee = NULL, assigned_at = NULL", (const char *[]) { NULL }
};

int
dispatcher_agents_prepare (tf_db_t *db)
{
    return tf_db_prepare (db, "agents_list", SQL_LIST, 1)
        || tf_db_prepare (db, "agents_one", SQL_ONE, 1)
        || tf_db_prepare (db, "agents_check", SQL_CHECK, 2)
        || tf_db_prepare (db, "agents_add", SQL_ADD, 8)
        || tf_db_prepare (db, "agents_update", SQL_UPDATE, 6)
        || tf_db_prepare (db, "agents_duty", SQL_DUTY, 3)
        || tf_db_prepare (db, "agents_clear_duty_manager", SQL_CLEAR_DUTY_MANAGER, 2)
        || tf_db_prepare (db, "agents_their_tickets", SQL_THEIR_TICKETS, 2)? -1: 0;
}

//  Runs `statement` and answers with its JSON array (agent.items); 0 or -1
static int
s_answer (dispatcher_t *self, const char *statement, const char *param, tf_msg_t *reply, tf_error_t *err)
{
    PGresult *res = tf_db_run (self->db, statement, 1, (const char *[]) { param });
    json_t *agents = tf_db_ok (self->db, res, "roster")? json_loads (PQgetvalue (res, 0, 0), 0, NULL): NULL;
    PQclear (res);
    if (!agents)
        return tf_error_unavailable (err);
    int rc = tf_json_set_field (reply, TF_F_AGENT_ITEMS_AGENTS, agents);
    json_decref (agents);
    return rc? tf_error_set (err, TF_ERR_INTERNAL, NULL, "cannot pack the roster"): 0;
}

//  Inside the transaction: refuses an unknown department or skill
static int
s_check (dispatcher_t *self, const char *department, const char *skills, tf_error_t *err)
{
    PGresult *res = tf_db_run (self->db, "agents_check", 2, (const char *[]) { department, skills });
    int rc = 0;
    if (!tf_db_ok (self->db, res, "check the roster"))
        rc = tf_error_unavailable (err);
    else
    if (*PQgetvalue (res, 0, 0) != 't')
        rc = tf_error_set (err, TF_ERR_BAD_VALUE, "department", "no department '%s' (see the departments table)",
                           department);
    else
    if (!PQgetisnull (res, 0, 1))
        rc = tf_error_set (err, TF_ERR_BAD_VALUE, "skills", "no sub-category code %s in the taxonomy",
                           PQgetvalue (res, 0, 1));
    PQclear (res);
    return rc;
}

//  Inside the transaction: an agent going off duty hands back their
//  tickets (those on hold stay: they wait for a time or the customer)
static int
s_hand_back (dispatcher_t *self, const char *name, tf_error_t *err)
{
    char statuses [256];
    tf_ticket_status_array (TF_FROM (ASSIGNED) | TF_FROM (ACCEPTED) | TF_FROM (IN_PROGRESS), statuses,
                            sizeof statuses);
    PGresult *res = tf_db_run (self->db, "agents_their_tickets", 2, (const char *[]) { name, statuses });
    if (!tf_db_ok (self->db, res, "their tickets")) {
        PQclear (res);
        return tf_error_unavailable (err);
    }
    int n = PQntuples (res);
    tf_ticket_move_t *items = calloc ((size_t) n + 1, sizeof *items);
    assert (items);
    char note [160];
    snprintf (note, sizeof note, "%s went off duty: back to the department's pool", name);
    for (int i = 0; i < n; i++)
        items [i] = (tf_ticket_move_t) { .id = strtoll (PQgetvalue (res, i, 0), NULL, 10),
                                         .move = TF_MOVE_HAND_BACK, .note = note };
    PQclear (res);
    int moved = n? tf_ticket_move (self->db, TF_SVC_DISPATCHER, items, (size_t) n, &s_handed_back, NULL, true, NULL): 0;
    tf_db_array_t *ids = tf_db_array_new ();
    for (int i = 0; i < n; i++)
        tf_db_array_add_int (ids, items [i].id);
    //  their acknowledgement clocks are answered: nobody holds the tickets now
    int rc = moved < 0 || (n && dispatcher_roster_acknowledge (self->db, tf_db_array_text (ids)))?
             tf_error_unavailable (err): 0;
    if (rc == 0 && moved > 0)
        tf_info ("%s went off duty: %d ticket(s) back to the pool", name, moved);
    tf_db_array_destroy (&ids);
    free (items);
    return rc;
}

static const char *
s_bool (const tf_msg_t *m, tf_field_id_t f)
{
    return tf_msg_has (m, f)? (m->v [f].b? "true": "false"): NULL;
}

static const char *
s_int (const tf_msg_t *m, tf_field_id_t f, char *buf, size_t size)
{
    if (!tf_msg_has (m, f))
        return NULL;
    snprintf (buf, size, "%lld", (long long) tf_msg_int (m, f));
    return buf;
}

int
dispatcher_agent (dispatcher_t *self, const tf_msg_t *request, tf_msg_t *reply, tf_error_t *err)
{
    tf_msg_init (reply, TF_MSG_AGENT_ITEMS);
    if (request->type == TF_MSG_AGENT_LIST) {
        char *department = tf_msg_strdup (request, TF_F_AGENT_LIST_DEPARTMENT);
        int rc = s_answer (self, "agents_list", department, reply, err);
        free (department);
        return rc;
    }
    //  the changes: one transaction each, answered with the agent after it
    tf_field_id_t name_field = request->type == TF_MSG_AGENT_ADD? TF_F_AGENT_ADD_NAME
                             : request->type == TF_MSG_AGENT_UPDATE? TF_F_AGENT_UPDATE_NAME: TF_F_AGENT_DUTY_NAME;
    char *name = tf_msg_strdup (request, name_field);
    char capacity [24];
    if (tf_db_begin (self->db)) {
        free (name);
        return tf_error_unavailable (err);
    }
    int rc = 0;
    PGresult *res = NULL;
    if (request->type == TF_MSG_AGENT_ADD || request->type == TF_MSG_AGENT_UPDATE) {
        bool add = request->type == TF_MSG_AGENT_ADD;
        char *department = tf_msg_strdup (request, add? TF_F_AGENT_ADD_DEPARTMENT: TF_F_AGENT_UPDATE_DEPARTMENT);
        char *role = tf_msg_strdup (request, add? TF_F_AGENT_ADD_ROLE: TF_F_AGENT_UPDATE_ROLE);
        char *skills = tf_msg_strdup (request, add? TF_F_AGENT_ADD_SKILLS: TF_F_AGENT_UPDATE_SKILLS);
        char *contact = tf_msg_strdup (request, add? TF_F_AGENT_ADD_CONTACT: TF_F_AGENT_UPDATE_CONTACT);
        const char *cap = s_int (request, add? TF_F_AGENT_ADD_CAPACITY: TF_F_AGENT_UPDATE_CAPACITY,
                                 capacity, sizeof capacity);
        rc = s_check (self, department, skills, err);
        if (rc == 0 && add) {
            const char *manager = s_bool (request, TF_F_AGENT_ADD_DUTY_MANAGER);
            res = tf_db_run (self->db, "agents_clear_duty_manager", 2,
                             (const char *[]) { name, manager? manager: "false" });
            rc = tf_db_ok (self->db, res, "duty manager")? 0: tf_error_unavailable (err);
            PQclear (res);
            res = rc? NULL: tf_db_run (self->db, "agents_add", 8, (const char *[]) {
                name, department, role, skills, cap, s_bool (request, TF_F_AGENT_ADD_ON_DUTY), manager, contact });
        }
        else
        if (rc == 0)
            res = tf_db_run (self->db, "agents_update", 6,
                             (const char *[]) { name, department, role, skills, cap, contact });
        if (rc == 0 && !tf_db_ok (self->db, res, "roster change"))
            rc = tf_error_unavailable (err);
        else
        if (rc == 0 && PQntuples (res) == 0)
            rc = add? tf_error_set (err, TF_ERR_BAD_VALUE, "name",
                                    "'%s' is on the roster already (agent.update changes them)", name)
                    : tf_error_set (err, TF_ERR_NOT_FOUND, "name", "nobody called '%s' on the roster", name);
        free (department);
        free (role);
        free (skills);
        free (contact);
    }
    else {
        const char *on = s_bool (request, TF_F_AGENT_DUTY_ON_DUTY);
        const char *manager = s_bool (request, TF_F_AGENT_DUTY_DUTY_MANAGER);
        res = tf_db_run (self->db, "agents_clear_duty_manager", 2, (const char *[]) {
            name, manager && streq (manager, "true") && streq (on, "true")? "true": "false" });
        rc = tf_db_ok (self->db, res, "duty manager")? 0: tf_error_unavailable (err);
        PQclear (res);
        res = rc? NULL: tf_db_run (self->db, "agents_duty", 3, (const char *[]) { name, on, manager });
        if (rc == 0 && !tf_db_ok (self->db, res, "duty"))
            rc = tf_error_unavailable (err);
        else
        if (rc == 0 && PQntuples (res) == 0)
            rc = tf_error_set (err, TF_ERR_NOT_FOUND, "name", "nobody called '%s' on the roster", name);
        else
        if (rc == 0 && streq (on, "false"))
            rc = s_hand_back (self, name, err);
    }
    PQclear (res);
    if (rc == 0)
        rc = s_answer (self, "agents_one", name, reply, err);
    if (tf_db_finish (self->db, rc) < 0 && rc == 0)
        rc = tf_error_unavailable (err);
    free (name);
    return rc;
}
