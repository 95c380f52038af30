//  What a newcomer runs from the shell: make status and make help, what
//  make run says about endpoints, and the classifier benchmark on the data
//  the repository ships.
#include "tf_config.h"
#include "tf_db.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (deploy, .timeout = 60);

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

static void
s_write (const char *path, const char *text, mode_t mode)
{
    FILE *file = fopen (path, "w");
    cr_assert (file, "cannot write %s", path);
    fputs (text, file);
    fclose (file);
    cr_assert_eq (chmod (path, mode), 0);
}

//  tests/bench_classifier.sh needs nothing outside the repository: it reads
//  BANKING77 from tests/data/ unless TICKETFLOW_DATA_DIR names another
//  folder. Stand-ins for train and eval record what they are given, so
//  nothing heavy runs.
Test (deploy, bench_classifier_reads_the_data_shipped_in_the_repository)
{
    char dir [] = "/tmp/tf-bench-XXXXXX";
    cr_assert (mkdtemp (dir));
    char path [256], script [1024], command [1024], out [16384];
    snprintf (script, sizeof script,
              "#!/bin/sh\necho \"$@\" >> %s/calls\necho train_seconds 1\n"
              "while [ $# -gt 1 ]; do [ \"$1\" = --out ] && : > \"$2\"; shift; done\n", dir);
    snprintf (path, sizeof path, "%s/ticketflow-train", dir);
    s_write (path, script, 0755);
    snprintf (script, sizeof script,
              "#!/bin/sh\necho \"$@\" >> %s/calls\n"
              "echo accuracy 0.95 macro_f1 0.94 classify_per_sec 99999 max_rss_kb 2048\n", dir);
    snprintf (path, sizeof path, "%s/ticketflow-eval", dir);
    s_write (path, script, 0755);

    snprintf (command, sizeof command, "env -u TICKETFLOW_DATA_DIR TICKETFLOW_BIN_DIR=%s BENCH_ROUNDS=1"
              " tests/bench_classifier.sh", dir);
    int rc = s_shell (out, sizeof out, command);
    cr_assert_eq (rc, 0, "bench_classifier.sh failed: %s", out);
    cr_assert (strstr (out, "banking77: accuracy 0.95 macro_f1 0.94"), "%s", out);
    snprintf (path, sizeof path, "%s/calls", dir);
    FILE *file = fopen (path, "r");
    cr_assert (file);
    char calls [8192];
    calls [fread (calls, 1, sizeof calls - 1, file)] = 0;
    fclose (file);
    char expected [4400];
    snprintf (expected, sizeof expected, "--data %s/tests/data/banking77/train.csv ", tf_home ());
    cr_assert (strstr (calls, expected), "not trained on the shipped train.csv: %s", calls);
    snprintf (expected, sizeof expected, "--data %s/tests/data/banking77/test.csv ", tf_home ());
    cr_assert (strstr (calls, expected), "not evaluated on the shipped test.csv: %s", calls);

    //  the data travels with its licence and its origin
    const char *files [] = { "train.csv", "test.csv", "LICENSE", "SOURCE.md" };
    const char *says [] = { "text,category", "text,category", "Attribution 4.0 International", "CC BY 4.0" };
    for (size_t i = 0; i < 4; i++) {
        snprintf (path, sizeof path, "%s/tests/data/banking77/%s", tf_home (), files [i]);
        file = fopen (path, "r");
        cr_assert (file, "%s is missing", path);
        char head [4096];
        head [fread (head, 1, sizeof head - 1, file)] = 0;
        fclose (file);
        cr_assert (strstr (head, says [i]), "%s does not say '%s'", path, says [i]);
    }

    //  TICKETFLOW_DATA_DIR still wins
    snprintf (command, sizeof command, "TICKETFLOW_DATA_DIR=%s/elsewhere TICKETFLOW_BIN_DIR=%s"
              " tests/bench_classifier.sh", dir, dir);
    cr_assert_eq (s_shell (out, sizeof out, command), 2, "%s", out);
    snprintf (expected, sizeof expected, "%s/elsewhere/banking77/train.csv missing", dir);
    cr_assert (strstr (out, expected), "%s", out);
    snprintf (command, sizeof command, "rm -rf '%s'", dir);
    cr_assert_eq (system (command), 0);
}

//  The value a service runs with when only the environment is given
static const char *
s_default (const char *name)
{
    for (size_t i = 0; i < tf_option_count; i++)
        if (strcmp (tf_options [i].name, name) == 0)
            return tf_options [i].default_value;
    cr_assert_fail ("no setting %s", name);
    return NULL;
}

//  make run prints where the services really listen: what TICKETFLOW_*
//  says, else the defaults of tf_config (not a copy of them in the script)
Test (deploy, run_prints_the_endpoints_the_services_use)
{
    tf_test_clear_environment ();
    char out [16384], expected [256];
    int rc = s_shell (out, sizeof out, "TICKETFLOW_INTAKE_ENDPOINT=tcp://127.0.0.1:17100"
                      " TICKETFLOW_DISPATCHER_ENDPOINT=tcp://127.0.0.1:17301"
                      " TICKETFLOW_INTAKE_HTTP_PORT=18080 deploy/run.sh --endpoints");
    cr_assert_eq (rc, 0, "%s", out);
    const char *wanted [] = {
        "tcp://127.0.0.1:17100", "tcp://127.0.0.1:17301", "HTTP http://127.0.0.1:18080",
        "curl -s -XPOST http://127.0.0.1:18080/v1/tickets", s_default ("classifier-endpoint"),
        s_default ("sla-endpoint"), s_default ("notifier-endpoint"), s_default ("reporting-endpoint"),
        s_default ("dispatcher-publish-endpoint"), NULL
    };
    for (size_t i = 0; wanted [i]; i++)
        cr_assert (strstr (out, wanted [i]), "no '%s' in: %s", wanted [i], out);
    snprintf (expected, sizeof expected, "HTTP http://%s:%s\n", s_default ("http-address"),
              s_default ("reporting-http-port"));
    cr_assert (strstr (out, expected), "no '%s' in: %s", expected, out);
    cr_assert_null (strstr (out, s_default ("intake-endpoint")), "the default intake endpoint is shown");
    //  each service's ops port, a moved one included
    rc = s_shell (out, sizeof out, "TICKETFLOW_SLA_OPS_PORT=19104 deploy/run.sh --endpoints");
    cr_assert_eq (rc, 0, "%s", out);
    snprintf (expected, sizeof expected, "http://%s:%s\n", s_default ("http-address"), s_default ("dispatcher-ops-port"));
    cr_assert (strstr (out, expected), "no '%s' in: %s", expected, out);
    cr_assert (strstr (out, ":19104\n"), "the moved sla ops port is not shown: %s", out);
    //  port 0 is chosen at start: no address to print, no curl line
    rc = s_shell (out, sizeof out, "TICKETFLOW_REPORTING_HTTP_PORT=0 deploy/run.sh --endpoints");
    cr_assert_eq (rc, 0, "%s", out);
    cr_assert (strstr (out, "on a free port"), "%s", out);
    cr_assert_null (strstr (out, "/v1/report/summary"), "%s", out);
}
