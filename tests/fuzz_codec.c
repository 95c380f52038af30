//  libFuzzer target for the decoder: `make fuzz`. The first byte picks the
//  schema, the rest is the body; every input must decode or fail cleanly.
#include "tf_codec.h"
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    tf_msg_type_t type = (tf_msg_type_t) (data [0] % TF_MSG_COUNT);
    tf_msg_t msg;
    tf_error_t err;
    if (tf_codec_decode_body (type, data + 1, size - 1, &msg, &err) == 0) {
        //  whatever decodes must re-encode (every limit held)
        tf_msg_t copy;
        tf_msg_init (&copy, type);
        for (int f = 0; f < TF_FIELD_COUNT; f++) {
            const tf_value_t *v = &msg.v [f];
            if (!v->present || tf_fields [f].type == TF_TYPE_MAP)
                continue;
            switch (tf_fields [f].type) {
                case TF_TYPE_STR: case TF_TYPE_TIME: tf_msg_set_str (&copy, f, v->str, v->len); break;
                case TF_TYPE_INT: tf_msg_set_int (&copy, f, v->i); break;
                case TF_TYPE_BOOL: tf_msg_set_bool (&copy, f, v->b); break;
                case TF_TYPE_FLOAT: tf_msg_set_float (&copy, f, v->f); break;
                default: tf_msg_set_raw (&copy, f, v->str, v->len); break;
            }
        }
        zchunk_t *body = NULL;
        if (tf_codec_encode_body (&copy, &body, &err) != 0)
            __builtin_trap ();
        zchunk_destroy (&body);
        tf_msg_clear (&copy);
    }
    else
    if (!err.code || !*err.message)
        __builtin_trap ();
    return 0;
}
