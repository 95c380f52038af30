/*  =========================================================================
    test_csvread - RFC 4180 CSV and TSV reader
    =========================================================================
*/
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../services/classifier/csvread.h"

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (csvread, .timeout = 30);

static csvread_t *
s_reader (const char *data, size_t size, csvread_format_t format)
{
    char err [256] = "";
    csvread_t *r = csvread_new_buffer (data, size, format, "t.csv", err, sizeof err);
    cr_assert_not_null (r, "open failed: %s", err);
    return r;
}

static void
s_expect_field (csvread_t *r, size_t i, const char *expect, size_t expect_len)
{
    size_t len = 0;
    const char *f = csvread_field (r, i, &len);
    cr_assert_not_null (f);
    cr_expect_eq (len, expect_len, "field %zu length %zu, expected %zu", i, len, expect_len);
    cr_expect (memcmp (f, expect, expect_len) == 0, "field %zu is \"%s\"", i, f);
    cr_expect_eq (f [len], 0, "NUL-terminated");
}

#define EXPECT_FIELD(r, i, s) s_expect_field ((r), (i), (s), sizeof (s) - 1)

static char s_dir [64];

static void
s_make_dir (void)
{
    strcpy (s_dir, "/tmp/test_csvread.XXXXXX");
    cr_assert_not_null (mkdtemp (s_dir));
}

static void
s_remove_dir (void)
{
    char cmd [128];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    cr_expect_eq (system (cmd), 0);
}

static void
s_write (const char *path, const char *data, size_t size)
{
    FILE *f = fopen (path, "wb");
    cr_assert_not_null (f);
    cr_assert_eq (fwrite (data, 1, size, f), size);
    fclose (f);
}

#define WRITE_STR(path, s) s_write ((path), (s), sizeof (s) - 1)

Test (csvread, quoted_newline_and_crlf)
{
    const char data [] = "text,category\r\n"
                         "\"hello\r\nworld\",greet\r\n"
                         "plain,other\r\n"
                         "\"a,b\",\"\"\r\n";
    csvread_t *r = s_reader (data, sizeof data - 1, CSVREAD_CSV);
    cr_expect_eq (csvread_column_count (r), 2);
    cr_expect_str_eq (csvread_column_name (r, 0), "text");
    cr_expect_str_eq (csvread_column_name (r, 1), "category");
    cr_expect_null (csvread_column_name (r, 2));

    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "hello\r\nworld");
    EXPECT_FIELD (r, 1, "greet");
    cr_expect_eq (csvread_line (r), 2);
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "plain");
    cr_expect_eq (csvread_line (r), 4, "the quoted newline counts as a line");
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "a,b");
    EXPECT_FIELD (r, 1, "");
    cr_expect_null (csvread_field (r, 2, NULL));
    cr_expect_eq (csvread_next (r), 0);
    cr_expect_eq (csvread_next (r), 0, "end stays end");
    csvread_destroy (&r);
    cr_expect_null (r);
    csvread_destroy (&r);
}

Test (csvread, doubled_quotes)
{
    const char data [] = "a,b\n\"say \"\"hi\"\"\",\"\"\"\"\nx\"y,z\n";
    csvread_t *r = s_reader (data, sizeof data - 1, CSVREAD_CSV);
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "say \"hi\"");
    EXPECT_FIELD (r, 1, "\"");
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "x\"y");           //  a quote inside an unquoted field is literal
    EXPECT_FIELD (r, 1, "z");
    cr_expect_eq (csvread_next (r), 0);
    csvread_destroy (&r);
}

Test (csvread, bom_blank_lines_and_no_final_newline)
{
    const char data [] = "\xEF\xBB\xBFtext,label\n\nhi,a\n\r\n\nbye,b";
    csvread_t *r = s_reader (data, sizeof data - 1, CSVREAD_CSV);
    cr_expect_str_eq (csvread_column_name (r, 0), "text", "BOM is not part of the name");
    cr_expect_eq (csvread_column_index (r, "text"), 0);
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "hi");
    cr_expect_eq (csvread_line (r), 3);
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "bye");
    EXPECT_FIELD (r, 1, "b");
    cr_expect_eq (csvread_line (r), 6);
    cr_expect_eq (csvread_next (r), 0);
    csvread_destroy (&r);
}

Test (csvread, lone_cr_line_endings)
{
    const char data [] = "a,b\r1,2\r3,4";
    csvread_t *r = s_reader (data, sizeof data - 1, CSVREAD_CSV);
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 1, "2");
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "3");
    cr_expect_eq (csvread_line (r), 3);
    cr_expect_eq (csvread_next (r), 0);
    csvread_destroy (&r);
}

