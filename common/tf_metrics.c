#include "tf_metrics.h"
#include <assert.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TF_NO_BUCKETS   { 0 }
//  batch sizes: 1 .. 4096
#define TF_SIZE_BUCKETS { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 0 }
//  seconds: 0.5 ms .. 10 s
#define TF_TIME_BUCKETS { 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 0 }
#define MAX_BUCKETS 16

typedef struct {
    const char *name;
    tf_metric_kind_t kind;
    const char *label;
    double buckets [MAX_BUCKETS];       //  ends at the first 0 (after the first)
    const char *help;
} family_t;

static const family_t s_families [TF_METRIC_COUNT] = {
#define TF_METRIC_DEF(id, name, kind, label, buckets, help) \
    [TF_METRIC_##id] = { name, TF_METRIC_##kind, label, buckets, help },
    TF_METRIC_FAMILIES (TF_METRIC_DEF)
#undef TF_METRIC_DEF
};

typedef struct {
    char *label;
    double value;               //  counter, gauge; histogram: sum
    unsigned long long count;   //  histogram
    unsigned long long buckets [MAX_BUCKETS];
} series_t;

typedef struct {
    series_t *items;
    size_t count;
} series_list_t;

struct tf_metrics_t {
    pthread_mutex_t lock;
    char *service;
    series_list_t families [TF_METRIC_COUNT];
};

tf_metrics_t *
tf_metrics_new (const char *service)
{
    tf_metrics_t *self = calloc (1, sizeof *self);
    assert (self);
    pthread_mutex_init (&self->lock, NULL);
    self->service = strdup (service? service: "");
    return self;
}

void
tf_metrics_destroy (tf_metrics_t **self_p)
{
    tf_metrics_t *self = *self_p;
    if (!self)
        return;
    for (int f = 0; f < TF_METRIC_COUNT; f++) {
        for (size_t i = 0; i < self->families [f].count; i++)
            free (self->families [f].items [i].label);
        free (self->families [f].items);
    }
    pthread_mutex_destroy (&self->lock);
    free (self->service);
    free (self);
    *self_p = NULL;
}

//  The series of a label, created when new; called with the lock held.
static series_t *
s_series (tf_metrics_t *self, tf_metric_t family, const char *label)
{
    series_list_t *list = &self->families [family];
    if (!label)
        label = "";
    for (size_t i = 0; i < list->count; i++)
        if (strcmp (list->items [i].label, label) == 0)
            return &list->items [i];
    list->items = realloc (list->items, (list->count + 1) * sizeof (series_t));
    assert (list->items);
    series_t *s = &list->items [list->count++];
    memset (s, 0, sizeof *s);
    s->label = strdup (label);
    return s;
}

void
tf_metrics_add (tf_metrics_t *self, tf_metric_t family, const char *label, double delta)
{
    if (!self)
        return;
    assert (s_families [family].kind != TF_METRIC_HISTOGRAM);
    pthread_mutex_lock (&self->lock);
    s_series (self, family, label)->value += delta;
    pthread_mutex_unlock (&self->lock);
}

void
tf_metrics_set (tf_metrics_t *self, tf_metric_t family, const char *label, double value)
{
    if (!self)
        return;
    assert (s_families [family].kind != TF_METRIC_HISTOGRAM);
    pthread_mutex_lock (&self->lock);
    s_series (self, family, label)->value = value;
    pthread_mutex_unlock (&self->lock);
}

void
tf_metrics_observe (tf_metrics_t *self, tf_metric_t family, const char *label, double value)
{
    if (!self)
        return;
    const family_t *def = &s_families [family];
    assert (def->kind == TF_METRIC_HISTOGRAM);
    pthread_mutex_lock (&self->lock);
    series_t *s = s_series (self, family, label);
    s->value += value;
    s->count++;
    for (int b = 0; b < MAX_BUCKETS && (b == 0 || def->buckets [b] > 0); b++)
        if (value <= def->buckets [b])
            s->buckets [b]++;
    pthread_mutex_unlock (&self->lock);
}

double
tf_metrics_value (tf_metrics_t *self, tf_metric_t family, const char *label)
{
    if (!self)
        return 0;
    pthread_mutex_lock (&self->lock);
    double value = 0;
    series_list_t *list = &self->families [family];
    for (size_t i = 0; i < list->count; i++)
        if (strcmp (list->items [i].label, label? label: "") == 0)
            value = s_families [family].kind == TF_METRIC_HISTOGRAM? (double) list->items [i].count
                                                                     : list->items [i].value;
    pthread_mutex_unlock (&self->lock);
    return value;
}

//  A label value as the text format wants it: \ " and newline escaped
static void
s_put_label (FILE *out, const char *value)
{
    for (const char *p = value; *p; p++)
        if (*p == '\\' || *p == '"')
            fprintf (out, "\\%c", *p);
        else
        if (*p == '\n')
            fputs ("\\n", out);
        else
            fputc (*p, out);
}

//  {service="x",label="y"[,le="z"]}
static void
s_put_labels (FILE *out, const tf_metrics_t *self, const family_t *def, const series_t *s, const char *le)
{
    fputs ("{service=\"", out);
    s_put_label (out, self->service);
    fputc ('"', out);
    if (*def->label) {
        fprintf (out, ",%s=\"", def->label);
        s_put_label (out, s->label);
        fputc ('"', out);
    }
    if (le)
        fprintf (out, ",le=\"%s\"", le);
    fputc ('}', out);
}

static void
s_put_number (FILE *out, double value)
{
    if (isnan (value))
        fputs ("NaN", out);
    else
    if (value == floor (value) && fabs (value) < 1e15)
        fprintf (out, "%.0f", value);
    else
        fprintf (out, "%.9g", value);
}

char *
tf_metrics_render (tf_metrics_t *self)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream (&text, &size);
    assert (out);
    static const char *types [] = { "counter", "gauge", "histogram" };
    pthread_mutex_lock (&self->lock);
    for (int f = 0; f < TF_METRIC_COUNT; f++) {
        const family_t *def = &s_families [f];
        const series_list_t *list = &self->families [f];
        fprintf (out, "# HELP %s %s\n# TYPE %s %s\n", def->name, def->help, def->name, types [def->kind]);
        //  a family without a label always has its one series, even at 0
        if (list->count == 0 && !*def->label && def->kind != TF_METRIC_HISTOGRAM) {
            series_t zero = { .label = "" };
            fputs (def->name, out);
            s_put_labels (out, self, def, &zero, NULL);
            fputs (" 0\n", out);
        }
        for (size_t i = 0; i < list->count; i++) {
            const series_t *s = &list->items [i];
            if (def->kind != TF_METRIC_HISTOGRAM) {
                fputs (def->name, out);
                s_put_labels (out, self, def, s, NULL);
                fputc (' ', out);
                s_put_number (out, s->value);
                fputc ('\n', out);
                continue;
            }
            for (int b = 0; b < MAX_BUCKETS && (b == 0 || def->buckets [b] > 0); b++) {
                char le [32];
                snprintf (le, sizeof le, "%g", def->buckets [b]);
                fprintf (out, "%s_bucket", def->name);
                s_put_labels (out, self, def, s, le);
                fprintf (out, " %llu\n", s->buckets [b]);
            }
            fprintf (out, "%s_bucket", def->name);
            s_put_labels (out, self, def, s, "+Inf");
            fprintf (out, " %llu\n%s_sum", s->count, def->name);
            s_put_labels (out, self, def, s, NULL);
            fputc (' ', out);
            s_put_number (out, s->value);
            fprintf (out, "\n%s_count", def->name);
            s_put_labels (out, self, def, s, NULL);
            fprintf (out, " %llu\n", s->count);
        }
    }
    pthread_mutex_unlock (&self->lock);
    fclose (out);
    return text;
}
