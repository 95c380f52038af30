/*  tf_codec — see tf_codec.h.

    Why a hand-written reader for decoding: msgpack-c's unpacker allocates a
    container's element array as soon as it reads the header, so five bytes
    (`dd ff ff ff ff`) can ask for gigabytes (msgpack-c issue #1013). The
    cursor below checks every declared length against the bytes left, never
    allocates, and is small enough to fuzz exhaustively. msgpack-c's packer
    is used for encoding.
*/
#include "tf_codec.h"
#include "tf_utf8.h"
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define REQUIRED true
#define OPTIONAL false

const char *const tf_service_names [TF_SVC_COUNT] = {
    [TF_SVC_NONE] = "", [TF_SVC_ANY] = "any", [TF_SVC_INTAKE] = "intake",
    [TF_SVC_CLASSIFIER] = "classifier", [TF_SVC_DISPATCHER] = "dispatcher", [TF_SVC_SLA] = "sla",
    [TF_SVC_NOTIFIER] = "notifier", [TF_SVC_REPORTING] = "reporting"
};

const tf_schema_def_t tf_schemas [TF_MSG_COUNT] = {
#define TF_SCHEMA(id, name, kind, owner, doc) [TF_MSG_##id] = { name, TF_KIND_##kind, TF_SVC_##owner, doc },
#define TF_FIELD(schema, id, key, type, presence, min, max, sub, enums, doc)
#include "../proto/events.def"
#undef TF_SCHEMA
#undef TF_FIELD
};

const tf_field_def_t tf_fields [TF_FIELD_COUNT] = {
#define TF_SCHEMA(id, name, kind, owner, doc)
#define TF_FIELD(schema, id, key, type, presence, min, max, sub, enums, doc) \
    [TF_F_##schema##_##id] = { TF_MSG_##schema, key, TF_TYPE_##type, presence, \
                               min, max, TF_MSG_##sub, enums, doc },
#include "../proto/events.def"
#undef TF_SCHEMA
#undef TF_FIELD
};

int
tf_error_set (tf_error_t *err, const char *code, const char *field, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        snprintf (err->field, sizeof err->field, "%s", field ? field : "");
        va_list ap;
        va_start (ap, fmt);
        vsnprintf (err->message, sizeof err->message, fmt, ap);
        va_end (ap);
    }
    return -1;
}

int
tf_error_unavailable (tf_error_t *err)
{
    return tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "the database is not available; retry later");
}

tf_msg_type_t
tf_codec_lookup (const char *name, size_t len)
{
    for (int i = 0; i < TF_MSG_COUNT; i++)
        if (tf_schemas [i].kind != TF_KIND_PART
        &&  strlen (tf_schemas [i].name) == len
        &&  memcmp (tf_schemas [i].name, name, len) == 0)
            return (tf_msg_type_t) i;
    return TF_MSG_NONE;
}

//  --------------------------------------------------------------------------
//  The cursor

typedef struct {
    const uint8_t *p;
    size_t left;
} cursor_t;

static int
s_take (cursor_t *c, size_t n, const uint8_t **out)
{
    if (n > c->left)
        return -1;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return 0;
}

static int
s_be (cursor_t *c, size_t n, uint64_t *value)
{
    const uint8_t *b;
    if (s_take (c, n, &b))
        return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = (v << 8) | b [i];
    *value = v;
    return 0;
}

typedef enum {
    K_NIL, K_BOOL, K_UINT, K_INT, K_FLOAT, K_STR, K_BIN, K_ARRAY, K_MAP, K_EXT
} kind_t;

static const char *
s_kind_name (kind_t k)
{
    static const char *names [] = { "nil", "bool", "integer", "integer", "float",
                                    "string", "binary", "array", "map", "extension" };
    return names [k];
}

//  Reads one value header. For STR/BIN/EXT, `data` points at the payload
//  (already bounds-checked and skipped); for ARRAY/MAP `count` is the
//  declared number of elements, checked against the bytes left (each element
//  takes at least one byte, a map entry two).
typedef struct {
    kind_t kind;
    uint64_t u;
    int64_t i;
    double f;
    bool b;
    const uint8_t *data;
    size_t len;
    uint64_t count;
} item_t;

