/*  notifier — the confirm stage and every outbound message. No sockets
    here: the actor (notifier_server.c) feeds it and the tests call it
    directly.

    * A resolved ticket gets one `confirm_request` outbox row per sink (in
      the transaction that writes its `confirmation_requested` history
      note): the payload asks the customer whether the fix solved the
      problem and for a 1-5 score, in the manuals' closing words.
    * The outbox worker delivers due rows a bounded batch at a time, with
      exponential back-off between attempts and a dead-letter state.
    * The customer's feedback (stored by intake) confirms the ticket
      (resolved → confirmed, csat) or reopens it (resolved → reopened,
      reopen_count + 1); feedback on a ticket no longer resolved is ignored.
*/
#ifndef NOTIFIER_H
#define NOTIFIER_H

#include "notifier_sink.h"
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

//  Adds a sink (the notifier takes it over). Rows are queued for, and
//  delivered by, the sinks of this instance only; sink names are unique.
//  Returns 0, or -1 (and destroys the sink) when the name is taken.
int notifier_add_sink (notifier_t *self, notifier_sink_t *sink);

//  The sinks the settings ask for: "file" (always; notifier_file, default
//  $TICKETFLOW_HOME/var/notifications.jsonl) and "webhook" when
//  notifier_webhook_url is set. Returns 0 or -1.
int notifier_add_config_sinks (notifier_t *self, const tf_config_t *cfg);
size_t notifier_sink_count (const notifier_t *self);

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
    int deferred;               //  not tried: the sink used up its time budget
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

#endif
