#include "tf_status.h"
#include <stdio.h>
#include <string.h>

#define s_OPEN      true
#define s_SETTLED   false

const tf_status_def_t tf_statuses [TF_STATUS_COUNT] = {
#define TF_STATUS(id, name, chinese, phase, doc) [TF_STATUS_##id] = { name, chinese, s_##phase, doc },
#define TF_MOVE(id, event, service, from, to, doc)
#include "../proto/status.def"
#undef TF_STATUS
#undef TF_MOVE
};

//  The from-list text is built once, at first use, from the bits
static char s_from_lists [TF_MOVE_COUNT][256];

const tf_move_def_t tf_moves [TF_MOVE_COUNT] = {
#define TF_STATUS(id, name, chinese, phase, doc)
#define TF_MOVE(id, event, service, from, to, doc) \
    [TF_MOVE_##id] = { #id, event, TF_SVC_##service, from, TF_STATUS_##to, doc, s_from_lists [TF_MOVE_##id] },
#include "../proto/status.def"
#undef TF_STATUS
#undef TF_MOVE
};

__attribute__ ((constructor))
static void
s_build_from_lists (void)
{
    for (int m = 0; m < TF_MOVE_COUNT; m++) {
        char *out = s_from_lists [m];
        size_t o = 0;
        for (int s = 0; s < TF_STATUS_COUNT; s++)
            if (tf_status_in (tf_moves [m].from, (tf_status_t) s))
                o += (size_t) snprintf (out + o, sizeof s_from_lists [m] - o, "%s%s", o? ",": "",
                                        tf_statuses [s].name);
    }
}

tf_status_set_t
tf_status_all (void)
{
    return ((tf_status_set_t) 1 << TF_STATUS_COUNT) - 1;
}

tf_status_set_t
tf_status_open (void)
{
    tf_status_set_t set = 0;
    for (int s = 0; s < TF_STATUS_COUNT; s++)
        if (tf_statuses [s].open)
            set |= (tf_status_set_t) 1 << s;
    return set;
}

tf_status_t
tf_status_lookup (const char *name)
{
    for (int s = 0; name && s < TF_STATUS_COUNT; s++)
        if (strcmp (tf_statuses [s].name, name) == 0)
            return (tf_status_t) s;
    return TF_STATUS_NONE;
}

const char *
tf_status_name (tf_status_t status)
{
    return status >= 0 && status < TF_STATUS_COUNT? tf_statuses [status].name: "";
}

bool
tf_move_allowed (tf_move_t move, tf_service_id_t service, tf_status_t from)
{
    if (move < 0 || move >= TF_MOVE_COUNT || tf_moves [move].service != service)
        return false;
    if (from == TF_STATUS_NONE)
        return tf_moves [move].from == 0;
    return tf_status_in (tf_moves [move].from, from);
}

tf_move_t
tf_move_find (tf_service_id_t service, tf_status_t from, tf_status_t to, const char *event)
{
    for (int m = 0; m < TF_MOVE_COUNT; m++)
        if (tf_moves [m].to == to && (!event || strcmp (tf_moves [m].event, event) == 0)
        &&  tf_move_allowed ((tf_move_t) m, service, from))
            return (tf_move_t) m;
    return TF_MOVE_NONE;
}
