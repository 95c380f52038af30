/*  sla — the handle stage and every deadline clock, without sockets.

    Handling: accepted → in_progress ⇄ on_hold → resolved, by progress
    notes, hold (reason and expected resume time), resume and resolve.
    Every request is one transaction that locks the ticket, checks its
    status and changes it with tf_ticket_move.

    Deadlines are rows (table sla_timers): a response and a resolution timer
    per ticket, due at the ticket's created_at + the minutes of its
    priority's policy (table sla_policy), mirrored in tickets.response_due_at
    / resolve_due_at. The response timer is met when an agent accepts (the
    dispatcher sets accepted_at / first_response_at) or writes the first
    progress note; the resolution timer at resolve. On hold the resolution
    clock pauses and resume moves it by the time spent on hold. Every time
    comparison uses the database's clock (now ()), never this host's.
*/
#ifndef SLA_H
#define SLA_H

#include "tf_codec.h"
#include "tf_db.h"

typedef struct sla_t sla_t;

//  One deadline that passed unmet: what sla.breached carries.
typedef struct {
    int64_t ticket_id;
    char ticket_no [40];
    char kind [16];             //  response | resolution
    char due_at [40];           //  RFC 3339, UTC
    char department [40];       //  "" when the ticket has none yet
    char priority [4];
} sla_breach_t;

//  Prepares the statements on db (which stays the caller's). NULL on error.
sla_t *sla_new (tf_db_t *db);
void sla_destroy (sla_t **self_p);

//  The ticket.claimed path: creates the missing timers of these tickets
//  (those with a priority, not yet resolved or closed) and marks response timers met for tickets an
//  agent has accepted. Two instances racing create each timer once (UNIQUE
//  (ticket_id, kind), ON CONFLICT DO NOTHING). Returns how many tickets got
//  new timers, or -1 on a database error.
int sla_track (sla_t *self, const int64_t *ids, size_t n);

//  The reconciler: the same for up to `limit` tickets that have a priority,
//  are not yet resolved or closed and have no timers (FOR UPDATE SKIP
//  LOCKED, so two instances take different tickets). Returns how many
//  tickets it took (call again while it returns `limit`), or -1.
int sla_track_missing (sla_t *self, size_t limit);

//  The reconciler: marks response timers met for the tickets accepted in
//  the last hour whose timers were made before it (a lost ticket.claimed).
//  Returns how many, -1.
int sla_meet_responses (sla_t *self);

//  Takes up to `cap` running timers that are due (by the database's
//  clock), soonest first: a response timer answered before it was due is
//  marked met, every other one breached: breached_at (only where still
//  NULL, so one instance wins), the ticket's response_breached /
//  resolve_breached flag and an 'sla_breached' history note {kind, due_at},
//  in one transaction. Sets *taken to how many timers it took (met or
//  breached; cap means more may be due) and fills out[] with the breaches
//  to publish after it. Returns how many breaches, or -1.
int sla_breach_due (sla_t *self, sla_breach_t *out, size_t cap, size_t *taken);

//  The running timers due within window_seconds, soonest first: fills
//  due_in_ms[] with the milliseconds until each falls due, by the
//  database's clock (<= 0: already due). Returns how many, or -1.
int sla_window (sla_t *self, int window_seconds, int64_t *due_in_ms, size_t cap);

//  Resumes up to `limit` tickets whose expected resume time (hold_until)
//  has passed, with history 'hold_expired'. Returns how many, or -1.
int sla_expire_holds (sla_t *self, size_t limit);

//  The handling requests (decoded by the codec, so required fields are
//  present). Each runs in one transaction and answers with the ticket's
//  new status in status_out (at least 16 bytes) and its id in *ticket_id,
//  or returns -1 with err: not_found, illegal_transition (naming the
//  current status), bad_value (a hold `until` not in the future),
//  unavailable. Nothing changes on an error.
//  progress: accepted | in_progress → in_progress, note masked.
int sla_progress (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
                  tf_error_t *err);
//  hold: accepted | in_progress → on_hold; pauses the resolution clock.
int sla_hold (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
              tf_error_t *err);
//  resume: on_hold → in_progress; the resolution deadline moves by the pause.
int sla_resume (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
                tf_error_t *err);
//  resolve: accepted | in_progress → resolved; the caller then sends ticket.resolved.
int sla_resolve (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
                 tf_error_t *err);

#endif
