#include "classifier_index.h"
#include "classifier_incident.h"
#include <assert.h>
#include <czmq.h>
#include <stdlib.h>
#include <string.h>

//  Signatures kept per group: a reworded complaint matches one of its first
//  members even when it drifted from the very first one
#define GROUP_SIGNATURES 8
#define NONE (-1)

typedef struct {
    int64_t id;
    uint64_t signature;
    int64_t at;
    int group;                  //  the group it joined, NONE
    uint32_t generation;        //  of that group when it joined (slots are reused)
} recent_t;

typedef struct {
    int group;
    uint32_t generation;        //  a slot given to another group since is not ours
} group_ref_t;

typedef struct {
    char *name;
    recent_t *ring;
    size_t next, count;
    group_ref_t *groups;        //  signature groups of this sub-category
    size_t ngroups, cap;
} sub_t;

typedef struct {
    bool used;
    uint32_t generation;
    int sub;                    //  NONE: a product group
    char *product;              //  product groups
    uint64_t signatures [GROUP_SIGNATURES];
    size_t nsignatures;
    int64_t *members;           //  the first `threshold` members, oldest first
    size_t nmembers;
    int64_t count;
    int64_t last_at;
    int64_t incident_id;
} group_t;

struct classifier_index_t {
    int threshold;
    int64_t window;
    size_t recent, max_groups;
    sub_t *subs;
    size_t nsubs;
    zhashx_t *sub_by_name;      //  name → index + 1
    group_t *groups;
    size_t used_groups;
    int *free_groups;           //  a stack of unused slots
    size_t nfree;
    size_t cursor;              //  where the next eviction looks
    zhashx_t *group_by_product; //  product → group + 1
    int64_t *scratch;           //  an OPEN verdict's members
    size_t tickets;
};

classifier_index_t *
classifier_index_new (int threshold, int window_seconds, size_t recent, size_t max_groups)
{
    assert (threshold >= 2 && window_seconds > 0 && recent >= 1 && max_groups >= 1);
    classifier_index_t *self = calloc (1, sizeof *self);
    assert (self);
    self->threshold = threshold;
    self->window = window_seconds;
    self->recent = recent;
    self->max_groups = max_groups;
    self->sub_by_name = zhashx_new ();
    self->group_by_product = zhashx_new ();
    self->groups = calloc (max_groups, sizeof (group_t));
    self->free_groups = calloc (max_groups, sizeof (int));
    self->scratch = calloc ((size_t) threshold * 2 + 1, sizeof (int64_t));
    assert (self->groups && self->free_groups && self->scratch);
    for (size_t g = 0; g < max_groups; g++) {
        self->groups [g].members = calloc ((size_t) threshold, sizeof (int64_t));
        assert (self->groups [g].members);
        self->free_groups [self->nfree++] = (int) (max_groups - 1 - g);
    }
    return self;
}

static void
s_group_free (classifier_index_t *self, int g)
{
    group_t *group = &self->groups [g];
    if (!group->used)
        return;
    if (group->product) {
        if ((intptr_t) zhashx_lookup (self->group_by_product, group->product) == g + 1)
            zhashx_delete (self->group_by_product, group->product);
        free (group->product);
        group->product = NULL;
    }
    group->used = false;
    group->generation++;
    self->used_groups--;
    self->free_groups [self->nfree++] = g;
}

void
classifier_index_clear (classifier_index_t *self)
{
    for (size_t g = 0; g < self->max_groups; g++)
        s_group_free (self, (int) g);
    for (size_t s = 0; s < self->nsubs; s++) {
        self->subs [s].next = self->subs [s].count = 0;
        self->subs [s].ngroups = 0;
    }
    self->tickets = 0;
}

