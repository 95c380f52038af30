//  The event codec: round trips, and a table of hostile inputs that must
//  each give the right error code and never crash.
#include "tf_codec.h"
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

//  A hang fails its test instead of stalling CI (far above the slowest test's time)
TestSuite (codec, .timeout = 30);

static int
s_decode_submit (const void *data, size_t size, tf_msg_t *msg, tf_error_t *err)
{
    return tf_codec_decode ((const uint8_t *) "ticket.submit", 13, data, size, msg, err);
}

//  A valid ticket.submit body with an extra (key, packer callback) appended.
typedef void (extra_fn) (msgpack_packer *pk);

static size_t
s_pack_submit (char *out, size_t cap, int entries_extra, extra_fn *extra)
{
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    msgpack_pack_map (&pk, 3 + (size_t) entries_extra);
    msgpack_pack_str_with_body (&pk, "channel", 7);
    msgpack_pack_str_with_body (&pk, "app", 3);
    msgpack_pack_str_with_body (&pk, "body", 4);
    msgpack_pack_str_with_body (&pk, "where is my parcel", 18);
    msgpack_pack_str_with_body (&pk, "customer", 8);
    msgpack_pack_map (&pk, 1);
    msgpack_pack_str_with_body (&pk, "id", 2);
    msgpack_pack_str_with_body (&pk, "C1", 2);
    if (extra)
        extra (&pk);
    cr_assert (sbuf.size <= cap);
    memcpy (out, sbuf.data, sbuf.size);
    size_t n = sbuf.size;
    msgpack_sbuffer_destroy (&sbuf);
    return n;
}

Test (codec, round_trip)
{
    tf_msg_t m;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "wechat");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "快递三天没更新了 😡");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_EXTERNAL_ID, "wx-1");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_EXPECTED_AT, "2026-11-23T09:30:00+08:00");
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "openid-9");
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_TYPE, "returning");
    zmsg_t *frames = zmsg_new ();
    tf_error_t err;
    cr_assert_eq (tf_codec_encode (&m, frames, &err), 0, "%s", err.message);
    tf_msg_clear (&m);
    cr_assert_eq (zmsg_size (frames), 2);
    zframe_t *type = zmsg_first (frames);
    zframe_t *body = zmsg_next (frames);
    cr_assert (zframe_streq (type, "ticket.submit"));
    tf_msg_t d;
    cr_assert_eq (tf_codec_decode (zframe_data (type), zframe_size (type), zframe_data (body),
                                   zframe_size (body), &d, &err), 0, "%s", err.message);
    cr_assert_eq (d.type, TF_MSG_SUBMIT);
    char *text = tf_msg_strdup (&d, TF_F_SUBMIT_BODY);
    cr_assert_str_eq (text, "快递三天没更新了 😡");
    free (text);
    text = tf_msg_strdup (&d, TF_F_CUSTOMER_TYPE);
    cr_assert_str_eq (text, "returning");
    free (text);
    cr_assert_eq (d.v [TF_F_SUBMIT_EXPECTED_AT].i, 1795397400LL);     //  01:30Z
    cr_assert_not (tf_msg_has (&d, TF_F_SUBMIT_SUBJECT));
    zmsg_destroy (&frames);
}

Test (codec, encoder_refuses_what_the_decoder_would)
{
    tf_msg_t m;
    tf_error_t err;
    zchunk_t *body = NULL;
    tf_msg_init (&m, TF_MSG_SUBMIT);
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "app");
    tf_msg_set_cstr (&m, TF_F_CUSTOMER_ID, "C1");
    cr_assert_eq (tf_codec_encode_body (&m, &body, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_MISSING_FIELD);
    cr_assert_str_eq (err.field, "body");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_BODY, "x");
    tf_msg_set_cstr (&m, TF_F_SUBMIT_CHANNEL, "fax");
    cr_assert_eq (tf_codec_encode_body (&m, &body, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_BAD_VALUE);
    tf_msg_clear (&m);
}

//  --------------------------------------------------------------------------
//  Hostile inputs

typedef struct {
    const char *name;
    const char *bytes;          //  raw body, or NULL to build with `extra`
    size_t len;
    int extra_entries;
    extra_fn *extra;
    const char *code;           //  expected error, or NULL for success
    const char *field;
} hostile_t;

