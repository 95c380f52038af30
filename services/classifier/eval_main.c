/*  =========================================================================
    ticketflow-eval - evaluate a classifier model on labelled CSV/TSV

    The last line of output is always
        accuracy <a> macro_f1 <f> n <N>
    on success. See --help.
    =========================================================================
*/
#include "classifier.h"
#include "classifier_model.h"
#include "classifier_cli.h"
#include "csvread.h"
#include "linmodel.h"
#include "tf_db.h"
#include "tf_log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static void
s_usage (FILE *out)
{
    fprintf (out,
"usage: ticketflow-eval --model MODEL --data FILE [options]\n"
"\n"
"Classify every row of a labelled file with a model from ticketflow-train\n"
"and print, as the last line: accuracy <a> macro_f1 <f> n <N>\n"
"\n"
"  --model MODEL        model file\n"
"  --data FILE          labelled CSV (RFC 4180) or TSV with a header row\n"
"  --text-column C      column holding the text (default: text)\n"
"  --label-column C     column holding the label (default: category if the\n"
"                       file has one, else label)\n"
"  --format csv|tsv     file format (default: tsv for *.tsv, else csv)\n"
"  --verbose            per-label precision/recall/F1, calibration table and\n"
"                       accuracy/coverage at confidence thresholds\n"
"  --bench N            also classify the data N more times, single thread,\n"
"                       and print classify_per_sec <n> and max_rss_kb <n>\n"
"  --service            classify as the classifier service does\n"
"                       (classifier_decide): MODEL and third_level.model next\n"
"                       to it, the taxonomy's keywords, the lexicon's priority\n"
"                       reasons and sentiment; with --bench its max_rss_kb is\n"
"                       the service's classification memory with both models\n"
"  --taxonomy FILE      taxonomy.json for --service (default\n"
"                       $TICKETFLOW_HOME/deploy/taxonomy/taxonomy.json; the\n"
"                       lexicon.json next to it is read too)\n"
"  --help               this text\n"
"\n"
"Exit status: 0 ok, 1 failure (unreadable/corrupt model or data), 2 usage.\n");
}

//  Reliability of the probabilities: ten confidence bins, expected
//  calibration error, and how many tickets a threshold would auto-route
static void
s_calibration_report (const double *conf, const char *const *gold,
                      const char *const *pred, size_t n)
{
    size_t bin_n [10] = { 0 }, bin_right [10] = { 0 };
    double bin_conf [10] = { 0 };
    for (size_t i = 0; i < n; i++) {
        int b = (int) (conf [i] * 10);
        if (b > 9)
            b = 9;
        if (b < 0)
            b = 0;
        bin_n [b]++;
        bin_conf [b] += conf [i];
        bin_right [b] += strcmp (gold [i], pred [i]) == 0;
    }
    double ece = 0;
    printf ("calibration: confidence-bin  n  mean-confidence  accuracy\n");
    for (int b = 0; b < 10; b++) {
        if (!bin_n [b])
            continue;
        double mc = bin_conf [b] / (double) bin_n [b];
        double acc = (double) bin_right [b] / (double) bin_n [b];
        ece += (double) bin_n [b] / (double) n * (mc > acc? mc - acc: acc - mc);
        printf ("calibration: [%.1f,%.1f) %6zu %8.4f %8.4f\n", b / 10.0, (b + 1) / 10.0,
                bin_n [b], mc, acc);
    }
    printf ("calibration: expected_calibration_error %.4f\n", ece);
    static const double thresholds [] = { 0.3, 0.5, 0.7, 0.8, 0.9, 0.95 };
    for (size_t t = 0; t < sizeof thresholds / sizeof thresholds [0]; t++) {
        size_t covered = 0, right = 0;
        for (size_t i = 0; i < n; i++)
            if (conf [i] >= thresholds [t]) {
                covered++;
                right += strcmp (gold [i], pred [i]) == 0;
            }
        printf ("threshold %.2f: auto-routed %.4f accuracy %.4f (to a person: %zu)\n",
                thresholds [t], (double) covered / (double) n,
                covered? (double) right / (double) covered: 0.0, n - covered);
    }
}

