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

    The check (inside the classification's transaction, after the ticket
    is stored, with the sub-category's advisory lock held:
    pg_advisory_xact_lock (hashtext (subcategory)), taken by
    classifier_incident_lock before any check): tickets of the same
    sub-category created within the window before or after this one whose
    signature is within the distance, or whose product equals this one's
    (non-empty), match. When a match belongs to an open incident, or an
    open incident of the sub-category still in its window matches by its
    signature or product, the ticket joins it (ticket_count + 1,
    last_ticket_at; the ticket is linked, raised to P1 with the reason
    batch_complaint, history note `incident_joined`). Otherwise, when the
    matches that belong to no open incident plus this ticket reach the
    threshold, an incident opens: the row is inserted, all of them are
    linked, raised to P1 with batch_complaint and get a history note
    `incident_opened`; the caller publishes incident.opened after COMMIT.
*/
#ifndef CLASSIFIER_INCIDENT_H
#define CLASSIFIER_INCIDENT_H

#include "tf_codec.h"
#include "tf_db.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CLASSIFIER_SIMHASH_DISTANCE     12
#define CLASSIFIER_INCIDENT_TICKETS_MAX 64      //  ticket numbers an event carries
#define CLASSIFIER_INCIDENT_SUMMARY_MAX 200     //  bytes

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

//  What one classified ticket brings to the check.
typedef struct {
    int64_t id;
    const char *ticket_no;
    const char *subcategory;
    const char *product;        //  NULL or "" when none
    const char *created_at;     //  timestamptz text, as read from the row
    uint64_t signature;
    const char *text;           //  its masked text (the summary when it is the first)
    size_t len;
} classifier_incident_ticket_t;

//  Prepares the statements on db. Returns 0 or -1.
int classifier_incident_prepare (tf_db_t *db);

//  Inside a transaction: the advisory lock of a sub-category, held until
//  COMMIT or ROLLBACK. Returns 0 or -1.
int classifier_incident_lock (tf_db_t *db, const char *subcategory);

//  Inside a transaction, lock held, after the ticket itself is stored
//  (sub-category and signature): returns 0 (no incident), 1 (joined
//  *incident_id), 2 (opened *incident_id; *opened is filled for the
//  event, the caller owns it), or -1 on a database error. threshold >= 2.
int classifier_incident_check (tf_db_t *db, const classifier_incident_ticket_t *ticket,
                               int threshold, int window_minutes, int64_t *incident_id,
                               classifier_incident_t **opened);

//  Builds incident.opened (tf_msg_clear it after sending). Returns 0.
int classifier_incident_event (const classifier_incident_t *self, tf_msg_t *msg);

#endif
