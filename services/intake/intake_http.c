#include "intake_http.h"
#include "tf_json.h"
#include "tf_log.h"
#include "tf_net.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <string.h>

struct intake_http_t {
    struct MHD_Daemon *daemon;
    char *endpoint;
    int timeout_ms;
    int port;
};

typedef struct {
    char *data;
    size_t size;
    bool too_large;
} upload_t;

int
intake_http_status (const char *code)
{
    if (streq (code, TF_ERR_NOT_FOUND))
        return 404;
    if (streq (code, TF_ERR_ILLEGAL_TRANSITION))
        return 409;
    if (streq (code, TF_ERR_UNAVAILABLE))
        return 503;
    if (streq (code, TF_ERR_INTERNAL))
        return 500;
    return 400;
}

static enum MHD_Result
s_respond_json (struct MHD_Connection *conn, int status, json_t *json)
{
    char *text = json_dumps (json, JSON_COMPACT);
    json_decref (json);
    struct MHD_Response *response = MHD_create_response_from_buffer (
        strlen (text), text, MHD_RESPMEM_MUST_FREE);
    MHD_add_response_header (response, "Content-Type", "application/json; charset=utf-8");
    enum MHD_Result rc = MHD_queue_response (conn, (unsigned) status, response);
    MHD_destroy_response (response);
    return rc;
}

static enum MHD_Result
s_respond_error (struct MHD_Connection *conn, int status, const char *code, const char *field,
                 const char *message)
{
    json_t *error = json_pack ("{s:s, s:s}", "code", code, "message", message);
    if (field && *field)
        json_object_set_new (error, "field", json_string (field));
    return s_respond_json (conn, status, json_pack ("{s:o}", "error", error));
}

//  Sends a request and turns the reply into an HTTP response.
static enum MHD_Result
s_forward (intake_http_t *self, struct MHD_Connection *conn, tf_msg_t *request)
{
    zmsg_t *frames = NULL;
    tf_msg_t reply;
    tf_error_t err;
    enum MHD_Result rc;
    if (tf_net_request (self->endpoint, request, self->timeout_ms, &frames, &reply, &err))
        rc = s_respond_error (conn, intake_http_status (err.code), err.code, err.field, err.message);
    else
    if (reply.type == TF_MSG_ERROR) {
        char *code = tf_msg_strdup (&reply, TF_F_ERROR_CODE);
        char *field = tf_msg_strdup (&reply, TF_F_ERROR_FIELD);
        char *message = tf_msg_strdup (&reply, TF_F_ERROR_MESSAGE);
        rc = s_respond_error (conn, intake_http_status (code), code, field, message);
        free (code);
        free (field);
        free (message);
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
        rc = s_respond_error (conn, intake_http_status (err.code), err.code, err.field, err.message);
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
        if (len == 0 || len > 32)
            return s_respond_error (conn, MHD_HTTP_NOT_FOUND, TF_ERR_NOT_FOUND, "ticket_no", "no such ticket");
        tf_msg_set_str (&request, TF_F_GET_TICKET_NO, number, len);
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
intake_http_new (const char *address, int port, const char *request_endpoint, int timeout_ms)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    if (inet_pton (AF_INET, address, &addr.sin_addr) != 1) {
        tf_error ("http: '%s' is not an IPv4 address", address);
        return NULL;
    }
    intake_http_t *self = calloc (1, sizeof *self);
    assert (self);
    self->endpoint = strdup (request_endpoint);
    self->timeout_ms = timeout_ms;
    //  a thread per connection: each blocks on its own round trip to the
    //  actor while the actor batches them together
    self->daemon = MHD_start_daemon (
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
        0, NULL, NULL, s_handle, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) 512,
        MHD_OPTION_END);
    if (!self->daemon) {
        tf_error ("http: cannot listen on %s:%d", address, port);
        intake_http_destroy (&self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info? info->port: port;
    return self;
}

void
intake_http_destroy (intake_http_t **self_p)
{
    if (!*self_p)
        return;
    intake_http_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

int
intake_http_port (intake_http_t *self)
{
    return self->port;
}
