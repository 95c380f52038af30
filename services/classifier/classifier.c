#include "classifier_private.h"
#include "textfeat.h"
#include "tf_log.h"
#include "tf_ticket.h"
#include <assert.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  How fast confidence grows with the best score: 1 - exp (-score / K).
//  With K = 2 one long keyword alone gives about 0.7, a tie gives 0.
#define STRENGTH_K          2.0
//  Monitor alerts lean to the technical sub-categories
#define MONITOR_TECH_BOOST  1.5

//  --------------------------------------------------------------------------
//  Construction

static const char *SQL_READ =
    "SELECT id, ticket_no, coalesce (subject, ''), body, coalesce (error_text, ''),"
    "       coalesce (alert_type, ''), coalesce (alert_scope, ''), source,"
    "       coalesce (product, ''), created_at "
    "FROM tickets WHERE id = ANY ($1::int8[]) ORDER BY id";

static const char *SQL_READ_NO =
    "SELECT id, status, subcategory, coalesce (subject, ''), body, coalesce (error_text, ''),"
    "       coalesce (alert_type, ''), coalesce (alert_scope, ''), source "
    "FROM tickets WHERE ticket_no = $1 FOR UPDATE";

static const char *SQL_SET =
    "UPDATE tickets SET category = $2, subcategory = $3, third_level = $4, priority = $5,"
    "       confidence = $6::real,"
    "       priority_reasons = ARRAY (SELECT jsonb_array_elements_text ($7::jsonb)),"
    "       sentiment = $8::real, text_signature = $9::bigint,"
    "       incident_id = coalesce ($10::bigint, incident_id),"
    "       updated_at = now () "
    "WHERE id = $1";

static const char *SQL_SUBCATEGORY =
    "SELECT category, default_priority FROM taxonomy WHERE subcategory = $1";

static const char *SQL_CORRECTION =
    "INSERT INTO classification_corrections (ticket_id, predicted, corrected, actor, text) "
    "VALUES ($1, $2, $3, $4, $5)";

classifier_t *
classifier_new (tf_db_t *db, double min_confidence)
{
    classifier_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    self->min_confidence = min_confidence < 0? 0: min_confidence > 1? 1: min_confidence;
    classifier_reasons_builtin (self);
    self->sentiment = classifier_sentiment_new ();
    self->tx_incidents = zlistx_new ();
    self->incidents = zlistx_new ();
    assert (self->tx_incidents && self->incidents);
    zlistx_set_destructor (self->tx_incidents, (czmq_destructor *) classifier_incident_destroy);
    zlistx_set_destructor (self->incidents, (czmq_destructor *) classifier_incident_destroy);
    if (db && (tf_ticket_prepare (db)
           ||  classifier_incident_prepare (db)
           ||  classifier_taxonomy_prepare (db)
           ||  tf_db_prepare (db, "classifier_read", SQL_READ, 1)
           ||  tf_db_prepare (db, "classifier_read_no", SQL_READ_NO, 1)
           ||  tf_db_prepare (db, "classifier_set", SQL_SET, 10)
           ||  tf_db_prepare (db, "classifier_subcategory", SQL_SUBCATEGORY, 1)
           ||  tf_db_prepare (db, "classifier_correction", SQL_CORRECTION, 5)))
        classifier_destroy (&self);
    return self;
}

void
classifier_destroy (classifier_t **self_p)
{
    classifier_t *self = *self_p;
    if (!self)
        return;
    classifier_taxonomy_free (self);
    classifier_sentiment_destroy (&self->sentiment);
    zlistx_destroy (&self->tx_incidents);
    zlistx_destroy (&self->incidents);
    free (self);
    *self_p = NULL;
}

void
classifier_set_model (classifier_t *self, classifier_model_fn *fn, void *model)
{
    self->model_fn = fn;
    self->model = fn? model: NULL;
}