int
main (int argc, char *argv [])
{
    const char *model_path = NULL, *data_path = NULL;
    classifier_cli_data_t columns = { "text", NULL, CSVREAD_AUTO };
    int verbose = 0, service = 0;
    long bench = 0;
    const char *taxonomy = NULL;

    static const char *valued [] = { "--model", "--data", "--text-column", "--label-column", "--format",
                                     "--bench", "--taxonomy", NULL };
    static const char *switches [] = { "--help", "--verbose", "--service", NULL };
    classifier_cli_t cli = { "ticketflow-eval", valued, switches, 1 };
    const char *arg, *val;
    int more;
    while ((more = classifier_cli_next (&cli, argc, argv, &arg, &val)) > 0) {
        if (strcmp (arg, "--help") == 0 || strcmp (arg, "-h") == 0) {
            s_usage (stdout);
            return 0;
        }
        if (strcmp (arg, "--verbose") == 0) {
            verbose = 1;
            continue;
        }
        if (strcmp (arg, "--service") == 0) {
            service = 1;
            continue;
        }
        int shared = classifier_cli_data_option (&columns, cli.program, arg, val);
        if (shared < 0)
            return 2;
        if (shared)
            continue;
        if (strcmp (arg, "--model") == 0)
            model_path = val;
        else
        if (strcmp (arg, "--data") == 0)
            data_path = val;
        else
        if (strcmp (arg, "--taxonomy") == 0)
            taxonomy = val;
        else
        if (strcmp (arg, "--bench") == 0 && classifier_cli_long (val, 0, 1000000, &bench)) {
            fprintf (stderr, "ticketflow-eval: bad value for --bench: \"%s\"\n", val);
            return 2;
        }
    }
    if (more < 0) {
        s_usage (stderr);
        return 2;
    }
    const char *text_col = columns.text_column, *label_col = columns.label_column;
    csvread_format_t format = columns.format;
    if (!model_path || !data_path) {
        fprintf (stderr, "ticketflow-eval: need --model and --data\n");
        s_usage (stderr);
        return 2;
    }

    char err [512];
    double t0 = classifier_cli_now ();
    classifier_t *classifier = NULL;
    classifier_models_t *models = NULL;
    linmodel_t *model = NULL;
    if (service) {
        //  the service's classifier: both models, taxonomy, lexicon
        tf_log_init ("eval", "warn");
        char taxonomy_path [4096], lexicon_path [4096];
        snprintf (taxonomy_path, sizeof taxonomy_path, "%s",
                  taxonomy? taxonomy: "");
        if (!taxonomy)
            snprintf (taxonomy_path, sizeof taxonomy_path, "%s/deploy/taxonomy/taxonomy.json", tf_home ());
        const char *slash = strrchr (taxonomy_path, '/');
        snprintf (lexicon_path, sizeof lexicon_path, "%.*slexicon.json",
                  slash? (int) (slash - taxonomy_path + 1): 0, taxonomy_path);
        models = classifier_models_load (model_path, err, sizeof err);
        classifier = classifier_new (NULL, 0.5);
        if (!models || classifier_load_taxonomy_file (classifier, taxonomy_path) <= 0) {
            fprintf (stderr, "ticketflow-eval: %s\n", models? "no taxonomy": err);
            classifier_models_destroy (&models);
            classifier_destroy (&classifier);
            return 1;
        }
        classifier_load_lexicon (classifier, lexicon_path);
        classifier_models_attach (models, classifier);
        classifier_models_check (models, classifier);
        model = classifier_models_main (models);
    }
    else
        model = linmodel_load (model_path, err, sizeof err);
    if (!model) {
        fprintf (stderr, "ticketflow-eval: %s\n", err);
        return 1;
    }
    double t1 = classifier_cli_now ();
    csvread_pairs_t *data = csvread_pairs_new ();
    if (!data || csvread_pairs_load (data, data_path, format, text_col, label_col,
                                     err, sizeof err) < 0) {
        fprintf (stderr, "ticketflow-eval: %s\n", data? err: "out of memory");
        csvread_pairs_destroy (&data);
        if (classifier) {
            classifier_destroy (&classifier);
            classifier_models_destroy (&models);
        }
        else
            linmodel_destroy (&model);
        return 1;
    }
    size_t n = data->count;
    const char **pred = (const char **) malloc ((n? n: 1) * sizeof (char *));
    double *conf = (double *) malloc ((n? n: 1) * sizeof (double));
    if (!pred || !conf) {
        fprintf (stderr, "ticketflow-eval: out of memory\n");
        free (pred);
        free (conf);
        csvread_pairs_destroy (&data);
        if (classifier) {
            classifier_destroy (&classifier);
            classifier_models_destroy (&models);
        }
        else
            linmodel_destroy (&model);
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        linmodel_guess_t g;
        if (classifier) {
            classifier_result_t r;
            classifier_decide (classifier, data->texts [i], data->lens [i], NULL, &r);
            pred [i] = r.subcategory? r.subcategory: "";
            conf [i] = r.confidence;
        }
        else
        if (linmodel_predict (model, data->texts [i], data->lens [i], &g, 1)) {
            pred [i] = g.label;
            conf [i] = g.prob;
        }
        else {
            pred [i] = "";
            conf [i] = 0;
        }
    }
    linmodel_metrics_t m;
    int rc = linmodel_metrics ((const char *const *) data->labels, pred, n, &m,
                               verbose? stdout: NULL);
    if (rc == 0) {
        if (verbose) {
            printf ("model %s: %zu labels, %zu features, temperature %.4f, "
                    "loaded in %.3f s\n", model_path, linmodel_label_count (model),
                    linmodel_feature_count (model), linmodel_temperature (model), t1 - t0);
            if (n)
                s_calibration_report (conf, (const char *const *) data->labels, pred, n);
        }
        if (bench && n) {
            //  Single thread, texts already in memory; counts whole predict
            //  calls (tokenise, features, scores, softmax, top-3)
            double b0 = classifier_cli_now ();
            size_t calls = 0;
            double sink = 0;
            for (long r = 0; r < bench; r++)
                for (size_t i = 0; i < n; i++) {
                    linmodel_guess_t g [3];
                    if (classifier) {
                        classifier_result_t result;
                        classifier_decide (classifier, data->texts [i], data->lens [i], NULL, &result);
                        sink += result.confidence;
                    }
                    else
                    if (linmodel_predict (model, data->texts [i], data->lens [i], g, 3))
                        sink += g [0].prob;
                    calls++;
                }
            double b1 = classifier_cli_now ();
            struct rusage ru;
            getrusage (RUSAGE_SELF, &ru);
            printf ("bench: %zu classifications in %.3f s (checksum %.3f)\n", calls,
                    b1 - b0, sink);
            printf ("classify_per_sec %.0f\n", (double) calls / (b1 - b0));
            printf ("max_rss_kb %ld\n", ru.ru_maxrss);
        }
        printf ("accuracy %.4f macro_f1 %.4f n %zu\n", m.accuracy, m.macro_f1, m.n);
    }
    else
        fprintf (stderr, "ticketflow-eval: out of memory\n");
    free (pred);
    free (conf);
    csvread_pairs_destroy (&data);
    if (classifier) {
        classifier_destroy (&classifier);
        classifier_models_destroy (&models);
    }
    else
        linmodel_destroy (&model);
    return rc? 1: 0;
}