static int
s_read_header (cursor_t *c, item_t *it)
{
    const uint8_t *b;
    uint64_t n;
    if (s_take (c, 1, &b))
        return -1;
    uint8_t t = *b;
    memset (it, 0, sizeof *it);
    if (t <= 0x7f) { it->kind = K_UINT; it->u = t; it->i = t; return 0; }
    if (t >= 0xe0) { it->kind = K_INT; it->i = (int8_t) t; return 0; }
    if ((t & 0xf0) == 0x80) { it->kind = K_MAP; it->count = t & 0x0f; goto container; }
    if ((t & 0xf0) == 0x90) { it->kind = K_ARRAY; it->count = t & 0x0f; goto container; }
    if ((t & 0xe0) == 0xa0) { it->kind = K_STR; n = t & 0x1f; goto payload; }
    switch (t) {
        case 0xc0: it->kind = K_NIL; return 0;
        case 0xc2: it->kind = K_BOOL; it->b = false; return 0;
        case 0xc3: it->kind = K_BOOL; it->b = true; return 0;
        case 0xc4: it->kind = K_BIN; if (s_be (c, 1, &n)) return -1; goto payload;
        case 0xc5: it->kind = K_BIN; if (s_be (c, 2, &n)) return -1; goto payload;
        case 0xc6: it->kind = K_BIN; if (s_be (c, 4, &n)) return -1; goto payload;
        case 0xc7: case 0xc8: case 0xc9: {
            it->kind = K_EXT;
            if (s_be (c, t == 0xc7? 1: t == 0xc8? 2: 4, &n) || s_take (c, 1, &b))
                return -1;
            goto payload;
        }
        case 0xca: case 0xcb: {
            uint64_t raw;
            if (s_be (c, t == 0xca? 4: 8, &raw))
                return -1;
            it->kind = K_FLOAT;
            if (t == 0xca) {
                uint32_t r32 = (uint32_t) raw;
                float fl;
                memcpy (&fl, &r32, 4);
                it->f = fl;
            }
            else
                memcpy (&it->f, &raw, 8);
            return 0;
        }
        case 0xcc: case 0xcd: case 0xce: case 0xcf: {
            if (s_be (c, (size_t) 1 << (t - 0xcc), &it->u))
                return -1;
            it->kind = K_UINT;
            it->i = it->u > INT64_MAX? INT64_MAX: (int64_t) it->u;
            return 0;
        }
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            size_t w = (size_t) 1 << (t - 0xd0);
            uint64_t raw;
            if (s_be (c, w, &raw))
                return -1;
            it->kind = K_INT;
            if (w < 8) {        //  sign-extend
                uint64_t sign = (uint64_t) 1 << (w * 8 - 1);
                it->i = (int64_t) ((raw ^ sign) - sign);
            }
            else
                it->i = (int64_t) raw;
            return 0;
        }
        case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
            it->kind = K_EXT;
            n = (uint64_t) 1 << (t - 0xd4);
            if (s_take (c, 1, &b))
                return -1;
            goto payload;
        case 0xd9: it->kind = K_STR; if (s_be (c, 1, &n)) return -1; goto payload;
        case 0xda: it->kind = K_STR; if (s_be (c, 2, &n)) return -1; goto payload;
        case 0xdb: it->kind = K_STR; if (s_be (c, 4, &n)) return -1; goto payload;
        case 0xdc: it->kind = K_ARRAY; if (s_be (c, 2, &it->count)) return -1; goto container;
        case 0xdd: it->kind = K_ARRAY; if (s_be (c, 4, &it->count)) return -1; goto container;
        case 0xde: it->kind = K_MAP; if (s_be (c, 2, &it->count)) return -1; goto container;
        case 0xdf: it->kind = K_MAP; if (s_be (c, 4, &it->count)) return -1; goto container;
        default:   return -1;   //  0xc1 is never used
    }
payload:
    if (n > c->left)
        return -1;
    it->len = (size_t) n;
    return s_take (c, it->len, &it->data);
container:
    if (it->count > c->left / (it->kind == K_MAP? 2: 1))
        return -1;
    return 0;
}

//  Skips one complete value, bounded in depth.
static int
s_skip (cursor_t *c, int depth)
{
    item_t it;
    if (depth > TF_MAX_DEPTH || s_read_header (c, &it))
        return -1;
    if (it.kind == K_ARRAY || it.kind == K_MAP) {
        uint64_t n = it.kind == K_MAP? it.count * 2: it.count;
        for (uint64_t i = 0; i < n; i++)
            if (s_skip (c, depth + 1))
                return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Time: RFC 3339 (date 'T' time, optional fraction, 'Z' or +hh:mm)

static int
s_digits (const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s [i] < '0' || s [i] > '9')
            return -1;
        v = v * 10 + (s [i] - '0');
    }
    *out = v;
    return 0;
}

