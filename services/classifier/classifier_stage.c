/*  classifier_stage — the classify stage over the database: tickets read,
    decided (classifier_decide.c) and stored in one transaction per batch,
    at a constant number of statements whatever its size; mass incidents
    from the index in memory (classifier_index.c); the reconciler; and a
    person's classification (classifier_reclassify). See classifier.h.

    Several instances and one incident index each: every instance takes one
    advisory lock (INCIDENT_LOCK) for the incident part of its transaction,
    replays the tickets the others classified since it last looked
    (tickets.signature_seq, drawn under that lock, so the order is the
    order they committed), then decides its own. The lock is held only from
    the incident check to the commit; the model's work is done before it.
*/
#include "classifier_private.h"
#include "tf_log.h"
#include "tf_ticket.h"
#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  The classifiers' advisory lock for the incident check
#define INCIDENT_LOCK "7100003"
//  At most this many tickets are replayed at once (a start, a long pause):
//  what the index holds is bounded anyway
#define REPLAY_MAX "65536"

#define TEXT_COLUMNS \
    "coalesce (subject, ''), body, coalesce (error_text, ''), coalesce (alert_type, ''), coalesce (alert_scope, '')"

//  The stage's input, locked: those of $1 still in $2, with what the
//  decision reads
static const char *SQL_READ =
    "SELECT id, ticket_no, " TEXT_COLUMNS ", source, coalesce (product, ''),"
    "       extract (epoch FROM created_at)::int8 "
    "FROM tickets WHERE id = ANY ($1::int8[]) AND status = ANY ($2::text[]) "
    "ORDER BY id FOR UPDATE SKIP LOCKED";

static const char *SQL_READ_NO =
    "SELECT id, status, subcategory, " TEXT_COLUMNS ", source "
    "FROM tickets WHERE ticket_no = $1 FOR UPDATE";

static const char *SQL_SUBCATEGORY =
    "SELECT category, default_priority FROM taxonomy WHERE subcategory = $1";

static const char *SQL_CORRECTION =
    "INSERT INTO classification_corrections (ticket_id, predicted, corrected, actor, text) "
    "VALUES ($1, $2, $3, $4, $5)";

static const char *SQL_INCIDENT_LOCK =
    "SELECT pg_advisory_xact_lock (" INCIDENT_LOCK ")";

//  Under the lock: $2 new places in the order (kind 0), and the tickets
//  the others placed after $1 within the window, newest first (kind 1)
static const char *SQL_REPLAY =
    "SELECT 0, nextval ('tickets_signature_seq'), 0::int8, NULL::text, NULL::text, 0::int8, 0::int8, 0::int8 "
    "FROM generate_series (1, $2::int) "
    "UNION ALL "
    "(SELECT 1, signature_seq, id, subcategory, coalesce (product, ''), text_signature,"
    "        extract (epoch FROM created_at)::int8, coalesce (incident_id, 0) "
    " FROM tickets WHERE signature_seq > $1 AND created_at >= tf_now () - make_interval (mins => $3::int) "
    " ORDER BY signature_seq DESC LIMIT " REPLAY_MAX ")";

static const char *SQL_INCIDENT_IDS =
    "SELECT nextval ('incidents_id_seq') FROM generate_series (1, $1::int)";

static const char *SQL_MEMBERS =
    "SELECT id, ticket_no, coalesce (nullif (btrim (subject), ''), body) "
    "FROM tickets WHERE id = ANY ($1::int8[])";

static const char *SQL_INCIDENTS =
    "INSERT INTO incidents (id, subcategory, product, signature, summary, ticket_count) "
    "SELECT * FROM unnest ($1::int8[], $2::text[], $3::text[], $4::int8[], $5::text[], $6::int[])";

//  Earlier tickets an incident opened with: linked, raised to P1
static const char *SQL_LINK =
    "UPDATE tickets t SET incident_id = u.incident, priority = 'P1',"
    "       priority_reasons = CASE WHEN 'batch_complaint' = ANY (t.priority_reasons) THEN t.priority_reasons"
    "                          ELSE array_append (t.priority_reasons, 'batch_complaint') END,"
    "       updated_at = tf_now () "
    "FROM unnest ($1::int8[], $2::int8[]) AS u (id, incident) WHERE t.id = u.id";

