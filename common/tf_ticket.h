/*  tf_ticket — the one way a service changes a ticket's status.

    Every transition is one statement inside the caller's transaction:
    UPDATE tickets ... WHERE id = $1 AND status = ANY(expected) plus one
    append-only ticket_events row, so a repeated or late message changes
    nothing. Stages take their input either by id (the event path) or by
    age (the reconciler path), both with FOR UPDATE SKIP LOCKED so that two
    instances never work on one ticket.
*/
#ifndef TF_TICKET_H
#define TF_TICKET_H

#include "tf_codec.h"
#include "tf_db.h"
#include <stdbool.h>
#include <stdint.h>

//  Prepares the statements below on db. Call once per connection handle.
int tf_ticket_prepare (tf_db_t *db);

//  Inside a transaction: locks the tickets among ids[0..n) that are in
//  `status`, skipping rows another instance holds. Fills locked[] (capacity
//  n) and returns how many, or -1 on a database error.
int tf_ticket_lock_ids (tf_db_t *db, const char *status, const int64_t *ids, size_t n, int64_t *locked);

//  Inside a transaction: locks up to `limit` tickets that have been in
//  `status` for at least stale_seconds, oldest first. Returns how many, -1
//  on error.
int tf_ticket_lock_waiting (tf_db_t *db, const char *status, int stale_seconds, size_t limit,
                            int64_t *locked);

//  Inside a transaction: moves ticket `id` from one of the statuses in
//  `from` (comma-separated: "accepted,in_progress") to `to`, and appends a
//  history row (kind `event`, by `actor`, with an optional note and JSON
//  data). Returns 0; or -1 with err: not_found, illegal_transition (the
//  message names the current status), unavailable.
int tf_ticket_transition (tf_db_t *db, int64_t id, const char *from, const char *to,
                          const char *event, const char *actor, const char *note,
                          const char *data_json, tf_error_t *err);

//  Appends a history row without a status change (a progress note, a
//  breach mark, a notification sent). Returns 0 or -1.
int tf_ticket_note (tf_db_t *db, int64_t id, const char *event, const char *actor,
                    const char *note, const char *data_json);

//  Finds a ticket by number: its id and status (status may be NULL).
//  Returns 0; or -1 with err not_found / unavailable.
int tf_ticket_find (tf_db_t *db, const char *ticket_no, size_t len, int64_t *id,
                    char *status, size_t status_size, tf_error_t *err);

//  Convenience for handlers: the ticket number of a decoded request field,
//  NUL-terminated into out (at most 32 bytes).
void tf_ticket_no_copy (const tf_msg_t *m, tf_field_id_t f, char *out, size_t size);

//  Sends [topic?, type, body] for {ticket_id, ticket_no} events
//  (ticket.classified, ticket.claimed, ...). Returns 0 when sent.
int tf_ticket_send_event (zsock_t *sock, tf_msg_type_t type, int64_t id, const char *ticket_no);

//  Receives one {ticket_id, ticket_no} event. Returns 0 with its type and
//  ticket id; -1 when it was malformed or not such an event (one warning
//  logged, the message dropped) or when interrupted (*type is TF_MSG_NONE
//  then).
int tf_ticket_recv_event (zsock_t *sock, tf_msg_type_t *type, int64_t *ticket_id);

#endif