void
classifier_set_third_model (classifier_t *self, classifier_model_fn *fn, void *model)
{
    self->third_fn = fn;
    self->third_model = fn? model: NULL;
}

void
classifier_set_incidents (classifier_t *self, int threshold, int window_minutes)
{
    self->incident_threshold = threshold >= 2 && window_minutes >= 1? threshold: 0;
    self->incident_window = window_minutes;
}

double
classifier_sentiment (const classifier_t *self, const char *text, size_t len)
{
    return classifier_sentiment_score (self->sentiment, text, len);
}

classifier_incident_t *
classifier_next_incident (classifier_t *self)
{
    return (classifier_incident_t *) zlistx_detach (self->incidents, NULL);
}

//  --------------------------------------------------------------------------
//  Deciding

static const char *
s_reasons_on (const classifier_t *self, const char *norm, size_t len, classifier_result_t *result)
{
    const char *priority = "";
    result->reason_count = 0;
    for (size_t i = 0; i < self->reason_count; i++) {
        const reason_t *r = &self->reasons [i];
        bool found = false;
        for (size_t t = 0; t < r->terms.count && !found; t++)
            found = classifier_keyword_found (norm, len, &r->terms.items [t], true);
        if (!found)
            continue;
        if (result->reason_count < CLASSIFIER_REASONS_MAX)
            result->reasons [result->reason_count++] = r->code;
        if (!*priority || strcmp (r->priority, priority) < 0)
            priority = r->priority;
    }
    return priority;
}

const char *
classifier_reasons (const classifier_t *self, const char *text, size_t len, classifier_result_t *result)
{
    size_t n;
    char *norm = classifier_normalise (text, len, &n);
    const char *priority = s_reasons_on (self, norm, n, result);
    free (norm);
    return priority;
}

static bool
s_is_tech (const sub_t *s)
{
    return (s->category_code && strcmp (s->category_code, "tech_fault") == 0)
        || strcmp (s->category, "技术故障") == 0;
}

//  The third level of a sub-category with third levels: the third-level
//  model's best guess among them, else the keywords'
static const char *
s_choose_third (const classifier_t *self, const sub_t *s, const char *text, size_t len,
                const char *norm, size_t n)
{
    if (s->third_count == 0)
        return NULL;
    if (self->third_fn) {
        classifier_guess_t guesses [CLASSIFIER_GUESSES_MAX];
        size_t count = self->third_fn (self->third_model, text, len, guesses, CLASSIFIER_GUESSES_MAX);
        for (size_t g = 0; g < count && g < CLASSIFIER_GUESSES_MAX; g++)
            for (size_t t = 0; guesses [g].label && t < s->third_count; t++)
                if (strcmp (s->thirds [t].name, guesses [g].label) == 0)
                    return s->thirds [t].name;
    }
    return classifier_keywords_third (s, norm, n);
}

//  Adds a reason code to a result unless it is there or the result is full
static void
s_add_reason (classifier_result_t *r, const char *code)
{
    for (size_t i = 0; i < r->reason_count; i++)
        if (strcmp (r->reasons [i], code) == 0)
            return;
    if (r->reason_count < CLASSIFIER_REASONS_MAX)
        r->reasons [r->reason_count++] = code;
}

//  The priority of a text, with its reasons and sentiment: the default
//  priority raised by the lexicon's reasons and, when the customer's mood is
//  extreme, to P1. A ticket in triage has no default (NULL) and carries
//  only what the reasons ask for ("" when none).
static void
s_prioritise (const classifier_t *self, const char *text, size_t len, const char *norm, size_t n,
              const char *default_priority, classifier_result_t *result)
{
    const char *raised = s_reasons_on (self, norm, n, result);
    result->sentiment = classifier_sentiment_score (self->sentiment, text, len);
    if (result->sentiment <= CLASSIFIER_SENTIMENT_EXTREME) {
        s_add_reason (result, "extreme_emotion");
        raised = "P1";
    }
    const char *priority = raised;
    if (default_priority && (!*raised || strcmp (default_priority, raised) < 0))
        priority = default_priority;
    snprintf (result->priority, sizeof result->priority, "%s", priority);
}

