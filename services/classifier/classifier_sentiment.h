/*  classifier_sentiment — how angry (or pleased) a customer sounds: a score
    in [-1, 1] per text, -1 furious, 0 neutral, 1 delighted.

    Lexicon part (deploy/taxonomy/lexicon.json, "sentiment"): "negative"
    and "positive" map terms to a value in [-1, 1]; "intensifiers" map a
    word to a multiplier (非常 1.5) for the next sentiment term of the same
    clause; "negators" (不, 没有, not) just before a term flip it and halve
    it (不满意 is a term of its own: the longest term at a place wins).
    Terms are matched on the normalised text (textfeat_normalize: lower
    case, full-width folded); an ASCII term matches whole words only.

    Signals: repeated ! and ?/？ (runs of two or more, and the number of !),
    English words in capitals (shouting; common acronyms such as APP or API
    do not count) amplify the sum; every distinct insult (the lexicon's
    extreme_emotion terms: 骗子, 垃圾平台, scam ...) adds -1.

    Mild terms (|value| < 0.5: 退款, 故障, 慢 ...) describe the problem more
    than the mood: together they weigh at most 0.6 each way, so a long
    factual report does not look furious. score = tanh (0.6 * sum * amp).
    With that scale one strong word (垃圾 -0.8) gives about -0.45, two
    strong words or one insult -0.75 or less: CLASSIFIER_SENTIMENT_EXTREME
    (-0.7) is the line the classifier uses for the extreme_emotion reason.
*/
#ifndef CLASSIFIER_SENTIMENT_H
#define CLASSIFIER_SENTIMENT_H

#include <jansson.h>
#include <stddef.h>

#define CLASSIFIER_SENTIMENT_EXTREME (-0.7)

typedef struct classifier_sentiment_t classifier_sentiment_t;

//  A scorer with small built-in lists (used until a lexicon is loaded).
classifier_sentiment_t *classifier_sentiment_new (void);
void classifier_sentiment_destroy (classifier_sentiment_t **self_p);

//  Replaces the lists with a lexicon's "sentiment" object and the insult
//  terms (a JSON array of strings, or NULL to keep the current insults).
//  Returns the number of terms loaded, or -1 when the object is missing or
//  holds no usable term (the lists in use stay).
int classifier_sentiment_load (classifier_sentiment_t *self, const json_t *section,
                               const json_t *insults);

//  The score of a text (any bytes; need not be NUL-terminated), in [-1, 1].
double classifier_sentiment_score (const classifier_sentiment_t *self, const char *text, size_t len);

//  Terms known now (all kinds), for logs and tests.
size_t classifier_sentiment_size (const classifier_sentiment_t *self);

#endif
