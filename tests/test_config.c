//  The declarative configuration: defaults, environment, flags, bounds.
#include "tf_config.h"
#include "tf_test.h"
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (config, .timeout = 30);

static const char *s_names [] = { "database-url", "batch-size", "intake-endpoint", NULL };

Test (config, defaults, .init = tf_test_clear_environment)
{
    unsetenv ("DATABASE_URL");
    tf_config_t cfg;
    char *argv [] = { "prog", NULL };
    cr_assert_eq (tf_config_load (&cfg, s_names, 1, argv, "prog", "", NULL, NULL), 0);
    cr_assert_eq (cfg.batch_size, 256);
    cr_assert_str_eq (cfg.intake_endpoint, "tcp://127.0.0.1:7100");
    cr_assert_str_eq (cfg.database_url, "dbname=ticketflow");
}

Test (config, environment_then_flags, .init = tf_test_clear_environment)
{
    setenv ("TICKETFLOW_BATCH_SIZE", "17", 1);
    setenv ("DATABASE_URL", "host=/tmp dbname=x", 1);
    tf_config_t cfg;
    char *argv [] = { "prog", NULL };
    cr_assert_eq (tf_config_load (&cfg, s_names, 1, argv, "prog", "", NULL, NULL), 0);
    cr_assert_eq (cfg.batch_size, 17);
    cr_assert_str_eq (cfg.database_url, "host=/tmp dbname=x");
    setenv ("TICKETFLOW_DATABASE_URL", "dbname=y", 1);
    char *argv2 [] = { "prog", "--batch-size", "9", "--intake-endpoint=tcp://0.0.0.0:1", NULL };
    cr_assert_eq (tf_config_load (&cfg, s_names, 4, argv2, "prog", "", NULL, NULL), 0);
    cr_assert_eq (cfg.batch_size, 9);
    cr_assert_str_eq (cfg.database_url, "dbname=y");
    cr_assert_str_eq (cfg.intake_endpoint, "tcp://0.0.0.0:1");
}

Test (config, refuses_bad_values, .init = cr_redirect_stderr)
{
    tf_config_t cfg;
    tf_test_clear_environment ();
    char *big [] = { "prog", "--batch-size=100000", NULL };
    cr_assert_eq (tf_config_load (&cfg, s_names, 2, big, "prog", "", NULL, NULL), -1);
    char *word [] = { "prog", "--batch-size", "lots", NULL };
    cr_assert_eq (tf_config_load (&cfg, s_names, 3, word, "prog", "", NULL, NULL), -1);
    char *unknown [] = { "prog", "--sla-endpoint=x", NULL };     //  a setting, but not this program's
    cr_assert_eq (tf_config_load (&cfg, s_names, 2, unknown, "prog", "", NULL, NULL), -1);
    char *missing [] = { "prog", "--batch-size", NULL };
    cr_assert_eq (tf_config_load (&cfg, s_names, 2, missing, "prog", "", NULL, NULL), -1);
    setenv ("TICKETFLOW_BATCH_SIZE", "0", 1);
    char *argv [] = { "prog", NULL };
    cr_assert_eq (tf_config_load (&cfg, s_names, 1, argv, "prog", "", NULL, NULL), -1);
}

Test (config, help_lists_exactly_the_programs_settings, .init = cr_redirect_stdout)
{
    tf_config_t cfg;
    char *argv [] = { "prog", "--help", NULL };
    cr_assert_eq (tf_config_load (&cfg, s_names, 2, argv, "prog", "summary line", NULL, NULL), 1);
    fflush (stdout);
    FILE *out = cr_get_redirected_stdout ();
    char text [8192] = "";
    size_t n = fread (text, 1, sizeof text - 1, out);
    text [n] = 0;
    cr_assert (strstr (text, "summary line"));
    cr_assert (strstr (text, "--batch-size"));
    cr_assert (strstr (text, "TICKETFLOW_BATCH_SIZE"));
    cr_assert (strstr (text, "DATABASE_URL"));
    cr_assert_null (strstr (text, "--sla-endpoint"));
}

Test (config, every_setting_has_help_and_a_valid_default)
{
    for (size_t i = 0; i < tf_option_count; i++) {
        const tf_option_t *o = &tf_options [i];
        cr_assert (o->help && *o->help, "%s has no help", o->name);
        if (o->type == TF_OPT_INT) {
            long v = strtol (o->default_value, NULL, 10);
            cr_assert (v >= o->min && v <= o->max, "%s default out of bounds", o->name);
        }
    }
}

//  What a developer exported for a stack of their own (make test is run from
//  the same shell) must not reach the tests: every setting, alias included.
Test (config, a_cleared_environment_gives_every_default)
{
    char env [96];
    for (size_t i = 0; i < tf_option_count; i++) {
        const tf_option_t *o = &tf_options [i];
        char value [32];
        //  a valid value that is not the default
        if (o->type == TF_OPT_INT)
            snprintf (value, sizeof value, "%ld", strtol (o->default_value, NULL, 10) == o->min? o->max: o->min);
        else
            snprintf (value, sizeof value, "caller-%zu", i);
        tf_config_env_name (o->name, env, sizeof env);
        setenv (env, value, 1);
    }
    setenv ("TICKETFLOW_HOME", "/kept", 1);
    setenv ("TICKETFLOW_TEST_SOMETHING", "kept", 1);
    tf_test_clear_environment ();
    const char *names [tf_option_count + 1];
    for (size_t i = 0; i < tf_option_count; i++) {
        names [i] = tf_options [i].name;
        tf_config_env_name (tf_options [i].name, env, sizeof env);
        cr_assert_null (getenv (env), "%s is still set", env);
    }
    names [tf_option_count] = NULL;
    unsetenv ("DATABASE_URL");          //  the harness's; the test's own choice here
    tf_config_t cfg;
    char *argv [] = { "prog", NULL };
    cr_assert_eq (tf_config_load (&cfg, names, 1, argv, "prog", "", NULL, NULL), 0);
    for (size_t i = 0; i < tf_option_count; i++) {
        const tf_option_t *o = &tf_options [i];
        const char *slot = (const char *) &cfg + o->offset;
        if (o->type == TF_OPT_INT)
            cr_assert_eq (*(const int *) slot, strtol (o->default_value, NULL, 10), "%s", o->name);
        else
            cr_assert_str_eq (*(const char *const *) slot, o->default_value, "%s", o->name);
    }
    cr_assert_str_eq (getenv ("TICKETFLOW_HOME"), "/kept");
    cr_assert_str_eq (getenv ("TICKETFLOW_TEST_SOMETHING"), "kept");
}
