/*  classifier_stage — the classify stage over the database: tickets read,
    decided (classifier_decide.c) and stored in one transaction per batch,
    mass incidents under advisory locks, the reconciler, and a person's
    classification (classifier_reclassify). See classifier.h.
*/
#include "classifier_private.h"
#include "tf_log.h"
#include "tf_ticket.h"
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
classifier_stage_prepare (tf_db_t *db)
{
    return tf_ticket_prepare (db)
        || classifier_incident_prepare (db)
        || tf_db_prepare (db, "classifier_read", SQL_READ, 1)
        || tf_db_prepare (db, "classifier_read_no", SQL_READ_NO, 1)
        || tf_db_prepare (db, "classifier_set", SQL_SET, 10)
        || tf_db_prepare (db, "classifier_subcategory", SQL_SUBCATEGORY, 1)
        || tf_db_prepare (db, "classifier_correction", SQL_CORRECTION, 5)? -1: 0;
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
                classifier_add_reason (r, "batch_complaint");
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
    classifier_prioritise (self, text, len, norm, n, default_priority, r);
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