int
tf_time_parse (const char *s, size_t len, int64_t *epoch)
{
    int y, mo, d, h, mi, se;
    if (len < 20 || len > 40
    ||  s_digits (s, 4, &y) || s [4] != '-' || s_digits (s + 5, 2, &mo) || s [7] != '-'
    ||  s_digits (s + 8, 2, &d) || (s [10] != 'T' && s [10] != 't' && s [10] != ' ')
    ||  s_digits (s + 11, 2, &h) || s [13] != ':' || s_digits (s + 14, 2, &mi)
    ||  s [16] != ':' || s_digits (s + 17, 2, &se))
        return -1;
    static const int mdays [] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays [mo - 1]
    ||  (mo == 2 && d == 29 && !leap) || h > 23 || mi > 59 || se > 60)
        return -1;
    size_t i = 19;
    if (i < len && s [i] == '.') {
        i++;
        size_t start = i;
        while (i < len && s [i] >= '0' && s [i] <= '9')
            i++;
        if (i == start)
            return -1;
    }
    int offset = 0;
    if (i < len && (s [i] == 'Z' || s [i] == 'z'))
        i++;
    else
    if (i + 6 == len && (s [i] == '+' || s [i] == '-') && s [i + 3] == ':') {
        int oh, om;
        if (s_digits (s + i + 1, 2, &oh) || s_digits (s + i + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 60 + om) * 60 * (s [i] == '-'? -1: 1);
        i += 6;
    }
    else
        return -1;
    if (i != len)
        return -1;
    struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = se > 59? 59: se };
    *epoch = (int64_t) timegm (&tm) - offset;
    return 0;
}

//  --------------------------------------------------------------------------
//  Decoding against a schema

static bool
s_enum_has (const char *enums, const char *s, size_t len)
{
    const char *p = enums;
    while (*p) {
        const char *bar = strchr (p, '|');
        size_t n = bar? (size_t) (bar - p): strlen (p);
        if (n == len && memcmp (p, s, len) == 0)
            return true;
        if (!bar)
            break;
        p = bar + 1;
    }
    return false;
}

static void
s_path (char *out, size_t size, const char *prefix, const char *key, size_t key_len)
{
    if (prefix && *prefix)
        snprintf (out, size, "%s.%.*s", prefix, (int) key_len, key);
    else
        snprintf (out, size, "%.*s", (int) key_len, key);
}

static int s_decode_map (cursor_t *c, tf_msg_type_t schema, const char *prefix,
                         tf_msg_t *msg, tf_error_t *err);