void
classifier_index_destroy (classifier_index_t **self_p)
{
    classifier_index_t *self = *self_p;
    if (!self)
        return;
    classifier_index_clear (self);
    for (size_t g = 0; g < self->max_groups; g++)
        free (self->groups [g].members);
    for (size_t s = 0; s < self->nsubs; s++) {
        free (self->subs [s].name);
        free (self->subs [s].ring);
        free (self->subs [s].groups);
    }
    free (self->subs);
    free (self->groups);
    free (self->free_groups);
    free (self->scratch);
    zhashx_destroy (&self->sub_by_name);
    zhashx_destroy (&self->group_by_product);
    free (self);
    *self_p = NULL;
}

size_t
classifier_index_tickets (const classifier_index_t *self)
{
    return self->tickets;
}

size_t
classifier_index_groups (const classifier_index_t *self)
{
    return self->used_groups;
}

//  The sub-category's ring, made at its first ticket. The ring is touched
//  at once, so the memory a sub-category costs is there from the start.
static sub_t *
s_sub (classifier_index_t *self, const char *name)
{
    intptr_t index = (intptr_t) zhashx_lookup (self->sub_by_name, name);
    if (index)
        return &self->subs [index - 1];
    self->subs = realloc (self->subs, (self->nsubs + 1) * sizeof (sub_t));
    assert (self->subs);
    sub_t *sub = &self->subs [self->nsubs++];
    memset (sub, 0, sizeof *sub);
    sub->name = strdup (name);
    sub->ring = malloc (self->recent * sizeof (recent_t));
    assert (sub->ring);
    memset (sub->ring, 0, self->recent * sizeof (recent_t));
    zhashx_insert (self->sub_by_name, name, (void *) (intptr_t) self->nsubs);
    return sub;
}

static bool
s_within (const classifier_index_t *self, int64_t a, int64_t b)
{
    return (a > b? a - b: b - a) <= self->window;
}

static bool
s_alive (const classifier_index_t *self, int g, int64_t at)
{
    return g != NONE && self->groups [g].used && s_within (self, self->groups [g].last_at, at);
}

static bool
s_group_matches (const group_t *group, uint64_t signature)
{
    for (size_t i = 0; i < group->nsignatures; i++)
        if (classifier_hamming (group->signatures [i], signature) <= CLASSIFIER_SIMHASH_DISTANCE)
            return true;
    return false;
}

//  Groups looked at to choose one to give up when the table is full
#define EVICTION_SAMPLE 32

//  A free group slot; when there is none, of a sample of the table the one
//  whose last ticket is oldest, a group without an incident first: a
//  bounded cost, and an open incident is the last thing to forget.
static int
s_group_new (classifier_index_t *self, sub_t *sub, const char *product, int64_t at)
{
    if (self->nfree == 0) {
        int victim = NONE;
        for (size_t i = 0; i < EVICTION_SAMPLE && i < self->max_groups; i++) {
            int g = (int) ((self->cursor + i) % self->max_groups);
            const group_t *a = &self->groups [g];
            const group_t *b = victim == NONE? NULL: &self->groups [victim];
            if (!b || (a->incident_id == 0 && b->incident_id != 0)
            ||  ((a->incident_id == 0) == (b->incident_id == 0) && a->last_at < b->last_at))
                victim = g;
        }
        self->cursor = (self->cursor + EVICTION_SAMPLE) % self->max_groups;
        s_group_free (self, victim);
    }
    int chosen = self->free_groups [--self->nfree];
    group_t *group = &self->groups [chosen];
    group->used = true;
    group->sub = sub? (int) (sub - self->subs): NONE;
    group->product = product? strdup (product): NULL;
    group->nsignatures = group->nmembers = 0;
    group->count = 0;
    group->last_at = at;
    group->incident_id = 0;
    self->used_groups++;
    if (product)
        zhashx_update (self->group_by_product, product, (void *) (intptr_t) (chosen + 1));
    if (sub) {
        if (sub->ngroups == sub->cap) {
            sub->cap = sub->cap? sub->cap * 2: 8;
            sub->groups = realloc (sub->groups, sub->cap * sizeof (group_ref_t));
            assert (sub->groups);
        }
        sub->groups [sub->ngroups++] = (group_ref_t) { chosen, group->generation };
    }
    return chosen;
}

