#include "intake_http.h"
#include "tf_http.h"
#include "tf_json.h"
#include "tf_log.h"
#include "tf_net.h"
#include <microhttpd.h>
#include <string.h>

struct intake_http_t {
    tf_http_t *http;
    char *endpoint;
    int timeout_ms;
};

typedef struct {
    char *data;
    size_t size;
    bool too_large;
} upload_t;

#define s_respond_json(conn, status, json) tf_http_respond_json (conn, status, json, NULL)
#define s_respond_error(conn, status, code, field, message) \
    tf_http_respond_error (conn, status, code, field, message, NULL)

//  Sends a request and turns the reply into an HTTP response.
static enum MHD_Result
s_forward (intake_http_t *self, struct MHD_Connection *conn, tf_msg_t *request)
{
    zmsg_t *frames = NULL;
    tf_msg_t reply;
    tf_error_t err;
    enum MHD_Result rc;
    if (tf_net_request_as (self->endpoint, tf_http_bearer (conn), request, self->timeout_ms, &frames, &reply, &err))
        rc = s_respond_error (conn, tf_http_status (err.code), err.code, err.field, err.message);
    else
    if (reply.type == TF_MSG_ERROR)
        rc = tf_http_respond_reply_error (conn, &reply);
    else
    if (reply.type == TF_MSG_STATUS_INFO) {
        zframe_t *body = zmsg_last (frames);
        rc = s_respond_json (conn, MHD_HTTP_OK, tf_json_from_body (zframe_data (body), zframe_size (body)));
    }
    else
    if (reply.type == TF_MSG_ACCEPTED) {
        zframe_t *body = zmsg_last (frames);
        json_t *json = tf_json_from_body (zframe_data (body), zframe_size (body));
        bool duplicate = tf_msg_bool (&reply, TF_F_ACCEPTED_DUPLICATE);
        rc = s_respond_json (conn, duplicate? MHD_HTTP_OK: MHD_HTTP_CREATED, json);
    }
    else
    if (reply.type == TF_MSG_INFO) {
        const tf_value_t *v = &reply.v [TF_F_INFO_TICKET];
        rc = s_respond_json (conn, MHD_HTTP_OK, tf_json_from_msgpack (v->str, v->len));
    }
    else
        rc = s_respond_error (conn, 500, TF_ERR_INTERNAL, NULL, "unexpected reply from intake");
    zmsg_destroy (&frames);
    return rc;
}

static enum MHD_Result
s_submit (intake_http_t *self, struct MHD_Connection *conn, upload_t *upload)
{
    if (!tf_http_is_json (conn))
        return s_respond_error (conn, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, "bad_json", NULL,
                                "send the ticket as Content-Type: application/json");
    if (upload->too_large) {
        char message [96];
        snprintf (message, sizeof message, "the request body is larger than %d bytes", INTAKE_HTTP_MAX_BODY);
        return s_respond_error (conn, MHD_HTTP_CONTENT_TOO_LARGE, TF_ERR_TOO_LONG, NULL, message);
    }
    json_error_t jerr;
    json_t *json = json_loadb (upload->data? upload->data: "", upload->size, JSON_REJECT_DUPLICATES, &jerr);
    if (!json || !json_is_object (json)) {
        char message [256];
        snprintf (message, sizeof message, "the body must be a JSON object%s%s",
                  json? "": ": ", json? "": jerr.text);
        json_decref (json);
        return s_respond_error (conn, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, message);
    }
    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init (&sbuf);
    msgpack_packer pk;
    msgpack_packer_init (&pk, &sbuf, msgpack_sbuffer_write);
    int packed = tf_json_pack (&pk, json);
    json_decref (json);
    enum MHD_Result rc;
    tf_msg_t request;
    tf_error_t err;
    if (packed)
        rc = s_respond_error (conn, MHD_HTTP_BAD_REQUEST, "bad_json", NULL, "the JSON is nested too deeply");
    else
    //  the same checks a ZeroMQ client's request meets, done here so that a
    //  bad request never costs a round trip
    if (tf_codec_decode_body (TF_MSG_SUBMIT, (const uint8_t *) sbuf.data, sbuf.size, &request, &err))
        rc = s_respond_error (conn, tf_http_status (err.code), err.code, err.field, err.message);
    else
        rc = s_forward (self, conn, &request);
    msgpack_sbuffer_destroy (&sbuf);
    return rc;
}

