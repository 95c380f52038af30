//  proto/events.md carries exactly the tables generated from proto/events.def.
#include "protodoc.h"
#include "tf_codec.h"
#include "tf_db.h"
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (protodoc, .timeout = 30);

Test (protodoc, document_matches_the_definition)
{
    char *generated = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&generated, &size);
    protodoc_write (out);
    fclose (out);
    char path [4200];
    snprintf (path, sizeof path, "%s/proto/events.md", tf_home ());
    FILE *doc = fopen (path, "r");
    cr_assert (doc, "cannot read %s", path);
    char *text = calloc (1, 1 << 20);
    size_t n = fread (text, 1, (1 << 20) - 1, doc);
    fclose (doc);
    text [n] = 0;
    cr_assert (strstr (text, generated),
               "proto/events.md is out of date: run bin/ticketflow-protodoc and paste its output "
               "over the generated section");
    free (text);
    free (generated);
}

Test (protodoc, every_error_code_is_documented)
{
    char path [4200];
    snprintf (path, sizeof path, "%s/proto/events.md", tf_home ());
    FILE *doc = fopen (path, "r");
    cr_assert (doc);
    char *text = calloc (1, 1 << 20);
    size_t n = fread (text, 1, (1 << 20) - 1, doc);
    fclose (doc);
    text [n] = 0;
    const char *codes [] = { TF_ERR_BAD_FRAMES, TF_ERR_UNKNOWN_TYPE, TF_ERR_BAD_MSGPACK,
                             TF_ERR_MISSING_FIELD, TF_ERR_WRONG_TYPE, TF_ERR_TOO_LONG, TF_ERR_BAD_UTF8,
                             TF_ERR_BAD_VALUE, TF_ERR_DUPLICATE_KEY, TF_ERR_NOT_FOUND,
                             TF_ERR_ILLEGAL_TRANSITION, TF_ERR_UNAVAILABLE, TF_ERR_INTERNAL, "bad_json" };
    for (size_t i = 0; i < sizeof codes / sizeof codes [0]; i++) {
        char row [64];
        snprintf (row, sizeof row, "| `%s` |", codes [i]);
        cr_assert (strstr (text, row), "error code %s is not in the error table", codes [i]);
    }
    free (text);
}

Test (protodoc, readme_lists_every_setting)
{
    char *generated = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&generated, &size);
    protodoc_write_settings (out);
    fclose (out);
    char path [4200];
    snprintf (path, sizeof path, "%s/README.md", tf_home ());
    FILE *doc = fopen (path, "r");
    cr_assert (doc, "cannot read %s", path);
    char *text = calloc (1, 1 << 20);
    size_t n = fread (text, 1, (1 << 20) - 1, doc);
    fclose (doc);
    text [n] = 0;
    cr_assert (strstr (text, generated),
               "README.md's settings table is out of date: run bin/ticketflow-protodoc --settings");
    free (text);
    free (generated);
}

Test (protodoc, both_documents_carry_the_status_tables)
{
    char *generated = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&generated, &size);
    protodoc_write_statuses (out);
    fclose (out);
    const char *documents [] = { "proto/events.md", "README.md" };
    for (int d = 0; d < 2; d++) {
        char path [4200];
        snprintf (path, sizeof path, "%s/%s", tf_home (), documents [d]);
        FILE *doc = fopen (path, "r");
        cr_assert (doc, "cannot read %s", path);
        char *text = calloc (1, 1 << 20);
        size_t n = fread (text, 1, (1 << 20) - 1, doc);
        fclose (doc);
        text [n] = 0;
        cr_assert (strstr (text, generated),
                   "%s's status tables are out of date: run bin/ticketflow-protodoc --statuses", documents [d]);
        free (text);
    }
    free (generated);
}
