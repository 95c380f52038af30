#include "tf_actor.h"
#include "tf_log.h"
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t s_reload_requested = 0;

static void
s_on_sighup (int signum)
{
    (void) signum;
    s_reload_requested = 1;
}

bool
tf_actor_command (zsock_t *pipe, const char *const *names, const char *const *values)
{
    char *command = zstr_recv (pipe);
    if (!command)
        return true;            //  interrupted
    if (streq (command, "$TERM")) {
        zstr_free (&command);
        return true;
    }
    const char *answer = "";
    for (size_t i = 0; names && names [i]; i++)
        if (streq (names [i], command))
            answer = values [i]? values [i]: "";
    zstr_send (pipe, answer);
    zstr_free (&command);
    return false;
}

void
tf_actor_failed (zsock_t *pipe)
{
    zsock_signal (pipe, 0);
    while (true) {
        char *command = zstr_recv (pipe);
        if (!command || streq (command, "$TERM")) {
            zstr_free (&command);
            break;
        }
        zstr_send (pipe, "ERROR");
        zstr_free (&command);
    }
}

char *
tf_actor_query (zactor_t *actor, const char *query)
{
    zsock_set_rcvtimeo (zactor_sock (actor), 5000);
    zstr_send (actor, query);
    return zstr_recv (actor);
}

int
tf_actor_main (zactor_fn *actor_fn, void *args, const char *ready_query)
{
    zactor_t *actor = zactor_new (actor_fn, args);
    char *ready = tf_actor_query (actor, ready_query);
    int rc = 0;
    if (!ready || streq (ready, "ERROR")) {
        tf_error ("could not start; see the lines above");
        rc = 1;
    }
    else {
        tf_info ("ready (%s %s)", ready_query, ready);
        //  czmq's default signal handler sets zsys_interrupted on SIGINT/SIGTERM;
        //  the actor sees it too, so the wait below returns when either ends
        zsock_set_rcvtimeo (zactor_sock (actor), -1);
        //  SIGHUP asks the actor to reload what it can (a new model, say)
        struct sigaction action = { .sa_handler = s_on_sighup };
        sigemptyset (&action.sa_mask);
        sigaction (SIGHUP, &action, NULL);
        zpoller_t *poller = zpoller_new (zactor_sock (actor), NULL);
        while (!zsys_interrupted) {
            if (s_reload_requested) {
                s_reload_requested = 0;
                char *answer = tf_actor_query (actor, "RELOAD");
                tf_info ("SIGHUP: reload %s", answer && *answer? answer: "not supported");
                zstr_free (&answer);
                zsock_set_rcvtimeo (zactor_sock (actor), -1);
            }
            void *which = zpoller_wait (poller, 500);
            if (which && !zsys_interrupted) {
                //  the actor said something unasked: it has stopped on its own
                tf_error ("service loop ended unexpectedly");
                rc = 1;
                break;
            }
        }
        zpoller_destroy (&poller);
        tf_info ("stopping");
    }
    zstr_free (&ready);
    zactor_destroy (&actor);
    return rc;
}
