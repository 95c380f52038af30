/*  classifier — the classify stage: received → classified (or → triage when
    nothing fits well enough). No sockets here: the actor
    (classifier_service.c) feeds it and the tests call it directly.

    Two layers:
    * the scorer (classifier_decide): pure, no database. A trained model
      (classifier_set_model; classifier_model.h loads the linmodel files)
      chooses the sub-category with a calibrated probability as confidence;
      without one, or when the model has no answer (text it hardly knows)
      or only labels the taxonomy lacks, the keyword scorer decides: every
      taxonomy sub-category scored by the distinct keywords found in the
      lower-cased text (longer keywords weigh more), confidence from the
      margin over the runner-up. Below min_confidence the ticket goes to
      triage. The third level comes from the third-level model when the
      chosen sub-category has third levels, else from keywords. Priority:
      the sub-category's default, raised by the lexicon's reasons
      (deploy/taxonomy/lexicon.json: P1 for personal safety, money taken,
      stolen account, public threat, extreme emotion, batch complaint,
      wide-scope alert; P2 for a failed refund) and by the sentiment score
      (classifier_sentiment.h): at or below -0.7 adds extreme_emotion (P1).
    * the stage (classifier_run_*, classifier_reclassify): reads tickets,
      decides, and commits each batch in one transaction through
      tf_ticket_move, a constant number of statements whatever the batch
      size, so a repeated event changes nothing. It stores the sentiment
      and the text's SimHash (classifier_incident.h), and when incidents
      are enabled (classifier_set_incidents) it links near-duplicate
      tickets of one sub-category, or tickets of one product, into a mass
      incident (批量投诉): the check runs on an index in memory
      (classifier_index.h) that every instance keeps in step with the
      others under one advisory lock (classifier_stage.c).
*/
#ifndef CLASSIFIER_H
#define CLASSIFIER_H

#include "classifier_incident.h"
#include "tf_codec.h"
#include "tf_db.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct classifier_t classifier_t;

#define CLASSIFIER_REASONS_MAX   16     //  reason codes reported per ticket
#define CLASSIFIER_KEYWORDS_MAX  16     //  matched keywords reported per ticket
#define CLASSIFIER_ALTERNATIVES  3      //  alternatives reported per ticket
#define CLASSIFIER_GUESSES_MAX   64     //  guesses asked of a model

//  One guess of a model or of the scorer: a label and its confidence (0..1).
typedef struct {
    const char *label;
    double confidence;
} classifier_guess_t;

//  What the scorer decided. Strings point into the classifier (valid until
//  it is destroyed or its taxonomy reloaded).
typedef struct {
    bool matched;               //  at least one taxonomy keyword (or the model) chose a sub-category
    bool triage;                //  a person must classify it (no match, or confidence too low)
    const char *category;       //  best guess (also set for triage when there was one), else NULL
    const char *subcategory;
    const char *third_level;    //  NULL when none matched
    const char *runner_up;      //  second-best sub-category, or NULL
    const char *method;         //  "model", "keywords", "none" (nothing matched) or "person"
    char priority [3];          //  "P1" "P2" "P3"; "" when triage and no reason raised it
    double confidence;          //  0..1
    double score, runner_up_score;
    const char *reasons [CLASSIFIER_REASONS_MAX];      //  lexicon reason codes, lexicon order
    size_t reason_count;
    const char *keywords [CLASSIFIER_KEYWORDS_MAX];    //  keywords that decided the sub-category
    size_t keyword_count;
    //  the best sub-categories, best first, the chosen one included: the
    //  model's probabilities, or for keywords each one's share of the
    //  keyword score
    classifier_guess_t alternatives [CLASSIFIER_ALTERNATIVES];
    size_t alternative_count;
    double sentiment;           //  -1 (furious) .. 1 (delighted)
    int64_t incident_id;        //  the stage: the mass incident it joined or opened, else 0
} classifier_result_t;

//  A trained model: fills out[0..k) with its guesses, best first (label =
//  sub-category, or third level for the third-level model), and returns
//  how many; 0 when it has no answer (the keyword scorer decides then).
//  Labels must stay valid until the model is replaced.
typedef size_t (classifier_model_fn) (void *model, const char *text, size_t len,
                                      classifier_guess_t *out, size_t k);

//  Creates a classifier. db may be NULL (scoring only, taxonomy added by
//  hand); when given it stays the caller's, and the stage statements (and
//  tf_ticket's) are prepared on it: one classifier per db handle, and no
//  other tf_ticket_prepare on it. min_confidence is 0..1. Starts with the
//  built-in reason lists; the taxonomy is empty until loaded or added.
classifier_t *classifier_new (tf_db_t *db, double min_confidence);
void classifier_destroy (classifier_t **self_p);

//  Reads the taxonomy table (replacing what was loaded). Returns the number
//  of sub-categories (0: the table is empty; every ticket goes to triage),
//  or -1 on a database error (the old taxonomy stays).
int classifier_load_taxonomy (classifier_t *self);
//  Sub-categories known now.
size_t classifier_taxonomy_size (const classifier_t *self);

