#include "protodoc.h"
#include "tf_codec.h"
#include "tf_config.h"
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
                        fprintf (out, "`, `");
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
    static const char *kinds [] = { "request", "reply", "event", "nested map" };
    fprintf (out, "%s\n", PROTODOC_BEGIN);
    for (int s = 0; s < TF_MSG_COUNT; s++) {
        const tf_schema_def_t *schema = &tf_schemas [s];
        fprintf (out, "\n### `%s` (%s)\n\n%s\n\n", schema->name, kinds [schema->kind], schema->doc);
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