static void x_channel_int (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "channel", 7); msgpack_pack_int (pk, 5); }
static void x_unknown_key (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "shoe_size", 9); msgpack_pack_array (pk, 2); msgpack_pack_nil (pk); msgpack_pack_true (pk); }
static void x_subject_nil (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "subject", 7); msgpack_pack_nil (pk); }
static void x_external_bin (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "external_id", 11); msgpack_pack_bin_with_body (pk, "abc", 3); }
static void x_bad_utf8 (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "subject", 7); msgpack_pack_str_with_body (pk, "caf\xc3", 4); }
static void x_overlong (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "subject", 7); msgpack_pack_str_with_body (pk, "\xc0\xaf", 2); }
static void x_surrogate (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "subject", 7); msgpack_pack_str_with_body (pk, "\xed\xa0\x80", 3); }
static void x_nul (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "subject", 7); msgpack_pack_str_with_body (pk, "a\0b", 3); }
static void x_subject_long (msgpack_packer *pk)
{
    static char big [201];
    memset (big, 'x', sizeof big);
    msgpack_pack_str_with_body (pk, "subject", 7);
    msgpack_pack_str_with_body (pk, big, sizeof big);
}
static void x_channel_enum (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "channel", 7); msgpack_pack_str_with_body (pk, "fax", 3); }
static void x_time_bad (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "expected_at", 11); msgpack_pack_str_with_body (pk, "2026-02-30T10:00:00Z", 20); }
static void x_customer_str (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "customer", 8); msgpack_pack_str_with_body (pk, "C1", 2); }
static void x_customer_type (msgpack_packer *pk)
{ msgpack_pack_str_with_body (pk, "customer", 8); msgpack_pack_map (pk, 2);
  msgpack_pack_str_with_body (pk, "type", 4); msgpack_pack_str_with_body (pk, "vip", 3);
  msgpack_pack_str_with_body (pk, "id", 2); msgpack_pack_str_with_body (pk, "C1", 2); }
static void x_key_int (msgpack_packer *pk)
{ msgpack_pack_int (pk, 1); msgpack_pack_int (pk, 2); }
static void x_deep (msgpack_packer *pk)
{
    msgpack_pack_str_with_body (pk, "deep", 4);
    for (int i = 0; i < 100; i++)
        msgpack_pack_array (pk, 1);
    msgpack_pack_nil (pk);
}

//  body: 16 KiB + 1 of text
static char s_big_body [16 * 1024 + 64];

static hostile_t s_cases [] = {
    { "empty", "", 0, 0, NULL, TF_ERR_BAD_MSGPACK, "" },
    { "array32 claiming 4G", "\xdd\xff\x00\x00\x00", 5, 0, NULL, TF_ERR_BAD_MSGPACK, "" },
    { "map32 claiming 4G", "\xdf\xff\xff\xff\xff", 5, 0, NULL, TF_ERR_BAD_MSGPACK, "" },
    { "str32 claiming 4G", "\x81\xa4" "body" "\xdb\xff\xff\xff\xff", 11, 0, NULL, TF_ERR_BAD_MSGPACK, "body" },
    { "never-used byte", "\xc1", 1, 0, NULL, TF_ERR_BAD_MSGPACK, "" },
    { "not a map", "\x93\x01\x02\x03", 4, 0, NULL, TF_ERR_BAD_MSGPACK, "" },
    { "a bare integer", "\x2a", 1, 0, NULL, TF_ERR_BAD_MSGPACK, "" },
    { "empty map", "\x80", 1, 0, NULL, TF_ERR_MISSING_FIELD, "channel" },
    { "trailing bytes", NULL, 0, 0, NULL, TF_ERR_BAD_MSGPACK, "" },
    { "channel is an integer", NULL, 0, 1, x_channel_int, TF_ERR_DUPLICATE_KEY, "channel" },
    { "unknown key is ignored", NULL, 0, 1, x_unknown_key, NULL, NULL },
    { "nil optional is absent", NULL, 0, 1, x_subject_nil, NULL, NULL },
    { "binary is not a string", NULL, 0, 1, x_external_bin, TF_ERR_WRONG_TYPE, "external_id" },
    { "truncated UTF-8", NULL, 0, 1, x_bad_utf8, TF_ERR_BAD_UTF8, "subject" },
    { "overlong UTF-8", NULL, 0, 1, x_overlong, TF_ERR_BAD_UTF8, "subject" },
    { "surrogate", NULL, 0, 1, x_surrogate, TF_ERR_BAD_UTF8, "subject" },
    { "embedded NUL", NULL, 0, 1, x_nul, TF_ERR_BAD_UTF8, "subject" },
    { "subject too long", NULL, 0, 1, x_subject_long, TF_ERR_TOO_LONG, "subject" },
    { "channel not allowed", NULL, 0, 1, x_channel_enum, TF_ERR_DUPLICATE_KEY, "channel" },
    { "30 February", NULL, 0, 1, x_time_bad, TF_ERR_BAD_VALUE, "expected_at" },
    { "customer not a map", NULL, 0, 1, x_customer_str, TF_ERR_DUPLICATE_KEY, "customer" },
    { "customer type", NULL, 0, 1, x_customer_type, TF_ERR_DUPLICATE_KEY, "customer" },
    { "integer key", NULL, 0, 1, x_key_int, TF_ERR_WRONG_TYPE, "" },
    { "deep nesting", NULL, 0, 1, x_deep, TF_ERR_BAD_MSGPACK, "" },
    { "body over 16 KiB", s_big_body, 0, 0, NULL, TF_ERR_TOO_LONG, "body" },
};

