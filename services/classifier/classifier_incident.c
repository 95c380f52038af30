#include "classifier_incident.h"
#include "textfeat.h"
#include "tf_log.h"
#include "tf_ticket.h"
#include "tf_utf8.h"
#include <assert.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  At most this many matching tickets are read per check
#define MATCHES_MAX     1000
//  Bytes of text hashed (a ticket body is at most 16 KB anyway)
#define SIMHASH_TEXT_MAX (64 * 1024)

//  --------------------------------------------------------------------------
//  SimHash

static uint64_t
s_mix (uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

//  Spaces, punctuation and symbols do not count; digits are folded by the caller
static bool
s_counts (uint32_t cp)
{
    if (cp < 0x80)
        return (cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9');
    if (cp <= 0xBF || cp == 0xD7 || cp == 0xF7)
        return false;
    if ((cp >= 0x2000 && cp <= 0x2BFF) || (cp >= 0x3000 && cp <= 0x303F)
    ||  (cp >= 0xFE10 && cp <= 0xFE6F) || (cp >= 0xFF00 && cp <= 0xFFFF))
        return false;
    return true;
}

uint64_t
classifier_simhash (const char *text, size_t len)
{
    if (!text || len == 0)
        return 0;
    if (len > SIMHASH_TEXT_MAX)
        len = SIMHASH_TEXT_MAX;
    size_t cap = len * 3 + 1;
    char *norm = malloc (cap);
    uint32_t *cps = malloc ((len + 1) * sizeof (uint32_t));
    assert (norm && cps);
    size_t n = textfeat_normalize (text, len, norm, cap);
    size_t count = 0;
    size_t at = 0;
    bool in_digits = false;
    while (at < n) {
        uint32_t cp;
        at += tf_utf8_next (norm, n, at, &cp);
        if (!s_counts (cp)) {
            in_digits = false;
            continue;
        }
        if (cp >= '0' && cp <= '9') {
            if (in_digits)
                continue;       //  a run of digits is one '0'
            in_digits = true;
            cp = '0';
        }
        else
            in_digits = false;
        cps [count++] = cp;
    }
    free (norm);
    int votes [64] = { 0 };
    size_t shingles = count >= 3? count - 2: count? 1: 0;
    for (size_t i = 0; i < shingles; i++) {
        uint64_t h = 0xcbf29ce484222325ULL;         //  FNV-1a over the code points
        for (size_t k = i; k < i + 3 && k < count; k++) {
            h ^= cps [k];
            h *= 0x100000001b3ULL;
        }
        h = s_mix (h);
        for (int b = 0; b < 64; b++)
            votes [b] += (h >> b) & 1? 1: -1;
    }
    free (cps);
    if (shingles == 0)
        return 0;
    uint64_t signature = 0;
    for (int b = 0; b < 64; b++)
        if (votes [b] > 0)
            signature |= 1ULL << b;
    return signature;
}

int
classifier_hamming (uint64_t a, uint64_t b)
{
    return __builtin_popcountll (a ^ b);
}

//  --------------------------------------------------------------------------
//  The incident

void
classifier_incident_destroy (classifier_incident_t **self_p)
{
    classifier_incident_t *self = *self_p;
    if (!self)
        return;
    free (self->subcategory);
    free (self->product);
    free (self->summary);
    for (size_t i = 0; i < self->ticket_no_count; i++)
        free (self->ticket_nos [i]);
    free (self);
    *self_p = NULL;
}

static const char *SQL_LOCK =
    "SELECT pg_advisory_xact_lock (hashtext ($1))";

//  Tickets like this one in the window: the same sub-category and
//  near-duplicate text, or the same product / batch whatever the customers
//  called it (a spoiled batch reads as damage to one, as a complaint to the
//  next). The open incident each belongs to, if any.
static const char *SQL_MATCHES =
    "SELECT t.id, t.ticket_no, coalesce (t.product, ''), t.text_signature,"
    "       CASE WHEN i.status = 'open' THEN t.incident_id END, left (t.body, 200) "
    "FROM tickets t LEFT JOIN incidents i ON i.id = t.incident_id "
    "WHERE t.text_signature IS NOT NULL AND t.id <> $2"
    "  AND t.created_at BETWEEN $3::timestamptz - make_interval (mins => $4::int)"
    "                       AND $3::timestamptz + make_interval (mins => $4::int)"
    "  AND ((t.subcategory = $1 AND bit_count ((t.text_signature # $5::bigint)::bit(64)) <= $6::int)"
    "       OR ($7 <> '' AND t.product = $7)) "
    "ORDER BY t.id LIMIT 1000";

//  An open incident still in its window that matches the same way
static const char *SQL_OPEN_INCIDENT =
    "SELECT id FROM incidents "
    "WHERE status = 'open'"
    "  AND last_ticket_at >= $2::timestamptz - make_interval (mins => $3::int)"
    "  AND ((subcategory = $1 AND bit_count ((signature # $4::bigint)::bit(64)) <= $5::int)"
    "       OR ($6 <> '' AND product = $6)) "
    "ORDER BY last_ticket_at DESC LIMIT 1";

static const char *SQL_JOIN =
    "UPDATE incidents SET ticket_count = ticket_count + 1, last_ticket_at = now () "
    "WHERE id = $1 AND status = 'open' RETURNING id, ticket_count";

static const char *SQL_INSERT =
    "INSERT INTO incidents (subcategory, product, signature, summary, ticket_count) "
    "VALUES ($1, $2, $3::bigint, $4, $5::int) RETURNING id";

static const char *SQL_LINK =
    "UPDATE tickets SET incident_id = $1, priority = 'P1',"
    "       priority_reasons = CASE WHEN 'batch_complaint' = ANY (priority_reasons)"
    "                          THEN priority_reasons"
    "                          ELSE array_append (priority_reasons, 'batch_complaint') END,"
    "       updated_at = now () "
    "WHERE id = ANY ($2::int8[]) RETURNING id";

int
classifier_incident_prepare (tf_db_t *db)
{
    return tf_db_prepare (db, "classifier_incident_lock", SQL_LOCK, 1)
        || tf_db_prepare (db, "classifier_incident_matches", SQL_MATCHES, 7)
        || tf_db_prepare (db, "classifier_incident_open", SQL_OPEN_INCIDENT, 6)
        || tf_db_prepare (db, "classifier_incident_join", SQL_JOIN, 1)
        || tf_db_prepare (db, "classifier_incident_insert", SQL_INSERT, 5)
        || tf_db_prepare (db, "classifier_incident_link", SQL_LINK, 2)? -1: 0;
}

int
classifier_incident_lock (tf_db_t *db, const char *subcategory)
{
    const char *params [] = { subcategory };
    PGresult *res = tf_db_run (db, "classifier_incident_lock", 1, params);
    int rc = tf_db_ok (db, res, "incident lock")? 0: -1;
    PQclear (res);
    return rc;
}

//  The start of a text, at most max bytes, cut at a character boundary,
//  with line breaks as spaces and "…" when it was cut
static char *
s_shorten (const char *text, size_t len, size_t max)
{
    char *out = malloc (max + 1);
    assert (out);
    //  a cut text leaves room for the ellipsis
    size_t keep = tf_utf8_prefix (text, len, len > max? max - 3: max);
    bool cut = keep < len;
    size_t o = 0;
    for (size_t i = 0; i < keep; i++)
        out [o++] = text [i] == '\n' || text [i] == '\r' || text [i] == '\t'? ' ': text [i];
    if (cut) {
        memcpy (out + o, "\xe2\x80\xa6", 3);
        o += 3;
    }
    out [o] = 0;
    if (o == 0) {
        free (out);
        out = strdup ("-");
    }
    return out;
}

//  History note on a linked ticket
static int
s_note (tf_db_t *db, int64_t ticket_id, const char *kind, int64_t incident_id, int64_t count)
{
    char note [128], data [160];
    snprintf (note, sizeof note, "mass incident %lld (%lld similar tickets): raised to P1",
              (long long) incident_id, (long long) count);
    snprintf (data, sizeof data,
              "{\"incident_id\":%lld,\"priority\":\"P1\",\"reason\":\"batch_complaint\"}",
              (long long) incident_id);
    return tf_ticket_note (db, ticket_id, kind, "classifier", note, data);
}

int
classifier_incident_check (tf_db_t *db, const classifier_incident_ticket_t *ticket,
                           int threshold, int window_minutes, int64_t *incident_id,
                           classifier_incident_t **opened)
{
    *incident_id = 0;
    *opened = NULL;
    const char *product = ticket->product? ticket->product: "";
    if ((!ticket->subcategory && !*product) || threshold < 2 || window_minutes < 1)
        return 0;
    char id_text [24], window [16], signature [24], distance [8];
    snprintf (id_text, sizeof id_text, "%lld", (long long) ticket->id);
    snprintf (window, sizeof window, "%d", window_minutes);
    snprintf (signature, sizeof signature, "%lld", (long long) (int64_t) ticket->signature);
    snprintf (distance, sizeof distance, "%d", CLASSIFIER_SIMHASH_DISTANCE);
    //  an open incident that matches by its own signature or product: join
    //  it without reading the tickets (a big incident has many)
    int64_t join = 0;
    const char *params_open [] = {
        ticket->subcategory, ticket->created_at, window, signature, distance, product
    };
    PGresult *res = tf_db_run (db, "classifier_incident_open", 6, params_open);
    if (!tf_db_ok (db, res, "open incident")) {
        PQclear (res);
        return -1;
    }
    if (PQntuples (res))
        join = strtoll (PQgetvalue (res, 0, 0), NULL, 10);
    PQclear (res);
    res = NULL;
    int rows = 0;
    if (!join) {
        const char *params [] = {
            ticket->subcategory, id_text, ticket->created_at, window, signature, distance, product
        };
        res = tf_db_run (db, "classifier_incident_matches", 7, params);
        if (!tf_db_ok (db, res, "incident matches")) {
            PQclear (res);
            return -1;
        }
        rows = PQntuples (res);
        //  a match in an open incident: join the newest such incident
        for (int r = 0; r < rows; r++)
            if (!PQgetisnull (res, r, 4)) {
                int64_t id = strtoll (PQgetvalue (res, r, 4), NULL, 10);
                if (id > join)
                    join = id;
            }
    }
    if (join) {
        PQclear (res);
        char join_text [24];
        snprintf (join_text, sizeof join_text, "%lld", (long long) join);
        const char *params_join [] = { join_text };
        res = tf_db_run (db, "classifier_incident_join", 1, params_join);
        bool ok = tf_db_ok (db, res, "join incident");
        int64_t count = ok && PQntuples (res) == 1? strtoll (PQgetvalue (res, 0, 1), NULL, 10): 0;
        PQclear (res);
        if (!ok)
            return -1;
        if (!count)
            return 0;
        char *array = tf_db_id_array (&ticket->id, 1);
        const char *params_link [] = { join_text, array };
        res = tf_db_run (db, "classifier_incident_link", 2, params_link);
        free (array);
        ok = tf_db_ok (db, res, "link incident ticket");
        PQclear (res);
        if (!ok || s_note (db, ticket->id, "incident_joined", join, count))
            return -1;
        *incident_id = join;
        return 1;
    }
    //  the matches that belong to no open incident, and this ticket
    int64_t *ids = malloc (((size_t) rows + 1) * sizeof (int64_t));
    assert (ids);
    size_t free_count = 0;
    bool same_product = *product != 0;
    for (int r = 0; r < rows; r++) {
        ids [free_count++] = strtoll (PQgetvalue (res, r, 0), NULL, 10);
        same_product = same_product && strcmp (PQgetvalue (res, r, 2), product) == 0;
    }
    if ((int64_t) free_count + 1 < threshold) {
        free (ids);
        PQclear (res);
        return 0;
    }
    //  the first ticket (the oldest; rows are in id order) gives the
    //  signature and the summary
    bool this_first = ticket->id < ids [0];
    uint64_t first_signature = this_first? ticket->signature
                             : (uint64_t) strtoll (PQgetvalue (res, 0, 3), NULL, 10);
    char *summary = this_first? s_shorten (ticket->text, ticket->len, CLASSIFIER_INCIDENT_SUMMARY_MAX)
                  : s_shorten (PQgetvalue (res, 0, 5), (size_t) PQgetlength (res, 0, 5),
                               CLASSIFIER_INCIDENT_SUMMARY_MAX);
    int64_t count = (int64_t) free_count + 1;
    char first_text [24], count_text [24];
    snprintf (first_text, sizeof first_text, "%lld", (long long) (int64_t) first_signature);
    snprintf (count_text, sizeof count_text, "%lld", (long long) count);
    const char *params_insert [] = {
        ticket->subcategory, same_product? product: NULL, first_text, summary, count_text
    };
    PGresult *inserted = tf_db_run (db, "classifier_incident_insert", 5, params_insert);
    if (!tf_db_ok (db, inserted, "open incident") || PQntuples (inserted) != 1) {
        PQclear (inserted);
        PQclear (res);
        free (summary);
        free (ids);
        return -1;
    }
    int64_t new_id = strtoll (PQgetvalue (inserted, 0, 0), NULL, 10);
    PQclear (inserted);

    classifier_incident_t *incident = calloc (1, sizeof *incident);
    assert (incident);
    incident->id = new_id;
    incident->subcategory = ticket->subcategory? strdup (ticket->subcategory): NULL;
    incident->product = same_product? strdup (product): NULL;
    incident->summary = summary;
    incident->ticket_count = count;
    for (int r = 0; r < rows && incident->ticket_no_count < CLASSIFIER_INCIDENT_TICKETS_MAX - 1; r++)
        incident->ticket_nos [incident->ticket_no_count++] = strdup (PQgetvalue (res, r, 1));
    incident->ticket_nos [incident->ticket_no_count++] = strdup (ticket->ticket_no);
    PQclear (res);

    //  link them all, this one included, raise them, and say so in their history
    ids [free_count++] = ticket->id;
    char incident_text [24];
    snprintf (incident_text, sizeof incident_text, "%lld", (long long) new_id);
    char *array = tf_db_id_array (ids, free_count);
    const char *params_link [] = { incident_text, array };
    res = tf_db_run (db, "classifier_incident_link", 2, params_link);
    free (array);
    int rc = tf_db_ok (db, res, "link incident tickets")? 0: -1;
    PQclear (res);
    for (size_t i = 0; i < free_count && rc == 0; i++)
        rc = s_note (db, ids [i], "incident_opened", new_id, count);
    free (ids);
    if (rc) {
        classifier_incident_destroy (&incident);
        return -1;
    }
    *incident_id = new_id;
    *opened = incident;
    return 2;
}

int
classifier_incident_event (const classifier_incident_t *self, tf_msg_t *msg)
{
    tf_msg_init (msg, TF_MSG_INCIDENT_OPENED);
    tf_msg_set_int (msg, TF_F_INCIDENT_OPENED_INCIDENT_ID, self->id);
    tf_msg_set_cstr (msg, TF_F_INCIDENT_OPENED_SUBCATEGORY, self->subcategory);
    tf_msg_set_cstr (msg, TF_F_INCIDENT_OPENED_PRODUCT, self->product);
    tf_msg_set_int (msg, TF_F_INCIDENT_OPENED_TICKET_COUNT, self->ticket_count);
    tf_msg_set_cstr (msg, TF_F_INCIDENT_OPENED_SUMMARY, self->summary);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, self->ticket_no_count);
    for (size_t i = 0; i < self->ticket_no_count; i++) {
        size_t n = strlen (self->ticket_nos [i]);
        msgpack_pack_str (&pk, n);
        msgpack_pack_str_body (&pk, self->ticket_nos [i], n);
    }
    tf_msg_set_raw (msg, TF_F_INCIDENT_OPENED_TICKET_NOS, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return 0;
}
