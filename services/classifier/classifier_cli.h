/*  classifier_cli — what ticketflow-train and ticketflow-eval share on the
    command line: walking "--name value" options, the options both take
    (--text-column, --label-column, --format), number parsing, a clock.
*/
#ifndef CLASSIFIER_CLI_H
#define CLASSIFIER_CLI_H

#include "csvread.h"

typedef struct {
    const char *program;            //  for messages: "ticketflow-train"
    const char *const *valued;      //  options that take a value (NULL-terminated)
    const char *const *switches;    //  options that take none (NULL-terminated)
    int next;                       //  index into argv, start at 1
} classifier_cli_t;

//  The next option: 1 with *name and *value (NULL for a switch), 0 at the
//  end, -1 when an option is unknown or lacks its value (message printed).
int classifier_cli_next (classifier_cli_t *cli, int argc, char **argv, const char **name, const char **value);

//  The options both tools share. Returns 1 when `name` was one of them, 0
//  when it was not, -1 when its value is bad (message printed).
typedef struct {
    const char *text_column, *label_column;
    csvread_format_t format;
} classifier_cli_data_t;
int classifier_cli_data_option (classifier_cli_data_t *data, const char *program, const char *name,
                                const char *value);

//  0 when s is a whole number in lo..hi (or any double), -1 otherwise.
int classifier_cli_long (const char *s, long lo, long hi, long *out);
int classifier_cli_double (const char *s, double *out);

//  Monotonic seconds.
double classifier_cli_now (void);

#endif