//  Criterion runs each case in a fresh process, where static addresses may
//  differ: the parameter is an index into s_cases, not a pointer
ParameterizedTestParameters (codec, hostile)
{
    static int indices [sizeof s_cases / sizeof s_cases [0]];
    for (size_t i = 0; i < sizeof indices / sizeof indices [0]; i++)
        indices [i] = (int) i;
    return cr_make_param_array (int, indices, sizeof indices / sizeof indices [0]);
}

ParameterizedTest (int *index, codec, hostile)
{
    const hostile_t *c = &s_cases [*index];
    char buf [32 * 1024];
    size_t len;
    if (c->bytes == s_big_body) {
        memset (s_big_body, 'a', 16 * 1024 + 1);
        msgpack_sbuffer sbuf;
        msgpack_sbuffer_init (&sbuf);
        msgpack_packer pk;
        msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
        msgpack_pack_map (&pk, 3);
        msgpack_pack_str_with_body (&pk, "channel", 7);
        msgpack_pack_str_with_body (&pk, "app", 3);
        msgpack_pack_str_with_body (&pk, "customer", 8);
        msgpack_pack_map (&pk, 1);
        msgpack_pack_str_with_body (&pk, "id", 2);
        msgpack_pack_str_with_body (&pk, "C1", 2);
        msgpack_pack_str_with_body (&pk, "body", 4);
        msgpack_pack_str_with_body (&pk, s_big_body, 16 * 1024 + 1);
        memcpy (buf, sbuf.data, sbuf.size);
        len = sbuf.size;
        msgpack_sbuffer_destroy (&sbuf);
    }
    else
    if (c->bytes) {
        memcpy (buf, c->bytes, c->len);
        len = c->len;
    }
    else {
        len = s_pack_submit (buf, sizeof buf, c->extra_entries, c->extra);
        if (!c->extra) {
            buf [len++] = '\x01';   //  trailing bytes
        }
    }
    tf_msg_t msg;
    tf_error_t err = { 0 };
    int rc = s_decode_submit (buf, len, &msg, &err);
    if (!c->code) {
        cr_assert_eq (rc, 0, "%s: expected success, got %s: %s", c->name, err.code, err.message);
        return;
    }
    cr_assert_eq (rc, -1, "%s: expected %s, got success", c->name, c->code);
    cr_assert_str_eq (err.code, c->code, "%s: expected %s, got %s (%s)", c->name, c->code, err.code, err.message);
    cr_assert_str_eq (err.field, c->field, "%s: expected field '%s', got '%s'", c->name, c->field, err.field);
    cr_assert (strlen (err.message) > 0);
}

#define DECODE_LITERAL(lit) s_decode_submit (lit, sizeof (lit) - 1, &msg, &err)

