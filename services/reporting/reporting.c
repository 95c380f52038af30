#include "reporting.h"
#include "tf_json.h"
#include "tf_log.h"
#include "tf_ticket.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct reporting_t {
    tf_db_t *db;
};

static const char *SQL_CLOSED_AT =
    "UPDATE tickets SET closed_at = now () WHERE id = $1 AND status = 'closed'";

//  One statement, one snapshot. Every map is built from its own GROUP BY;
//  the durations are numeric seconds (PostgreSQL >= 14 extracts numeric).
#define S_MAP(expr, where) \
    "(SELECT coalesce (jsonb_object_agg (k, n), '{}'::jsonb) FROM " \
    " (SELECT " expr " AS k, count(*) AS n FROM tickets " where " GROUP BY 1) s)"
#define S_KNOWN_MAP(column, values, other) \
    "(SELECT jsonb_object_agg (coalesce (v.k, s.k), coalesce (s.n, 0)) FROM (VALUES " values ") v (k)" \
    " FULL JOIN (SELECT coalesce (" column ", '" other "') AS k, count(*) AS n FROM tickets" \
    "            GROUP BY 1) s ON s.k = v.k)"
#define S_SECONDS(a, b) "extract (epoch FROM (" a ") - (" b "))"

static const char *SQL_SUMMARY =
    "SELECT jsonb_build_object ("
    "  'generated_at', now (),"
    "  'total', a.total,"
    "  'open', a.open,"
    "  'by_status', " S_KNOWN_MAP ("status",
        "('received'), ('triage'), ('classified'), ('assigned'), ('accepted'), ('in_progress'),"
        " ('on_hold'), ('resolved'), ('confirmed'), ('reopened'), ('closed'), ("
        "'archived')", "unknown") ","
    "  'by_category', " S_MAP ("coalesce (nullif (category, ''), 'unclassified')", "") ","
    "  'by_subcategory', (SELECT coalesce (jsonb_object_agg (k, n), '{}'::jsonb) FROM"
    "     (SELECT coalesce (nullif (subcategory, ''), 'unclassified') AS k, count(*) AS n"
    "      FROM tickets GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10) s),"
    "  'by_priority', " S_KNOWN_MAP ("nullif (priority, '')", "('P1'), ('P2'), ('P3'), ('unclassified')",
                                     "unclassified") ","
    "  'by_department', " S_MAP ("coalesce (nullif (department, ''), 'unassigned')", "") ","
    "  'by_channel', " S_MAP ("channel", "") ","
    "  'avg_first_response_seconds', round (a.first_response, 1),"
    "  'avg_resolution_seconds', round (a.resolution, 1),"
    "  'avg_csat', round (a.csat, 2),"
    "  'csat_count', a.csat_count,"
    "  'resolved_count', a.resolved,"
    "  'reopened_count', a.reopened,"
    "  'reopen_rate', CASE WHEN a.resolved_once > 0"
    "                 THEN round (a.reopened::numeric / a.resolved_once, 4) END,"
    "  'sla', jsonb_build_object ("
    "     'response_breached', a.response_breached,"
    "     'resolve_breached', a.resolve_breached,"
    "     'on_time', a.on_time,"
    "     'on_time_rate', CASE WHEN a.resolved > 0 THEN round (a.on_time::numeric / a.resolved, 4) END),"
    "  'outbox', (SELECT jsonb_build_object ("
    "     'pending', count(*) FILTER (WHERE status = 'pending'),"
    "     'sent', count(*) FILTER (WHERE status = 'sent'),"
    "     'dead', count(*) FILTER (WHERE status = 'dead')) FROM outbox),"
    "  'per_category_avg_resolution_seconds', (SELECT coalesce (jsonb_object_agg (k, v), '{}'::jsonb) FROM"
    "     (SELECT coalesce (nullif (category, ''), 'unclassified') AS k,"
    "             round (avg (" S_SECONDS ("resolved_at", "created_at") "), 1) AS v"
    "      FROM tickets WHERE resolved_at IS NOT NULL GROUP BY 1) s),"
    "  'per_category_avg_first_response_seconds', (SELECT coalesce (jsonb_object_agg (k, v), '{}'::jsonb) FROM"
    "     (SELECT coalesce (nullif (category, ''), 'unclassified') AS k,"
    "             round (avg (" S_SECONDS ("coalesce (first_response_at, accepted_at)", "created_at") "), 1) AS v"
    "      FROM tickets WHERE coalesce (first_response_at, accepted_at) IS NOT NULL GROUP BY 1) s),"
    "  'per_category_avg_csat', (SELECT coalesce (jsonb_object_agg (k, v), '{}'::jsonb) FROM"
    "     (SELECT coalesce (nullif (category, ''), 'unclassified') AS k, round (avg (csat), 2) AS v"
    "      FROM tickets WHERE csat IS NOT NULL GROUP BY 1) s)"
    ")::text FROM ("
    "  SELECT count(*) AS total,"
    "         count(*) FILTER (WHERE status NOT IN ('resolved', 'confirmed', 'closed', 'archived')) AS open,"
    "         avg (" S_SECONDS ("coalesce (first_response_at, accepted_at)", "created_at") ") AS first_response,"
    "         avg (" S_SECONDS ("resolved_at", "created_at") ") AS resolution,"
    "         avg (csat) AS csat,"
    "         count(csat) AS csat_count,"
    "         count(*) FILTER (WHERE resolved_at IS NOT NULL) AS resolved,"
    "         count(*) FILTER (WHERE reopen_count > 0) AS reopened,"
    "         count(*) FILTER (WHERE resolved_at IS NOT NULL OR reopen_count > 0) AS resolved_once,"
    "         count(*) FILTER (WHERE resolved_at IS NOT NULL AND NOT resolve_breached) AS on_time,"
    "         count(*) FILTER (WHERE response_breached) AS response_breached,"
    "         count(*) FILTER (WHERE resolve_breached) AS resolve_breached"
    "  FROM tickets) a";

