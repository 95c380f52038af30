#include "reporting_http.h"
#include "tf_http.h"
#include "tf_json.h"
#include "tf_log.h"
#include "tf_net.h"
#include <microhttpd.h>
#include <string.h>

struct reporting_http_t {
    tf_http_t *http;
    char *endpoint;
    int timeout_ms;
};

//  A marker for requests whose body is read and thrown away
static int s_discarding;

#define s_respond_json tf_http_respond_json
#define s_respond_error(conn, status, code, message, allow) \
    tf_http_respond_error (conn, status, code, NULL, message, allow)

//  Asks the actor for the summary and answers with its JSON.
static enum MHD_Result
s_summary (reporting_http_t *self, struct MHD_Connection *conn)
{
    tf_msg_t request, reply;
    tf_msg_init (&request, TF_MSG_REPORT_SUMMARY);
    zmsg_t *frames = NULL;
    tf_error_t err;
    enum MHD_Result rc;
    if (tf_net_request_as (self->endpoint, tf_http_bearer (conn), &request, self->timeout_ms, &frames, &reply, &err))
        rc = s_respond_error (conn, tf_http_status (err.code), err.code, err.message, NULL);
    else
    if (reply.type == TF_MSG_ERROR)
        rc = tf_http_respond_reply_error (conn, &reply);
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
reporting_http_new (const char *address, int port, const char *request_endpoint, int timeout_ms,
                    const char *tls_cert, const char *tls_key)
{
    reporting_http_t *self = calloc (1, sizeof *self);
    assert (self);
    self->endpoint = strdup (request_endpoint);
    self->timeout_ms = timeout_ms;
    self->http = tf_http_new (address, port, s_handle, self, NULL, 128, tls_cert, tls_key);
    if (!self->http)
        reporting_http_destroy (&self);
    return self;
}

void
reporting_http_destroy (reporting_http_t **self_p)
{
    if (!*self_p)
        return;
    reporting_http_t *self = *self_p;
    tf_http_destroy (&self->http);
    free (self->endpoint);
    free (self);
    *self_p = NULL;
}

int
reporting_http_port (reporting_http_t *self)
{
    return tf_http_port (self->http);
}
