/*  notifier — the confirm stage, closing, follow-up and every outbound
    message. No sockets here: the engine (notifier_service.c) feeds it and
    the tests call it directly.

    * The outbox is the truth of what goes out. Every service queues its
      messages there in the transaction that decides them: customer
      messages from the templates (tf_customer_messages in
      deploy/sql/009_conversations.sql), staff messages naming their sink.
    * A resolved ticket gets its `confirm_request` (in the transaction that
      writes its `confirmation_requested` history note): did the fix solve
      the problem, and a 1-5 score, in the manuals' closing words.
    * The outbox worker claims due rows a batch at a time and routes each:
      a staff message to the sink it names, a customer message to the sink
      of its ticket's channel (notifier_routes), else the file sink. It
      masks the text, holds a customer message for a quiet sink in quiet
      hours (not P1), keeps each sink's rate, retries with exponential
      back-off and gives up (dead) after max_attempts. A row claimed
      before a crash is asked of its sink (seen) so it is never written twice.
    * The customer's feedback (stored by intake) confirms the ticket
      (resolved → confirmed, csat; 4-5 tags it 满意, 1-2 opens a review)
      or reopens it; feedback on a ticket no longer resolved is ignored.
      A confirmed ticket gets its follow-up call and survey.
    * Periodic work: resolved tickets without an answer for close_days
      close as auto_closed (told, followed up); the daily digest; a
      still_working update for tickets open 3 days without news.
*/
#ifndef NOTIFIER_H
#define NOTIFIER_H

#include "notifier_sink.h"
#include "tf_codec.h"
#include "tf_config.h"
#include "tf_db.h"
#include <stdbool.h>
#include <stdint.h>

typedef struct notifier_t notifier_t;

//  Prepares the statements on db (which stays the caller's). Retries use
//  retry_seconds, doubling; after max_attempts failed deliveries a message
//  is dead. No sinks yet: add them (or notifier_add_config_sinks).
notifier_t *notifier_new (tf_db_t *db, int max_attempts, int retry_seconds);
void notifier_destroy (notifier_t **self_p);

//  Adds a sink (the notifier takes it over); sink names are unique. A
//  staff message is delivered by an instance that has the sink it names;
//  a customer message by any instance that serves its channel.
//  Returns 0, or -1 (and destroys the sink) when the name is taken.
int notifier_add_sink (notifier_t *self, notifier_sink_t *sink);

//  The sinks the settings ask for: "file" (always; notifier_file, default
//  $TICKETFLOW_HOME/var/notifications.jsonl), "webhook" when
//  notifier_webhook_url is set, "sms" (a webhook with the phone as "to",
//  quiet) when notifier_sms_url is, "email" (SMTP) when notifier_smtp_url
//  is; then the routes, quiet hours, rate limits and lease of the
//  settings (notifier_configure). Returns 0 or -1 (a bad setting, logged).
int notifier_add_config_sinks (notifier_t *self, const tf_config_t *cfg);
size_t notifier_sink_count (const notifier_t *self);

//  How delivery behaves; every field has the default of its setting.
typedef struct {
    const char *routes;         //  "email=email,phone=sms,*=webhook"
    const char *quiet_hours;    //  "21:00-09:00", "" for never
    const char *rate_limits;    //  "sms=20,email=50"
    int lease_seconds;          //  60
    int close_days;             //  3
    const char *digest_at;      //  "17:00", "" for no digest
    const char *channels;       //  the customer channels this instance delivers: "*" (or "") all, "email,phone"
} notifier_policy_t;

//  Applies a policy to the sinks added so far. Returns 0, or -1 with the
//  problem logged (an unparsable route, time or rate).
int notifier_configure (notifier_t *self, const notifier_policy_t *policy);

//  The sink a message of (sink, channel) goes to: the sink it names, else
//  the route of its channel, else "*"'s, else the file sink. NULL when the
//  notifier has no sinks.
const char *notifier_route (const notifier_t *self, const char *sink, const char *channel);

//  Default file sink path for the settings (caller frees).
char *notifier_file_path (const tf_config_t *cfg);