static const char *SQL_JOINED =
    "UPDATE incidents i SET ticket_count = i.ticket_count + u.n, last_ticket_at = tf_now () "
    "FROM unnest ($1::int8[], $2::int[]) AS u (id, n) WHERE i.id = u.id";

//  What the classification sets with the status
static const tf_ticket_columns_t s_classification = {
    "classifier_decided",
    ", category = u.c1, subcategory = u.c2, third_level = u.c3, priority = u.c4, confidence = u.c5,"
    " priority_reasons = ARRAY (SELECT jsonb_array_elements_text (u.c6)), sentiment = u.c7,"
    " text_signature = u.c8, incident_id = coalesce (u.c9, t.incident_id), signature_seq = u.c10",
    (const char *[]) { "text", "text", "text", "text", "real", "jsonb", "real", "int8", "int8", "int8", NULL }
};

int
classifier_stage_prepare (tf_db_t *db)
{
    return tf_db_prepare (db, "classifier_read", SQL_READ, 2)
        || tf_db_prepare (db, "classifier_read_no", SQL_READ_NO, 1)
        || tf_db_prepare (db, "classifier_subcategory", SQL_SUBCATEGORY, 1)
        || tf_db_prepare (db, "classifier_correction", SQL_CORRECTION, 5)
        || tf_db_prepare (db, "classifier_incident_lock", SQL_INCIDENT_LOCK, 0)
        || tf_db_prepare (db, "classifier_replay", SQL_REPLAY, 3)
        || tf_db_prepare (db, "classifier_incident_ids", SQL_INCIDENT_IDS, 1)
        || tf_db_prepare (db, "classifier_members", SQL_MEMBERS, 1)
        || tf_db_prepare (db, "classifier_incidents", SQL_INCIDENTS, 6)
        || tf_db_prepare (db, "classifier_link", SQL_LINK, 2)
        || tf_db_prepare (db, "classifier_joined", SQL_JOINED, 2)? -1: 0;
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

//  The history data of a decision
static char *
s_decision_json (const classifier_t *self, const classifier_result_t *r, bool triage)
{
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
    char *text = json_dumps (data, JSON_COMPACT);
    json_decref (data);
    return text;
}

//  One ticket of a batch on its way
typedef struct {
    classifier_outcome_t *out;
    char *text;
    size_t len;
    uint64_t signature;
    int64_t created;            //  epoch seconds
    const char *product;        //  into the read result
    int64_t seq;                //  its place in the order of classified tickets
    int64_t joined;             //  the incident it joins (negative: one the batch opens), or 0
} item_t;

//  An incident the batch opens
typedef struct {
    int64_t provisional;        //  negative: its id in the index until the real one is drawn
    int64_t id;
    char *subcategory, *product;
    uint64_t signature;
    int64_t *members;
    size_t nmembers;
    int64_t count;
} opening_t;

typedef struct {
    classifier_t *self;
    item_t *items;
    size_t n;
    opening_t *openings;
    size_t nopenings;
    int64_t *joined_ids;        //  incidents joined, and by how many
    int *joined_counts;
    size_t njoined;
} batch_t;

static void
s_batch_free (batch_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        free (b->items [i].text);
    for (size_t k = 0; k < b->nopenings; k++) {
        free (b->openings [k].subcategory);
        free (b->openings [k].product);
        free (b->openings [k].members);
    }
    free (b->items);
    free (b->openings);
    free (b->joined_ids);
    free (b->joined_counts);
}

static void
s_raise (classifier_result_t *r, int64_t incident_id)
{
    r->incident_id = incident_id;
    snprintf (r->priority, sizeof r->priority, "P1");
    classifier_add_reason (r, "batch_complaint");
}

static void
s_count_join (batch_t *b, int64_t incident_id)
{
    for (size_t k = 0; k < b->njoined; k++)
        if (b->joined_ids [k] == incident_id) {
            b->joined_counts [k]++;
            return;
        }
    b->joined_ids [b->njoined] = incident_id;
    b->joined_counts [b->njoined++] = 1;
}

//  Under the lock: the index learns what the others classified since it
//  last looked (all of the window, at a start or after a rollback), and
//  the batch gets its places in the order. Returns 0 or -1.
static int
s_replay (batch_t *b)
{
    classifier_t *self = b->self;
    if (!self->index_fresh) {
        classifier_index_clear (self->index);
        self->index_seq = 0;
    }
    char last [24], count [24], window [16];
    snprintf (last, sizeof last, "%lld", (long long) self->index_seq);
    snprintf (count, sizeof count, "%zu", b->n);
    snprintf (window, sizeof window, "%d", self->incident_window);
    PGresult *res = tf_db_run (self->db, "classifier_replay", 3, (const char *[]) { last, count, window });
    if (!tf_db_ok (self->db, res, "replay the incident index")) {
        PQclear (res);
        return -1;
    }
    int rows = PQntuples (res);
    size_t next = 0;
    int64_t newest = self->index_seq;
    //  the others' tickets came newest first: replay them oldest first
    for (int r = rows - 1; r >= 0; r--) {
        int64_t seq = strtoll (PQgetvalue (res, r, 1), NULL, 10);
        if (atoi (PQgetvalue (res, r, 0)) == 0)
            continue;
        classifier_index_ticket_t t = {
            .id = strtoll (PQgetvalue (res, r, 2), NULL, 10),
            .subcategory = PQgetisnull (res, r, 3)? NULL: PQgetvalue (res, r, 3),
            .product = PQgetvalue (res, r, 4),
            .signature = (uint64_t) strtoll (PQgetvalue (res, r, 5), NULL, 10),
            .at = strtoll (PQgetvalue (res, r, 6), NULL, 10),
            .incident_id = strtoll (PQgetvalue (res, r, 7), NULL, 10)
        };
        classifier_index_replay (self->index, &t);
        if (seq > newest)
            newest = seq;
    }
    //  this batch's places: after the commit the index holds these too (a
    //  rollback rebuilds it), so the next replay must not bring them back
    for (int r = 0; r < rows && next < b->n; r++)
        if (atoi (PQgetvalue (res, r, 0)) == 0) {
            b->items [next].seq = strtoll (PQgetvalue (res, r, 1), NULL, 10);
            if (b->items [next].seq > newest)
                newest = b->items [next].seq;
            next++;
        }
    PQclear (res);
    self->index_seq = newest;
    self->index_fresh = true;
    return next == b->n? 0: -1;
}

//  Under the lock: each ticket of the batch through the index, in order.
//  Incidents that open get a provisional (negative) id until the real ones
//  are drawn, so a later ticket of the batch joins rather than opens again.
static void
s_check (batch_t *b)
{
    classifier_t *self = b->self;
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items [i];
        classifier_result_t *r = &it->out->result;
        classifier_index_ticket_t t = {
            .id = it->out->ticket_id, .subcategory = r->triage? NULL: r->subcategory,
            .product = it->product, .signature = it->signature, .at = it->created
        };
        classifier_index_match_t m;
        classifier_index_add (self->index, &t, &m);
        if (m.verdict == CLASSIFIER_INDEX_JOIN)
            it->joined = m.incident_id;
        else
        if (m.verdict == CLASSIFIER_INDEX_OPEN) {
            opening_t *o = &b->openings [b->nopenings];
            o->provisional = -(int64_t) (b->nopenings + 1);
            o->subcategory = t.subcategory? strdup (t.subcategory): NULL;
            o->product = m.product? strdup (m.product): NULL;
            o->signature = m.first_signature;
            o->count = m.count;
            o->nmembers = m.nmembers;
            o->members = malloc (m.nmembers * sizeof (int64_t));
            assert (o->members);
            memcpy (o->members, m.members, m.nmembers * sizeof (int64_t));
            classifier_index_opened (self->index, &m, o->provisional);
            b->nopenings++;
        }
    }
}

