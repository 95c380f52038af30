#include "tf_token.h"
#include "tf_log.h"
#include "tf_private.h"
#include <czmq.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

//  "tf_" and 43 URL-safe characters: 258 random bits, never guessed
static int
s_random_token (char *token, size_t size)
{
    if (size < 47)
        return -1;
    memcpy (token, "tf_", 3);
    return tf_private_random (token + 3, 43, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
}

int
tf_token_create (tf_db_t *db, const tf_identity_t *who, char *token, size_t size, tf_error_t *err)
{
    if (s_random_token (token, size))
        return tf_error_set (err, TF_ERR_INTERNAL, NULL, "no randomness for a token");
    char why [128];
    const char *field = tf_identity_check (who, why, sizeof why);
    if (field)
        return tf_error_set (err, TF_ERR_BAD_VALUE, field, "%s", why);
    const char *params [] = { who->name, tf_role_names [who->role], *who->department? who->department: NULL,
                              *who->channel? who->channel: NULL, token };
    PGresult *res = tf_db_query (db,
        "INSERT INTO api_tokens (name, role, department, channel, token_hash) "
        "VALUES ($1, $2, $3, $4, sha256 (convert_to ($5, 'UTF8')))", 5, params);
    int rc = 0;
    if (!res || PQresultStatus (res) != PGRES_COMMAND_OK)
        rc = res && !strstr (PQresultErrorMessage (res), "connection")
           ? tf_error_set (err, TF_ERR_BAD_VALUE, NULL, "the token was refused: %s", PQresultErrorMessage (res))
           : tf_error_unavailable (err);
    PQclear (res);
    if (rc)
        memset (token, 0, size);
    return rc;
}

int
tf_token_revoke (tf_db_t *db, const char *name)
{
    const char *params [] = { name };
    PGresult *res = tf_db_query (db,
        "UPDATE api_tokens SET revoked_at = now () WHERE name = $1 AND revoked_at IS NULL", 1, params);
    int rc = res && PQresultStatus (res) == PGRES_COMMAND_OK? atoi (PQcmdTuples (res)): -1;
    if (rc < 0)
        tf_error ("cannot revoke the tokens of %s: %s", name, res? PQresultErrorMessage (res): "no connection");
    PQclear (res);
    return rc;
}

int
tf_token_identity (tf_db_t *db, const char *token, tf_identity_t *who)
{
    memset (who, 0, sizeof *who);
    if (!db || !tf_db_conn (db)
    ||  tf_db_prepare (db, "tf_token_identity",
            "UPDATE api_tokens SET last_used_at = now () "
            "WHERE token_hash = sha256 (convert_to ($1, 'UTF8')) AND revoked_at IS NULL "
            "RETURNING name, role, coalesce (department, ''), coalesce (channel, '')", 1))
        return -1;
    const char *params [] = { token };
    PGresult *res = tf_db_run (db, "tf_token_identity", 1, params);
    int rc = -1;
    if (res && tf_db_ok (db, res, "token")) {
        rc = PQntuples (res) > 0;
        if (rc) {
            snprintf (who->name, sizeof who->name, "%s", PQgetvalue (res, 0, 0));
            who->role = tf_role_lookup (PQgetvalue (res, 0, 1));
            snprintf (who->department, sizeof who->department, "%s", PQgetvalue (res, 0, 2));
            snprintf (who->channel, sizeof who->channel, "%s", PQgetvalue (res, 0, 3));
        }
    }
    PQclear (res);
    return rc;
}
