#include "tf_http.h"
#include "tf_log.h"
#include <arpa/inet.h>
#include <string.h>

struct tf_http_t {
    struct MHD_Daemon *daemon;
    int port;
};

tf_http_t *
tf_http_new (const char *address, int port, MHD_AccessHandlerCallback handler, void *cls,
             MHD_RequestCompletedCallback completed, unsigned connection_limit)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    if (inet_pton (AF_INET, address, &addr.sin_addr) != 1) {
        tf_error ("http: '%s' is not an IPv4 address", address);
        return NULL;
    }
    tf_http_t *self = calloc (1, sizeof *self);
    assert (self);
    //  a thread per connection: each blocks on its own round trip to the
    //  actor while the actor batches them together
    self->daemon = MHD_start_daemon (
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
        0, NULL, NULL, handler, cls,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
        MHD_OPTION_CONNECTION_LIMIT, connection_limit,
        MHD_OPTION_END);
    if (!self->daemon) {
        tf_error ("http: cannot listen on %s:%d", address, port);
        free (self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info? info->port: port;
    return self;
}

void
tf_http_destroy (tf_http_t **self_p)
{
    if (!*self_p)
        return;
    MHD_stop_daemon ((*self_p)->daemon);
    free (*self_p);
    *self_p = NULL;
}

int
tf_http_port (tf_http_t *self)
{
    return self->port;
}

int
tf_http_status (const char *code)
{
    if (!code || streq (code, TF_ERR_INTERNAL))
        return 500;
    if (streq (code, TF_ERR_NOT_FOUND))
        return 404;
    if (streq (code, TF_ERR_ILLEGAL_TRANSITION))
        return 409;
    if (streq (code, TF_ERR_UNAVAILABLE))
        return 503;
    return 400;
}

enum MHD_Result
tf_http_respond_json (struct MHD_Connection *conn, int status, json_t *json, const char *allow)
{
    char *text = json? json_dumps (json, JSON_COMPACT | JSON_REAL_PRECISION (12)): NULL;
    json_decref (json);
    if (!text) {
        text = strdup ("{\"error\":{\"code\":\"internal\",\"message\":\"cannot format the response\"}}");
        status = 500;
    }
    struct MHD_Response *response = MHD_create_response_from_buffer (strlen (text), text,
                                                                     MHD_RESPMEM_MUST_FREE);
    if (!response) {
        free (text);
        return MHD_NO;
    }
    MHD_add_response_header (response, "Content-Type", "application/json; charset=utf-8");
    MHD_add_response_header (response, "Cache-Control", "no-store");
    if (allow)
        MHD_add_response_header (response, "Allow", allow);
    enum MHD_Result rc = MHD_queue_response (conn, (unsigned) status, response);
    MHD_destroy_response (response);
    return rc;
}

enum MHD_Result
tf_http_respond_error (struct MHD_Connection *conn, int status, const char *code, const char *field,
                       const char *message, const char *allow)
{
    json_t *error = json_pack ("{s:s, s:s}", "code", code? code: TF_ERR_INTERNAL,
                               "message", message? message: "");
    if (field && *field)
        json_object_set_new (error, "field", json_string (field));
    return tf_http_respond_json (conn, status, json_pack ("{s:o}", "error", error), allow);
}

enum MHD_Result
tf_http_respond_reply_error (struct MHD_Connection *conn, const tf_msg_t *reply)
{
    char *code = tf_msg_strdup (reply, TF_F_ERROR_CODE);
    char *field = tf_msg_strdup (reply, TF_F_ERROR_FIELD);
    char *message = tf_msg_strdup (reply, TF_F_ERROR_MESSAGE);
    enum MHD_Result rc = tf_http_respond_error (conn, tf_http_status (code), code, field, message, NULL);
    free (code);
    free (field);
    free (message);
    return rc;
}