//  Adds one sub-category by hand (tests, tools). keywords: n strings.
//  default_priority is P1, P2 or P3. Returns 0 or -1 (bad arguments).
int classifier_add_subcategory (classifier_t *self, const char *category, const char *subcategory,
                                const char *default_priority, const char *const *keywords, size_t n);
//  Adds a third level to a sub-category added before. Returns 0 or -1.
int classifier_add_third_level (classifier_t *self, const char *subcategory, const char *name,
                                const char *const *keywords, size_t n);

//  Replaces the built-in priority reasons with those of a lexicon JSON
//  file ({"reasons":[{"code","priority","terms":[...]}, ...]}), and the
//  sentiment lists with its "sentiment" object (the insults being the
//  terms of the extreme_emotion reason). Returns the number of reasons
//  loaded, or -1 (file missing or malformed: the lists in use stay, a
//  warning is logged).
int classifier_load_lexicon (classifier_t *self, const char *path);

//  Hands the sub-category choice to a trained model (NULL fn: keywords
//  again). Its labels that the taxonomy lacks are never chosen.
void classifier_set_model (classifier_t *self, classifier_model_fn *fn, void *model);
//  Hands the third-level choice to a model (NULL fn: keywords). Used for a
//  sub-category with third levels; only those third levels are chosen.
void classifier_set_third_model (classifier_t *self, classifier_model_fn *fn, void *model);

//  True when the taxonomy holds this sub-category / this third level (of
//  any sub-category).
bool classifier_has_subcategory (const classifier_t *self, const char *name);
bool classifier_has_third_level (const classifier_t *self, const char *name);

//  Reads the taxonomy from a taxonomy.json file (deploy/taxonomy/), for
//  tools without a database. Returns the number of sub-categories, or -1
//  (file missing or malformed: the old taxonomy stays, a warning is logged).
int classifier_load_taxonomy_file (classifier_t *self, const char *path);

//  Mass incidents: `threshold` similar tickets within `window_minutes`
//  open one (threshold 0: off, the default). The check remembers `recent`
//  ungrouped tickets per sub-category and `groups` groups of similar
//  tickets (classifier_index.h).
void classifier_set_incidents (classifier_t *self, int threshold, int window_minutes, size_t recent,
                               size_t groups);
//  Tickets the incident check holds in memory now (0 when it is off).
size_t classifier_incident_memory (const classifier_t *self);

//  The sentiment score of a text, -1..1 (classifier_sentiment.h).
double classifier_sentiment (const classifier_t *self, const char *text, size_t len);

//  Decides one text (UTF-8, need not be NUL-terminated). source is the
//  ticket's source (customer|monitor|internal) or NULL: monitor alerts lean
//  to the technical sub-categories. Never fails on any bytes.
void classifier_decide (const classifier_t *self, const char *text, size_t len, const char *source,
                        classifier_result_t *result);

//  The lexicon's reasons found in text and the priority they ask for
//  ("P1", "P2", or "" when none). Fills result->reasons.
const char *classifier_reasons (const classifier_t *self, const char *text, size_t len,
                                classifier_result_t *result);

//  ---------------------------------------------------------------- the stage

//  What happened to one ticket of a batch.
typedef struct {
    int64_t ticket_id;
    char ticket_no [32];
    char status [16];           //  "classified" or "triage"
    classifier_result_t result;
} classifier_outcome_t;

//  Classifies the tickets among ids[0..n) that are still `received` (others
//  are skipped: a repeated or late event changes nothing), in one
//  transaction, with the sentiment, the text signature and, when
//  incidents are on, the mass incident each one joins or opens. Fills out[0..return) (capacity n). Returns how many were
//  moved, or -1 when the database failed (nothing changed; the reconciler
//  will find them).
int classifier_run_ids (classifier_t *self, const int64_t *ids, size_t n, classifier_outcome_t *out);

//  The reconciler: classifies up to `limit` tickets that have waited in
//  `received` for at least stale_seconds (FOR UPDATE SKIP LOCKED), in one
//  transaction. Returns how many, or -1.
int classifier_run_waiting (classifier_t *self, int stale_seconds, size_t limit, classifier_outcome_t *out);

//  A person classifies a ticket (`ticket.classify`): it must be in a status
//  the move CLASSIFY_BY_PERSON leaves (proto/status.def); subcategory must be in the taxonomy table;
//  priority NULL means the sub-category's default, raised by the text's P1
//  reasons. Records a classification_corrections row. actor NULL: "unknown".
//  Returns 0 with out filled, or -1 with err (not_found, bad_value field
//  subcategory, illegal_transition, unavailable).
int classifier_reclassify (classifier_t *self, const char *ticket_no, const char *subcategory,
                           const char *priority, const char *actor, classifier_outcome_t *out,
                           tf_error_t *err);

//  An incident opened by a committed classifier_run_* call, for the
//  incident.opened event; NULL when there is none left. The caller
//  destroys it (classifier_incident_destroy). Incidents of a transaction
//  that rolled back are never handed out.
classifier_incident_t *classifier_next_incident (classifier_t *self);

#endif