static enum MHD_Result
s_handle (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    intake_http_t *self = cls;
    (void) version;
    if (streq (method, "POST")) {
        upload_t *upload = *con_cls;
        if (!upload) {
            *con_cls = calloc (1, sizeof (upload_t));
            return MHD_YES;
        }
        if (*upload_size) {
            if (upload->size + *upload_size > INTAKE_HTTP_MAX_BODY)
                upload->too_large = true;
            else {
                upload->data = realloc (upload->data, upload->size + *upload_size + 1);
                memcpy (upload->data + upload->size, upload_data, *upload_size);
                upload->size += *upload_size;
            }
            *upload_size = 0;
            return MHD_YES;
        }
        if (streq (url, "/v1/tickets"))
            return s_submit (self, conn, upload);
        return s_respond_error (conn, MHD_HTTP_NOT_FOUND, TF_ERR_NOT_FOUND, NULL, "no such resource");
    }
    if (streq (method, "GET") && strncmp (url, "/v1/tickets/", 12) == 0) {
        const char *number = url + 12;
        tf_msg_t request;
        tf_msg_init (&request, TF_MSG_GET);
        size_t len = strlen (number);
        if (len == 0 || len > TF_MAX_GET_TICKET_NO)
            return s_respond_error (conn, MHD_HTTP_NOT_FOUND, TF_ERR_NOT_FOUND, "ticket_no", "no such ticket");
        tf_msg_set_str (&request, TF_F_GET_TICKET_NO, number, len);
        enum MHD_Result rc = s_forward (self, conn, &request);
        tf_msg_clear (&request);
        return rc;
    }
    //  a customer's own lookup: no token, only the unguessable reference
    if (streq (method, "GET") && strncmp (url, "/v1/status/", 11) == 0) {
        const char *ref = url + 11;
        size_t len = strlen (ref);
        if (len == 0 || len > TF_MAX_STATUS_PUBLIC_REF)
            return s_respond_error (conn, MHD_HTTP_NOT_FOUND, TF_ERR_NOT_FOUND, "public_ref", "no ticket has this reference");
        tf_msg_t request;
        tf_msg_init (&request, TF_MSG_STATUS);
        tf_msg_set_str (&request, TF_F_STATUS_PUBLIC_REF, ref, len);
        enum MHD_Result rc = s_forward (self, conn, &request);
        tf_msg_clear (&request);
        return rc;
    }
    if (streq (url, "/v1/tickets") || strncmp (url, "/v1/tickets/", 12) == 0)
        return s_respond_error (conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", NULL,
                                "use POST /v1/tickets or GET /v1/tickets/{ticket_no}");
    return s_respond_error (conn, MHD_HTTP_NOT_FOUND, TF_ERR_NOT_FOUND, NULL, "no such resource");
}

static void
s_completed (void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    (void) cls;
    (void) conn;
    (void) toe;
    upload_t *upload = *con_cls;
    if (upload) {
        free (upload->data);
        free (upload);
        *con_cls = NULL;
    }
}

intake_http_t *
intake_http_new (const char *address, int port, const char *request_endpoint, int timeout_ms,
                 const char *tls_cert, const char *tls_key)
{
    intake_http_t *self = calloc (1, sizeof *self);
    assert (self);
    self->endpoint = strdup (request_endpoint);
    self->timeout_ms = timeout_ms;
    self->http = tf_http_new (address, port, s_handle, self, s_completed, 512, tls_cert, tls_key);
    if (!self->http)
        intake_http_destroy (&self);
    return self;
}

void
intake_http_destroy (intake_http_t **self_p)
{
    if (!*self_p)
        return;
    intake_http_t *self = *self_p;
    tf_http_destroy (&self->http);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

int
intake_http_port (intake_http_t *self)
{
    return tf_http_port (self->http);
}