void
classifier_decide (const classifier_t *self, const char *text, size_t len, const char *source,
                   classifier_result_t *result)
{
    memset (result, 0, sizeof *result);
    result->method = "none";
    if (!text)
        len = 0;
    if (!text)
        text = "";
    size_t n;
    char *norm = classifier_normalise (text, len, &n);
    bool monitor = source && strcmp (source, "monitor") == 0;

    //  every sub-category's keyword score; the best three
    const sub_t *top [CLASSIFIER_ALTERNATIVES] = { NULL };
    double top_score [CLASSIFIER_ALTERNATIVES] = { 0 };
    double total = 0;
    for (size_t i = 0; i < self->sub_count; i++) {
        const sub_t *s = &self->subs [i];
        double score = classifier_keywords_score (&s->kw, norm, n, NULL, NULL, 0);
        if (monitor && score > 0 && s_is_tech (s))
            score *= MONITOR_TECH_BOOST;
        total += score;
        for (size_t k = 0; k < CLASSIFIER_ALTERNATIVES; k++)
            if (score > top_score [k]) {
                for (size_t m = CLASSIFIER_ALTERNATIVES - 1; m > k; m--) {
                    top [m] = top [m - 1];
                    top_score [m] = top_score [m - 1];
                }
                top [k] = s;
                top_score [k] = score;
                break;
            }
    }
    const sub_t *best = top [0];
    double s1 = top_score [0], s2 = top_score [1];
    if (best) {
        result->matched = true;
        result->method = "keywords";
        result->score = s1;
        result->runner_up_score = s2;
        result->runner_up = top [1]? top [1]->subcategory: NULL;
        result->confidence = (s1 - s2) / s1 * (1.0 - exp (-s1 / STRENGTH_K));
        classifier_keywords_score (&best->kw, norm, n, result->keywords, &result->keyword_count,
                                   CLASSIFIER_KEYWORDS_MAX);
        for (size_t k = 0; k < CLASSIFIER_ALTERNATIVES && top [k]; k++) {
            result->alternatives [k].label = top [k]->subcategory;
            result->alternatives [k].confidence = top_score [k] / total;
            result->alternative_count++;
        }
    }
    //  a trained model, when there is one, makes the sub-category choice
    //  among its labels that the taxonomy knows
    if (self->model_fn) {
        classifier_guess_t guesses [CLASSIFIER_GUESSES_MAX];
        size_t count = self->model_fn (self->model, text, len, guesses, CLASSIFIER_GUESSES_MAX);
        const sub_t *known [CLASSIFIER_ALTERNATIVES] = { NULL };
        double prob [CLASSIFIER_ALTERNATIVES] = { 0 };
        size_t found = 0;
        for (size_t g = 0; g < count && g < CLASSIFIER_GUESSES_MAX && found < CLASSIFIER_ALTERNATIVES; g++) {
            const sub_t *s = classifier_sub_find (self, guesses [g].label);
            double p = guesses [g].confidence;
            if (s && isfinite (p)) {
                known [found] = s;
                prob [found++] = p < 0? 0: p > 1? 1: p;
            }
        }
        if (found) {
            const sub_t *chosen = known [0];
            if (chosen != best) {
                result->runner_up = best? best->subcategory: NULL;
                result->runner_up_score = s1;
                result->keyword_count = 0;
                classifier_keywords_score (&chosen->kw, norm, n, result->keywords, &result->keyword_count,
                                           CLASSIFIER_KEYWORDS_MAX);
            }
            else
                result->runner_up = found > 1? known [1]->subcategory: NULL;
            best = chosen;
            result->matched = true;
            result->method = "model";
            result->confidence = prob [0];
            result->alternative_count = found;
            for (size_t k = 0; k < found; k++) {
                result->alternatives [k].label = known [k]->subcategory;
                result->alternatives [k].confidence = prob [k];
            }
        }
    }
    if (result->confidence < 0)
        result->confidence = 0;
    result->triage = !best || result->confidence < self->min_confidence;

    if (best) {
        result->category = best->category;
        result->subcategory = best->subcategory;
        result->third_level = s_choose_third (self, best, text, len, norm, n);
    }
    s_prioritise (self, text, len, norm, n, result->triage? NULL: best->priority, result);
    free (norm);
}