Test (csvread, tsv)
{
    const char data [] = "text\tlabel\nhello, \"world\"\tgreet\r\n\tempty\n";
    csvread_t *r = s_reader (data, sizeof data - 1, CSVREAD_TSV);
    cr_expect_eq (csvread_column_index (r, "label"), 1);
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "hello, \"world\"");   //  no quoting in TSV
    EXPECT_FIELD (r, 1, "greet");
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "");
    EXPECT_FIELD (r, 1, "empty");
    cr_expect_eq (csvread_next (r), 0);
    csvread_destroy (&r);
}

Test (csvread, embedded_nul)
{
    const char data [] = "a,b\n\"x\0y\",z\n";
    csvread_t *r = s_reader (data, sizeof data - 1, CSVREAD_CSV);
    cr_assert_eq (csvread_next (r), 1);
    s_expect_field (r, 0, "x\0y", 3);
    csvread_destroy (&r);
}

Test (csvread, missing_column)
{
    const char data [] = "text,category\nhi,a\n";
    csvread_t *r = s_reader (data, sizeof data - 1, CSVREAD_CSV);
    cr_expect_eq (csvread_column_index (r, "label"), -1);
    cr_expect_eq (csvread_column_index (r, "Text"), -1, "names are exact");
    cr_expect_eq (csvread_column_index (r, "category"), 1);
    csvread_destroy (&r);
}

Test (csvread, ragged_row_reports_line)
{
    const char data [] = "a,b\r\n1,2\r\n\"multi\r\nline\",4\r\n5\r\n6,7\r\n";
    csvread_t *r = s_reader (data, sizeof data - 1, CSVREAD_CSV);
    cr_assert_eq (csvread_next (r), 1);
    cr_assert_eq (csvread_next (r), 1);
    cr_expect_eq (csvread_next (r), -1);
    cr_expect (strstr (csvread_error (r), "t.csv:5:"), "error: %s", csvread_error (r));
    cr_expect (strstr (csvread_error (r), "expected 2 fields"), "error: %s", csvread_error (r));
    cr_expect_null (csvread_field (r, 0, NULL));
    cr_expect_eq (csvread_next (r), -1, "errors are sticky");
    csvread_destroy (&r);

    const char wide [] = "a,b\n1,2,3\n";
    r = s_reader (wide, sizeof wide - 1, CSVREAD_CSV);
    cr_expect_eq (csvread_next (r), -1);
    cr_expect (strstr (csvread_error (r), "t.csv:2:"), "error: %s", csvread_error (r));
    csvread_destroy (&r);
}

Test (csvread, unterminated_quote)
{
    const char data [] = "a,b\n1,2\n\"never closed,3\n4,5\n";
    csvread_t *r = s_reader (data, sizeof data - 1, CSVREAD_CSV);
    cr_assert_eq (csvread_next (r), 1);
    cr_expect_eq (csvread_next (r), -1);
    cr_expect (strstr (csvread_error (r), "unterminated"), "error: %s", csvread_error (r));
    cr_expect (strstr (csvread_error (r), "line 3"), "error: %s", csvread_error (r));
    csvread_destroy (&r);

    //  In the header itself: open fails with the message
    char err [256] = "";
    const char head [] = "\"a,b\n";
    cr_expect_null (csvread_new_buffer (head, sizeof head - 1, CSVREAD_CSV, NULL, err, sizeof err));
    cr_expect (strstr (err, "unterminated"), "error: %s", err);
}

Test (csvread, junk_after_closing_quote)
{
    const char data [] = "a,b\n\"x\"y,2\n";
    csvread_t *r = s_reader (data, sizeof data - 1, CSVREAD_CSV);
    cr_expect_eq (csvread_next (r), -1);
    cr_expect (strstr (csvread_error (r), "after closing quote"), "error: %s", csvread_error (r));
    csvread_destroy (&r);
}

Test (csvread, empty_input)
{
    char err [256] = "";
    cr_expect_null (csvread_new_buffer ("", 0, CSVREAD_CSV, NULL, err, sizeof err));
    cr_expect (strstr (err, "no header"), "error: %s", err);
    err [0] = 0;
    cr_expect_null (csvread_new_buffer ("\xEF\xBB\xBF\r\n\n", 5, CSVREAD_CSV, NULL, err, sizeof err));
    cr_expect (strstr (err, "no header"), "error: %s", err);
    //  A header and nothing else is fine: zero rows
    csvread_t *r = s_reader ("text,label\n", 11, CSVREAD_CSV);
    cr_expect_eq (csvread_next (r), 0);
    csvread_destroy (&r);
}

