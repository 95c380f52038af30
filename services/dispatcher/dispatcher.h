/*  dispatcher — the assign stage: classified → assigned → accepted,
    transfers between departments, and reopened → assigned (back to the
    same department and agent). No sockets here: the service
    (dispatcher_service.c) feeds it and the tests call it directly.

    Every change is one transaction through tf_ticket_move (the declared
    moves, the expected-status check); a batch of tickets costs a constant
    number of statements, and tickets are taken with FOR UPDATE SKIP
    LOCKED, so a repeated event changes nothing and two dispatchers never
    assign one ticket twice. The caller publishes what a call returns,
    after it returned (that is, after the commit).
*/
#ifndef DISPATCHER_H
#define DISPATCHER_H

#include "tf_codec.h"
#include "tf_db.h"
#include <stdint.h>

typedef struct dispatcher_t dispatcher_t;

//  Where a ticket went when it was routed: its department from the
//  taxonomy row of its sub-category, else this one.
#define DISPATCHER_FALLBACK_DEPARTMENT "frontline"

//  One committed assignment: everything its `ticket.assigned` carries.
//  Empty strings are absent fields.
typedef struct {
    int64_t ticket_id;
    char ticket_no [40];
    char department [40];
    char assignee [72];         //  the agent it went to ("": the department's pool)
    char second_line [40];      //  where the front line hands over ("": the owner is the second line)
    char category [72];
    char subcategory [72];
    char priority [4];
    char subject [208];         //  masked subject, or the start of the masked body
    uint8_t *steps;             //  solution steps: msgpack array of strings (NULL: none)
    size_t steps_size;
    uint8_t *phrases;           //  standard phrases: msgpack map of strings (NULL: none)
    size_t phrases_size;
} dispatcher_assignment_t;

//  Prepares the statements on db (which stays the caller's), including
//  tf_ticket's: give the dispatcher a connection of its own.
dispatcher_t *dispatcher_new (tf_db_t *db);
void dispatcher_destroy (dispatcher_t **self_p);

//  The event path: assigns those of ids[0..n) that are classified or
//  reopened, skipping tickets another instance holds, in one transaction.
//  Fills out[0..n) and returns how many were assigned; -1 when the
//  database failed (nothing changed).
//  classified → assigned: department from the taxonomy (fallback: frontline,
//  and the history says why). reopened → assigned: department and assignee
//  are kept.
int dispatcher_assign (dispatcher_t *self, const int64_t *ids, size_t n, dispatcher_assignment_t *out);

//  The reconciler: assigns up to `limit` tickets that waited in
//  `classified` or `reopened` for at least stale_seconds (oldest first).
//  out has room for `limit`. Returns how many, -1 on a database error.
int dispatcher_reconcile (dispatcher_t *self, int stale_seconds, size_t limit,
                          dispatcher_assignment_t *out);

//  `ticket.accept`: assigned → accepted, sets assignee, accepted_at and
//  first_response_at (when unset). Returns 0 with *ticket_id set, or -1
//  with err: not_found, illegal_transition (names the current status),
//  bad_value, unavailable.
int dispatcher_accept (dispatcher_t *self, const tf_msg_t *request, int64_t *ticket_id,
                       tf_error_t *err);

//  `ticket.transfer`: assigned, accepted or in_progress → assigned to
//  another department, assignee cleared, the (masked) reason in the
//  history. Fills *out for the `ticket.assigned` to publish. Returns 0, or
//  -1 with err: bad_value (field department: unknown code), not_found,
//  illegal_transition, unavailable.
int dispatcher_transfer (dispatcher_t *self, const tf_msg_t *request,
                         dispatcher_assignment_t *out, tf_error_t *err);

//  `queue.list`: fills *reply (a `queue.items`; caller tf_msg_clear()s).
//  Without a department only status triage is listed (every triage ticket,
//  reply department "triage"). Returns 0, or -1 with err: bad_value
//  (unknown department), missing_field (no department, status not triage),
//  unavailable.
int dispatcher_queue (dispatcher_t *self, const tf_msg_t *request, tf_msg_t *reply,
                      tf_error_t *err);

//  The roster requests: agent.add, agent.update, agent.duty (off duty hands
//  the agent's assigned, accepted and in-progress tickets back to the
//  pool) and agent.list. Each fills *reply (an `agent.items`; caller
//  tf_msg_clear()s). Returns 0, or -1 with err: bad_value (unknown
//  department or sub-category code, a name already on the roster),
//  not_found (agent.update / agent.duty of nobody), unavailable.
int dispatcher_agent (dispatcher_t *self, const tf_msg_t *request, tf_msg_t *reply, tf_error_t *err);

//  The timer's work, in one transaction: tickets the front line kept past
//  their sub-category's hand_over_hours go to the second line (a
//  transfer); assigned tickets whose agent did not accept within their
//  acknowledgement clock go to the next agent
//  (else back to the pool), with a history row and a message to the team
//  lead on `owner_sink`; then tickets waiting in a pool go to agents who
//  have room. Fills out[0..limit) with the assignments to publish; returns
//  how many, or -1.
int dispatcher_rebalance (dispatcher_t *self, const char *owner_sink, size_t limit,
                          dispatcher_assignment_t *out);

//  Builds the `ticket.assigned` event of an assignment (caller tf_msg_clear()s)
//  and writes its topic, "<department>.", into topic.
void dispatcher_assignment_event (const dispatcher_assignment_t *a, tf_msg_t *event,
                                  char *topic, size_t topic_size);
//  Frees what an assignment holds (safe twice).
void dispatcher_assignment_clear (dispatcher_assignment_t *a);

#endif
