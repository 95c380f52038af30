/*  tf_ticket — the one way a service changes a ticket's status.

    A move is declared in proto/status.def (from which statuses, to which,
    the history kind, the one service that may make it); tf_ticket_move
    refuses anything else. It is set-based: a batch of tickets costs one
    UPDATE (expected-status check, the stage's own columns set in the same
    statement) and one INSERT of their history rows, inside the caller's
    transaction, whatever the batch size. A repeated or late message then
    changes nothing, so events may be delivered more than once. Stages take
    their input by id (the event path) or by age (the reconciler), with
    FOR UPDATE SKIP LOCKED so that two instances never work on one ticket.
*/
#ifndef TF_TICKET_H
#define TF_TICKET_H

#include "tf_codec.h"
#include "tf_db.h"
#include "tf_status.h"
#include <stdbool.h>
#include <stdint.h>

//  One ticket of a move. The caller fills id, move and (optionally) actor,
//  note and data (JSON text); tf_ticket_move fills moved and from.
typedef struct {
    int64_t id;
    tf_move_t move;
    const char *actor;          //  NULL: the service's name
    const char *note;
    const char *data;
    bool moved;
    tf_status_t from;
} tf_ticket_move_t;

//  The stage's own columns, set in the same UPDATE as the status from
//  arrays aligned with the items: set_sql refers to them as u.c1 .. u.cN
//  (in the order of types) and to the row as t: ", department = u.c1".
//  name tells the statements apart (one prepared statement per name).
typedef struct {
    const char *name;
    const char *set_sql;
    const char *const *types;   //  PostgreSQL types of the arrays, NULL-terminated
} tf_ticket_columns_t;

//  Inside the caller's transaction: moves the tickets items[0..n) (ids
//  distinct) that are in a from-status of their move, setting `columns`
//  from column_arrays (array literals of n elements, tf_db_array), and
//  appends one history row each. skip_locked: leave tickets another
//  transaction holds (the stages); else wait for them (requests).
//  Returns how many moved, or -1 with err: the database failed
//  (unavailable), or a move is not declared or not `service`'s
//  (illegal_transition: nothing is run). When err is given and a ticket did
//  not move, err says why for the first such one (not_found, or
//  illegal_transition naming its status).
int tf_ticket_move (tf_db_t *db, tf_service_id_t service, tf_ticket_move_t *items, size_t n,
                    const tf_ticket_columns_t *columns, const char *const *column_arrays,
                    bool skip_locked, tf_error_t *err);

//  The one-ticket form, for requests: 0 when it moved, else -1 with err.
int tf_ticket_move_one (tf_db_t *db, tf_service_id_t service, int64_t id, tf_move_t move,
                        const char *actor, const char *note, const char *data, tf_error_t *err);

//  Inside intake's transaction: the history rows of tickets it just
//  created (the move that creates a ticket, from NOTHING). data: n JSON
//  texts or NULL. Returns 0 or -1.
int tf_ticket_created (tf_db_t *db, tf_service_id_t service, const int64_t *ids, const char *const *data,
                       size_t n);

//  A history row without a status change (a progress note, a breach mark,
//  a notification sent). Returns 0 or -1.
typedef struct {
    int64_t id;
    const char *event;
    const char *actor;
    const char *note;
    const char *data;
} tf_ticket_note_t;
int tf_ticket_notes (tf_db_t *db, const tf_ticket_note_t *notes, size_t n);
int tf_ticket_note (tf_db_t *db, int64_t id, const char *event, const char *actor,
                    const char *note, const char *data_json);

//  Inside a transaction: locks the tickets among ids[0..n) that are in one
//  of `statuses`, skipping rows another instance holds. Fills locked[]
//  (capacity n) and returns how many, or -1 on a database error.
int tf_ticket_lock_ids (tf_db_t *db, tf_status_set_t statuses, const int64_t *ids, size_t n, int64_t *locked);

//  Inside a transaction: locks up to `limit` tickets that have been in one
//  of `statuses` for at least stale_seconds, oldest first. Returns how
//  many, -1 on error.
int tf_ticket_lock_waiting (tf_db_t *db, tf_status_set_t statuses, int stale_seconds, size_t limit,
                            int64_t *locked);

//  Finds a ticket by number: its id and status (status may be NULL).
//  Returns 0; or -1 with err not_found / unavailable.
int tf_ticket_find (tf_db_t *db, const char *ticket_no, size_t len, int64_t *id,
                    tf_status_t *status, tf_error_t *err);

//  The ticket number of a decoded request field, NUL-terminated into out.
void tf_ticket_no_copy (const tf_msg_t *m, tf_field_id_t f, char *out, size_t size);

//  The `IN (...)` text of a set of statuses, as a PostgreSQL text[]
//  literal: "{assigned,accepted}". Static storage per call site is the
//  caller's: out must hold 256 bytes.
const char *tf_ticket_status_array (tf_status_set_t statuses, char *out, size_t size);

#endif