Test (csvread, files_and_auto_format, .init = s_make_dir, .fini = s_remove_dir)
{
    char path [128], err [256] = "";
    snprintf (path, sizeof path, "%s/data.tsv", s_dir);
    WRITE_STR (path, "text\tlabel\na,b\tc\n");
    csvread_t *r = csvread_open (path, CSVREAD_AUTO, err, sizeof err);
    cr_assert_not_null (r, "%s", err);
    cr_assert_eq (csvread_next (r), 1);
    EXPECT_FIELD (r, 0, "a,b");                 //  .tsv: tab-separated
    csvread_destroy (&r);

    //  A file bigger than one read block, with a quoted newline in each row
    snprintf (path, sizeof path, "%s/big.csv", s_dir);
    FILE *f = fopen (path, "wb");
    cr_assert_not_null (f);
    fputs ("text,label\r\n", f);
    for (int i = 0; i < 5000; i++)
        fprintf (f, "\"row %d has\r\na newline and \"\"quotes\"\"\",L%d\r\n", i, i % 7);
    fclose (f);
    r = csvread_open (path, CSVREAD_AUTO, err, sizeof err);
    cr_assert_not_null (r, "%s", err);
    int rows = 0, rc;
    while ((rc = csvread_next (r)) == 1) {
        char expect [80];
        snprintf (expect, sizeof expect, "row %d has\r\na newline and \"quotes\"", rows);
        cr_assert_str_eq (csvread_field (r, 0, NULL), expect);
        cr_assert_eq (csvread_line (r), (size_t) rows * 2 + 2);
        rows++;
    }
    cr_expect_eq (rc, 0, "%s", csvread_error (r));
    cr_expect_eq (rows, 5000);
    csvread_destroy (&r);

    snprintf (path, sizeof path, "%s/missing.csv", s_dir);
    cr_expect_null (csvread_open (path, CSVREAD_AUTO, err, sizeof err));
    cr_expect (strstr (err, "cannot open"), "error: %s", err);
}

Test (csvread, pairs_load, .init = s_make_dir, .fini = s_remove_dir)
{
    char a [128], b [128], c [128], err [256] = "";
    snprintf (a, sizeof a, "%s/a.csv", s_dir);
    snprintf (b, sizeof b, "%s/b.tsv", s_dir);
    snprintf (c, sizeof c, "%s/c.csv", s_dir);
    WRITE_STR (a, "id,text,category,label\n1,hello, x , y\n2,skip me,  ,z\n");
    WRITE_STR (b, "label\ttext\nfix\tcorrected row\n");
    WRITE_STR (c, "text,label\nok,1\nbroken\n");

    csvread_pairs_t *p = csvread_pairs_new ();
    cr_assert_not_null (p);
    //  Default label column: "category" when present
    cr_expect_eq (csvread_pairs_load (p, a, CSVREAD_AUTO, "text", NULL, err, sizeof err), 1, "%s", err);
    cr_expect_eq (p->skipped, 1);
    cr_expect_str_eq (p->texts [0], "hello");
    cr_expect_str_eq (p->labels [0], "x", "label is trimmed");
    //  Else "label"; rows append
    cr_expect_eq (csvread_pairs_load (p, b, CSVREAD_AUTO, "text", NULL, err, sizeof err), 1, "%s", err);
    cr_expect_eq (p->count, 2);
    cr_expect_str_eq (p->labels [1], "fix");
    cr_expect_eq (p->lens [1], strlen ("corrected row"));
    //  A broken file adds nothing and names the line
    cr_expect_eq (csvread_pairs_load (p, c, CSVREAD_AUTO, "text", NULL, err, sizeof err), -1);
    cr_expect (strstr (err, "c.csv:3:"), "error: %s", err);
    cr_expect_eq (p->count, 2);
    //  Missing column named in the message, with the columns there are
    cr_expect_eq (csvread_pairs_load (p, a, CSVREAD_AUTO, "body", NULL, err, sizeof err), -1);
    cr_expect (strstr (err, "\"body\""), "error: %s", err);
    cr_expect (strstr (err, "\"category\""), "error: %s", err);
    cr_expect_eq (csvread_pairs_load (p, a, CSVREAD_AUTO, "text", "subcategory", err, sizeof err), -1);
    cr_expect (strstr (err, "subcategory"), "error: %s", err);
    cr_expect_eq (p->count, 2);
    csvread_pairs_destroy (&p);
    cr_expect_null (p);
}
