/*  intake — the receive stage: validated submissions become numbered,
    masked, stored tickets, a batch per transaction. No sockets here: the
    actor (intake_server.c) feeds it and the tests call it directly.
*/
#ifndef INTAKE_H
#define INTAKE_H

#include "tf_codec.h"
#include "tf_db.h"

typedef struct intake_t intake_t;

typedef struct {
    bool ok;                    //  else err says why
    tf_error_t err;
    int64_t ticket_id;
    char ticket_no [32];
    bool duplicate;
} intake_result_t;

//  Prepares the statements on db (which stays the caller's).
intake_t *intake_new (tf_db_t *db);
void intake_destroy (intake_t **self_p);

//  Stores n decoded `ticket.submit` messages in one transaction and fills
//  results[i] for each. Returns 0 when the batch committed; -1 when the
//  database failed (every result then carries `unavailable`, nothing is
//  stored, and the client may simply retry: intake is idempotent).
int intake_submit (intake_t *self, const tf_msg_t *const *requests, size_t n, intake_result_t *results);

//  What the codec cannot check in a `ticket.submit`: contacted_at (when
//  the customer wrote or called) is not in the future (a minute of clock
//  skew allowed) and at most 7 days before now_seconds (Unix time).
//  Returns 0, or -1 with err (bad_value, field contacted_at).
int intake_check_submit (const tf_msg_t *request, int64_t now_seconds, tf_error_t *err);

//  The ticket with its history as JSON text (caller frees), or NULL with
//  err (`not_found`, `unavailable`).
char *intake_ticket_json (intake_t *self, const char *ticket_no, size_t len, tf_error_t *err);

//  Records the customer's feedback on a resolved ticket (comment masked)
//  with a history note. Returns the feedback id and fills *ticket_id, or
//  -1 with err: not_found, illegal_transition (not resolved), unavailable.
int64_t intake_feedback (intake_t *self, const tf_msg_t *request, int64_t *ticket_id, tf_error_t *err);

//  Formats a ticket number: CS + YYYYMMDD + serial of at least 4 digits.
//  Returns 0, or -1 when the date or serial is out of range.
int intake_format_ticket_no (char *out, size_t size, int year, int month, int day, long serial);
//  True when s[0..len) has the form of a ticket number.
bool intake_ticket_no_valid (const char *s, size_t len);

#endif