static item_t *
s_item (batch_t *b, int64_t id)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->items [i].out->ticket_id == id)
            return &b->items [i];
    return NULL;
}

//  The real ids of the incidents the batch opens, their rows, and the
//  index told. Fills the incidents handed out after the commit. Returns 0 or -1.
static int
s_open (batch_t *b)
{
    classifier_t *self = b->self;
    if (b->nopenings == 0)
        return 0;
    char count [24];
    snprintf (count, sizeof count, "%zu", b->nopenings);
    PGresult *res = tf_db_run (self->db, "classifier_incident_ids", 1, (const char *[]) { count });
    if (!tf_db_ok (self->db, res, "incident ids") || (size_t) PQntuples (res) != b->nopenings) {
        PQclear (res);
        return -1;
    }
    for (size_t k = 0; k < b->nopenings; k++)
        b->openings [k].id = strtoll (PQgetvalue (res, (int) k, 0), NULL, 10);
    PQclear (res);
    //  the members' numbers and texts: the event lists them, the first one's text is the summary
    tf_db_array_t *ids = tf_db_array_new ();
    for (size_t k = 0; k < b->nopenings; k++)
        for (size_t j = 0; j < b->openings [k].nmembers; j++)
            tf_db_array_add_int (ids, b->openings [k].members [j]);
    res = tf_db_run (self->db, "classifier_members", 1, (const char *[]) { tf_db_array_text (ids) });
    tf_db_array_destroy (&ids);
    if (!tf_db_ok (self->db, res, "incident members")) {
        PQclear (res);
        return -1;
    }
    tf_db_array_t *a [6];
    for (int c = 0; c < 6; c++)
        a [c] = tf_db_array_new ();
    for (size_t k = 0; k < b->nopenings; k++) {
        opening_t *o = &b->openings [k];
        classifier_incident_t *incident = calloc (1, sizeof *incident);
        assert (incident);
        incident->id = o->id;
        incident->subcategory = o->subcategory? strdup (o->subcategory): NULL;
        incident->product = o->product? strdup (o->product): NULL;
        incident->ticket_count = o->count;
        for (size_t j = 0; j < o->nmembers; j++)
            for (int r = 0; r < PQntuples (res); r++) {
                if (strtoll (PQgetvalue (res, r, 0), NULL, 10) != o->members [j])
                    continue;
                if (incident->ticket_no_count < CLASSIFIER_INCIDENT_TICKETS_MAX)
                    incident->ticket_nos [incident->ticket_no_count++] = strdup (PQgetvalue (res, r, 1));
                if (!incident->summary)
                    incident->summary = classifier_incident_summary (PQgetvalue (res, r, 2),
                                                                     (size_t) PQgetlength (res, r, 2));
            }
        if (!incident->summary)
            incident->summary = strdup ("-");
        zlistx_add_end (self->tx_incidents, incident);
        tf_db_array_add_int (a [0], o->id);
        tf_db_array_add (a [1], o->subcategory);
        tf_db_array_add (a [2], o->product);
        tf_db_array_add_int (a [3], (int64_t) o->signature);
        tf_db_array_add (a [4], incident->summary);
        tf_db_array_add_int (a [5], o->count);
    }
    PQclear (res);
    const char *params [6];
    for (int c = 0; c < 6; c++)
        params [c] = tf_db_array_text (a [c]);
    int rc = tf_db_command (self->db, "classifier_incidents", 6, params) < 0? -1: 0;
    for (int c = 0; c < 6; c++)
        tf_db_array_destroy (&a [c]);
    if (rc)
        return -1;
    //  from now on the real ids: in the index, and on the batch's joins
    for (size_t k = 0; k < b->nopenings; k++) {
        classifier_index_rename (self->index, b->openings [k].provisional, b->openings [k].id);
        for (size_t i = 0; i < b->n; i++)
            if (b->items [i].joined == b->openings [k].provisional)
                b->items [i].joined = b->openings [k].id;
    }
    return 0;
}

