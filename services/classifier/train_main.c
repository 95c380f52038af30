/*  =========================================================================
    ticketflow-train - train the ticket classifier from labelled CSV/TSV

    Reads one or more labelled files, trains a linmodel and saves it, or
    cross-validates it with --cv K. See --help.
    =========================================================================
*/
#include "classifier_model.h"
#include "classifier_cli.h"
#include "csvread.h"
#include "linmodel.h"
#include "tf_db.h"
#include "tf_log.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DATA_FILES 64

static void
s_usage (FILE *out)
{
    linmodel_params_t p;
    linmodel_params_default (&p);
    fprintf (out,
"usage: ticketflow-train --data FILE [--data FILE ...] [--corrections] --out MODEL [options]\n"
"       ticketflow-train --data FILE --cv K [--out MODEL] [options]\n"
"\n"
"Train the ticket text classifier (one-vs-rest linear SVM over word 1-3\n"
"grams, char 2-5 grams and CJK char 1-3 grams, tf-idf, probabilities\n"
"calibrated by temperature scaling on held-out folds).\n"
"\n"
"  --data FILE          labelled CSV (RFC 4180) or TSV with a header row;\n"
"                       repeat to add rows, e.g. agent corrections\n"
"  --corrections        also learn from the agents: add every row of the\n"
"                       database's classification_corrections (the masked\n"
"                       text -> the sub-category a person chose; the latest\n"
"                       correction of each ticket). Labels are sub-categories:\n"
"                       use it for the sub-category model, not third_level.\n"
"                       The database is --database-url, else\n"
"                       TICKETFLOW_DATABASE_URL, else DATABASE_URL, else\n"
"                       dbname=ticketflow\n"
"  --database-url URL   libpq connection string for --corrections\n"
"  --out MODEL          write the model here (atomically); required unless --cv\n"
"  --text-column C      column holding the text (default: text)\n"
"  --label-column C     column holding the label (default: category if the\n"
"                       file has one, else label)\n"
"  --format csv|tsv     file format (default: tsv for *.tsv, else csv)\n"
"  --cv K               stratified K-fold cross-validation of the data; prints\n"
"                       each fold and, last, the mean:\n"
"                       accuracy <a> macro_f1 <f> n <N>\n"
"  --seed N             shuffling seed (default %llu)\n"
"  --c X                SVM cost C, larger fits harder (default %g)\n"
"  --min-df N           drop features seen in fewer than N texts (default %d)\n"
"  --epochs N           max solver passes per class (default %d)\n"
"  --eps X              solver tolerance (default %g)\n"
"  --calib-folds N      folds for the temperature fit, 0 = none (default %d)\n"
"  --temperature T      temperature when not fitted (default %g)\n"
"  --verbose            progress on stderr\n"
"  --help               this text\n"
"\n"
"Rows with an empty label are skipped. Exit status: 0 ok, 1 failure, 2 usage.\n",
        (unsigned long long) p.seed, p.c, p.min_df, p.epochs, p.eps,
        p.calib_folds, p.temperature);
}

