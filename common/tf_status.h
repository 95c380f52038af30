/*  tf_status — the ticket statuses and the legal moves between them, built
    from proto/status.def. Nothing else in the code spells a status: it
    names TF_STATUS_* and TF_MOVE_* and asks this module for the words.
*/
#ifndef TF_STATUS_H
#define TF_STATUS_H

#include "tf_codec.h"
#include <stdbool.h>
#include <stdint.h>

typedef enum {
    TF_STATUS_NONE = -1,
#define TF_STATUS(id, name, chinese, phase, doc) TF_STATUS_##id,
#define TF_MOVE(id, event, service, from, to, doc)
#include "../proto/status.def"
#undef TF_STATUS
#undef TF_MOVE
    TF_STATUS_COUNT
} tf_status_t;

typedef enum {
    TF_MOVE_NONE = -1,
#define TF_STATUS(id, name, chinese, phase, doc)
#define TF_MOVE(id, event, service, from, to, doc) TF_MOVE_##id,
#include "../proto/status.def"
#undef TF_STATUS
#undef TF_MOVE
    TF_MOVE_COUNT
} tf_move_t;

//  A set of statuses, one bit each
typedef uint32_t tf_status_set_t;
#define TF_FROM(status) ((tf_status_set_t) 1 << TF_STATUS_##status)
//  The set of one status held in a variable (empty for TF_STATUS_NONE)
#define TF_FROM_SET(status) ((status) >= 0? (tf_status_set_t) 1 << (status): (tf_status_set_t) 0)
#define NOTHING ((tf_status_set_t) 0)

typedef struct {
    const char *name;           //  "in_progress"
    const char *chinese;        //  the manuals' word: "处理中"
    bool open;                  //  in the backlog, its deadlines running
    const char *doc;
} tf_status_def_t;

typedef struct {
    const char *id;             //  "TRANSFER", for logs and documents
    const char *event;          //  history kind: "transferred"
    tf_service_id_t service;    //  the only service that may make it
    tf_status_set_t from;       //  0: the move that creates a ticket
    tf_status_t to;
    const char *doc;
    const char *from_list;      //  "assigned,accepted,in_progress" ("" for none)
} tf_move_def_t;

extern const tf_status_def_t tf_statuses [TF_STATUS_COUNT];
extern const tf_move_def_t tf_moves [TF_MOVE_COUNT];

//  Every status; the open ones (the backlog, where deadlines run).
tf_status_set_t tf_status_all (void);
tf_status_set_t tf_status_open (void);

//  The status of a name, or TF_STATUS_NONE.
tf_status_t tf_status_lookup (const char *name);
//  The name of a status ("" for TF_STATUS_NONE).
const char *tf_status_name (tf_status_t status);
//  True when status is in set.
static inline bool tf_status_in (tf_status_set_t set, tf_status_t status)
{
    return status >= 0 && status < TF_STATUS_COUNT && (set & ((tf_status_set_t) 1 << status));
}

//  The declared move that takes `service` from `from` to `to` with history
//  kind `event` (NULL: any event), or TF_MOVE_NONE: what is not declared is
//  refused.
tf_move_t tf_move_find (tf_service_id_t service, tf_status_t from, tf_status_t to, const char *event);

//  True when `service` may make `move` on a ticket in `from`.
bool tf_move_allowed (tf_move_t move, tf_service_id_t service, tf_status_t from);

#endif