static void
s_add_note (tf_ticket_note_t **notes, size_t *n, size_t *cap, int64_t id, const char *kind, int64_t incident,
            int64_t count)
{
    if (*n == *cap) {
        *cap = *cap? *cap * 2: 16;
        *notes = realloc (*notes, *cap * sizeof **notes);
        assert (*notes);
    }
    char *note = count? zsys_sprintf ("mass incident %lld (%lld similar tickets): raised to P1",
                                      (long long) incident, (long long) count)
                      : zsys_sprintf ("joined mass incident %lld: raised to P1", (long long) incident);
    char *data = zsys_sprintf ("{\"incident_id\":%lld,\"priority\":\"P1\",\"reason\":\"batch_complaint\"}",
                               (long long) incident);
    (*notes) [(*n)++] = (tf_ticket_note_t) { id, kind, "classifier", note, data };
}

//  The incident each ticket of the batch ends up in and its P1; the
//  earlier members of the opened incidents linked; the history notes of
//  all of them; the joined incidents counted. Returns 0 or -1.
static int
s_link (batch_t *b)
{
    classifier_t *self = b->self;
    tf_db_array_t *older = tf_db_array_new (), *incidents = tf_db_array_new ();
    tf_ticket_note_t *notes = NULL;
    size_t nnotes = 0, cap = 0;
    for (size_t k = 0; k < b->nopenings; k++) {
        opening_t *o = &b->openings [k];
        for (size_t j = 0; j < o->nmembers; j++) {
            item_t *it = s_item (b, o->members [j]);
            if (it) {
                s_raise (&it->out->result, o->id);
                it->joined = 0;
            }
            else {
                tf_db_array_add_int (older, o->members [j]);
                tf_db_array_add_int (incidents, o->id);
            }
            s_add_note (&notes, &nnotes, &cap, o->members [j], "incident_opened", o->id, o->count);
        }
    }
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items [i];
        if (it->joined <= 0)
            continue;
        s_raise (&it->out->result, it->joined);
        s_count_join (b, it->joined);
        s_add_note (&notes, &nnotes, &cap, it->out->ticket_id, "incident_joined", it->joined, 0);
    }
    int rc = 0;
    if (tf_db_array_count (older) > 0) {
        const char *params [] = { tf_db_array_text (older), tf_db_array_text (incidents) };
        rc = tf_db_command (self->db, "classifier_link", 2, params) < 0? -1: 0;
    }
    tf_db_array_destroy (&older);
    tf_db_array_destroy (&incidents);
    if (rc == 0 && nnotes)
        rc = tf_ticket_notes (self->db, notes, nnotes);
    for (size_t i = 0; i < nnotes; i++) {
        zstr_free ((char **) &notes [i].note);
        zstr_free ((char **) &notes [i].data);
    }
    free (notes);
    return rc;
}