static void
s_group_add (classifier_index_t *self, int g, int64_t id, uint64_t signature, int64_t at)
{
    group_t *group = &self->groups [g];
    for (size_t i = 0; i < group->nmembers; i++)
        if (group->members [i] == id)
            return;
    group->count++;
    if (at > group->last_at)
        group->last_at = at;
    if (group->nmembers < (size_t) self->threshold)
        group->members [group->nmembers++] = id;
    if (group->sub != NONE && group->nsignatures < GROUP_SIGNATURES)
        group->signatures [group->nsignatures++] = signature;
}

//  The sub-category's live group that matches, one with an incident first;
//  dead ones are dropped from its list on the way.
static int
s_find_group (classifier_index_t *self, sub_t *sub, uint64_t signature, int64_t at)
{
    int found = NONE;
    size_t kept = 0;
    for (size_t i = 0; i < sub->ngroups; i++) {
        int g = sub->groups [i].group;
        group_t *group = &self->groups [g];
        if (!group->used || group->generation != sub->groups [i].generation)
            continue;           //  freed or given to another group: forget it here
        sub->groups [kept++] = sub->groups [i];
        if (!s_within (self, group->last_at, at) || !s_group_matches (group, signature))
            continue;
        if (found == NONE || (!self->groups [found].incident_id && group->incident_id))
            found = g;
    }
    sub->ngroups = kept;
    return found;
}

//  The product's live group, or NONE.
static int
s_find_product (classifier_index_t *self, const char *product, int64_t at)
{
    if (!product)
        return NONE;
    int g = (int) (intptr_t) zhashx_lookup (self->group_by_product, product) - 1;
    return s_alive (self, g, at) && self->groups [g].product && streq (self->groups [g].product, product)? g: NONE;
}

static void
s_remember (classifier_index_t *self, sub_t *sub, const classifier_index_ticket_t *t, int group)
{
    recent_t *slot = &sub->ring [sub->next];
    *slot = (recent_t) { t->id, t->signature, t->at, group, group != NONE? self->groups [group].generation: 0 };
    sub->next = (sub->next + 1) % self->recent;
    if (sub->count < self->recent) {
        sub->count++;
        self->tickets++;
    }
}

//  The OPEN verdict for the groups t is in: the members of both, once each
static void
s_open (classifier_index_t *self, int g, int p, const classifier_index_ticket_t *t, classifier_index_match_t *m)
{
    size_t n = 0;
    int sources [2] = { g, p };
    for (int k = 0; k < 2; k++) {
        if (sources [k] == NONE)
            continue;
        const group_t *group = &self->groups [sources [k]];
        for (size_t i = 0; i < group->nmembers; i++) {
            bool seen = false;
            for (size_t j = 0; j < n && !seen; j++)
                seen = self->scratch [j] == group->members [i];
            if (!seen)
                self->scratch [n++] = group->members [i];
        }
    }
    //  oldest first is member order within a group; the ticket itself last
    size_t last = 0;
    for (size_t j = 0; j < n; j++)
        if (self->scratch [j] == t->id)
            last = j;
    if (n && last != n - 1) {
        memmove (self->scratch + last, self->scratch + last + 1, (n - last - 1) * sizeof (int64_t));
        self->scratch [n - 1] = t->id;
    }
    m->verdict = CLASSIFIER_INDEX_OPEN;
    m->members = self->scratch;
    m->nmembers = n;
    m->product = p != NONE? self->groups [p].product: NULL;
    m->first_signature = g != NONE && self->groups [g].nsignatures? self->groups [g].signatures [0]: t->signature;
    m->count = (int64_t) n;
    m->groups [0] = g;
    m->groups [1] = p;
}

