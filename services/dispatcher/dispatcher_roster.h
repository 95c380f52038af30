/*  dispatcher_roster — the people of the service desk, as the dispatcher
    sees them when it hands out tickets (no sockets).

    An assignment locks the on-duty front-line agents (role `agent`) of the
    departments it routes to, in id order, then counts each one's open
    tickets: two dispatchers assigning to one department wait for each
    other there, and the count is read after the lock, so capacity holds
    under concurrent assignment. The pick is the least loaded agent with
    the sub-category among their skills (or no skills listed) and room
    under their capacity.
*/
#ifndef DISPATCHER_ROSTER_H
#define DISPATCHER_ROSTER_H

#include "tf_db.h"
#include <stdbool.h>
#include <stddef.h>

//  An agent's load, in SQL: their open tickets (the statuses of the
//  partial index tickets_assignee_open, deploy/sql/008, which it walks)
#define ROSTER_LOAD(agent_name)                                                     \
    "(SELECT count (*) FROM tickets x WHERE x.assignee = " agent_name               \
    " AND x.status IN ('assigned', 'accepted', 'in_progress', 'on_hold', 'reopened'))"

typedef struct {
    char name [72];
    char department [40];
    char skills [1024];         //  ",code,code," ("" or ",,": every sub-category)
    int capacity;
    int load;                   //  open tickets assigned to them, counted after the lock
} roster_agent_t;

typedef struct {
    roster_agent_t *agents;
    size_t count;
} roster_t;

//  Prepares the statements on db.
int dispatcher_roster_prepare (tf_db_t *db);

//  Inside the caller's transaction: locks and loads the on-duty agents of
//  the departments (a text[] literal). 0, or -1 (the caller rolls back).
int dispatcher_roster_load (tf_db_t *db, const char *departments, roster_t *roster);

//  The least loaded agent of `department` with the skill `code` (NULL or
//  "": any) and room, other than `except` (NULL: nobody); their load goes
//  up by one. NULL when nobody fits.
const char *dispatcher_roster_pick (roster_t *roster, const char *department, const char *code,
                                    const char *except);

void dispatcher_roster_clear (roster_t *roster);

//  Inside the caller's transaction: each ticket of ids (a int8[] literal)
//  that has an assignee gets a fresh acknowledgement clock (15 minutes of
//  its service hours; around the clock for P1), and the clocks of the
//  agent before are met. 0, or -1.
int dispatcher_roster_acknowledge (tf_db_t *db, const char *ids);

#endif