//  After the tickets are stored: the joined incidents' counts. Returns 0 or -1.
static int
s_count_joins (batch_t *b)
{
    if (b->njoined == 0)
        return 0;
    tf_db_array_t *ids = tf_db_array_new (), *counts = tf_db_array_new ();
    for (size_t k = 0; k < b->njoined; k++) {
        tf_db_array_add_int (ids, b->joined_ids [k]);
        tf_db_array_add_int (counts, b->joined_counts [k]);
    }
    const char *params [] = { tf_db_array_text (ids), tf_db_array_text (counts) };
    int rc = tf_db_command (b->self->db, "classifier_joined", 2, params) < 0? -1: 0;
    tf_db_array_destroy (&ids);
    tf_db_array_destroy (&counts);
    return rc;
}

static const char *
s_number (char *buffer, size_t size, const char *format, double value)
{
    snprintf (buffer, size, format, value);
    return buffer;
}

//  The move of the whole batch: status, decision and history in one UPDATE
//  and one INSERT. Returns how many moved, or -1.
static int
s_store (batch_t *b)
{
    classifier_t *self = b->self;
    tf_ticket_move_t *moves = calloc (b->n + 1, sizeof *moves);
    char **data = calloc (b->n + 1, sizeof *data);
    assert (moves && data);
    tf_db_array_t *c [10];
    for (int k = 0; k < 10; k++)
        c [k] = tf_db_array_new ();
    for (size_t i = 0; i < b->n; i++) {
        item_t *it = &b->items [i];
        const classifier_result_t *r = &it->out->result;
        bool triage = r->triage;
        data [i] = s_decision_json (self, r, triage);
        moves [i] = (tf_ticket_move_t) { .id = it->out->ticket_id, .move = triage? TF_MOVE_TRIAGE: TF_MOVE_CLASSIFY,
                                         .data = data [i] };
        char number [32];
        json_t *reasons = s_string_array (r->reasons, r->reason_count);
        char *reasons_text = json_dumps (reasons, JSON_COMPACT);
        json_decref (reasons);
        tf_db_array_add (c [0], triage? NULL: r->category);
        tf_db_array_add (c [1], triage? NULL: r->subcategory);
        tf_db_array_add (c [2], triage? NULL: r->third_level);
        tf_db_array_add (c [3], *r->priority? r->priority: NULL);
        tf_db_array_add (c [4], s_number (number, sizeof number, "%.3f", r->confidence));
        tf_db_array_add (c [5], reasons_text);
        tf_db_array_add (c [6], s_number (number, sizeof number, "%.3f", r->sentiment));
        tf_db_array_add_int (c [7], (int64_t) it->signature);
        if (r->incident_id)
            tf_db_array_add_int (c [8], r->incident_id);
        else
            tf_db_array_add (c [8], NULL);
        if (it->seq)
            tf_db_array_add_int (c [9], it->seq);
        else
            tf_db_array_add (c [9], NULL);
        free (reasons_text);
    }
    const char *columns [10];
    for (int k = 0; k < 10; k++)
        columns [k] = tf_db_array_text (c [k]);
    int moved = tf_ticket_move (self->db, TF_SVC_CLASSIFIER, moves, b->n, &s_classification, columns, true, NULL);
    for (size_t i = 0; i < b->n; i++) {
        free (data [i]);
        snprintf (b->items [i].out->status, sizeof b->items [i].out->status, "%s",
                  tf_status_name (moves [i].moved? tf_moves [moves [i].move].to: TF_STATUS_RECEIVED));
    }
    for (int k = 0; k < 10; k++)
        tf_db_array_destroy (&c [k]);
    free (data);
    free (moves);
    return moved;
}

