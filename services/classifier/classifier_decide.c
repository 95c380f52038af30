/*  classifier_decide — the decision on one text: the trained model or the
    keywords choose the sub-category, then the third level, the reasons,
    the sentiment and the priority (one rule, classifier_prioritise, that a
    person's classification follows too). No database. See classifier.h.
*/
#include "classifier_private.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

//  How fast confidence grows with the best score: 1 - exp (-score / K).
//  With K = 2 one long keyword alone gives about 0.7, a tie gives 0.
#define STRENGTH_K          2.0
//  Monitor alerts lean to the technical sub-categories
#define MONITOR_TECH_BOOST  1.5

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

void
classifier_add_reason (classifier_result_t *r, const char *code)
{
    for (size_t i = 0; i < r->reason_count; i++)
        if (strcmp (r->reasons [i], code) == 0)
            return;
    if (r->reason_count < CLASSIFIER_REASONS_MAX)
        r->reasons [r->reason_count++] = code;
}

//  The one priority rule: classifier_decide and classifier_reclassify
//  (classifier_stage.c) both call it
void
classifier_prioritise (const classifier_t *self, const char *text, size_t len, const char *norm, size_t n,
                       const char *default_priority, classifier_result_t *result)
{
    const char *raised = s_reasons_on (self, norm, n, result);
    result->sentiment = classifier_sentiment_score (self->sentiment, text, len);
    if (result->sentiment <= CLASSIFIER_SENTIMENT_EXTREME) {
        classifier_add_reason (result, "extreme_emotion");
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
    classifier_prioritise (self, text, len, norm, n, result->triage? NULL: best->priority, result);
    free (norm);
}
