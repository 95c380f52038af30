#include "tf_policy.h"
#include "tf_log.h"
#include <czmq.h>
#include <string.h>

#define A (1u << TF_ROLE_ADAPTER)
#define G (1u << TF_ROLE_AGENT)
#define L (1u << TF_ROLE_LEAD)
#define O (1u << TF_ROLE_OPERATOR)
#define S (1u << TF_ROLE_SERVICE)
#define ANYONE ((1u << TF_ROLE_NONE) | A | G | L | O | S)

static unsigned
s_roles (tf_msg_type_t type)
{
    switch (type) {
        case TF_MSG_PING:
            return A | G | L | O | S;
        case TF_MSG_STATUS:             //  a customer's lookup by its unguessable reference
            return ANYONE;
        case TF_MSG_SUBMIT: case TF_MSG_MESSAGE: case TF_MSG_SURVEY: case TF_MSG_FEEDBACK:
            return A | O | S;
        case TF_MSG_GET:
            return A | G | L | O | S;
        case TF_MSG_QUEUE_LIST: case TF_MSG_AGENT_LIST: case TF_MSG_AGENT_DUTY:
        case TF_MSG_ACCEPT: case TF_MSG_TRANSFER: case TF_MSG_PROGRESS: case TF_MSG_REPLY:
        case TF_MSG_NOTE: case TF_MSG_HOLD: case TF_MSG_RESUME: case TF_MSG_RESOLVE:
        case TF_MSG_FOLLOWUP_LIST: case TF_MSG_FOLLOWUP_DONE: case TF_MSG_CLASSIFY_TEXT:
            return G | L | O | S;
        case TF_MSG_CLASSIFY_TICKET: case TF_MSG_AGENT_ADD: case TF_MSG_AGENT_UPDATE:
        case TF_MSG_REPORT_SUMMARY:
            return L | O | S;
        default:
            return O | S;
    }
}

bool
tf_policy_admits (tf_role_t role, tf_msg_type_t type)
{
    return role >= TF_ROLE_NONE && role < TF_ROLE_COUNT && (s_roles (type) & (1u << role));
}

tf_field_id_t
tf_policy_field (tf_msg_type_t type, const char *key)
{
    for (int f = 0; f < TF_FIELD_COUNT; f++)
        if (tf_fields [f].schema == type && streq (tf_fields [f].key, key))
            return (tf_field_id_t) f;
    return TF_FIELD_COUNT;
}

//  The field's text in buf ("" when absent).
static const char *
s_text (const tf_msg_t *msg, const char *key, char *buf, size_t size)
{
    tf_field_id_t f = tf_policy_field (msg->type, key);
    *buf = 0;
    if (f != TF_FIELD_COUNT && tf_msg_has (msg, f) && msg->v [f].str)
        snprintf (buf, size, "%.*s", (int) msg->v [f].len, msg->v [f].str);
    return buf;
}

static bool
s_has (const tf_msg_t *msg, const char *key)
{
    tf_field_id_t f = tf_policy_field (msg->type, key);
    return f != TF_FIELD_COUNT && tf_msg_has (msg, f);
}

static void
s_set (tf_msg_t *msg, const char *key, const char *value)
{
    tf_field_id_t f = tf_policy_field (msg->type, key);
    if (f != TF_FIELD_COUNT)
        tf_msg_set_cstr (msg, f, value);
}

static int
s_forbidden (tf_error_t *err, const tf_identity_t *who, const char *field, const char *what)
{
    return tf_error_set (err, TF_ERR_FORBIDDEN, field, "%s (%s) may not %s", who->name,
                         tf_role_names [who->role], what);
}

