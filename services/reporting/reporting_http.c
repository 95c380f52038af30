#include "reporting_http.h"
#include "tf_json.h"
#include "tf_log.h"
#include "tf_net.h"
#include <arpa/inet.h>
#include <microhttpd.h>
#include <string.h>

struct reporting_http_t {
    struct MHD_Daemon *daemon;
    char *endpoint;
    int timeout_ms;
    int port;
};

//  A marker for requests whose body is read and thrown away
static int s_discarding;

int
reporting_http_status (const char *code)
{
    if (!code)
        return 500;
    if (streq (code, TF_ERR_NOT_FOUND))
        return 404;
    if (streq (code, TF_ERR_UNAVAILABLE))
        return 503;
    if (streq (code, TF_ERR_INTERNAL))
        return 500;
    return 400;
}

static enum MHD_Result
s_respond_json (struct MHD_Connection *conn, int status, json_t *json, const char *allow)
{
    char *text = json? json_dumps (json, JSON_COMPACT): NULL;
    json_decref (json);
    if (!text) {
        text = strdup ("{\"error\":{\"code\":\"internal\",\"message\":\"cannot format the response\"}}");
        status = 500;
    }
    struct MHD_Response *response = MHD_create_response_from_buffer (
        strlen (text), text, MHD_RESPMEM_MUST_FREE);
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

static enum MHD_Result
s_respond_error (struct MHD_Connection *conn, int status, const char *code, const char *message,
                 const char *allow)
{
    json_t *error = json_pack ("{s:s, s:s}", "code", code? code: TF_ERR_INTERNAL,
                               "message", message? message: "");
    return s_respond_json (conn, status, json_pack ("{s:o}", "error", error), allow);
}

//  Asks the actor for the summary and answers with its JSON.
static enum MHD_Result
s_summary (reporting_http_t *self, struct MHD_Connection *conn)
{
    tf_msg_t request, reply;
    tf_msg_init (&request, TF_MSG_REPORT_SUMMARY);
    zmsg_t *frames = NULL;
    tf_error_t err;
    enum MHD_Result rc;
    if (tf_net_request (self->endpoint, &request, self->timeout_ms, &frames, &reply, &err))
        rc = s_respond_error (conn, reporting_http_status (err.code), err.code, err.message, NULL);
    else
    if (reply.type == TF_MSG_ERROR) {
        char *code = tf_msg_strdup (&reply, TF_F_ERROR_CODE);
        char *message = tf_msg_strdup (&reply, TF_F_ERROR_MESSAGE);
        rc = s_respond_error (conn, reporting_http_status (code), code, message, NULL);
        free (code);
        free (message);
    }
    else
    if (reply.type == TF_MSG_REPORT) {
        const tf_value_t *v = &reply.v [TF_F_REPORT_SUMMARY];
        json_t *json = tf_json_from_msgpack (v->str, v->len);
        if (json)
            rc = s_respond_json (conn, MHD_HTTP_OK, json, NULL);
        else
            rc = s_respond_error (conn, 500, TF_ERR_INTERNAL, "the summary could not be converted", NULL);
    }
    else
        rc = s_respond_error (conn, 500, TF_ERR_INTERNAL, "unexpected reply from reporting", NULL);
    zmsg_destroy (&frames);
    tf_msg_clear (&request);
    return rc;
}

static enum MHD_Result
s_handle (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
          const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
    reporting_http_t *self = cls;
    (void) version;
    (void) upload_data;
    if (!streq (method, "GET") && !streq (method, "HEAD")) {
        //  read (and drop) whatever body comes, then refuse
        if (!*con_cls) {
            *con_cls = &s_discarding;
            return MHD_YES;
        }
        if (*upload_size) {
            *upload_size = 0;
            return MHD_YES;
        }
        return s_respond_error (conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method_not_allowed",
                                "reporting is read-only: use GET /v1/report/summary", "GET, HEAD");
    }
    if (streq (url, "/v1/report/summary"))
        return s_summary (self, conn);
    return s_respond_error (conn, MHD_HTTP_NOT_FOUND, TF_ERR_NOT_FOUND,
                            "no such resource; see GET /v1/report/summary", NULL);
}

reporting_http_t *
reporting_http_new (const char *address, int port, const char *request_endpoint, int timeout_ms)
{
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port) };
    if (inet_pton (AF_INET, address, &addr.sin_addr) != 1) {
        tf_error ("http: '%s' is not an IPv4 address", address);
        return NULL;
    }
    reporting_http_t *self = calloc (1, sizeof *self);
    assert (self);
    self->endpoint = strdup (request_endpoint);
    self->timeout_ms = timeout_ms;
    //  a thread per connection: each blocks on its own round trip to the actor
    self->daemon = MHD_start_daemon (
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
        0, NULL, NULL, s_handle, self,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) 30,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned) 128,
        MHD_OPTION_END);
    if (!self->daemon) {
        tf_error ("http: cannot listen on %s:%d", address, port);
        reporting_http_destroy (&self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info? info->port: port;
    return self;
}

void
reporting_http_destroy (reporting_http_t **self_p)
{
    if (!*self_p)
        return;
    reporting_http_t *self = *self_p;
    if (self->daemon)
        MHD_stop_daemon (self->daemon);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

int
reporting_http_port (reporting_http_t *self)
{
    return self->port;
}