//  --------------------------------------------------------------------------
//  The stage

//  The text the classifier sees: subject, body, error text, alert type and
//  scope, one per line (all masked by intake). Caller frees.
static char *
s_ticket_text (PGresult *res, int row, int first_column, size_t *len)
{
    size_t total = 0;
    for (int c = first_column; c < first_column + 5; c++)
        total += (size_t) PQgetlength (res, row, c) + 1;
    char *text = malloc (total + 1);
    assert (text);
    size_t o = 0;
    for (int c = first_column; c < first_column + 5; c++) {
        size_t n = (size_t) PQgetlength (res, row, c);
        if (n == 0)
            continue;
        if (o)
            text [o++] = '\n';
        memcpy (text + o, PQgetvalue (res, row, c), n);
        o += n;
    }
    text [o] = 0;
    *len = o;
    return text;
}

static json_t *
s_string_array (const char *const *items, size_t n)
{
    json_t *array = json_array ();
    for (size_t i = 0; i < n; i++)
        json_array_append_new (array, json_string (items [i]));
    return array;
}

static json_t *
s_nullable (const char *s)
{
    return s && *s? json_string (s): json_null ();
}

static double
s_round3 (double x)
{
    return round (x * 1000.0) / 1000.0;
}

static json_t *
s_alternatives_json (const classifier_result_t *r)
{
    json_t *array = json_array ();
    for (size_t i = 0; i < r->alternative_count; i++) {
        json_t *item = json_object ();
        json_object_set_new (item, "subcategory", json_string (r->alternatives [i].label));
        json_object_set_new (item, "confidence", json_real (s_round3 (r->alternatives [i].confidence)));
        json_array_append_new (array, item);
    }
    return array;
}

//  Stores the decision on a ticket: the transition with its history row,
//  then the fields. Returns 0, 1 when the ticket was not in `received`
//  (skipped), -1 on a database error.
static int
s_store (classifier_t *self, int64_t id, const classifier_result_t *r, const char *status,
         uint64_t signature)
{
    bool triage = strcmp (status, "triage") == 0;
    json_t *data = json_object ();
    json_object_set_new (data, triage? "guess": "subcategory", s_nullable (r->subcategory));
    json_object_set_new (data, "category", s_nullable (r->category));
    json_object_set_new (data, "third_level", s_nullable (r->third_level));
    json_object_set_new (data, "priority", s_nullable (r->priority));
    json_object_set_new (data, "confidence", json_real (s_round3 (r->confidence)));
    json_object_set_new (data, "reasons", s_string_array (r->reasons, r->reason_count));
    json_object_set_new (data, "sentiment", json_real (s_round3 (r->sentiment)));
    json_object_set_new (data, "keywords", s_string_array (r->keywords, r->keyword_count));
    json_object_set_new (data, "alternatives", s_alternatives_json (r));
    json_object_set_new (data, "runner_up", s_nullable (r->runner_up));
    json_object_set_new (data, "method", json_string (r->method));
    if (triage) {
        json_object_set_new (data, "why", json_string (self->sub_count == 0? "no_taxonomy":
                                                       !r->matched? "no_match": "low_confidence"));
        json_object_set_new (data, "min_confidence", json_real (s_round3 (self->min_confidence)));
    }
    char *data_text = json_dumps (data, JSON_COMPACT);
    json_t *reasons = s_string_array (r->reasons, r->reason_count);
    char *reasons_text = json_dumps (reasons, JSON_COMPACT);
    json_decref (data);
    json_decref (reasons);

    int rc = 0;
    tf_error_t err;
    if (tf_ticket_transition (self->db, id, "received", status, status, "classifier", NULL, data_text, &err))
        rc = strcmp (err.code, TF_ERR_UNAVAILABLE) == 0? -1: 1;
    else {
        char id_text [24], confidence [32], sentiment [32], signature_text [24];
        snprintf (id_text, sizeof id_text, "%lld", (long long) id);
        snprintf (confidence, sizeof confidence, "%.3f", r->confidence);
        snprintf (sentiment, sizeof sentiment, "%.3f", r->sentiment);
        snprintf (signature_text, sizeof signature_text, "%lld", (long long) (int64_t) signature);
        const char *params [] = {
            id_text, triage? NULL: r->category, triage? NULL: r->subcategory,
            triage? NULL: r->third_level, *r->priority? r->priority: NULL, confidence, reasons_text,
            sentiment, signature_text, NULL
        };
        PGresult *res = tf_db_run (self->db, "classifier_set", 10, params);
        if (!tf_db_ok (self->db, res, "store classification"))
            rc = -1;
        PQclear (res);
    }
    free (data_text);
    free (reasons_text);
    return rc;
}

