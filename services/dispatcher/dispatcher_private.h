/*  dispatcher_private — what the dispatcher's files share. */
#ifndef DISPATCHER_PRIVATE_H
#define DISPATCHER_PRIVATE_H

#include "dispatcher.h"
#include "dispatcher_roster.h"

//  A sub-category's solution steps and phrases, packed once: the JSON of
//  the taxonomy row is parsed again only when it changed
typedef struct {
    char *subcategory, *steps_json, *phrases_json;
    uint8_t *steps, *phrases;
    size_t steps_size, phrases_size;
} packed_t;

struct dispatcher_t {
    tf_db_t *db;
    packed_t *packed;
    size_t npacked;
};

//  Prepares the statements of dispatcher_agents.c. 0 or -1.
int dispatcher_agents_prepare (tf_db_t *db);

#endif
