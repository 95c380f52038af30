/*  tf_codec — the event codec: every message is two ZeroMQ frames, the type
    name and a msgpack map whose fields are defined in proto/events.def.

    Decoding treats every byte as hostile: a cursor walks the frame, every
    declared length is checked against the bytes left before it is used,
    nothing is allocated, and strings point into the frame (so the frame must
    outlive the decoded message).
*/
#ifndef TF_CODEC_H
#define TF_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <czmq.h>

//  The services, as proto/events.def names the owner of each message.
//  TF_SVC_NONE: replies and nested maps; TF_SVC_ANY: every service answers.
typedef enum {
    TF_SVC_NONE, TF_SVC_ANY,
    TF_SVC_INTAKE, TF_SVC_CLASSIFIER, TF_SVC_DISPATCHER, TF_SVC_SLA, TF_SVC_NOTIFIER, TF_SVC_REPORTING,
    TF_SVC_COUNT
} tf_service_id_t;

//  "intake", "classifier", ... ("" for NONE, "any" for ANY)
extern const char *const tf_service_names [TF_SVC_COUNT];

typedef enum {
    TF_MSG_NONE = -1,
#define TF_SCHEMA(id, name, kind, owner, doc) TF_MSG_##id,
#define TF_FIELD(schema, id, key, type, presence, min, max, sub, enums, doc)
#include "../proto/events.def"
#undef TF_SCHEMA
#undef TF_FIELD
    TF_MSG_COUNT
} tf_msg_type_t;

typedef enum {
#define TF_SCHEMA(id, name, kind, owner, doc)
#define TF_FIELD(schema, id, key, type, presence, min, max, sub, enums, doc) TF_F_##schema##_##id,
#include "../proto/events.def"
#undef TF_SCHEMA
#undef TF_FIELD
    TF_FIELD_COUNT
} tf_field_id_t;

//  The upper limit of every field as a constant, so code that copies or
//  cuts a value never retypes it: TF_MAX_ASSIGNED_SUBJECT is 200 (bytes of
//  a STR, items of a LIST, bytes of an ANY, the top of an INT's range).
enum {
#define TF_SCHEMA(id, name, kind, owner, doc)
#define TF_FIELD(schema, id, key, type, presence, min, max, sub, enums, doc) \
    TF_MAX_##schema##_##id = (max) > 0x7fffffff? 0x7fffffff: (int) (max),
#include "../proto/events.def"
#undef TF_SCHEMA
#undef TF_FIELD
};

typedef enum { TF_KIND_REQUEST, TF_KIND_REPLY, TF_KIND_EVENT, TF_KIND_PART } tf_kind_t;
typedef enum {
    TF_TYPE_STR, TF_TYPE_INT, TF_TYPE_BOOL, TF_TYPE_TIME,
    TF_TYPE_MAP, TF_TYPE_LIST, TF_TYPE_ANY, TF_TYPE_FLOAT
} tf_type_t;

typedef struct {
    const char *name;
    tf_kind_t kind;
    tf_service_id_t owner;      //  who answers the request / sends the event
    const char *doc;
} tf_schema_def_t;

typedef struct {
    tf_msg_type_t schema;
    const char *key;
    tf_type_t type;
    bool required;
    int64_t min, max;
    tf_msg_type_t sub;
    const char *enums;          //  "" or "a|b|c"
    const char *doc;
} tf_field_def_t;

extern const tf_schema_def_t tf_schemas[TF_MSG_COUNT];
extern const tf_field_def_t tf_fields[TF_FIELD_COUNT];

//  Limits that hold for every message
#define TF_MAX_MAP_ENTRIES   64
#define TF_MAX_DEPTH         16
#define TF_LIST_ITEM_MAX     1024
#define TF_MAX_TYPE_LEN      64

typedef struct {
    bool present;
    const char *str;            //  STR, TIME: the string; ANY, LIST: raw msgpack bytes
    size_t len;
    int64_t i;                  //  INT; TIME: seconds since the epoch; LIST: item count
    double f;                   //  FLOAT
    bool b;                     //  BOOL
    bool owned;                 //  str was copied by a setter (tf_msg_clear frees it)
} tf_value_t;

typedef struct {
    tf_msg_type_t type;
    tf_value_t v[TF_FIELD_COUNT];
} tf_msg_t;

