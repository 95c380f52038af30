/*  sla — the handle stage and every deadline clock, without sockets.

    Handling: accepted → in_progress ⇄ on_hold → resolved, by progress
    notes, hold (reason and expected resume time), resume and resolve.
    Deadlines: a response and a resolution timer per ticket (table
    sla_timers), counted from the ticket's creation with the policy of its
    priority (table sla_policy); the response one is met when an agent
    accepts, the resolution one at resolve; on hold the resolution clock
    pauses and resume moves it by the time spent on hold.
*/
#ifndef SLA_H
#define SLA_H

#include "tf_codec.h"
#include "tf_db.h"

typedef struct sla_t sla_t;

typedef struct {
    int64_t ticket_id;
    char ticket_no [32];
    char kind [16];             //  response | resolution
    char due_at [40];           //  RFC 3339
    char department [40];
    char priority [4];
} sla_breach_t;

sla_t *sla_new (tf_db_t *db);
void sla_destroy (sla_t **self_p);

//  Creates the missing timers of these tickets (the ticket.claimed path)
//  and marks response timers met for tickets an agent has accepted.
//  Returns 0, or -1 on a database error.
int sla_track (sla_t *self, const int64_t *ids, size_t n);

//  The same for up to `limit` tickets that have a priority, are not yet
//  resolved and have no timers (the reconciler). Returns how many, or -1.
int sla_track_missing (sla_t *self, size_t limit);

//  Marks every unmet, running timer that is due as breached (each once,
//  whichever instance gets there first) with a history note, and fills
//  out[] with what to publish. Returns how many, or -1.
int sla_breach_due (sla_t *self, sla_breach_t *out, size_t cap);

//  Due times (ms since the epoch) of the running timers due within
//  window_seconds, soonest first: the only timers kept in memory.
//  Returns how many were written to due[], or -1.
int sla_window (sla_t *self, int window_seconds, int64_t *due, size_t cap);

//  Resumes tickets whose expected resume time has passed (history
//  'hold_expired'). Returns how many, or -1.
int sla_expire_holds (sla_t *self);

//  The handling requests. Each runs in one transaction, checks the ticket's
//  status and answers with the new status in status_out, or -1 with err
//  (not_found, illegal_transition, bad_value, unavailable).
int sla_progress (sla_t *self, const tf_msg_t *request, char *status_out, tf_error_t *err);
int sla_hold (sla_t *self, const tf_msg_t *request, char *status_out, tf_error_t *err);
int sla_resume (sla_t *self, const tf_msg_t *request, char *status_out, tf_error_t *err);
//  Also returns the ticket's id, for the ticket.resolved event.
int sla_resolve (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out, tf_error_t *err);

#endif