static int
s_strcmp_p (const void *a, const void *b)
{
    return strcmp (*(const char *const *) a, *(const char *const *) b);
}

//  Inside the transaction: the advisory locks of the sub-categories of
//  the batch, in name order so two instances never wait on each other in a
//  circle. Returns 0 or -1.
static int
s_lock_names (classifier_t *self, const char **names, size_t count)
{
    qsort (names, count, sizeof (char *), s_strcmp_p);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++)
        if (i == 0 || strcmp (names [i], names [i - 1]) != 0)
            rc = classifier_incident_lock (self->db, names [i]);
    return rc;
}

//  Sub-categories first, then products ("product:" + name), each phase
//  sorted: every instance takes them in one order, so none waits in a circle.
static int
s_lock_incident_keys (classifier_t *self, classifier_outcome_t *all, PGresult *res, size_t n)
{
    const char **names = malloc ((n + 1) * sizeof (char *));
    char **products = calloc (n + 1, sizeof (char *));
    assert (names && products);
    size_t count = 0, nproducts = 0;
    for (size_t i = 0; i < n; i++) {
        if (!all [i].result.triage && all [i].result.subcategory)
            names [count++] = all [i].result.subcategory;
        if (*PQgetvalue (res, (int) i, 8))
            products [nproducts++] = zsys_sprintf ("product:%s", PQgetvalue (res, (int) i, 8));
    }
    int rc = s_lock_names (self, names, count)
          || s_lock_names (self, (const char **) products, nproducts)? -1: 0;
    for (size_t i = 0; i < nproducts; i++)
        zstr_free (&products [i]);
    free (products);
    free (names);
    return rc;
}

