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
    bool threaded;              //  joined the customer's open ticket as a message
} intake_result_t;

//  Prepares the statements on db (which stays the caller's).
intake_t *intake_new (tf_db_t *db);
void intake_destroy (intake_t **self_p);

//  Stores n decoded `ticket.submit` messages in one transaction and fills
//  results[i] for each. A submission from a customer who has an open (or
//  resolved) ticket on the same (channel, thread_id), or about the same
//  order_no, joins that ticket's thread instead (threaded). A new
//  customer ticket gets its receipt (out of service hours: the auto-reply
//  with the next opening) in the outbox. Returns 0 when the batch committed; -1 when the
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

//  ticket.status: fills reply (ticket.status_info) for a ticket number;
//  0, or -1 with err (not_found, unavailable).
int intake_status (intake_t *self, const char *ticket_no, tf_msg_t *reply, tf_error_t *err);

//  ticket.message: finds the ticket (ticket_no, else (channel, thread_id),
//  else the customer's open ticket about order_no), refuses another
//  customer's, and appends the masked message to its thread (a ticket
//  waiting for the customer's information resumes). Returns 0 with the
//  ticket's number and status (ticket_no_out 32, status_out 16 bytes), or
//  -1 with err: not_found, illegal_transition (a closed ticket),
//  bad_value (another customer's ticket), unavailable.
int intake_message (intake_t *self, const tf_msg_t *request, char *ticket_no_out, char *status_out,
                    tf_error_t *err);

//  ticket.survey on a settled ticket: stores the answers (comment masked)
//  with a history row; a CSAT of 4-5 tags the ticket 满意, 1-2 opens the
//  supervisor's review. Returns 0 with the status in status_out (16
//  bytes), or -1 with err: not_found, illegal_transition (not settled).
int intake_survey (intake_t *self, const tf_msg_t *request, char *status_out, tf_error_t *err);

//  Formats a ticket number: CS + YYYYMMDD + serial of at least 4 digits.
//  Returns 0, or -1 when the date or serial is out of range.
int intake_format_ticket_no (char *out, size_t size, int year, int month, int day, long serial);
//  True when s[0..len) has the form of a ticket number.
bool intake_ticket_no_valid (const char *s, size_t len);

#endif
