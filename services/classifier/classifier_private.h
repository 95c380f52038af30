/*  classifier_private — what the files of the classifier share and
    classifier.h does not show: the taxonomy and the reasons in memory, and
    the functions the files call across. Not for use outside
    services/classifier/classifier*.c and their tests.

    classifier.c            the classifier object: construction, settings
    classifier_keywords.c   keyword lists: normalisation, matching, scoring
    classifier_taxonomy.c   the taxonomy (database or file), the lexicon's reasons
    classifier_decide.c     the decision: model, keywords, third level, reasons,
                            sentiment, priority
    classifier_stage.c      the stage: read, decide and store tickets; incidents;
                            a person's classification
*/
#ifndef CLASSIFIER_PRIVATE_H
#define CLASSIFIER_PRIVATE_H

#include "classifier.h"
#include "classifier_index.h"
#include "classifier_sentiment.h"
#include <jansson.h>

typedef struct {
    char *text;                 //  normalised (lower case, half-width)
    size_t len;
    double weight;
    bool word_start, word_end;  //  begins / ends with an ASCII letter or digit
} keyword_t;

typedef struct {
    keyword_t *items;
    size_t count;
} keywords_t;

typedef struct {
    char *name;
    keywords_t kw;
} third_t;

typedef struct {
    char *category, *category_code, *subcategory;
    char priority [3];
    keywords_t kw;
    third_t *thirds;
    size_t third_count;
} sub_t;

typedef struct {
    char *code;
    char priority [3];
    keywords_t terms;
} reason_t;

struct classifier_t {
    tf_db_t *db;
    double min_confidence;
    sub_t *subs;
    size_t sub_count;
    reason_t *reasons;
    size_t reason_count;
    classifier_model_fn *model_fn;
    void *model;
    classifier_model_fn *third_fn;
    void *third_model;
    classifier_sentiment_t *sentiment;
    int incident_threshold;     //  0: off
    int incident_window;        //  minutes
    classifier_index_t *index;  //  the incident check (NULL: off)
    bool index_fresh;           //  false: rebuild it from the database first
    int64_t index_seq;          //  the last signature_seq it holds
    zlistx_t *tx_incidents;     //  opened in the transaction under way
    zlistx_t *incidents;        //  opened and committed, not yet handed out
};

//  --------------------------------------------------------------- keywords

//  A text as keywords are matched in: ASCII lower case, full-width ASCII
//  to ASCII, the ideographic space and control characters to ' '; invalid
//  UTF-8 copied as it is. Never longer than len. Caller frees.
char *classifier_normalise (const char *text, size_t len, size_t *out_len);

//  Adds a keyword (normalised, trimmed; empty, too long or repeated ones
//  are skipped), the strings words[0..n) (NULL ones skipped), or the
//  strings of a JSON array (returns how many entries were strings).
//  classifier_keywords_free empties the list.
void classifier_keywords_add (keywords_t *k, const char *word, size_t len);
void classifier_keywords_add_all (keywords_t *k, const char *const *words, size_t n);
size_t classifier_keywords_add_json (keywords_t *k, const json_t *array);
void classifier_keywords_free (keywords_t *k);

//  True when kw occurs in the normalised text[0..len) as a whole ASCII word
//  where it begins or ends with a letter or digit, and, with
//  check_negation, not right after a negation ("没有受伤").
bool classifier_keyword_found (const char *text, size_t len, const keyword_t *kw, bool check_negation);

//  The sum of the weights of the distinct keywords of k found in the
//  normalised text, leaving out one found only inside a longer one found
//  too. The keywords counted go to hits[0..*nhits), at most cap.
double classifier_keywords_score (const keywords_t *k, const char *text, size_t len, const char **hits,
                                  size_t *nhits, size_t cap);

//  The third level of s whose keywords score best on a normalised text,
//  or NULL when none scores.
const char *classifier_keywords_third (const sub_t *s, const char *norm, size_t len);

//  --------------------------------------------------------------- taxonomy

//  Prepares the statement that reads the taxonomy table. Returns 0 or -1.
int classifier_taxonomy_prepare (tf_db_t *db);

//  Sets the built-in reasons (self has none yet); classifier_taxonomy_free
//  frees the taxonomy and the reasons.
void classifier_reasons_builtin (classifier_t *self);
void classifier_taxonomy_free (classifier_t *self);

//  The sub-category of that name, or NULL.
sub_t *classifier_sub_find (const classifier_t *self, const char *name);

//  True for "P1", "P2" and "P3".
bool classifier_priority_valid (const char *p);

//  ----------------------------------------------------------------- decide

//  The priority of a text, with its reasons and sentiment (into result):
//  the default priority raised by the lexicon's reasons and, when the
//  customer's mood is extreme (CLASSIFIER_SENTIMENT_EXTREME), to P1 with
//  extreme_emotion. A ticket in triage has no default (NULL) and carries
//  only what the reasons ask for ("" when none). norm is
//  classifier_normalise's text. The one rule for the classifier and for a
//  person's classification.
void classifier_prioritise (const classifier_t *self, const char *text, size_t len, const char *norm,
                            size_t n, const char *default_priority, classifier_result_t *result);

//  Adds a reason code to a result unless it is there or the result is full.
void classifier_add_reason (classifier_result_t *r, const char *code);

//  ------------------------------------------------------------------ stage

//  Prepares the stage's statements (and tf_ticket's). Returns 0 or -1.
int classifier_stage_prepare (tf_db_t *db);

#endif
