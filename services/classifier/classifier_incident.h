/*  classifier_incident — mass incidents (批量投诉): several tickets about the
    same thing arriving close together.

    Near-duplicates are found by SimHash (Charikar): the text is normalised
    (textfeat_normalize: lower case, full width folded), spaces and
    punctuation are dropped and every run of digits becomes one '0' (order
    numbers and amounts differ between customers of one burst); each
    3-character shingle is hashed to 64 bits and every bit of the
    signature is the sign of the vote of all shingles.

    Threshold: two signatures within CLASSIFIER_SIMHASH_DISTANCE (12) bits.
    For SimHash the chance that a bit differs is angle / pi between the two
    shingle vectors: 12 of 64 bits is an angle of about 34 degrees, a
    cosine similarity of about 0.83 — the same complaint reworded a little
    ("这批月饼发霉了" / "这批月饼都发霉了 订单123"). Unrelated tickets of one
    sub-category (cosine 0.1-0.3) sit at 25-30 bits, with a spread of about
    4 bits (binomial, 64 draws), so 12 keeps them apart by three spreads or
    more: of the 44,515 pairs of same-sub-category tickets in
    deploy/taxonomy/train.csv none comes within 12 bits (the closest is 15,
    tests/test_classifier_incident.c checks it), while rewordings of one
    complaint measure 5-12. Short texts are noisier, which is why the bound
    is looser than the 3 bits used for web pages.

    The check itself runs on an index in memory (classifier_index.h); the
    stage (classifier_stage.c) stores what it decides: the incident row,
    the linked tickets raised to P1 with the reason batch_complaint, history
    notes `incident_opened` / `incident_joined`; incident.opened goes out
    after COMMIT.
*/
#ifndef CLASSIFIER_INCIDENT_H
#define CLASSIFIER_INCIDENT_H

#include "tf_codec.h"
#include "tf_db.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLASSIFIER_SIMHASH_DISTANCE     12
//  What incident.opened carries at most (proto/events.def)
#define CLASSIFIER_INCIDENT_TICKETS_MAX TF_MAX_INCIDENT_OPENED_TICKET_NOS   //  ticket numbers
#define CLASSIFIER_INCIDENT_SUMMARY_MAX TF_MAX_INCIDENT_OPENED_SUMMARY      //  bytes

//  The 64-bit SimHash of a text (any bytes). 0 for a text without letters.
uint64_t classifier_simhash (const char *text, size_t len);
//  Bits that differ.
int classifier_hamming (uint64_t a, uint64_t b);

//  An opened incident, as incident.opened announces it.
typedef struct classifier_incident_t {
    int64_t id;
    char *subcategory;
    char *product;              //  NULL unless all its tickets share one
    char *summary;              //  the first ticket's masked text, shortened
    int64_t ticket_count;
    char *ticket_nos [CLASSIFIER_INCIDENT_TICKETS_MAX];
    size_t ticket_no_count;
} classifier_incident_t;

void classifier_incident_destroy (classifier_incident_t **self_p);

//  The summary of an incident: the start of a text, at most
//  CLASSIFIER_INCIDENT_SUMMARY_MAX bytes, cut at a character boundary, line
//  breaks as spaces, "…" when cut ("-" for nothing). The caller frees.
char *classifier_incident_summary (const char *text, size_t len);

//  Builds incident.opened (tf_msg_clear it after sending). Returns 0.
int classifier_incident_event (const classifier_incident_t *self, tf_msg_t *msg);

#endif