//  Queues the confirmation request of each resolved ticket among
//  ids[0..n) (others are skipped), one transaction. A ticket that already
//  has its request for this resolution gets nothing new. Returns how many
//  tickets got new outbox rows, or -1 (rolled back) on a database error.
int notifier_request_confirmation (notifier_t *self, const int64_t *ids, size_t n);

//  The reconciler's side: resolved tickets (resolved at least stale_seconds
//  ago) that have no confirmation request for this resolution yet, at most
//  `limit`. Returns how many got one, or -1.
int notifier_reconcile_resolved (notifier_t *self, int stale_seconds, size_t limit);

typedef struct {
    int claimed;                //  due rows taken
    int sent;
    int retried;                //  failed, another attempt scheduled
    int dead;                   //  failed for the last time
    int deferred;               //  not tried: the sink's time budget or rate was used up
    int quiet;                  //  held until the quiet hours end
    int recovered;              //  claimed before a crash, found delivered: marked sent
} notifier_delivery_t;

//  Delivers up to `limit` due pending rows of this instance's sinks. Each
//  sink stops trying once it has spent budget_ms in this call (the rest is
//  released for the next call), so a slow webhook never holds the loop for
//  long. Returns the number of rows claimed (0: nothing due), or -1.
int notifier_deliver (notifier_t *self, size_t limit, int budget_ms, notifier_delivery_t *stats);

typedef enum {
    NOTIFIER_IGNORED,           //  the ticket was no longer resolved: nothing changed
    NOTIFIER_CONFIRMED,         //  resolved → confirmed: send ticket.confirmed
    NOTIFIER_REOPENED           //  resolved → reopened: send ticket.reopened
} notifier_outcome_t;

typedef struct {
    int64_t feedback_id;
    int64_t ticket_id;
    char ticket_no [40];
    notifier_outcome_t outcome;
} notifier_feedback_t;

//  Acts on the unprocessed feedback of the tickets ids[0..n), oldest first,
//  in one transaction. Fills results (capacity cap; at most cap rows are
//  taken) for the events to send after it returns. Returns the number of
//  feedback rows processed, or -1 (rolled back) on a database error.
int notifier_process_feedback (notifier_t *self, const int64_t *ids, size_t n,
                               notifier_feedback_t *results, size_t cap);

//  The reconciler's side: unprocessed feedback received at least
//  stale_seconds ago, oldest first, at most cap rows.
int notifier_reconcile_feedback (notifier_t *self, int stale_seconds,
                                 notifier_feedback_t *results, size_t cap);

//  Resolved tickets whose customer has not answered for close_days: each
//  moves to auto_closed, its customer is told (auto_closed message), its
//  follow-up opens. At most `limit`; returns how many, or -1.
int notifier_close_unconfirmed (notifier_t *self, size_t limit);

//  The digest of `day` (YYYY-MM-DD in the desk's time zone; NULL: today,
//  and only once the clock has passed digest_at): one message per
//  customer with open or resolved tickets, listing each with its status,
//  last public step and expected time. Once per day whatever the number
//  of instances. Returns the customers it went to (0: not due or done
//  already), or -1.
int notifier_digest (notifier_t *self, const char *day);

//  digest.send: today's digest at once (still once a day); fills day_out
//  (16 bytes). Returns the customers it went to (0: done already), or -1.
int notifier_digest_now (notifier_t *self, char *day_out);

//  A still_working message for up to `limit` open tickets at least 3 days
//  old whose customer heard nothing about them for 3 days. Returns how
//  many, or -1.
int notifier_still_working (notifier_t *self, size_t limit);

//  followup.list: a JSON array of the open tasks (caller frees), NULL on a
//  database error.
char *notifier_followups (notifier_t *self, const tf_msg_t *request);

//  followup.done: marks the task done, stores the survey answers it
//  carries; returns 0 with the ticket's status in status_out (16 bytes),
//  or -1 with err (not_found: no such open task).
int notifier_followup_done (notifier_t *self, const tf_msg_t *request, char *status_out, tf_error_t *err);

#endif
