/*  reporting — the archive stage and the metrics. No sockets here: the actor
    (reporting_server.c) feeds it and the tests call it directly.

    Archive stage: a confirmed ticket (the customer confirmed the fix) is
    closed: confirmed → closed, closed_at set, one history row (event
    `closed`, actor `reporting`), in one transaction per batch, so a
    repeated or late ticket.confirmed changes nothing. (closed → archived
    comes later.)

    Metrics: the summary report is built by PostgreSQL as one JSON document
    in a read-only transaction (the request path never writes). Keys:

      generated_at          time of the report (RFC 3339)
      total                 every ticket
      open                  backlog: not resolved, confirmed, closed or archived
      by_status             status → count (every known status, 0 included)
      by_category           category → count ("unclassified": none yet)
      by_subcategory        the 10 largest sub-categories → count (ties by name)
      by_priority           P1/P2/P3/"unclassified" → count
      by_department         department → count ("unassigned": none yet)
      by_channel            channel → count
      avg_first_response_seconds   avg of first_response_at (else accepted_at)
                            - created_at, over tickets that have one; null: none
      avg_resolution_seconds       avg of resolved_at - created_at; null: none
      avg_csat, csat_count  satisfaction 1-5 (avg null when none)
      resolved_count        tickets with resolved_at
      reopened_count        tickets with reopen_count > 0
      reopen_rate           reopened_count / tickets resolved at least once
                            (resolved_at set or reopened); null when none
      sla                   {response_breached, resolve_breached, on_time,
                             on_time_rate}: on_time = resolved tickets whose
                            resolution deadline was not breached; rate =
                            on_time / resolved_count (null when none)
      outbox                {pending, sent, dead} rows of the outbox
      per_category_avg_resolution_seconds   category → avg over resolved tickets
      per_category_avg_first_response_seconds  category → avg first response
      per_category_avg_csat                 category → avg over rated tickets

    Seconds are rounded to 0.1, rates to 4 decimals, csat to 2.
*/
#ifndef REPORTING_H
#define REPORTING_H

#include "tf_codec.h"
#include "tf_db.h"
#include <stddef.h>
#include <stdint.h>

typedef struct reporting_t reporting_t;

//  Prepares the statements on db (which stays the caller's). NULL when the
//  statements cannot be prepared.
reporting_t *reporting_new (tf_db_t *db);
void reporting_destroy (reporting_t **self_p);

//  The event path: closes the tickets among ids[0..n) that are confirmed
//  (others, and those another instance holds, are skipped), in one
//  transaction. Returns how many were closed, or -1 when the database
//  failed (nothing changed; the reconciler retries).
int reporting_close (reporting_t *self, const int64_t *ids, size_t n);

//  The reconciler path: closes up to `limit` tickets that have been
//  confirmed for at least stale_seconds, oldest first, in one transaction.
//  Returns how many, or -1 when the database failed.
int reporting_reconcile (reporting_t *self, int stale_seconds, size_t limit);

//  The summary report as JSON text (caller frees), or NULL with err
//  (`unavailable`, `internal`). Read-only.
char *reporting_summary_json (reporting_t *self, tf_error_t *err);

//  The summary report as one msgpack map (caller frees *data), for the
//  `report` reply. Returns 0, or -1 with err.
int reporting_summary_msgpack (reporting_t *self, char **data, size_t *size, tf_error_t *err);

#endif
