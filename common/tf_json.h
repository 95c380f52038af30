/*  tf_json — JSON <-> msgpack, for the HTTP gateways and ticketctl's output.
*/
#ifndef TF_JSON_H
#define TF_JSON_H

#include "tf_codec.h"
#include <jansson.h>
#include <msgpack.h>
#include <stddef.h>

//  Packs a JSON value as msgpack (objects → maps, integers → ints, reals →
//  doubles, null → nil). Returns 0, or -1 when nesting is deeper than 32.
int tf_json_pack (msgpack_packer *pk, const json_t *value);

//  Packs a JSON value into an ANY field of msg. Returns 0, or -1 (too deep).
int tf_json_set_field (tf_msg_t *msg, tf_field_id_t field, const json_t *value);

//  Converts one msgpack value (already validated by the codec, or from a
//  service) to JSON. Binary becomes base64-free hex; returns NULL on bad input.
json_t *tf_json_from_msgpack (const void *data, size_t size);

//  Converts a msgpack map body of a whole message to a JSON object.
json_t *tf_json_from_body (const void *data, size_t size);

#endif