//  A wrong type or value on a key that comes first must be reported as such
//  (the table above appends after a valid map, so those cases see the key twice)
Test (codec, wrong_type_and_value_reported_for_first_key)
{
    tf_msg_t msg;
    tf_error_t err;
    //  {"channel": 5}
    cr_assert_eq (DECODE_LITERAL ("\x81\xa7" "channel" "\x05"), -1);
    cr_assert_str_eq (err.code, TF_ERR_WRONG_TYPE);
    cr_assert_str_eq (err.field, "channel");
    //  {"channel": "fax"}
    cr_assert_eq (DECODE_LITERAL ("\x81\xa7" "channel" "\xa3" "fax"), -1);
    cr_assert_str_eq (err.code, TF_ERR_BAD_VALUE);
    //  {"customer": {"type": "vip"}}
    cr_assert_eq (DECODE_LITERAL ("\x81\xa8" "customer" "\x81\xa4" "type" "\xa3" "vip"), -1);
    cr_assert_str_eq (err.code, TF_ERR_BAD_VALUE);
    cr_assert_str_eq (err.field, "customer.type");
    //  {"customer": {}} with the rest valid → customer.id missing
    cr_assert_eq (DECODE_LITERAL ("\x83\xa7" "channel" "\xa3" "app" "\xa4" "body" "\xa1" "x"
                                  "\xa8" "customer" "\x80"), -1);
    cr_assert_str_eq (err.code, TF_ERR_MISSING_FIELD);
    cr_assert_str_eq (err.field, "customer.id");
}

Test (codec, every_truncation_fails_cleanly)
{
    char buf [512];
    size_t len = s_pack_submit (buf, sizeof buf, 1, x_unknown_key);
    tf_msg_t msg;
    tf_error_t err;
    cr_assert_eq (s_decode_submit (buf, len, &msg, &err), 0);
    for (size_t cut = 0; cut < len; cut++) {
        char *copy = malloc (cut + 1);     //  exact size, so ASan/valgrind see overreads
        memcpy (copy, buf, cut);
        cr_assert_eq (s_decode_submit (copy, cut, &msg, &err), -1, "cut at %zu decoded", cut);
        cr_assert (err.code);
        free (copy);
    }
}

Test (codec, random_mutations_never_crash)
{
    char buf [512];
    size_t len = s_pack_submit (buf, sizeof buf, 1, x_unknown_key);
    srand (42);
    int decoded = 0;
    for (int round = 0; round < 20000; round++) {
        char copy [512];
        memcpy (copy, buf, len);
        int flips = 1 + rand () % 4;
        for (int k = 0; k < flips; k++)
            copy [rand () % len] = (char) (rand () & 0xff);
        tf_msg_t msg;
        tf_error_t err = { 0 };
        if (s_decode_submit (copy, len, &msg, &err) == 0)
            decoded++;
        else
            cr_assert (err.code && *err.message);
    }
    cr_assert_lt (decoded, 20000);
}

Test (codec, unknown_type_and_non_requests)
{
    tf_msg_t msg;
    tf_error_t err;
    cr_assert_eq (tf_codec_decode ((const uint8_t *) "ticket.explode", 14, (const uint8_t *) "\x80", 1, &msg, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_UNKNOWN_TYPE);
    cr_assert_eq (tf_codec_decode ((const uint8_t *) "\xff\xfe", 2, (const uint8_t *) "\x80", 1, &msg, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_UNKNOWN_TYPE);
    cr_assert_eq (tf_codec_decode ((const uint8_t *) "", 0, (const uint8_t *) "\x80", 1, &msg, &err), -1);
    cr_assert_str_eq (err.code, TF_ERR_UNKNOWN_TYPE);
    //  parts are not messages of their own
    cr_assert_eq (tf_codec_lookup ("customer", 8), TF_MSG_NONE);
    cr_assert_eq (tf_codec_lookup ("service.ping", 12), TF_MSG_PING);
}

Test (codec, time_parsing)
{
    int64_t t;
    cr_assert_eq (tf_time_parse ("1970-01-01T00:00:00Z", 20, &t), 0);
    cr_assert_eq (t, 0);
    cr_assert_eq (tf_time_parse ("2026-11-23T09:30:00.25+08:00", 28, &t), 0);
    cr_assert_eq (t, 1795397400LL);
    cr_assert_eq (tf_time_parse ("2024-02-29T00:00:00Z", 20, &t), 0);
    cr_assert_eq (tf_time_parse ("2023-02-29T00:00:00Z", 20, &t), -1);
    cr_assert_eq (tf_time_parse ("2026-11-23 09:30", 16, &t), -1);
    cr_assert_eq (tf_time_parse ("2026-11-23T09:30:00", 19, &t), -1);     //  no zone
    cr_assert_eq (tf_time_parse ("2026-11-23T24:00:00Z", 20, &t), -1);
    cr_assert_eq (tf_time_parse ("2026-11-23T09:30:00+8:00", 24, &t), -1);
}