static int
s_decode_value (cursor_t *c, tf_field_id_t fid, const char *path, tf_msg_t *msg, tf_error_t *err)
{
    const tf_field_def_t *def = &tf_fields [fid];
    tf_value_t *v = &msg->v [fid];
    const uint8_t *start = c->p;
    item_t it;

    if (def->type == TF_TYPE_ANY) {
        if (s_skip (c, 1))
            return tf_error_set (err, TF_ERR_BAD_MSGPACK, path, "malformed msgpack in '%s'", path);
        v->str = (const char *) start;
        v->len = (size_t) (c->p - start);
        if ((int64_t) v->len > def->max)
            return tf_error_set (err, TF_ERR_TOO_LONG, path, "'%s' is %zu bytes, at most %lld allowed",
                                 path, v->len, (long long) def->max);
        v->present = true;
        return 0;
    }
    if (s_read_header (c, &it))
        return tf_error_set (err, TF_ERR_BAD_MSGPACK, path, "malformed msgpack in '%s'", path);
    if (it.kind == K_NIL) {
        //  nil means "not given"
        if (def->required)
            return tf_error_set (err, TF_ERR_MISSING_FIELD, path, "'%s' is required and may not be nil", path);
        return 0;
    }
    switch (def->type) {
        case TF_TYPE_STR:
        case TF_TYPE_TIME:
            if (it.kind != K_STR)
                return tf_error_set (err, TF_ERR_WRONG_TYPE, path, "'%s' must be a string, not %s",
                                     path, s_kind_name (it.kind));
            if (!tf_utf8_valid ((const char *) it.data, it.len))
                return tf_error_set (err, TF_ERR_BAD_UTF8, path,
                                     "'%s' is not valid UTF-8 text (or holds a NUL byte)", path);
            v->str = (const char *) it.data;
            v->len = it.len;
            if (def->type == TF_TYPE_TIME) {
                if (tf_time_parse (v->str, v->len, &v->i))
                    return tf_error_set (err, TF_ERR_BAD_VALUE, path,
                                         "'%s' must be an RFC 3339 time such as 2026-11-23T09:30:00+08:00", path);
            }
            else {
                if ((int64_t) it.len > def->max)
                    return tf_error_set (err, TF_ERR_TOO_LONG, path,
                                         "'%s' is %zu bytes, at most %lld allowed",
                                         path, it.len, (long long) def->max);
                if ((int64_t) it.len < def->min)
                    return tf_error_set (err, TF_ERR_BAD_VALUE, path,
                                         "'%s' must be at least %lld bytes", path, (long long) def->min);
                if (*def->enums && !s_enum_has (def->enums, v->str, v->len))
                    return tf_error_set (err, TF_ERR_BAD_VALUE, path, "'%s' must be one of %s",
                                         path, def->enums);
            }
            break;
        case TF_TYPE_INT:
            if (it.kind != K_UINT && it.kind != K_INT)
                return tf_error_set (err, TF_ERR_WRONG_TYPE, path, "'%s' must be an integer, not %s",
                                     path, s_kind_name (it.kind));
            if ((it.kind == K_UINT && it.u > (uint64_t) def->max) || it.i < def->min || it.i > def->max)
                return tf_error_set (err, TF_ERR_BAD_VALUE, path, "'%s' must be in %lld..%lld",
                                     path, (long long) def->min, (long long) def->max);
            v->i = it.i;
            break;
        case TF_TYPE_FLOAT:
            if (it.kind == K_FLOAT)
                v->f = it.f;
            else
            if (it.kind == K_UINT || it.kind == K_INT)
                v->f = (double) it.i;
            else
                return tf_error_set (err, TF_ERR_WRONG_TYPE, path, "'%s' must be a number, not %s",
                                     path, s_kind_name (it.kind));
            if (!(v->f >= (double) def->min && v->f <= (double) def->max))
                return tf_error_set (err, TF_ERR_BAD_VALUE, path, "'%s' must be in %lld..%lld",
                                     path, (long long) def->min, (long long) def->max);
            break;
        case TF_TYPE_BOOL:
            if (it.kind != K_BOOL)
                return tf_error_set (err, TF_ERR_WRONG_TYPE, path, "'%s' must be a boolean, not %s",
                                     path, s_kind_name (it.kind));
            v->b = it.b;
            break;
        case TF_TYPE_MAP:
            if (it.kind != K_MAP)
                return tf_error_set (err, TF_ERR_WRONG_TYPE, path, "'%s' must be a map, not %s",
                                     path, s_kind_name (it.kind));
            //  rewind so s_decode_map reads the header itself
            c->left += (size_t) (c->p - start);
            c->p = start;
            if (s_decode_map (c, def->sub, path, msg, err))
                return -1;
            break;
        case TF_TYPE_LIST:
            if (it.kind != K_ARRAY)
                return tf_error_set (err, TF_ERR_WRONG_TYPE, path, "'%s' must be an array, not %s",
                                     path, s_kind_name (it.kind));
            if ((int64_t) it.count > def->max)
                return tf_error_set (err, TF_ERR_TOO_LONG, path, "'%s' has %llu items, at most %lld allowed",
                                     path, (unsigned long long) it.count, (long long) def->max);
            for (uint64_t k = 0; k < it.count; k++) {
                item_t s;
                if (s_read_header (c, &s))
                    return tf_error_set (err, TF_ERR_BAD_MSGPACK, path, "malformed msgpack in '%s'", path);
                if (s.kind != K_STR)
                    return tf_error_set (err, TF_ERR_WRONG_TYPE, path, "'%s' items must be strings", path);
                if (s.len > TF_LIST_ITEM_MAX)
                    return tf_error_set (err, TF_ERR_TOO_LONG, path, "'%s' items are at most %d bytes",
                                         path, TF_LIST_ITEM_MAX);
                if (!tf_utf8_valid ((const char *) s.data, s.len))
                    return tf_error_set (err, TF_ERR_BAD_UTF8, path, "'%s' holds invalid UTF-8", path);
            }
            v->str = (const char *) start;
            v->len = (size_t) (c->p - start);
            v->i = (int64_t) it.count;
            break;
        case TF_TYPE_ANY:
            break;      //  handled above
    }
    v->present = true;
    return 0;
}

