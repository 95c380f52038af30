//  What a newcomer runs from the shell: make status and make help.
#include "tf_db.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

//  Runs a shell command in the project folder, outside the make that runs
//  the tests; returns its exit code, its output (stdout and stderr) in out.
static int
s_shell (char *out, size_t size, const char *command)
{
    char line [8192];
    snprintf (line, sizeof line, "cd '%s' && env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS %s 2>&1",
              tf_home (), command);
    FILE *pipe = popen (line, "r");
    cr_assert (pipe, "cannot run %s", line);
    size_t n = 0, got;
    while (n + 1 < size && (got = fread (out + n, 1, size - 1 - n, pipe)) > 0)
        n += got;
    out [n] = 0;
    int status = pclose (pipe);
    return WIFEXITED (status)? WEXITSTATUS (status): -1;
}

Test (deploy, make_status_reports_each_service)
{
    char dir [] = "/tmp/tf-status-XXXXXX";
    cr_assert (mkdtemp (dir));
    char command [512], out [16384];
    //  a run folder of its own: no pid files, so nothing runs there
    snprintf (command, sizeof command,
              "TICKETFLOW_RUN_DIR=%s TICKETFLOW_LOG_DIR=%s make --no-print-directory status", dir, dir);
    int rc = s_shell (out, sizeof out, command);
    cr_assert_neq (rc, 0, "make status succeeded with nothing running: %s", out);
    const char *services [] = { "intake", "classifier", "dispatcher", "sla", "notifier", "reporting" };
    for (size_t i = 0; i < 6; i++) {
        char line [64];
        snprintf (line, sizeof line, "%s: stopped\n", services [i]);
        cr_assert (strstr (out, line), "make status did not say '%s': %s", line, out);
    }
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    cr_assert_eq (system (command), 0);
    cr_assert_eq (s_shell (out, sizeof out, "make --no-print-directory help"), 0);
    cr_assert (strstr (out, "make status "), "make help does not list status: %s", out);
}