static void
s_add (classifier_index_t *self, const classifier_index_ticket_t *t, classifier_index_match_t *m)
{
    memset (m, 0, sizeof *m);
    m->groups [0] = m->groups [1] = NONE;
    const char *product = t->product && *t->product? t->product: NULL;
    sub_t *sub = t->subcategory && *t->subcategory? s_sub (self, t->subcategory): NULL;
    int g = sub? s_find_group (self, sub, t->signature, t->at): NONE;
    int p = s_find_product (self, product, t->at);

    //  near-duplicates among the sub-category's recent ungrouped tickets
    size_t nmatches = 0;
    recent_t *matches [64];
    if (sub && g == NONE)
        for (size_t i = 0; i < sub->count; i++) {
            recent_t *r = &sub->ring [i];
            if (r->id == t->id || !s_within (self, r->at, t->at)
            ||  classifier_hamming (r->signature, t->signature) > CLASSIFIER_SIMHASH_DISTANCE)
                continue;
            if (r->group != NONE && self->groups [r->group].generation == r->generation
            &&  s_alive (self, r->group, t->at)) {
                g = r->group;   //  it joined a group since: join that one
                break;
            }
            if (nmatches < sizeof matches / sizeof matches [0])
                matches [nmatches++] = r;
        }

    int64_t incident = g != NONE && self->groups [g].incident_id? self->groups [g].incident_id
                     : p != NONE && self->groups [p].incident_id? self->groups [p].incident_id: 0;
    if (g == NONE && nmatches > 0) {
        //  a new group: the recent near-duplicates, oldest first, then t
        for (size_t a = 1; a < nmatches; a++)
            for (size_t b = a; b > 0 && matches [b - 1]->at > matches [b]->at; b--) {
                recent_t *swap = matches [b];
                matches [b] = matches [b - 1];
                matches [b - 1] = swap;
            }
        g = s_group_new (self, sub, NULL, t->at);
        for (size_t i = 0; i < nmatches; i++) {
            s_group_add (self, g, matches [i]->id, matches [i]->signature, matches [i]->at);
            matches [i]->group = g;
            matches [i]->generation = self->groups [g].generation;
        }
    }
    if (g == NONE && incident == 0 && t->incident_id && sub)
        g = s_group_new (self, sub, NULL, t->at);       //  replay: an incident this index missed
    if (g != NONE)
        s_group_add (self, g, t->id, t->signature, t->at);
    if (product && p == NONE)
        p = s_group_new (self, NULL, product, t->at);
    if (p != NONE)
        s_group_add (self, p, t->id, t->signature, t->at);
    if (sub)
        s_remember (self, sub, t, g != NONE? g: p);
    m->groups [0] = g;
    m->groups [1] = p;

    if (incident) {
        //  the groups it is in belong to the incident now
        if (g != NONE && !self->groups [g].incident_id)
            self->groups [g].incident_id = incident;
        if (p != NONE && !self->groups [p].incident_id)
            self->groups [p].incident_id = incident;
        m->verdict = CLASSIFIER_INDEX_JOIN;
        m->incident_id = incident;
        return;
    }
    bool full = (g != NONE && self->groups [g].count >= self->threshold)
             || (p != NONE && self->groups [p].count >= self->threshold);
    if (full)
        s_open (self, g, p, t, m);
}

void
classifier_index_add (classifier_index_t *self, const classifier_index_ticket_t *ticket,
                      classifier_index_match_t *match)
{
    s_add (self, ticket, match);
}

void
classifier_index_opened (classifier_index_t *self, const classifier_index_match_t *match, int64_t incident_id)
{
    for (int k = 0; k < 2; k++)
        if (match->groups [k] != NONE && self->groups [match->groups [k]].used)
            self->groups [match->groups [k]].incident_id = incident_id;
}

void
classifier_index_rename (classifier_index_t *self, int64_t from, int64_t to)
{
    for (size_t g = 0; g < self->max_groups; g++)
        if (self->groups [g].used && self->groups [g].incident_id == from)
            self->groups [g].incident_id = to;
}

void
classifier_index_replay (classifier_index_t *self, const classifier_index_ticket_t *ticket)
{
    classifier_index_match_t m;
    s_add (self, ticket, &m);
    //  the other instance decided; the database says how
    if (ticket->incident_id)
        for (int k = 0; k < 2; k++)
            if (m.groups [k] != NONE)
                self->groups [m.groups [k]].incident_id = ticket->incident_id;
}
