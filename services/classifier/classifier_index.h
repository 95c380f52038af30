/*  classifier_index — the mass-incident check in memory, at a cost that
    does not grow with the day's volume.

    A burst (批量投诉) is `threshold` tickets within the window that are
    near-duplicates of one sub-category (SimHash within
    CLASSIFIER_SIMHASH_DISTANCE bits) or share a product / batch whatever
    their sub-category (triage included). The index holds:

    * per sub-category, the last `recent` tickets that belong to no group
      yet (a ring: an isolated ticket is remembered for that many of its
      sub-category's tickets, or the window, whichever ends first);
    * groups: tickets that matched one another (up to `max_groups`, each
      remembered for the whole window after its last ticket; the oldest
      goes when the table is full), with the signatures of their first
      members, their member ids up to the threshold, and the incident once
      one is open;
    * per product, its group.

    A ticket is compared with its sub-category's groups and ring and looked
    up by product: a few thousand popcounts at most, whatever the window
    holds. The verdict: it joins an open incident, or its group reached the
    threshold and an incident opens (the caller inserts it and says so with
    classifier_index_opened), or nothing.

    The database stays the truth. With several classifier instances, each
    replays (classifier_index_replay) the tickets the others classified,
    in the order they committed them, before deciding its own; the caller
    takes care of that order (classifier_stage.c). After a rollback, or at
    start, the caller clears the index and rebuilds it from the database.
    Memory is fixed by the settings, not by the volume.
*/
#ifndef CLASSIFIER_INDEX_H
#define CLASSIFIER_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct classifier_index_t classifier_index_t;

//  threshold >= 2 tickets, window > 0 seconds, recent >= 1 tickets per
//  sub-category, max_groups >= 1.
classifier_index_t *classifier_index_new (int threshold, int window_seconds, size_t recent, size_t max_groups);
void classifier_index_destroy (classifier_index_t **self_p);

typedef struct {
    int64_t id;
    const char *subcategory;    //  NULL: not classified (triage): matched by product only
    const char *product;        //  NULL or "": none
    uint64_t signature;         //  classifier_simhash of its text
    int64_t at;                 //  when it was created, seconds since the epoch
    int64_t incident_id;        //  replay: the incident the database links it to (0: none)
} classifier_index_ticket_t;

typedef enum {
    CLASSIFIER_INDEX_NONE,      //  nothing to do
    CLASSIFIER_INDEX_JOIN,      //  it joins incident_id
    CLASSIFIER_INDEX_OPEN       //  an incident opens with members[0..nmembers)
} classifier_index_verdict_t;

typedef struct {
    classifier_index_verdict_t verdict;
    int64_t incident_id;        //  JOIN
    //  OPEN: the tickets to link, this one included, oldest first (valid
    //  until the next call); the product when it is what they share; the
    //  signature of the first; how many tickets the group holds
    const int64_t *members;
    size_t nmembers;
    const char *product;
    uint64_t first_signature;
    int64_t count;
    int groups [2];             //  OPEN: for classifier_index_opened
} classifier_index_match_t;

//  Adds a ticket this instance decides on, and says what it means.
void classifier_index_add (classifier_index_t *self, const classifier_index_ticket_t *ticket,
                           classifier_index_match_t *match);

//  The incident of an OPEN verdict was inserted (same transaction).
void classifier_index_opened (classifier_index_t *self, const classifier_index_match_t *match,
                              int64_t incident_id);

//  The incident id `from` becomes `to` wherever the index holds it (a
//  provisional id given to classifier_index_opened, once the real one is known).
void classifier_index_rename (classifier_index_t *self, int64_t from, int64_t to);

//  Adds a ticket another instance decided on: the index learns its groups
//  and incident, nothing is decided.
void classifier_index_replay (classifier_index_t *self, const classifier_index_ticket_t *ticket);

//  Forgets everything (then rebuild by replaying from the database).
void classifier_index_clear (classifier_index_t *self);

//  Tickets and groups held now.
size_t classifier_index_tickets (const classifier_index_t *self);
size_t classifier_index_groups (const classifier_index_t *self);

#endif
