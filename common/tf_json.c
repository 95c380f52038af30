#include "tf_json.h"
#include <string.h>

int
tf_json_pack (msgpack_packer *pk, const json_t *value)
{
    //  bounded nesting: the JSON comes from HTTP clients
    static _Thread_local int depth = 0;
    if (depth > 32)
        return -1;
    int rc = 0;
    switch (json_typeof (value)) {
        case JSON_OBJECT: {
            msgpack_pack_map (pk, json_object_size (value));
            const char *key;
            json_t *item;
            depth++;
            json_object_foreach ((json_t *) value, key, item) {
                msgpack_pack_str_with_body (pk, key, strlen (key));
                if ((rc = tf_json_pack (pk, item)))
                    break;
            }
            depth--;
            break;
        }
        case JSON_ARRAY: {
            msgpack_pack_array (pk, json_array_size (value));
            size_t i;
            json_t *item;
            depth++;
            json_array_foreach (value, i, item)
                if ((rc = tf_json_pack (pk, item)))
                    break;
            depth--;
            break;
        }
        case JSON_STRING:
            msgpack_pack_str_with_body (pk, json_string_value (value), json_string_length (value));
            break;
        case JSON_INTEGER:
            msgpack_pack_int64 (pk, json_integer_value (value));
            break;
        case JSON_REAL:
            msgpack_pack_double (pk, json_real_value (value));
            break;
        case JSON_TRUE:
            msgpack_pack_true (pk);
            break;
        case JSON_FALSE:
            msgpack_pack_false (pk);
            break;
        case JSON_NULL:
            msgpack_pack_nil (pk);
            break;
    }
    return rc;
}

static json_t *
s_from_object (const msgpack_object *o, int depth)
{
    if (depth > 64)
        return NULL;
    switch (o->type) {
        case MSGPACK_OBJECT_NIL:
            return json_null ();
        case MSGPACK_OBJECT_BOOLEAN:
            return json_boolean (o->via.boolean);
        case MSGPACK_OBJECT_POSITIVE_INTEGER:
            return json_integer ((json_int_t) o->via.u64);
        case MSGPACK_OBJECT_NEGATIVE_INTEGER:
            return json_integer ((json_int_t) o->via.i64);
        case MSGPACK_OBJECT_FLOAT32:
        case MSGPACK_OBJECT_FLOAT64:
            return json_real (o->via.f64);
        case MSGPACK_OBJECT_STR:
            return json_stringn (o->via.str.ptr, o->via.str.size);
        case MSGPACK_OBJECT_BIN:
        case MSGPACK_OBJECT_EXT: {
            const char *p = o->type == MSGPACK_OBJECT_BIN? o->via.bin.ptr: o->via.ext.ptr;
            size_t n = o->type == MSGPACK_OBJECT_BIN? o->via.bin.size: o->via.ext.size;
            char *hex = malloc (n * 2 + 1);
            for (size_t i = 0; i < n; i++)
                sprintf (hex + i * 2, "%02x", (unsigned char) p [i]);
            hex [n * 2] = 0;
            json_t *s = json_string (hex);
            free (hex);
            return s;
        }
        case MSGPACK_OBJECT_ARRAY: {
            json_t *a = json_array ();
            for (uint32_t i = 0; i < o->via.array.size; i++) {
                json_t *item = s_from_object (&o->via.array.ptr [i], depth + 1);
                if (!item) {
                    json_decref (a);
                    return NULL;
                }
                json_array_append_new (a, item);
            }
            return a;
        }
        case MSGPACK_OBJECT_MAP: {
            json_t *m = json_object ();
            for (uint32_t i = 0; i < o->via.map.size; i++) {
                const msgpack_object *k = &o->via.map.ptr [i].key;
                json_t *item = s_from_object (&o->via.map.ptr [i].val, depth + 1);
                if (k->type != MSGPACK_OBJECT_STR || !item) {
                    json_decref (item);
                    json_decref (m);
                    return NULL;
                }
                json_object_setn_new (m, k->via.str.ptr, k->via.str.size, item);
            }
            return m;
        }
    }
    return NULL;
}

json_t *
tf_json_from_msgpack (const void *data, size_t size)
{
    msgpack_unpacked result;
    msgpack_unpacked_init (&result);
    size_t offset = 0;
    json_t *json = NULL;
    if (msgpack_unpack_next (&result, data, size, &offset) == MSGPACK_UNPACK_SUCCESS)
        json = s_from_object (&result.data, 0);
    msgpack_unpacked_destroy (&result);
    return json;
}

json_t *
tf_json_from_body (const void *data, size_t size)
{
    json_t *json = tf_json_from_msgpack (data, size);
    if (json && !json_is_object (json)) {
        json_decref (json);
        json = NULL;
    }
    return json;
}

int
tf_json_set_field (tf_msg_t *msg, tf_field_id_t field, const json_t *value)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    int rc = tf_json_pack (&pk, value);
    if (rc == 0)
        tf_msg_set_raw (msg, field, sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}
