/*  tf_metrics — a service's numbers for Prometheus: counters, gauges and
    histograms of the families declared below, each with at most one label,
    rendered in the Prometheus text format (version 0.0.4). Thread-safe: the
    service loop writes, the ops HTTP thread renders.

    Every series carries service="<name>" too, so one scrape config can
    take every instance.
*/
#ifndef TF_METRICS_H
#define TF_METRICS_H

#include <stddef.h>

typedef enum { TF_METRIC_COUNTER, TF_METRIC_GAUGE, TF_METRIC_HISTOGRAM } tf_metric_kind_t;

//  TF_METRIC_FAMILY (ID, "name", KIND, "label" or "", BUCKETS, "help")
#define TF_METRIC_FAMILIES(X) \
    X (MESSAGES_IN, "ticketflow_messages_received_total", COUNTER, "type", TF_NO_BUCKETS, \
       "Messages received, by type: requests on the request socket, events on the input socket.") \
    X (MESSAGES_OUT, "ticketflow_messages_sent_total", COUNTER, "type", TF_NO_BUCKETS, \
       "Replies and events sent, by type.") \
    X (SENDS_DROPPED, "ticketflow_sends_dropped_total", COUNTER, "type", TF_NO_BUCKETS, \
       "Events that could not be sent (no peer, or its queue is full); the next stage's reconciler takes the ticket later.") \
    X (REFUSED, "ticketflow_requests_refused_total", COUNTER, "code", TF_NO_BUCKETS, \
       "Requests answered with an error, by error code.") \
    X (EVENTS_REFUSED, "ticketflow_events_refused_total", COUNTER, "", TF_NO_BUCKETS, \
       "Events dropped because they were malformed or not for this service.") \
    X (BATCH_SIZE, "ticketflow_batch_size", HISTOGRAM, "input", TF_SIZE_BUCKETS, \
       "Messages handled together in one batch, by input (message type).") \
    X (BATCH_SECONDS, "ticketflow_batch_seconds", HISTOGRAM, "input", TF_TIME_BUCKETS, \
       "Time to handle one batch (its database work included), by input.") \
    X (REQUEST_SECONDS, "ticketflow_request_seconds", HISTOGRAM, "type", TF_TIME_BUCKETS, \
       "Time from receiving a request to sending its reply, by request type.") \
    X (MOVES, "ticketflow_ticket_moves_total", COUNTER, "move", TF_NO_BUCKETS, \
       "Status changes this instance committed, by move (proto/status.def).") \
    X (RECONCILED, "ticketflow_reconciled_total", COUNTER, "", TF_NO_BUCKETS, \
       "Tickets the reconciler took because their event was lost or late.") \
    X (WAITING, "ticketflow_waiting", GAUGE, "queue", TF_NO_BUCKETS, \
       "Work waiting for this service in the database (tickets in its input status, due rows), by queue.") \
    X (WAITING_AGE, "ticketflow_waiting_oldest_seconds", GAUGE, "queue", TF_NO_BUCKETS, \
       "Age of the oldest item waiting for this service, by queue (0 when none).") \
    X (DB_UP, "ticketflow_database_up", GAUGE, "", TF_NO_BUCKETS, \
       "1 while the database connection is usable, else 0.") \
    X (DB_RECONNECTS, "ticketflow_database_reconnects_total", COUNTER, "", TF_NO_BUCKETS, \
       "Times the service connected to the database again after losing it.") \
    X (LOOP_AGE, "ticketflow_loop_age_seconds", GAUGE, "", TF_NO_BUCKETS, \
       "Seconds since the service loop last went round (it goes round at least every second).")

typedef enum {
#define TF_METRIC_ENUM(id, name, kind, label, buckets, help) TF_METRIC_##id,
    TF_METRIC_FAMILIES (TF_METRIC_ENUM)
#undef TF_METRIC_ENUM
    TF_METRIC_COUNT
} tf_metric_t;

typedef struct tf_metrics_t tf_metrics_t;

tf_metrics_t *tf_metrics_new (const char *service);
void tf_metrics_destroy (tf_metrics_t **self_p);

//  Counters and gauges. label: the value of the family's label (NULL or ""
//  for a family without one).
void tf_metrics_add (tf_metrics_t *self, tf_metric_t family, const char *label, double delta);
void tf_metrics_set (tf_metrics_t *self, tf_metric_t family, const char *label, double value);
//  Histograms
void tf_metrics_observe (tf_metrics_t *self, tf_metric_t family, const char *label, double value);
//  The value of a counter or gauge series (0 when it has none yet), or a
//  histogram's count.
double tf_metrics_value (tf_metrics_t *self, tf_metric_t family, const char *label);

//  The whole text exposition; the caller frees.
char *tf_metrics_render (tf_metrics_t *self);

#endif