static int
s_decode_map (cursor_t *c, tf_msg_type_t schema, const char *prefix, tf_msg_t *msg, tf_error_t *err)
{
    item_t it;
    const char *where = prefix && *prefix? prefix: "message body";
    if (s_read_header (c, &it))
        return tf_error_set (err, TF_ERR_BAD_MSGPACK, prefix, "%s is not well-formed msgpack", where);
    if (it.kind != K_MAP)
        return tf_error_set (err, *prefix? TF_ERR_WRONG_TYPE: TF_ERR_BAD_MSGPACK, prefix,
                             "%s must be a msgpack map, not %s", where, s_kind_name (it.kind));
    if (it.count > TF_MAX_MAP_ENTRIES)
        return tf_error_set (err, TF_ERR_TOO_LONG, prefix, "%s has %llu keys, at most %d allowed",
                             where, (unsigned long long) it.count, TF_MAX_MAP_ENTRIES);
    const uint8_t *keys [TF_MAX_MAP_ENTRIES];
    size_t key_lens [TF_MAX_MAP_ENTRIES];
    for (uint64_t k = 0; k < it.count; k++) {
        item_t key;
        if (s_read_header (c, &key))
            return tf_error_set (err, TF_ERR_BAD_MSGPACK, prefix, "%s is not well-formed msgpack", where);
        if (key.kind != K_STR)
            return tf_error_set (err, TF_ERR_WRONG_TYPE, prefix, "keys of %s must be strings, not %s",
                                 where, s_kind_name (key.kind));
        if (!tf_utf8_valid ((const char *) key.data, key.len))
            return tf_error_set (err, TF_ERR_BAD_UTF8, prefix, "a key of %s is not valid UTF-8", where);
        for (uint64_t j = 0; j < k; j++)
            if (key_lens [j] == key.len && memcmp (keys [j], key.data, key.len) == 0) {
                char path [64];
                s_path (path, sizeof path, prefix, (const char *) key.data, key.len);
                return tf_error_set (err, TF_ERR_DUPLICATE_KEY, path, "key '%s' appears twice", path);
            }
        keys [k] = key.data;
        key_lens [k] = key.len;

        tf_field_id_t fid = TF_FIELD_COUNT;
        for (int f = 0; f < TF_FIELD_COUNT; f++)
            if (tf_fields [f].schema == schema && strlen (tf_fields [f].key) == key.len
            &&  memcmp (tf_fields [f].key, key.data, key.len) == 0) {
                fid = (tf_field_id_t) f;
                break;
            }
        if (fid == TF_FIELD_COUNT) {
            //  unknown keys are ignored, so newer clients can talk to older services
            if (s_skip (c, 1))
                return tf_error_set (err, TF_ERR_BAD_MSGPACK, prefix, "%s is not well-formed msgpack", where);
            continue;
        }
        char path [64];
        s_path (path, sizeof path, prefix, (const char *) key.data, key.len);
        if (s_decode_value (c, fid, path, msg, err))
            return -1;
    }
    for (int f = 0; f < TF_FIELD_COUNT; f++)
        if (tf_fields [f].schema == schema && tf_fields [f].required && !msg->v [f].present) {
            char path [64];
            s_path (path, sizeof path, prefix, tf_fields [f].key, strlen (tf_fields [f].key));
            return tf_error_set (err, TF_ERR_MISSING_FIELD, path, "'%s' is required", path);
        }
    return 0;
}

int
tf_codec_decode_body (tf_msg_type_t expected, const uint8_t *data, size_t size,
                      tf_msg_t *msg, tf_error_t *err)
{
    assert (expected > TF_MSG_NONE && expected < TF_MSG_COUNT);
    memset (msg, 0, sizeof *msg);
    msg->type = expected;
    cursor_t c = { data, size };
    if (s_decode_map (&c, expected, "", msg, err))
        return -1;
    if (c.left)
        return tf_error_set (err, TF_ERR_BAD_MSGPACK, NULL,
                             "%zu trailing bytes after the message map", c.left);
    return 0;
}