reporting_t *
reporting_new (tf_db_t *db)
{
    reporting_t *self = calloc (1, sizeof *self);
    assert (self);
    self->db = db;
    if (tf_db_prepare (db, "reporting_closed_at", SQL_CLOSED_AT, 1)
    ||  tf_db_prepare (db, "reporting_summary", SQL_SUMMARY, 0)
    ||  tf_ticket_prepare (db))
        reporting_destroy (&self);
    return self;
}

void
reporting_destroy (reporting_t **self_p)
{
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

//  Inside the transaction: closes the locked tickets. Returns how many, or
//  -1 when the database failed (the caller rolls back).
static int
s_close_locked (reporting_t *self, const int64_t *locked, int n)
{
    int closed = 0;
    for (int i = 0; i < n; i++) {
        tf_error_t err;
        if (tf_ticket_transition (self->db, locked [i], "confirmed", "closed", "closed", "reporting",
                                  NULL, NULL, &err)) {
            if (streq (err.code, TF_ERR_UNAVAILABLE))
                return -1;
            //  cannot happen under the row lock; skip it rather than lose the batch
            tf_warn ("ticket %lld not closed: %s", (long long) locked [i], err.message);
            continue;
        }
        char id [24];
        snprintf (id, sizeof id, "%lld", (long long) locked [i]);
        const char *params [] = { id };
        PGresult *res = tf_db_run (self->db, "reporting_closed_at", 1, params);
        bool ok = tf_db_ok (self->db, res, "set closed_at");
        PQclear (res);
        if (!ok)
            return -1;
        closed++;
    }
    return closed;
}

//  Commits, or rolls back when rc < 0. Returns rc, or -1 when COMMIT failed.
static int
s_finish (reporting_t *self, int rc)
{
    if (rc < 0) {
        tf_db_exec (self->db, "ROLLBACK");
        return -1;
    }
    //  a failed COMMIT ends the transaction by itself
    return tf_db_exec (self->db, "COMMIT") == 0? rc: -1;
}

int
reporting_close (reporting_t *self, const int64_t *ids, size_t n)
{
    if (n == 0)
        return 0;
    if (tf_db_exec (self->db, "BEGIN"))
        return -1;
    int64_t *locked = calloc (n, sizeof *locked);
    assert (locked);
    int count = tf_ticket_lock_ids (self->db, "confirmed", ids, n, locked);
    int rc = count < 0? -1: s_close_locked (self, locked, count);
    free (locked);
    rc = s_finish (self, rc);
    if (rc > 0)
        tf_debug ("closed %d of %zu confirmed tickets", rc, n);
    return rc;
}

int
reporting_reconcile (reporting_t *self, int stale_seconds, size_t limit)
{
    if (limit == 0)
        return 0;
    if (tf_db_exec (self->db, "BEGIN"))
        return -1;
    int64_t *locked = calloc (limit, sizeof *locked);
    assert (locked);
    int count = tf_ticket_lock_waiting (self->db, "confirmed", stale_seconds, limit, locked);
    int rc = count < 0? -1: s_close_locked (self, locked, count);
    free (locked);
    rc = s_finish (self, rc);
    if (rc > 0)
        tf_info ("reconciler closed %d confirmed tickets", rc);
    return rc;
}

char *
reporting_summary_json (reporting_t *self, tf_error_t *err)
{
    //  read-only: a write on this path would be refused by PostgreSQL
    if (tf_db_exec (self->db, "BEGIN TRANSACTION READ ONLY")) {
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
        return NULL;
    }
    PGresult *res = tf_db_run (self->db, "reporting_summary", 0, NULL);
    char *text = NULL;
    if (!tf_db_ok (self->db, res, "summary report"))
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
    else
    if (PQntuples (res) != 1 || PQgetisnull (res, 0, 0))
        tf_error_set (err, TF_ERR_INTERNAL, NULL, "the summary report came back empty");
    else
        text = strdup (PQgetvalue (res, 0, 0));
    PQclear (res);
    if (tf_db_exec (self->db, text? "COMMIT": "ROLLBACK") && text) {
        free (text);
        text = NULL;
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
    }
    return text;
}

int
reporting_summary_msgpack (reporting_t *self, char **data, size_t *size, tf_error_t *err)
{
    *data = NULL;
    *size = 0;
    char *text = reporting_summary_json (self, err);
    if (!text)
        return -1;
    json_error_t jerr;
    json_t *json = json_loads (text, 0, &jerr);
    free (text);
    if (!json || !json_is_object (json)) {
        json_decref (json);
        return tf_error_set (err, TF_ERR_INTERNAL, NULL, "the summary report is not a JSON object");
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    int rc = tf_json_pack (&pk, json);
    json_decref (json);
    if (rc) {
        msgpack_sbuffer_destroy (&sbuf);
        return tf_error_set (err, TF_ERR_INTERNAL, NULL, "the summary report is nested too deeply");
    }
    *data = sbuf.data;          //  the sbuffer's memory is malloc'ed: the caller frees it
    *size = sbuf.size;
    return 0;
}
