#include "protodoc.h"
#include "tf_codec.h"
#include "tf_config.h"
#include "tf_status.h"
#include <string.h>

static const char *
s_type_name (const tf_field_def_t *f)
{
    switch (f->type) {
        case TF_TYPE_STR:   return "str";
        case TF_TYPE_INT:   return "int";
        case TF_TYPE_BOOL:  return "bool";
        case TF_TYPE_TIME:  return "str (RFC 3339 time)";
        case TF_TYPE_MAP:   return "map";
        case TF_TYPE_LIST:  return "array of str";
        case TF_TYPE_ANY:   return "any";
        case TF_TYPE_FLOAT: return "float";
    }
    return "?";
}

static void
s_limits (FILE *out, const tf_field_def_t *f)
{
    switch (f->type) {
        case TF_TYPE_STR:
            if (*f->enums) {
                fprintf (out, "one of ");
                for (const char *p = f->enums; *p; p++)
                    if (*p == '|')
                        fprintf (out, ", ");
                    else {
                        if (p == f->enums || p [-1] == '|')
                            fputc ('`', out);
                        fputc (*p, out);
                        if (p [1] == '|' || p [1] == 0)
                            fputc ('`', out);
                    }
            }
            else
                fprintf (out, "%lld..%lld bytes of UTF-8", (long long) f->min, (long long) f->max);
            break;
        case TF_TYPE_INT:
            if (f->max == INT64_MAX)
                fprintf (out, "%lld..2^63-1", (long long) f->min);
            else
                fprintf (out, "%lld..%lld", (long long) f->min, (long long) f->max);
            break;
        case TF_TYPE_FLOAT:
            fprintf (out, "%lld..%lld", (long long) f->min, (long long) f->max);
            break;
        case TF_TYPE_MAP:
            fprintf (out, "see `%s`", tf_schemas [f->sub].name);
            break;
        case TF_TYPE_LIST:
            fprintf (out, "at most %lld items of at most %d bytes", (long long) f->max, TF_LIST_ITEM_MAX);
            break;
        case TF_TYPE_ANY:
            fprintf (out, "at most %lld bytes", (long long) f->max);
            break;
        case TF_TYPE_BOOL:
        case TF_TYPE_TIME:
            fprintf (out, "-");
            break;
    }
}

void
protodoc_write (FILE *out)
{
    fprintf (out, "%s\n", PROTODOC_BEGIN);
    for (int s = 0; s < TF_MSG_COUNT; s++) {
        const tf_schema_def_t *schema = &tf_schemas [s];
        char kind [64];
        if (schema->kind == TF_KIND_REQUEST)
            snprintf (kind, sizeof kind, "request to %s", schema->owner == TF_SVC_ANY? "any service"
                                                          : tf_service_names [schema->owner]);
        else
        if (schema->kind == TF_KIND_EVENT)
            snprintf (kind, sizeof kind, "event from %s", tf_service_names [schema->owner]);
        else
            snprintf (kind, sizeof kind, "%s", schema->kind == TF_KIND_REPLY? "reply": "nested map");
        fprintf (out, "\n### `%s` (%s)\n\n%s\n\n", schema->name, kind, schema->doc);
        int fields = 0;
        for (int f = 0; f < TF_FIELD_COUNT; f++)
            fields += tf_fields [f].schema == s;
        if (fields == 0) {
            fprintf (out, "The map is empty: `{}` (0x80).\n");
            continue;
        }
        fprintf (out, "| key | type | required | limits | meaning |\n|---|---|---|---|---|\n");
        for (int f = 0; f < TF_FIELD_COUNT; f++) {
            const tf_field_def_t *field = &tf_fields [f];
            if (field->schema != s)
                continue;
            fprintf (out, "| `%s` | %s | %s | ", field->key, s_type_name (field),
                     field->required? "yes": "no");
            s_limits (out, field);
            fprintf (out, " | %s |\n", field->doc);
        }
    }
    fprintf (out, "\n%s\n", PROTODOC_END);
}

void
protodoc_write_settings (FILE *out)
{
    fprintf (out, "| flag | environment | default | meaning |\n|---|---|---|---|\n");
    for (size_t i = 0; i < tf_option_count; i++) {
        const tf_option_t *o = &tf_options [i];
        char env [96];
        tf_config_env_name (o->name, env, sizeof env);
        fprintf (out, "| `--%s` | `%s`%s%s%s | `%s` | %s |\n", o->name, env,
                 o->env_alias? ", `": "", o->env_alias? o->env_alias: "", o->env_alias? "`": "",
                 o->default_value, o->help);
    }
}

//  A move's from-statuses as `a`, `b` (— for the move that creates a ticket)
static void
s_from (FILE *out, const tf_move_def_t *m)
{
    if (!m->from) {
        fprintf (out, "—");
        return;
    }
    bool first = true;
    for (int s = 0; s < TF_STATUS_COUNT; s++)
        if (tf_status_in (m->from, (tf_status_t) s)) {
            fprintf (out, "%s`%s`", first? "": ", ", tf_statuses [s].name);
            first = false;
        }
}

void
protodoc_write_statuses (FILE *out)
{
    fprintf (out, "| status | 中文 | backlog | meaning | reached by | left by |\n|---|---|---|---|---|---|\n");
    for (int s = 0; s < TF_STATUS_COUNT; s++) {
        const tf_status_def_t *status = &tf_statuses [s];
        fprintf (out, "| `%s` | %s | %s | %s | ", status->name, status->chinese, status->open? "yes": "no",
                 status->doc);
        bool first = true;
        for (int m = 0; m < TF_MOVE_COUNT; m++)
            if (tf_moves [m].to == s) {
                fprintf (out, "%s`%s`", first? "": ", ", tf_moves [m].id);
                first = false;
            }
        fprintf (out, "%s | ", first? "—": "");
        first = true;
        for (int m = 0; m < TF_MOVE_COUNT; m++)
            if (tf_status_in (tf_moves [m].from, (tf_status_t) s)) {
                fprintf (out, "%s`%s`", first? "": ", ", tf_moves [m].id);
                first = false;
            }
        fprintf (out, "%s |\n", first? "—": "");
    }
    fprintf (out, "\n| move | from | to | history `event` | made by | when |\n|---|---|---|---|---|---|\n");
    for (int m = 0; m < TF_MOVE_COUNT; m++) {
        const tf_move_def_t *move = &tf_moves [m];
        fprintf (out, "| `%s` | ", move->id);
        s_from (out, move);
        fprintf (out, " | `%s` | `%s` | %s | %s |\n", tf_status_name (move->to), move->event,
                 tf_service_names [move->service], move->doc);
    }
}
