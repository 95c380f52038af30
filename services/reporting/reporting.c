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

//  closed_at is set in the same statement as the status
static const tf_ticket_columns_t s_closed_at = { "reporting_close", ", closed_at = tf_now ()", (const char *[]) { NULL } };

//  One statement, one snapshot. Every map is built from its own GROUP BY;
//  the durations are numeric seconds (PostgreSQL >= 14 extracts numeric).
#define S_MAP(expr, where) \
    "(SELECT coalesce (jsonb_object_agg (k, n), '{}'::jsonb) FROM " \
    " (SELECT " expr " AS k, count(*) AS n FROM tickets " where " GROUP BY 1) s)"
#define S_KNOWN_MAP(column, values, other) \
    "(SELECT jsonb_object_agg (coalesce (v.k, s.k), coalesce (s.n, 0)) FROM " values " v (k)" \
    " FULL JOIN (SELECT coalesce (" column ", '" other "') AS k, count(*) AS n FROM tickets" \
    "            GROUP BY 1) s ON s.k = v.k)"
#define S_SECONDS(a, b) "extract (epoch FROM (" a ") - (" b "))"

static const char *SQL_SUMMARY =
    "SELECT jsonb_build_object ("
    "  'generated_at', tf_now (),"
    "  'total', a.total,"
    "  'open', a.open,"
    "  'by_status', " S_KNOWN_MAP ("status", "unnest ($1::text[])", "unknown") ","
    "  'by_category', " S_MAP ("coalesce (nullif (category, ''), 'unclassified')", "") ","
    "  'by_subcategory', (SELECT coalesce (jsonb_object_agg (k, n), '{}'::jsonb) FROM"
    "     (SELECT coalesce (nullif (subcategory, ''), 'unclassified') AS k, count(*) AS n"
    "      FROM tickets GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10) s),"
    "  'by_priority', " S_KNOWN_MAP ("nullif (priority, '')", "(VALUES ('P1'), ('P2'), ('P3'), ('unclassified'))",
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
    "     'queued', count(*) FILTER (WHERE status = 'queued'),"
    "     'failed', count(*) FILTER (WHERE status = 'failed'),"
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
    "         count(*) FILTER (WHERE status = ANY ($2::text[])) AS open,"
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
    if (tf_db_prepare (db, "reporting_summary", SQL_SUMMARY, 2))
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

//  Inside the transaction: closes those of ids[0..n) that are confirmed
//  and not held by another instance. Returns how many, or -1.
static int
s_close (reporting_t *self, const int64_t *ids, size_t n)
{
    tf_ticket_move_t *items = calloc (n + 1, sizeof *items);
    assert (items);
    for (size_t i = 0; i < n; i++)
        items [i] = (tf_ticket_move_t) { .id = ids [i], .move = TF_MOVE_CLOSE };
    int closed = tf_ticket_move (self->db, TF_SVC_REPORTING, items, n, &s_closed_at, NULL, true, NULL);
    free (items);
    return closed;
}

int
reporting_close (reporting_t *self, const int64_t *ids, size_t n)
{
    if (n == 0)
        return 0;
    if (tf_db_begin (self->db))
        return -1;
    int rc = tf_db_finish (self->db, s_close (self, ids, n));
    if (rc > 0)
        tf_debug ("closed %d of %zu confirmed tickets", rc, n);
    return rc;
}

int
reporting_reconcile (reporting_t *self, int stale_seconds, size_t limit)
{
    if (limit == 0)
        return 0;
    if (tf_db_begin (self->db))
        return -1;
    int64_t *locked = calloc (limit, sizeof *locked);
    assert (locked);
    int count = tf_ticket_lock_waiting (self->db, TF_FROM (CONFIRMED), stale_seconds, limit, locked);
    int rc = tf_db_finish (self->db, count < 0? -1: s_close (self, locked, (size_t) count));
    free (locked);
    return rc;
}

char *
reporting_summary_json (reporting_t *self, tf_error_t *err)
{
    //  read-only: a write on this path would be refused by PostgreSQL
    if (tf_db_begin (self->db) || tf_db_exec (self->db, "SET TRANSACTION READ ONLY")) {
        if (tf_db_in_transaction (self->db))
            tf_db_finish (self->db, -1);
        tf_error_unavailable (err);
        return NULL;
    }
    //  every status, and the backlog: those before the handler resolved it
    char every [256], open [256];
    tf_ticket_status_array (tf_status_all (), every, sizeof every);
    tf_ticket_status_array (tf_status_open (), open, sizeof open);
    PGresult *res = tf_db_run (self->db, "reporting_summary", 2, (const char *[]) { every, open });
    char *text = NULL;
    if (!tf_db_ok (self->db, res, "summary report"))
        tf_error_unavailable (err);
    else
    if (PQntuples (res) != 1 || PQgetisnull (res, 0, 0))
        tf_error_set (err, TF_ERR_INTERNAL, NULL, "the summary report came back empty");
    else
        text = strdup (PQgetvalue (res, 0, 0));
    PQclear (res);
    if (tf_db_finish (self->db, text? 0: -1) < 0 && text) {
        free (text);
        text = NULL;
        tf_error_unavailable (err);
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