//  Inside a transaction: decides and stores the locked tickets, then looks
//  for mass incidents. Returns how many moved, or -1.
static int
s_classify_locked (classifier_t *self, const int64_t *ids, size_t n, classifier_outcome_t *out)
{
    if (n == 0)
        return 0;
    char *array = tf_db_id_array (ids, n);
    const char *params [] = { array };
    PGresult *res = tf_db_run (self->db, "classifier_read", 1, params);
    free (array);
    if (!tf_db_ok (self->db, res, "read tickets")) {
        PQclear (res);
        return -1;
    }
    int rows = PQntuples (res);
    if (rows == 0) {
        PQclear (res);
        return 0;
    }
    //  decide them all first: the locks need the sub-categories
    classifier_outcome_t *all = calloc ((size_t) rows, sizeof (classifier_outcome_t));
    char **texts = calloc ((size_t) rows, sizeof (char *));
    size_t *lens = calloc ((size_t) rows, sizeof (size_t));
    uint64_t *signatures = calloc ((size_t) rows, sizeof (uint64_t));
    assert (all && texts && lens && signatures);
    for (int row = 0; row < rows; row++) {
        classifier_outcome_t *oc = &all [row];
        oc->ticket_id = strtoll (PQgetvalue (res, row, 0), NULL, 10);
        snprintf (oc->ticket_no, sizeof oc->ticket_no, "%s", PQgetvalue (res, row, 1));
        texts [row] = s_ticket_text (res, row, 2, &lens [row]);
        classifier_decide (self, texts [row], lens [row], PQgetvalue (res, row, 7), &oc->result);
        signatures [row] = classifier_simhash (texts [row], lens [row]);
        snprintf (oc->status, sizeof oc->status, "%s", oc->result.triage? "triage": "classified");
    }
    bool incidents = self->incident_threshold > 0;
    int moved = incidents && s_lock_incident_keys (self, all, res, (size_t) rows)? -1: 0;
    for (int row = 0; row < rows && moved >= 0; row++) {
        classifier_outcome_t *oc = &all [row];
        int rc = s_store (self, oc->ticket_id, &oc->result, oc->status, signatures [row]);
        if (rc < 0)
            moved = -1;
        if (rc != 0)
            continue;
        //  a ticket in triage can still belong to a batch by its product
        if (incidents && (!oc->result.triage || *PQgetvalue (res, row, 8))) {
            classifier_incident_ticket_t ticket = {
                .id = oc->ticket_id, .ticket_no = oc->ticket_no,
                .subcategory = oc->result.triage? NULL: oc->result.subcategory,
                .product = PQgetvalue (res, row, 8),
                .created_at = PQgetvalue (res, row, 9), .signature = signatures [row],
                .text = texts [row], .len = lens [row]
            };
            int64_t incident_id;
            classifier_incident_t *opened = NULL;
            int found = classifier_incident_check (self->db, &ticket, self->incident_threshold,
                                                   self->incident_window, &incident_id, &opened);
            if (found < 0) {
                moved = -1;
                continue;
            }
            if (found > 0) {
                classifier_result_t *r = &oc->result;
                r->incident_id = incident_id;
                snprintf (r->priority, sizeof r->priority, "P1");
                s_add_reason (r, "batch_complaint");
            }
            if (opened)
                zlistx_add_end (self->tx_incidents, opened);
        }
        out [moved++] = *oc;
    }
    for (int row = 0; row < rows; row++)
        free (texts [row]);
    free (texts);
    free (lens);
    free (signatures);
    free (all);
    PQclear (res);
    return moved;
}

//  The end of a transaction: its incidents are handed out only when it
//  committed. Returns 0 when it did.
static int
s_finish (classifier_t *self, bool commit)
{
    if (commit && tf_db_exec (self->db, "COMMIT") == 0) {
        classifier_incident_t *incident;
        while ((incident = zlistx_detach (self->tx_incidents, NULL)))
            zlistx_add_end (self->incidents, incident);
        return 0;
    }
    tf_db_exec (self->db, "ROLLBACK");
    zlistx_purge (self->tx_incidents);
    return -1;
}

//  One transaction over the given (not yet locked) ids. Returns moved or -1.
static int
s_run_ids_tx (classifier_t *self, const int64_t *ids, size_t n, classifier_outcome_t *out)
{
    if (tf_db_exec (self->db, "BEGIN"))
        return -1;
    zlistx_purge (self->tx_incidents);
    int64_t *locked = malloc (n * sizeof (int64_t));
    assert (locked);
    int m = tf_ticket_lock_ids (self->db, "received", ids, n, locked);
    int moved = m < 0? -1: s_classify_locked (self, locked, (size_t) m, out);
    free (locked);
    return s_finish (self, moved >= 0) == 0? moved: -1;
}

