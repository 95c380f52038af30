#include "tf_http.h"
#include "tf_db.h"
#include "tf_log.h"
#include <arpa/inet.h>
#include <string.h>
#include <strings.h>

struct tf_http_t {
    struct MHD_Daemon *daemon;
    int port;
};

//  A PEM file's text, or NULL (logged)
static char *
s_read_pem (const char *path)
{
    char *text = tf_read_file (path);
    if (!text || !strstr (text, "-----BEGIN")) {
        tf_error ("http: cannot read the PEM file %s", path);
        free (text);
        return NULL;
    }
    return text;
}

tf_http_t *
tf_http_new (const char *address, int port, MHD_AccessHandlerCallback handler, void *cls,
             MHD_RequestCompletedCallback completed, unsigned connection_limit,
             const char *tls_cert, const char *tls_key)
{
    bool tls = tls_cert && *tls_cert && tls_key && *tls_key;
    char *cert = tls? s_read_pem (tls_cert): NULL, *key = tls? s_read_pem (tls_key): NULL;
    if (tls && (!cert || !key)) {
        free (cert);
        free (key);
        return NULL;
    }
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
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG
        | (tls? MHD_USE_TLS: 0),
        0, NULL, NULL, handler, cls,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_NOTIFY_COMPLETED, completed, NULL,
        //  a client that trickles its headers or body (slowloris) is cut
        //  after 10 s of silence and holds at most a few of the threads:
        //  the others keep serving everyone else
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) TF_HTTP_IDLE_SECONDS,
        MHD_OPTION_CONNECTION_LIMIT, connection_limit,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned) TF_HTTP_PER_CLIENT,
        //  the last two: only with TLS (an option list ends at the first END)
        tls? MHD_OPTION_HTTPS_MEM_CERT: MHD_OPTION_END, cert,
        MHD_OPTION_HTTPS_MEM_KEY, key,
        MHD_OPTION_END);
    free (cert);
    free (key);
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
    if (streq (code, "forbidden"))
        return 403;
    if (streq (code, "unauthenticated"))
        return 401;
    if (streq (code, TF_ERR_ILLEGAL_TRANSITION))
        return 409;
    if (streq (code, TF_ERR_UNAVAILABLE))
        return 503;
    return 400;
}

//  The JSON response with one extra header (name NULL: none)
static enum MHD_Result
s_respond (struct MHD_Connection *conn, int status, json_t *json, const char *name, const char *value)
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
    //  no Access-Control-Allow-Origin: a page on another site cannot read
    //  these answers (CORS closed), and nothing here is to be sniffed
    MHD_add_response_header (response, "X-Content-Type-Options", "nosniff");
    if (name)
        MHD_add_response_header (response, name, value);
    enum MHD_Result rc = MHD_queue_response (conn, (unsigned) status, response);
    MHD_destroy_response (response);
    return rc;
}

enum MHD_Result
tf_http_respond_json (struct MHD_Connection *conn, int status, json_t *json, const char *allow)
{
    return s_respond (conn, status, json, allow? "Allow": NULL, allow);
}

enum MHD_Result
tf_http_respond_error (struct MHD_Connection *conn, int status, const char *code, const char *field,
                       const char *message, const char *allow)
{
    json_t *error = json_pack ("{s:s, s:s}", "code", code? code: TF_ERR_INTERNAL,
                               "message", message? message: "");
    if (field && *field)
        json_object_set_new (error, "field", json_string (field));
    if (status == MHD_HTTP_UNAUTHORIZED)
        return s_respond (conn, status, json_pack ("{s:o}", "error", error), "WWW-Authenticate",
                          "Bearer realm=\"ticketflow\"");
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

const char *
tf_http_bearer (struct MHD_Connection *conn)
{
    const char *value = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    if (!value || strncasecmp (value, "Bearer ", 7))
        return "";
    value += 7;
    while (*value == ' ')
        value++;
    return value;
}

bool
tf_http_is_json (struct MHD_Connection *conn)
{
    const char *type = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    if (!type || strncasecmp (type, "application/json", 16))
        return false;
    return type [16] == 0 || type [16] == ';' || type [16] == ' ';
}
