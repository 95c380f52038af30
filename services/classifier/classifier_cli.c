#include "classifier_cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int
s_listed (const char *const *list, const char *name)
{
    for (size_t i = 0; list && list [i]; i++)
        if (strcmp (list [i], name) == 0)
            return 1;
    return 0;
}

int
classifier_cli_next (classifier_cli_t *cli, int argc, char **argv, const char **name, const char **value)
{
    if (cli->next >= argc)
        return 0;
    *name = argv [cli->next++];
    *value = NULL;
    if (strcmp (*name, "-h") == 0 || s_listed (cli->switches, *name))
        return 1;
    if (!s_listed (cli->valued, *name)) {
        fprintf (stderr, "%s: unknown option %s (see --help)\n", cli->program, *name);
        return -1;
    }
    if (cli->next >= argc) {
        fprintf (stderr, "%s: %s needs a value\n", cli->program, *name);
        return -1;
    }
    *value = argv [cli->next++];
    return 1;
}

int
classifier_cli_data_option (classifier_cli_data_t *data, const char *program, const char *name,
                            const char *value)
{
    if (strcmp (name, "--text-column") == 0)
        data->text_column = value;
    else
    if (strcmp (name, "--label-column") == 0)
        data->label_column = value;
    else
    if (strcmp (name, "--format") == 0) {
        if (strcmp (value, "csv") == 0)
            data->format = CSVREAD_CSV;
        else
        if (strcmp (value, "tsv") == 0)
            data->format = CSVREAD_TSV;
        else {
            fprintf (stderr, "%s: bad value for --format: \"%s\"\n", program, value);
            return -1;
        }
    }
    else
        return 0;
    return 1;
}

int
classifier_cli_long (const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol (s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

int
classifier_cli_double (const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod (s, &end);
    if (errno || end == s || *end)
        return -1;
    *out = v;
    return 0;
}

double
classifier_cli_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}