//  After a failed batch: each ticket alone, so one bad ticket cannot hold
//  back the others. Returns moved, or -1 when none could be done.
static int
s_run_each (classifier_t *self, const int64_t *ids, size_t n, classifier_outcome_t *out)
{
    int moved = 0;
    bool failed = false;
    for (size_t i = 0; i < n; i++) {
        int rc = s_run_ids_tx (self, &ids [i], 1, &out [moved]);
        if (rc < 0) {
            tf_error ("ticket id %lld could not be classified; it stays received", (long long) ids [i]);
            failed = true;
        }
        else
            moved += rc;
    }
    return failed && moved == 0? -1: moved;
}

int
classifier_run_ids (classifier_t *self, const int64_t *ids, size_t n, classifier_outcome_t *out)
{
    if (!self->db || n == 0)
        return self->db? 0: -1;
    int moved = s_run_ids_tx (self, ids, n, out);
    if (moved < 0 && n > 1 && tf_db_ready (self->db))
        moved = s_run_each (self, ids, n, out);
    return moved;
}

int
classifier_run_waiting (classifier_t *self, int stale_seconds, size_t limit, classifier_outcome_t *out)
{
    if (!self->db || limit == 0)
        return self->db? 0: -1;
    if (tf_db_exec (self->db, "BEGIN"))
        return -1;
    zlistx_purge (self->tx_incidents);
    int64_t *locked = malloc (limit * sizeof (int64_t));
    assert (locked);
    int m = tf_ticket_lock_waiting (self->db, "received", stale_seconds, limit, locked);
    int moved = m < 0? -1: s_classify_locked (self, locked, (size_t) m, out);
    if (s_finish (self, moved >= 0) == 0) {
        free (locked);
        return moved;
    }
    if (m > 1 && tf_db_ready (self->db))
        moved = s_run_each (self, locked, (size_t) m, out);
    else
        moved = -1;
    free (locked);
    return moved;
}