typedef struct {
    const char *code;           //  static string: see proto/events.md "Error codes"
    char message[256];
    char field[64];
} tf_error_t;

//  Error codes (the complete list lives in proto/events.md)
#define TF_ERR_BAD_FRAMES         "bad_frames"
#define TF_ERR_UNKNOWN_TYPE       "unknown_type"
#define TF_ERR_BAD_MSGPACK        "bad_msgpack"
#define TF_ERR_MISSING_FIELD      "missing_field"
#define TF_ERR_WRONG_TYPE         "wrong_type"
#define TF_ERR_TOO_LONG           "too_long"
#define TF_ERR_BAD_UTF8           "bad_utf8"
#define TF_ERR_BAD_VALUE          "bad_value"
#define TF_ERR_DUPLICATE_KEY      "duplicate_key"
#define TF_ERR_NOT_FOUND          "not_found"
#define TF_ERR_ILLEGAL_TRANSITION "illegal_transition"
#define TF_ERR_UNAVAILABLE        "unavailable"
#define TF_ERR_INTERNAL           "internal"

//  Sets err and returns -1, for one-line error exits.
int tf_error_set (tf_error_t *err, const char *code, const char *field, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

//  The `unavailable` error every service gives while its database is away
//  (clients retry); returns -1.
int tf_error_unavailable (tf_error_t *err);

//  The schema of a wire type name, or TF_MSG_NONE.
tf_msg_type_t tf_codec_lookup (const char *name, size_t len);

//  Decodes a msgpack map against a schema. Returns 0, or -1 with err set.
//  On success msg->type = expected and every present field is checked.
int tf_codec_decode_body (tf_msg_type_t expected, const uint8_t *data, size_t size,
                          tf_msg_t *msg, tf_error_t *err);

//  Decodes a [type, body] pair of frames: the type name picks the schema.
int tf_codec_decode (const uint8_t *type, size_t type_len,
                     const uint8_t *body, size_t body_size,
                     tf_msg_t *msg, tf_error_t *err);

//  Typed access (value of an absent field: NULL / 0 / false)
static inline bool tf_msg_has (const tf_msg_t *m, tf_field_id_t f) { return m->v[f].present; }
static inline int64_t tf_msg_int (const tf_msg_t *m, tf_field_id_t f) { return m->v[f].i; }
static inline bool tf_msg_bool (const tf_msg_t *m, tf_field_id_t f) { return m->v[f].b; }
//  Returns a freshly allocated NUL-terminated copy (or NULL when absent)
char *tf_msg_strdup (const tf_msg_t *m, tf_field_id_t f);
//  An integer field as decimal text in buf (a statement parameter), or NULL
//  when absent (SQL NULL)
const char *tf_msg_int_param (const tf_msg_t *m, tf_field_id_t f, char *buf, size_t size);

//  Building messages. Values are copied, so callers may free theirs.
void tf_msg_init (tf_msg_t *m, tf_msg_type_t type);
void tf_msg_set_str (tf_msg_t *m, tf_field_id_t f, const char *s, size_t len);
void tf_msg_set_cstr (tf_msg_t *m, tf_field_id_t f, const char *s);   //  NULL: absent
void tf_msg_set_int (tf_msg_t *m, tf_field_id_t f, int64_t i);
void tf_msg_set_bool (tf_msg_t *m, tf_field_id_t f, bool b);
void tf_msg_set_float (tf_msg_t *m, tf_field_id_t f, double d);
//  ANY and LIST: raw msgpack bytes of the value
void tf_msg_set_raw (tf_msg_t *m, tf_field_id_t f, const void *raw, size_t len);
//  Frees copies made by the setters (not needed for decoded messages).
void tf_msg_clear (tf_msg_t *m);

//  Packs the body map. Fails (-1, err) when a required field is missing or
//  a value breaks its limits: services never send what clients must refuse.
int tf_codec_encode_body (const tf_msg_t *m, zchunk_t **body_p, tf_error_t *err);
//  Appends the two frames [type, body] to zmsg.
int tf_codec_encode (const tf_msg_t *m, zmsg_t *zmsg, tf_error_t *err);

//  Validates a time string (RFC 3339) and returns seconds since the epoch.
int tf_time_parse (const char *s, size_t len, int64_t *epoch);

#endif