int
tf_codec_decode (const uint8_t *type, size_t type_len, const uint8_t *body, size_t body_size,
                 tf_msg_t *msg, tf_error_t *err)
{
    memset (msg, 0, sizeof *msg);
    msg->type = TF_MSG_NONE;
    if (type_len == 0 || type_len > TF_MAX_TYPE_LEN || !tf_utf8_valid ((const char *) type, type_len))
        return tf_error_set (err, TF_ERR_UNKNOWN_TYPE, NULL,
                             "frame 1 must be a message type name such as 'ticket.submit'");
    tf_msg_type_t t = tf_codec_lookup ((const char *) type, type_len);
    if (t == TF_MSG_NONE)
        return tf_error_set (err, TF_ERR_UNKNOWN_TYPE, NULL, "unknown message type '%.*s'",
                             (int) type_len, (const char *) type);
    return tf_codec_decode_body (t, body, body_size, msg, err);
}

char *
tf_msg_strdup (const tf_msg_t *m, tf_field_id_t f)
{
    if (!m->v [f].present)
        return NULL;
    return strndup (m->v [f].str, m->v [f].len);
}

const char *
tf_msg_int_param (const tf_msg_t *m, tf_field_id_t f, char *buf, size_t size)
{
    if (!m->v [f].present)
        return NULL;
    snprintf (buf, size, "%lld", (long long) m->v [f].i);
    return buf;
}

//  --------------------------------------------------------------------------
//  Building and encoding

void
tf_msg_init (tf_msg_t *m, tf_msg_type_t type)
{
    memset (m, 0, sizeof *m);
    m->type = type;
}

static void
s_set_copy (tf_msg_t *m, tf_field_id_t f, const void *data, size_t len)
{
    tf_value_t *v = &m->v [f];
    if (v->owned)
        free ((void *) v->str);
    char *copy = malloc (len + 1);
    assert (copy);
    memcpy (copy, data, len);
    copy [len] = 0;
    v->str = copy;
    v->len = len;
    v->owned = true;
    v->present = true;
}

void
tf_msg_set_str (tf_msg_t *m, tf_field_id_t f, const char *s, size_t len)
{
    assert (tf_fields [f].type == TF_TYPE_STR || tf_fields [f].type == TF_TYPE_TIME);
    s_set_copy (m, f, s, len);
    if (tf_fields [f].type == TF_TYPE_TIME && tf_time_parse (s, len, &m->v [f].i))
        m->v [f].i = 0;
}

void
tf_msg_set_cstr (tf_msg_t *m, tf_field_id_t f, const char *s)
{
    if (s)
        tf_msg_set_str (m, f, s, strlen (s));
}

void
tf_msg_set_int (tf_msg_t *m, tf_field_id_t f, int64_t i)
{
    assert (tf_fields [f].type == TF_TYPE_INT);
    m->v [f].i = i;
    m->v [f].present = true;
}

void
tf_msg_set_bool (tf_msg_t *m, tf_field_id_t f, bool b)
{
    assert (tf_fields [f].type == TF_TYPE_BOOL);
    m->v [f].b = b;
    m->v [f].present = true;
}

void
tf_msg_set_float (tf_msg_t *m, tf_field_id_t f, double d)
{
    assert (tf_fields [f].type == TF_TYPE_FLOAT);
    m->v [f].f = d;
    m->v [f].present = true;
}

void
tf_msg_set_raw (tf_msg_t *m, tf_field_id_t f, const void *raw, size_t len)
{
    assert (tf_fields [f].type == TF_TYPE_ANY || tf_fields [f].type == TF_TYPE_LIST);
    s_set_copy (m, f, raw, len);
}

void
tf_msg_clear (tf_msg_t *m)
{
    for (int f = 0; f < TF_FIELD_COUNT; f++)
        if (m->v [f].owned)
            free ((void *) m->v [f].str);
    memset (m, 0, sizeof *m);
    m->type = TF_MSG_NONE;
}

static bool
s_schema_present (const tf_msg_t *m, tf_msg_type_t schema)
{
    for (int f = 0; f < TF_FIELD_COUNT; f++)
        if (tf_fields [f].schema == schema && m->v [f].present)
            return true;
    return false;
}