int
classifier_reclassify (classifier_t *self, const char *ticket_no, const char *subcategory,
                       const char *priority, const char *actor, classifier_outcome_t *out,
                       tf_error_t *err)
{
    memset (out, 0, sizeof *out);
    if (!self->db)
        return tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "no database");
    if (!ticket_no || !*ticket_no || strlen (ticket_no) >= sizeof out->ticket_no)
        return tf_error_set (err, TF_ERR_NOT_FOUND, "ticket_no", "no such ticket");
    if (!subcategory || !*subcategory)
        return tf_error_set (err, TF_ERR_BAD_VALUE, "subcategory", "a sub-category is required");
    if (priority && !classifier_priority_valid (priority))
        return tf_error_set (err, TF_ERR_BAD_VALUE, "priority", "priority must be P1, P2 or P3");
    if (!actor || !*actor)
        actor = "unknown";
    if (tf_db_exec (self->db, "BEGIN"))
        return tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");

    char *text = NULL, *reasons_text = NULL, *data_text = NULL, *predicted = NULL;
    PGresult *res = NULL;
    const char *params_no [] = { ticket_no };
    res = tf_db_run (self->db, "classifier_read_no", 1, params_no);
    if (!tf_db_ok (self->db, res, "read ticket")) {
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
        goto failed;
    }
    if (PQntuples (res) == 0) {
        tf_error_set (err, TF_ERR_NOT_FOUND, "ticket_no", "no ticket %s", ticket_no);
        goto failed;
    }
    out->ticket_id = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    snprintf (out->ticket_no, sizeof out->ticket_no, "%s", ticket_no);
    predicted = PQgetisnull (res, 0, 2)? NULL: strdup (PQgetvalue (res, 0, 2));
    size_t len;
    text = s_ticket_text (res, 0, 3, &len);
    PQclear (res);

    //  the sub-category as the database knows it now
    const char *params_sub [] = { subcategory };
    res = tf_db_run (self->db, "classifier_subcategory", 1, params_sub);
    if (!tf_db_ok (self->db, res, "read sub-category")) {
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
        goto failed;
    }
    if (PQntuples (res) == 0) {
        tf_error_set (err, TF_ERR_BAD_VALUE, "subcategory", "'%.64s' is not a sub-category of the taxonomy",
                      subcategory);
        goto failed;
    }
    char category [256], default_priority [3];
    snprintf (category, sizeof category, "%s", PQgetvalue (res, 0, 0));
    snprintf (default_priority, sizeof default_priority, "%s", PQgetvalue (res, 0, 1));
    PQclear (res);
    res = NULL;

    classifier_result_t *r = &out->result;
    size_t n;
    char *norm = classifier_normalise (text, len, &n);
    s_prioritise (self, text, len, norm, n, default_priority, r);
    if (priority)
        snprintf (r->priority, sizeof r->priority, "%s", priority);
    const sub_t *known = classifier_sub_find (self, subcategory);
    if (known) {
        r->third_level = classifier_keywords_third (known, norm, n);
        r->category = known->category;
        r->subcategory = known->subcategory;
    }
    free (norm);
    r->matched = true;
    r->method = "person";
    r->confidence = 1.0;
    snprintf (out->status, sizeof out->status, "classified");

    json_t *reasons = s_string_array (r->reasons, r->reason_count);
    reasons_text = json_dumps (reasons, JSON_COMPACT);
    json_t *data = json_object ();
    json_object_set_new (data, "subcategory", json_string (subcategory));
    json_object_set_new (data, "category", json_string (category));
    json_object_set_new (data, "third_level", s_nullable (r->third_level));
    json_object_set_new (data, "priority", json_string (r->priority));
    json_object_set_new (data, "confidence", json_real (1.0));
    json_object_set_new (data, "reasons", reasons);
    json_object_set_new (data, "predicted", s_nullable (predicted));
    json_object_set_new (data, "method", json_string ("person"));
    data_text = json_dumps (data, JSON_COMPACT);
    json_decref (data);

    if (tf_ticket_transition (self->db, out->ticket_id, "triage,received,classified", "classified",
                              "classified", actor, NULL, data_text, err))
        goto failed;
    char id_text [24], sentiment [32], signature [24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) out->ticket_id);
    snprintf (sentiment, sizeof sentiment, "%.3f", r->sentiment);
    snprintf (signature, sizeof signature, "%lld", (long long) (int64_t) classifier_simhash (text, len));
    const char *params_set [] = {
        id_text, category, subcategory, r->third_level, r->priority, "1", reasons_text,
        sentiment, signature, NULL
    };
    res = tf_db_run (self->db, "classifier_set", 10, params_set);
    if (!tf_db_ok (self->db, res, "store classification")) {
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
        goto failed;
    }
    PQclear (res);
    const char *params_fix [] = { id_text, predicted, subcategory, actor, text };
    res = tf_db_run (self->db, "classifier_correction", 5, params_fix);
    if (!tf_db_ok (self->db, res, "record correction")) {
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
        goto failed;
    }
    PQclear (res);
    res = NULL;
    if (tf_db_exec (self->db, "COMMIT")) {
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
        goto failed;
    }
    //  the strings handed back must outlive this call: point them at the
    //  taxonomy in memory when it has them, else leave them NULL
    if (!known) {
        r->category = NULL;
        r->subcategory = NULL;
    }
    free (text);
    free (reasons_text);
    free (data_text);
    free (predicted);
    return 0;

failed:
    PQclear (res);
    tf_db_exec (self->db, "ROLLBACK");
    free (text);
    free (reasons_text);
    free (data_text);
    free (predicted);
    return -1;
}
