/*  tf_actor — what every service actor shares: the pipe commands that tests
    and main use to ask an actor for its endpoints, and main's shell.

    Pipe commands (strings): "$TERM" ends the actor; any other word is a
    query answered with one string ("" when unknown, "ERROR" when the actor
    failed to start), e.g. "ENDPOINT" → "tcp://127.0.0.1:41234".
*/
#ifndef TF_ACTOR_H
#define TF_ACTOR_H

#include <czmq.h>
#include <stdbool.h>

//  Reads one command from the pipe and answers it from the NULL-terminated
//  pairs names[i] → values[i]. Returns true when the actor must end.
bool tf_actor_command (zsock_t *pipe, const char *const *names, const char *const *values);

//  For an actor whose start failed: signals the pipe, answers "ERROR" to
//  every query until $TERM.
void tf_actor_failed (zsock_t *pipe);

//  Asks an actor a query (waits up to 5 s). Caller frees; NULL on timeout.
char *tf_actor_query (zactor_t *actor, const char *query);

//  main's shell: starts the actor, checks it answers `ready_query` with
//  something other than "ERROR", then waits for SIGINT/SIGTERM. On SIGHUP
//  it sends the actor the query "RELOAD" (an actor that reloads nothing
//  answers "").
//  Returns the process exit code.
int tf_actor_main (zactor_fn *actor_fn, void *args, const char *ready_query);

#endif