//  Inside a transaction: reads and locks the tickets among ids that are
//  still received, decides them, checks them for incidents and stores them
//  all. Fills out with the ones that moved. Returns how many, or -1.
static int
s_classify (classifier_t *self, const int64_t *ids, size_t n, classifier_outcome_t *out)
{
    if (n == 0)
        return 0;
    char *array = tf_db_id_array (ids, n);
    char received [64];
    tf_ticket_status_array (TF_FROM (RECEIVED), received, sizeof received);
    PGresult *res = tf_db_run (self->db, "classifier_read", 2, (const char *[]) { array, received });
    free (array);
    if (!tf_db_ok (self->db, res, "read tickets")) {
        PQclear (res);
        return -1;
    }
    batch_t b = { .self = self, .n = (size_t) PQntuples (res) };
    if (b.n == 0) {
        PQclear (res);
        return 0;
    }
    b.items = calloc (b.n, sizeof (item_t));
    b.openings = calloc (b.n, sizeof (opening_t));
    b.joined_ids = calloc (b.n, sizeof (int64_t));
    b.joined_counts = calloc (b.n, sizeof (int));
    assert (b.items && b.openings && b.joined_ids && b.joined_counts);
    //  the model's work, before any lock
    for (size_t i = 0; i < b.n; i++) {
        item_t *it = &b.items [i];
        int row = (int) i;
        it->out = &out [i];
        memset (it->out, 0, sizeof *it->out);
        it->out->ticket_id = strtoll (PQgetvalue (res, row, 0), NULL, 10);
        snprintf (it->out->ticket_no, sizeof it->out->ticket_no, "%s", PQgetvalue (res, row, 1));
        it->text = s_ticket_text (res, row, 2, &it->len);
        classifier_decide (self, it->text, it->len, PQgetvalue (res, row, 7), &it->out->result);
        it->signature = classifier_simhash (it->text, it->len);
        it->product = PQgetvalue (res, row, 8);
        it->created = strtoll (PQgetvalue (res, row, 9), NULL, 10);
    }
    int rc = 0;
    if (self->index) {
        PGresult *lock = tf_db_run (self->db, "classifier_incident_lock", 0, NULL);
        rc = tf_db_ok (self->db, lock, "incident lock")? 0: -1;
        PQclear (lock);
        if (rc == 0)
            rc = s_replay (&b);
        if (rc == 0) {
            s_check (&b);
            rc = s_open (&b);
        }
        if (rc == 0)
            rc = s_link (&b);
    }
    int moved = rc < 0? -1: s_store (&b);
    if (moved >= 0 && self->index && s_count_joins (&b))
        moved = -1;
    //  the moved ones, in order, first in out
    if (moved >= 0) {
        size_t k = 0;
        for (size_t i = 0; i < b.n; i++)
            if (!streq (out [i].status, tf_status_name (TF_STATUS_RECEIVED)))
                out [k++] = out [i];
        if (k != (size_t) moved)
            tf_warn ("%d moved but %zu outcomes", moved, k);
    }
    PQclear (res);
    s_batch_free (&b);
    return moved;
}

