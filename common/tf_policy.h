/*  tf_policy — what each role may ask, and of which tickets.

    A request is checked against its sender's identity (tf_security.h)
    before its handler sees it:

    * the role must be one the request type admits (tf_policy_admits);
    * an adapter acts for its own channel only: a `channel` field must be
      its channel, and a ticket it names must have come from that channel;
    * agents and leads act in their own department: a ticket they name
      must be that department's, a `department` filter is theirs (filled
      in when left out), an agent lists and accepts for themselves only, a
      lead changes only their own department's roster;
    * `actor` is the sender's name for adapters, agents and leads, whatever
      the request said; operators and services may name whom they act for.

    Refusals are `forbidden`; a request with no known sender (an HTTP
    request without a live token) is `unauthenticated`.
*/
#ifndef TF_POLICY_H
#define TF_POLICY_H

#include "tf_codec.h"
#include "tf_db.h"
#include "tf_security.h"

#define TF_ERR_FORBIDDEN "forbidden"
#define TF_ERR_UNAUTHENTICATED "unauthenticated"

//  True when `role` may send requests of `type` at all (TF_ROLE_NONE, no
//  sender: only ticket.status).
bool tf_policy_admits (tf_role_t role, tf_msg_type_t type);

//  Checks msg against who and rewrites its `actor` / filters as above;
//  db (may be NULL while the database is away: then a request that needs
//  a look at a ticket is `unavailable`) answers which department and
//  channel a ticket has. 0, or -1 with err.
int tf_policy_check (const tf_identity_t *who, tf_msg_t *msg, tf_db_t *db, tf_error_t *err);

//  The field of a schema with this key, or TF_FIELD_COUNT.
tf_field_id_t tf_policy_field (tf_msg_type_t type, const char *key);

#endif
