/*  tf_token — HTTP bearer tokens: issued with a role, stored as their
    SHA-256 only, resolved to an identity per request, revoked by name.
*/
#ifndef TF_TOKEN_H
#define TF_TOKEN_H

#include "tf_codec.h"
#include "tf_db.h"
#include "tf_security.h"

//  Makes a token for who (its name, role, department or channel) and stores
//  its hash. token gets "tf_" and 43 URL-safe characters (size >= 64).
//  0, or -1 with err (bad_value: a role without its department or
//  channel; unavailable).
int tf_token_create (tf_db_t *db, const tf_identity_t *who, char *token, size_t size, tf_error_t *err);
//  Revokes the live tokens of a name; how many, or -1 (logged).
int tf_token_revoke (tf_db_t *db, const char *name);
//  The identity of a token: 1 found (who filled), 0 unknown or revoked,
//  -1 database away.
int tf_token_identity (tf_db_t *db, const char *token, tf_identity_t *who);

#endif