static uint64_t
s_rand (uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

typedef struct {
    const char *label;
    size_t row;
} label_row_t;

static int
s_label_row_cmp (const void *a, const void *b)
{
    const label_row_t *x = (const label_row_t *) a, *y = (const label_row_t *) b;
    int c = strcmp (x->label, y->label);
    return c? c: (x->row > y->row) - (x->row < y->row);
}

//  Stratified K-fold cross-validation. Returns 0 or -1.
static int
s_cross_validate (csvread_pairs_t *data, size_t k, const linmodel_params_t *p,
                  linmodel_metrics_t *mean)
{
    size_t n = data->count;
    label_row_t *lr = (label_row_t *) malloc (n * sizeof (label_row_t));
    size_t *fold_of = (size_t *) malloc (n * sizeof (size_t));
    const char **texts = (const char **) malloc (n * sizeof (char *));
    size_t *lens = (size_t *) malloc (n * sizeof (size_t));
    const char **labels = (const char **) malloc (n * sizeof (char *));
    const char **gold = (const char **) malloc (n * sizeof (char *));
    const char **pred = (const char **) malloc (n * sizeof (char *));
    int rc = -1;
    if (!lr || !fold_of || !texts || !lens || !labels || !gold || !pred) {
        fprintf (stderr, "ticketflow-train: out of memory\n");
        goto done;
    }
    //  Group rows by label, shuffle within each label, deal round-robin
    uint64_t rng = p->seed;
    for (size_t i = 0; i < n; i++) {
        lr [i].label = data->labels [i];
        lr [i].row = i;
    }
    qsort (lr, n, sizeof (label_row_t), s_label_row_cmp);
    size_t deal = 0;
    for (size_t i = 0; i < n; ) {
        size_t j = i;
        while (j < n && strcmp (lr [j].label, lr [i].label) == 0)
            j++;
        for (size_t a = i; a + 1 < j; a++) {
            size_t b = a + (size_t) (s_rand (&rng) % (j - a));
            label_row_t t = lr [a];
            lr [a] = lr [b];
            lr [b] = t;
        }
        for (size_t a = i; a < j; a++)
            fold_of [lr [a].row] = deal++ % k;
        i = j;
    }
    memset (mean, 0, sizeof (*mean));
    for (size_t f = 0; f < k; f++) {
        size_t m = 0, h = 0;
        for (size_t i = 0; i < n; i++)
            if (fold_of [i] != f) {
                texts [m] = data->texts [i];
                lens [m] = data->lens [i];
                labels [m] = data->labels [i];
                m++;
            }
        char err [256];
        double t0 = classifier_cli_now ();
        linmodel_t *model = linmodel_train (texts, lens, labels, m, p, err, sizeof err);
        double t1 = classifier_cli_now ();
        if (!model) {
            fprintf (stderr, "ticketflow-train: fold %zu: %s\n", f + 1, err);
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            if (fold_of [i] == f) {
                linmodel_guess_t g;
                gold [h] = data->labels [i];
                pred [h] = linmodel_predict (model, data->texts [i], data->lens [i], &g, 1)
                         ? g.label: "";
                h++;
            }
        linmodel_metrics_t fm;
        if (linmodel_metrics (gold, pred, h, &fm, NULL)) {
            linmodel_destroy (&model);
            fprintf (stderr, "ticketflow-train: out of memory\n");
            goto done;
        }
        printf ("fold %zu/%zu: accuracy %.4f macro_f1 %.4f n %zu train_rows %zu "
                "train_seconds %.2f\n", f + 1, k, fm.accuracy, fm.macro_f1, fm.n, m, t1 - t0);
        fflush (stdout);
        linmodel_destroy (&model);
        mean->accuracy += fm.accuracy / (double) k;
        mean->macro_f1 += fm.macro_f1 / (double) k;
        mean->correct += fm.correct;
    }
    mean->n = n;
    rc = 0;
done:
    free (lr);
    free (fold_of);
    free (texts);
    free (lens);
    free (labels);
    free (gold);
    free (pred);
    return rc;
}

int
main (int argc, char *argv [])
{
    const char *data_files [MAX_DATA_FILES];
    size_t n_data = 0;
    const char *out_path = NULL;
    classifier_cli_data_t columns = { "text", NULL, CSVREAD_AUTO };
    long cv = 0;
    bool corrections = false;
    const char *database_url = NULL;
    linmodel_params_t p;
    linmodel_params_default (&p);

    static const char *valued [] = { "--data", "--out", "--text-column", "--label-column", "--format",
                                     "--cv", "--seed", "--c", "--min-df", "--epochs", "--eps",
                                     "--calib-folds", "--temperature", "--database-url", NULL };
    static const char *switches [] = { "--help", "--verbose", "--corrections", NULL };
    classifier_cli_t cli = { "ticketflow-train", valued, switches, 1 };
    const char *arg, *val;
    int more;
    while ((more = classifier_cli_next (&cli, argc, argv, &arg, &val)) > 0) {
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            s_usage (stdout);
            return 0;
        }
        if (strcmp (arg, "--verbose") == 0) {
            p.verbose = 1;
            continue;
        }
        if (strcmp (arg, "--corrections") == 0) {
            corrections = true;
            continue;
        }
        int shared = classifier_cli_data_option (&columns, cli.program, arg, val);
        if (shared < 0)
            return 2;
        if (shared)
            continue;
        long lv;
        double dv;
        int bad = 0;
        if (strcmp (arg, "--data") == 0) {
            if (n_data == MAX_DATA_FILES) {
                fprintf (stderr, "ticketflow-train: at most %d --data files\n", MAX_DATA_FILES);
                return 2;
            }
            data_files [n_data++] = val;
        }
        else
        if (strcmp (arg, "--out") == 0)
            out_path = val;
        else
        if (strcmp (arg, "--database-url") == 0)
            database_url = val;
        else
        if (strcmp (arg, "--cv") == 0)
            bad = classifier_cli_long (val, 2, 100, &cv);
        else
        if (strcmp (arg, "--seed") == 0) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull (val, &end, 10);
            bad = errno || end == val || *end;
            p.seed = v;
        }
        else
        if (strcmp (arg, "--c") == 0)
            bad = classifier_cli_double (val, &p.c) || !(p.c > 0 && p.c < 1e6);
        else
        if (strcmp (arg, "--min-df") == 0) {
            bad = classifier_cli_long (val, 1, 1000000, &lv);
            p.min_df = (int) lv;
        }
        else
        if (strcmp (arg, "--epochs") == 0) {
            bad = classifier_cli_long (val, 1, 100000, &lv);
            p.epochs = (int) lv;
        }
        else
        if (strcmp (arg, "--eps") == 0)
            bad = classifier_cli_double (val, &p.eps) || !(p.eps > 0 && p.eps < 1e3);
        else
        if (strcmp (arg, "--calib-folds") == 0) {
            bad = classifier_cli_long (val, 0, 20, &lv);
            p.calib_folds = (int) lv;
        }
        else
        if (strcmp (arg, "--temperature") == 0) {
            bad = classifier_cli_double (val, &dv) || !(dv >= 1e-4 && dv <= 1e4);
            p.temperature = dv;
        }
        if (bad) {
            fprintf (stderr, "ticketflow-train: bad value for %s: \"%s\"\n", arg, val);
            return 2;
        }
    }
    if (more < 0) {
        s_usage (stderr);
        return 2;
    }
    const char *text_col = columns.text_column, *label_col = columns.label_column;
    csvread_format_t format = columns.format;
    if ((n_data == 0 && !corrections) || (!out_path && !cv)) {
        fprintf (stderr, "ticketflow-train: need --data (or --corrections) and --out (or --cv K)\n");
        s_usage (stderr);
        return 2;
    }

    csvread_pairs_t *data = csvread_pairs_new ();
    if (!data) {
        fprintf (stderr, "ticketflow-train: out of memory\n");
        return 1;
    }
    for (size_t f = 0; f < n_data; f++) {
        char err [512];
        long rows = csvread_pairs_load (data, data_files [f], format, text_col, label_col,
                                        err, sizeof err);
        if (rows < 0) {
            fprintf (stderr, "ticketflow-train: %s\n", err);
            csvread_pairs_destroy (&data);
            return 1;
        }
        printf ("data %s: %ld rows\n", data_files [f], rows);
    }
    if (data->skipped)
        printf ("skipped %zu rows with an empty label\n", data->skipped);
    if (corrections) {
        if (!database_url)
            database_url = getenv ("TICKETFLOW_DATABASE_URL");
        if (!database_url || !*database_url)
            database_url = getenv ("DATABASE_URL");
        if (!database_url || !*database_url)
            database_url = "dbname=ticketflow";
        tf_log_init ("train", "error");
        tf_db_t *db = tf_db_new (database_url, "ticketflow-train", NULL, 0);
        char err [512];
        long rows = db? classifier_corrections_load (db, data, err, sizeof err): -1;
        if (!db)
            snprintf (err, sizeof err, "cannot connect to the database '%s'", database_url);
        tf_db_destroy (&db);
        if (rows < 0) {
            fprintf (stderr, "ticketflow-train: --corrections: %s\n", err);
            csvread_pairs_destroy (&data);
            return 1;
        }
        printf ("corrections from the database: %ld rows\n", rows);
    }

    int rc = 0;
    linmodel_metrics_t cv_mean;
    if (cv) {
        if (data->count < (size_t) cv * 2) {
            fprintf (stderr, "ticketflow-train: %zu rows are too few for %ld folds\n",
                     data->count, cv);
            csvread_pairs_destroy (&data);
            return 1;
        }
        if (s_cross_validate (data, (size_t) cv, &p, &cv_mean)) {
            csvread_pairs_destroy (&data);
            return 1;
        }
    }
    if (out_path) {
        char err [512];
        double t0 = classifier_cli_now ();
        clock_t c0 = clock ();
        linmodel_t *model = linmodel_train ((const char *const *) data->texts, data->lens,
                                            (const char *const *) data->labels, data->count,
                                            &p, err, sizeof err);
        double t1 = classifier_cli_now ();
        clock_t c1 = clock ();
        if (!model) {
            fprintf (stderr, "ticketflow-train: %s\n", err);
            rc = 1;
        }
        else {
            printf ("trained %zu rows, %zu labels, %zu features, temperature %.4f\n",
                    data->count, linmodel_label_count (model),
                    linmodel_feature_count (model), linmodel_temperature (model));
            printf ("train_seconds %.2f cpu_seconds %.2f\n", t1 - t0,
                    (double) (c1 - c0) / CLOCKS_PER_SEC);
            if (linmodel_save (model, out_path, err, sizeof err)) {
                fprintf (stderr, "ticketflow-train: %s\n", err);
                rc = 1;
            }
            else
                printf ("saved %s\n", out_path);
            linmodel_destroy (&model);
        }
    }
    if (cv && rc == 0)
        printf ("accuracy %.4f macro_f1 %.4f n %zu\n", cv_mean.accuracy, cv_mean.macro_f1,
                cv_mean.n);
    csvread_pairs_destroy (&data);
    return rc;
}