//  One row of (a, b) for the statement, or 0 rows (-> 0, nothing found).
//  1 found, 0 not found, -1 database away.
static int
s_lookup (tf_db_t *db, const char *name, const char *sql, const char *key, char *a, size_t a_size,
          char *b, size_t b_size)
{
    if (!db || !tf_db_conn (db) || tf_db_prepare (db, name, sql, 1))
        return -1;
    const char *params [] = { key };
    PGresult *res = tf_db_run (db, name, 1, params);
    int rc = -1;
    if (res && tf_db_ok (db, res, name)) {
        rc = PQntuples (res) > 0;
        if (rc) {
            snprintf (a, a_size, "%s", PQgetvalue (res, 0, 0));
            snprintf (b, b_size, "%s", PQgetvalue (res, 0, 1));
        }
    }
    PQclear (res);
    return rc;
}

int
tf_policy_check (const tf_identity_t *who, tf_msg_t *msg, tf_db_t *db, tf_error_t *err)
{
    const char *type = tf_schemas [msg->type].name;
    char what [96];
    snprintf (what, sizeof what, "send %s", type);
    if (!tf_policy_admits (who->role, msg->type))
        return who->role == TF_ROLE_NONE
             ? tf_error_set (err, TF_ERR_UNAUTHENTICATED, NULL,
                             "%s needs a sender: a CURVE key on the allow-list, or a live bearer token", type)
             : s_forbidden (err, who, NULL, what);
    if (who->role == TF_ROLE_NONE || who->role == TF_ROLE_OPERATOR || who->role == TF_ROLE_SERVICE)
        return 0;

    char buf [128], department [64] = "", channel [64] = "";
    bool scoped = who->role == TF_ROLE_AGENT || who->role == TF_ROLE_LEAD;
    if (who->role == TF_ROLE_ADAPTER && s_has (msg, "channel")
    &&  !streq (s_text (msg, "channel", buf, sizeof buf), who->channel))
        return s_forbidden (err, who, "channel", "act for another channel");

    if (s_has (msg, "ticket_no")) {
        int found = s_lookup (db, "tf_policy_ticket",
                              "SELECT coalesce (department, ''), channel FROM tickets WHERE ticket_no = $1",
                              s_text (msg, "ticket_no", buf, sizeof buf), department, sizeof department,
                              channel, sizeof channel);
        if (found < 0)
            return tf_error_unavailable (err);
        //  not found: the handler says so
        if (found && who->role == TF_ROLE_ADAPTER && !streq (channel, who->channel))
            return s_forbidden (err, who, "ticket_no", "act on another channel's ticket");
        if (found && scoped && !streq (department, who->department))
            return s_forbidden (err, who, "ticket_no", "act on another department's ticket");
    }
    if (scoped && msg->type != TF_MSG_TRANSFER && tf_policy_field (msg->type, "department") != TF_FIELD_COUNT) {
        if (!s_has (msg, "department"))
            s_set (msg, "department", who->department);
        else
        if (!streq (s_text (msg, "department", buf, sizeof buf), who->department))
            return s_forbidden (err, who, "department", "see or change another department");
    }
    if (who->role == TF_ROLE_AGENT && msg->type != TF_MSG_TRANSFER && s_has (msg, "agent")
    &&  !streq (s_text (msg, "agent", buf, sizeof buf), who->name))
        return s_forbidden (err, who, "agent", "act as another agent");
    if (who->role == TF_ROLE_AGENT && msg->type == TF_MSG_ACCEPT)
        s_set (msg, "agent", who->name);
    if (msg->type == TF_MSG_AGENT_DUTY || msg->type == TF_MSG_AGENT_UPDATE) {
        s_text (msg, "name", buf, sizeof buf);
        if (who->role == TF_ROLE_AGENT && !streq (buf, who->name))
            return s_forbidden (err, who, "name", "change another agent's duty");
        char ignored [8];
        int found = s_lookup (db, "tf_policy_agent", "SELECT department, '' FROM agents WHERE name = $1",
                              buf, department, sizeof department, ignored, sizeof ignored);
        if (found < 0)
            return tf_error_unavailable (err);
        if (found && !streq (department, who->department))
            return s_forbidden (err, who, "name", "change another department's roster");
    }
    if (s_has (msg, "actor") || tf_policy_field (msg->type, "actor") != TF_FIELD_COUNT)
        s_set (msg, "actor", who->name);
    return 0;
}
