//  The command-line client without services: its help, read from the one
//  command table, and README's list of the commands.
#include "ticketctl.h"
#include "tf_db.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (ticketctl, .timeout = 30);

typedef struct {
    char *out, *err;
    int rc;
} run_t;

//  Runs ticketctl with the arguments after argv[0]; the caller frees out, err
static run_t
s_run (int argc, char **argv)
{
    run_t r;
    size_t out_size, err_size;
    FILE *out = open_memstream (&r.out, &out_size);
    FILE *err = open_memstream (&r.err, &err_size);
    r.rc = ticketctl_run (argc, argv, out, err);
    fclose (out);
    fclose (err);
    return r;
}

static char *
s_read (const char *relative)
{
    char path [4200];
    snprintf (path, sizeof path, "%s/%s", tf_home (), relative);
    FILE *file = fopen (path, "r");
    cr_assert (file, "cannot read %s", path);
    char *text = calloc (1, 1 << 20);
    size_t n = fread (text, 1, (1 << 20) - 1, file);
    fclose (file);
    text [n] = 0;
    return text;
}

//  Every command with its meaning and each of its flags with theirs, and
//  the settings, however help is asked for
Test (ticketctl, help_lists_every_command_and_its_options)
{
    char *help [] = { "ticketctl", "--help", NULL };
    run_t first = s_run (2, help);
    cr_assert_eq (first.rc, 0);
    cr_assert_str_empty (first.err);
    const char *text = first.out;
    size_t commands = 0;
    for (const ticketctl_command_t *c; (c = ticketctl_command (commands)); commands++) {
        char line [128];
        snprintf (line, sizeof line, "\n  %s%s%s\n", c->name, c->positional_name? " ": "",
                  c->positional_name? c->positional_name: "");
        const char *at = strstr (text, line);
        cr_assert (at, "help has no line '%s'", line + 1);
        //  the meaning's first line follows the command
        char meaning [128];
        snprintf (meaning, sizeof meaning, "%.*s", (int) strcspn (c->summary, "\n"), c->summary);
        cr_assert (strstr (at, meaning) == at + strlen (line) + 6, "%s: no meaning", c->name);
        for (const ticketctl_flag_t *f = c->flags; f->flag; f++) {
            char flag [512];
            snprintf (flag, sizeof flag, "%-18s %s\n", f->flag, f->help);
            const char *next = strstr (at + strlen (line), "\n  ");
            while (next && next [3] == ' ')         //  a continued line or a flag, not a command
                next = strstr (next + 1, "\n  ");
            const char *found = strstr (at, flag);
            cr_assert (found && (!next || found < next), "%s: flag %s not listed under it", c->name, f->flag);
        }
    }
    cr_assert_geq (commands, 15);
    cr_assert (strstr (text, "\n  feed FILE.json\n"));
    cr_assert (strstr (text, "--service"), "ping's --service is an option");
    cr_assert (strstr (text, "--json"));
    cr_assert (strstr (text, "Exit codes"));
    cr_assert (strstr (text, "--dispatcher-endpoint=VALUE"));
    cr_assert (strstr (text, "TICKETFLOW_REQUEST_TIMEOUT_MS"));
    //  the same from `help`, -h and a command's --help
    char *word [] = { "ticketctl", "help", NULL };
    char *short_flag [] = { "ticketctl", "-h", NULL };
    char *command [] = { "ticketctl", "queue", "--department", "x", "--help", NULL };
    run_t others [] = { s_run (2, word), s_run (2, short_flag), s_run (5, command) };
    for (size_t i = 0; i < 3; i++) {
        cr_assert_eq (others [i].rc, 0, "form %zu", i);
        cr_assert_str_eq (others [i].out, first.out, "form %zu", i);
        cr_assert_str_empty (others [i].err);
        free (others [i].out);
        free (others [i].err);
    }
    free (first.out);
    free (first.err);
}

Test (ticketctl, no_command_is_a_usage_error_with_the_help_on_stderr)
{
    char *none [] = { "ticketctl", NULL };
    run_t r = s_run (1, none);
    cr_assert_eq (r.rc, 2);
    cr_assert_str_empty (r.out);
    cr_assert (strstr (r.err, "Commands:"));
    cr_assert (strstr (r.err, "TICKETFLOW_INTAKE_ENDPOINT"), "the settings go where the commands go");
    free (r.out);
    free (r.err);
    char *unknown [] = { "ticketctl", "frobnicate", NULL };
    r = s_run (2, unknown);
    cr_assert_eq (r.rc, 2);
    cr_assert (strstr (r.err, "unknown command 'frobnicate'"));
    free (r.out);
    free (r.err);
}

Test (ticketctl, readme_lists_every_command)
{
    char *readme = s_read ("README.md");
    for (size_t i = 0; ticketctl_command (i); i++) {
        char row [64];
        snprintf (row, sizeof row, "\n| `%s ", ticketctl_command (i)->name);
        cr_assert (strstr (readme, row), "README's ticketctl table has no row for %s", ticketctl_command (i)->name);
    }
    free (readme);
}

//  ticketctl report: each list most first, ties by name, zeros left out
Test (ticketctl, report_counts_most_first_ties_by_name)
{
    json_error_t error;
    json_t *counts = json_loads ("{\"jd\": 1, \"web\": 3, \"app\": 5, \"email\": 0, \"wechat\": 3,"
                                 " \"抖音\": 3, \"taobao\": 12}", 0, &error);
    cr_assert (counts, "%s", error.text);
    char *text;
    size_t size;
    json_t *none = json_object ();
    FILE *out = open_memstream (&text, &size);
    ticketctl_print_counts (out, "by channel", counts);
    ticketctl_print_counts (out, "by status", none);
    fclose (out);
    cr_assert_str_eq (text, "  by channel     taobao 12 app 5 web 3 wechat 3 抖音 3 jd 1\n"
                            "  by status     \n");
    free (text);
    json_decref (counts);
    json_decref (none);
}