static int
s_encode_map (msgpack_packer *pk, const tf_msg_t *m, tf_msg_type_t schema, const char *prefix,
              tf_error_t *err)
{
    size_t count = 0;
    for (int f = 0; f < TF_FIELD_COUNT; f++) {
        const tf_field_def_t *def = &tf_fields [f];
        if (def->schema != schema)
            continue;
        bool present = def->type == TF_TYPE_MAP? s_schema_present (m, def->sub): m->v [f].present;
        char path [64];
        s_path (path, sizeof path, prefix, def->key, strlen (def->key));
        if (!present) {
            if (def->required)
                return tf_error_set (err, TF_ERR_MISSING_FIELD, path, "'%s' is required", path);
            continue;
        }
        const tf_value_t *v = &m->v [f];
        if ((def->type == TF_TYPE_STR && ((int64_t) v->len > def->max || (int64_t) v->len < def->min))
        ||  (def->type == TF_TYPE_ANY && (int64_t) v->len > def->max))
            return tf_error_set (err, TF_ERR_TOO_LONG, path, "'%s' is %zu bytes, limit %lld..%lld",
                                 path, v->len, (long long) def->min, (long long) def->max);
        if ((def->type == TF_TYPE_STR || def->type == TF_TYPE_TIME) && !tf_utf8_valid (v->str, v->len))
            return tf_error_set (err, TF_ERR_BAD_UTF8, path, "'%s' is not valid UTF-8", path);
        if (def->type == TF_TYPE_STR && *def->enums && !s_enum_has (def->enums, v->str, v->len))
            return tf_error_set (err, TF_ERR_BAD_VALUE, path, "'%s' must be one of %s", path, def->enums);
        if (def->type == TF_TYPE_INT && (v->i < def->min || v->i > def->max))
            return tf_error_set (err, TF_ERR_BAD_VALUE, path, "'%s' must be in %lld..%lld",
                                 path, (long long) def->min, (long long) def->max);
        if (def->type == TF_TYPE_TIME && tf_time_parse (v->str, v->len, &(int64_t) {0}))
            return tf_error_set (err, TF_ERR_BAD_VALUE, path, "'%s' is not an RFC 3339 time", path);
        count++;
    }
    msgpack_pack_map (pk, count);
    for (int f = 0; f < TF_FIELD_COUNT; f++) {
        const tf_field_def_t *def = &tf_fields [f];
        if (def->schema != schema)
            continue;
        const tf_value_t *v = &m->v [f];
        if (def->type == TF_TYPE_MAP? !s_schema_present (m, def->sub): !v->present)
            continue;
        msgpack_pack_str_with_body (pk, def->key, strlen (def->key));
        switch (def->type) {
            case TF_TYPE_STR:
            case TF_TYPE_TIME:
                msgpack_pack_str_with_body (pk, v->str, v->len);
                break;
            case TF_TYPE_INT:
                msgpack_pack_int64 (pk, v->i);
                break;
            case TF_TYPE_FLOAT:
                msgpack_pack_double (pk, v->f);
                break;
            case TF_TYPE_BOOL:
                if (v->b)
                    msgpack_pack_true (pk);
                else
                    msgpack_pack_false (pk);
                break;
            case TF_TYPE_MAP: {
                char path [64];
                s_path (path, sizeof path, prefix, def->key, strlen (def->key));
                if (s_encode_map (pk, m, def->sub, path, err))
                    return -1;
                break;
            }
            case TF_TYPE_LIST:
            case TF_TYPE_ANY:
                //  raw bytes are already msgpack: append as they are
                pk->callback (pk->data, v->str, v->len);
                break;
        }
    }
    return 0;
}

int
tf_codec_encode_body (const tf_msg_t *m, zchunk_t **body_p, tf_error_t *err)
{
    assert (m->type > TF_MSG_NONE && m->type < TF_MSG_COUNT);
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    int rc = s_encode_map (&pk, m, m->type, "", err);
    if (rc == 0)
        *body_p = zchunk_new (sbuf.data, sbuf.size);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

int
tf_codec_encode (const tf_msg_t *m, zmsg_t *zmsg, tf_error_t *err)
{
    zchunk_t *body;
    if (tf_codec_encode_body (m, &body, err))
        return -1;
    zmsg_addstr (zmsg, tf_schemas [m->type].name);
    zmsg_addmem (zmsg, zchunk_data (body), zchunk_size (body));
    zchunk_destroy (&body);
    return 0;
}