//  The end of a transaction: its incidents are handed out only when it
//  committed, and the index is rebuilt when it did not (it learned what the
//  database then forgot).
static int
s_finish (classifier_t *self, int moved)
{
    moved = tf_db_finish (self->db, moved);
    if (moved >= 0) {
        classifier_incident_t *incident;
        while ((incident = zlistx_detach (self->tx_incidents, NULL)))
            zlistx_add_end (self->incidents, incident);
    }
    else {
        zlistx_purge (self->tx_incidents);
        self->index_fresh = false;
    }
    return moved;
}

//  One transaction over the given ids. Returns moved or -1.
static int
s_run_ids_tx (classifier_t *self, const int64_t *ids, size_t n, classifier_outcome_t *out)
{
    if (tf_db_begin (self->db))
        return -1;
    zlistx_purge (self->tx_incidents);
    return s_finish (self, s_classify (self, ids, n, out));
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
    if (moved < 0 && n > 1 && tf_db_conn (self->db))
        moved = s_run_each (self, ids, n, out);
    return moved;
}

int
classifier_run_waiting (classifier_t *self, int stale_seconds, size_t limit, classifier_outcome_t *out)
{
    if (!self->db || limit == 0)
        return self->db? 0: -1;
    int64_t *locked = malloc (limit * sizeof (int64_t));
    assert (locked);
    int m = -1;
    if (tf_db_begin (self->db) == 0) {
        zlistx_purge (self->tx_incidents);
        m = tf_ticket_lock_waiting (self->db, TF_FROM (RECEIVED), stale_seconds, limit, locked);
        //  the ids are all that is needed: the event path takes them again
        tf_db_finish (self->db, m < 0? -1: 0);
    }
    int moved = m <= 0? m: classifier_run_ids (self, locked, (size_t) m, out);
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
    if (tf_db_begin (self->db))
        return tf_error_unavailable (err);

    char *text = NULL, *reasons_text = NULL, *data_text = NULL, *predicted = NULL;
    PGresult *res = NULL;
    const char *params_no [] = { ticket_no };
    res = tf_db_run (self->db, "classifier_read_no", 1, params_no);
    if (!tf_db_ok (self->db, res, "read ticket")) {
        tf_error_unavailable (err);
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
        tf_error_unavailable (err);
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

    char id_text [24], sentiment [32], signature [24];
    snprintf (id_text, sizeof id_text, "%lld", (long long) out->ticket_id);
    snprintf (sentiment, sizeof sentiment, "%.3f", r->sentiment);
    snprintf (signature, sizeof signature, "%lld", (long long) (int64_t) classifier_simhash (text, len));
    const char *values [] = {
        category, subcategory, r->third_level, r->priority, "1", reasons_text, sentiment, signature, NULL, NULL
    };
    char *columns [10];
    for (int c = 0; c < 10; c++) {
        tf_db_array_t *array = tf_db_array_new ();
        tf_db_array_add (array, values [c]);
        columns [c] = strdup (tf_db_array_text (array));
        tf_db_array_destroy (&array);
    }
    tf_ticket_move_t move = { .id = out->ticket_id, .move = TF_MOVE_CLASSIFY_BY_PERSON, .actor = actor,
                              .data = data_text };
    int moved = tf_ticket_move (self->db, TF_SVC_CLASSIFIER, &move, 1, &s_classification,
                                (const char *const *) columns, false, err);
    for (int c = 0; c < 10; c++)
        free (columns [c]);
    if (moved != 1)
        goto failed;
    const char *params_fix [] = { id_text, predicted, subcategory, actor, text };
    if (tf_db_command (self->db, "classifier_correction", 5, params_fix) < 0) {
        tf_error_unavailable (err);
        goto failed;
    }
    if (tf_db_finish (self->db, 0) < 0) {
        tf_error_unavailable (err);
        goto done;
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
    tf_db_finish (self->db, -1);
done:
    free (text);
    free (reasons_text);
    free (data_text);
    free (predicted);
    return -1;
}
