/*  ticketctl — the command-line client. Each command is a row of a table:
    which request it sends, to which service, and which flag fills which
    field, so the client and proto/events.def cannot drift apart.
*/
#ifndef TICKETCTL_H
#define TICKETCTL_H

#include "tf_codec.h"
#include "tf_config.h"
#include <jansson.h>
#include <stdio.h>

typedef enum {
    TICKETCTL_INTAKE, TICKETCTL_CLASSIFIER, TICKETCTL_DISPATCHER,
    TICKETCTL_SLA, TICKETCTL_NOTIFIER, TICKETCTL_REPORTING
} ticketctl_service_t;

typedef struct {
    const char *flag;           //  "--agent"
    tf_field_id_t field;
    const char *help;
} ticketctl_flag_t;

#define TICKETCTL_MAX_FLAGS 24

typedef struct {
    const char *name;           //  "accept"
    const char *summary;
    tf_msg_type_t request;
    ticketctl_service_t service;
    tf_field_id_t positional;   //  field taken from the first argument, or TF_FIELD_COUNT
    const char *positional_name;
    ticketctl_flag_t flags [TICKETCTL_MAX_FLAGS];
} ticketctl_command_t;

//  Runs ticketctl with its arguments (argv[0] is the program). Output goes
//  to out, errors to err. Returns the exit code: 0 ok, 1 the service
//  refused (error reply), 2 usage, 3 no answer.
int ticketctl_run (int argc, char **argv, FILE *out, FILE *err);

//  The command table, one row per command (classify has two), in the
//  order `ticketctl help` prints it; NULL past the last.
const ticketctl_command_t *ticketctl_command (size_t index);

//  One line of the report: "  <title> <name> <count> ...", the non-zero
//  counts of a JSON object of integers, most first, ties by name.
void ticketctl_print_counts (FILE *out, const char *title, json_t *counts);

//  The endpoint of a service from the configuration.
const char *ticketctl_endpoint (const tf_config_t *cfg, ticketctl_service_t service);

#endif
