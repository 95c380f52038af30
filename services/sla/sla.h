/*  sla — the handle stage and every clock of a ticket, without sockets.

    Handling: accepted → in_progress ⇄ on_hold → resolved, by progress
    notes, hold (reason and expected resume time), resume and resolve.
    Every request is one transaction that locks the ticket, checks its
    status and changes it with tf_ticket_move.

    Clocks are rows (table sla_timers), made by tf_ticket_clocks
    (deploy/sql/008_service_desk.sql) from the manuals' table: a response
    deadline (15 minutes of service hours) and a resolution deadline per
    sub-category (service minutes, hours, or working days), each with a
    warning at 80 %; for P1 both run around the clock, with the on-duty
    manager called at 5 minutes unaccepted and an SMS to the owner at 2
    hours untouched; an accepted ticket's progress cadence (4 h, P1 1 h);
    the verification an hour after a fix; and, after a missed deadline, the
    escalation steps (组长, then 主管, then 经理). The clocks start when the
    customer made contact and count only the open time of the ticket's
    service hours (deploy/calendar.json). Hold pauses every clock and
    resume gives back the open time that was left; a reopened ticket gets
    a new resolution deadline. Every time comes from the database's one
    clock (tf_now ()), never this host's.
*/
#ifndef SLA_H
#define SLA_H

#include "tf_codec.h"
#include "tf_db.h"

typedef struct sla_t sla_t;

//  What a clock that went off announces (sla.breached, sla.warning,
//  sla.escalated), after the pass's commit.
typedef enum { SLA_BREACHED, SLA_WARNING, SLA_ESCALATED } sla_signal_t;

typedef struct {
    sla_signal_t signal;
    int64_t ticket_id;
    char ticket_no [40];
    char kind [32];             //  the clock: response, resolution_warning, progress, manager_call ...
    char due_at [40];           //  RFC 3339, UTC ("" for an escalation)
    char department [40];       //  "" when the ticket has none yet
    char priority [4];
    char assignee [72];         //  the handler ("" in the pool)
    int level;                  //  escalation: 1 组长, 2 主管, 3 经理
    char role [16];             //  escalation: team_lead, supervisor, manager
    char escalated_to [72];     //  escalation: who ("" when nobody of that role is on the roster)
} sla_fired_t;

typedef struct {
    int escalation_step_minutes;    //  between two escalation steps
    char owner_sink [32];           //  reminders and escalations to staff
    char sms_sink [32];             //  the SMS to a red complaint's owner
} sla_settings_t;

//  Prepares the statements on db (which stays the caller's). NULL on error.
sla_t *sla_new (tf_db_t *db);
void sla_destroy (sla_t **self_p);

//  Replaces the settings (defaults: 30 minutes, sinks "file" and "sms").
void sla_configure (sla_t *self, const sla_settings_t *settings);

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

//  Takes up to `limit` running clocks that are due (by the database's
//  clock), soonest first, in one transaction. A clock whose condition held
//  is met (a response answered in time, a ticket already handled); the
//  others go off: a deadline breaches (flag, history 'sla_breached', a
//  message to the handler or team lead, and the first escalation step); a
//  warning or a progress reminder is recorded ('sla_warning') and sent to
//  the handler (the cadence goes round again); a P1 unaccepted at 5
//  minutes goes to the on-duty manager; a red complaint untouched at 2 h
//  puts an SMS for its owner in the outbox ('owner_sms'); an escalation
//  step climbs one level. Sets *taken to how many clocks it took (limit:
//  more may be due) and fills out[] (room for 2 * limit) with what to
//  announce. Returns how many, or -1 (nothing changed).
int sla_fire_due (sla_t *self, sla_fired_t *out, size_t limit, size_t *taken);

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
//  progress: accepted | in_progress → in_progress, note masked; with
//  `public` the step is also the customer's `progress` message.
int sla_progress (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
                  tf_error_t *err);
//  hold: accepted | in_progress → on_hold; pauses the resolution clock.
int sla_hold (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
              tf_error_t *err);
//  resume: on_hold → in_progress; the resolution deadline moves by the pause.
int sla_resume (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
                tf_error_t *err);
//  reply: a public reply in the thread and the customer's `reply` message;
//  with ask, an information request (`info_request`) and accepted |
//  in_progress → on_hold until the customer answers (3 days at most).
int sla_reply (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out, tf_error_t *err);
//  note: an internal note in the thread; the status does not change.
int sla_note (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out, tf_error_t *err);
//  resolve: accepted | in_progress → resolved; the caller then sends ticket.resolved.
int sla_resolve (sla_t *self, const tf_msg_t *request, int64_t *ticket_id, char *status_out,
                 tf_error_t *err);

#endif
