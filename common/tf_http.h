/*  tf_http — what the HTTP faces of the services share (libmicrohttpd):
    a thread-per-connection server on an IPv4 address, JSON responses, and
    the mapping from protocol error codes to HTTP statuses. Each service's
    handler turns a request into the same ZeroMQ request a native client
    sends, so HTTP never has a code path of its own.
*/
#ifndef TF_HTTP_H
#define TF_HTTP_H

#include "tf_codec.h"
#include <jansson.h>
#include <microhttpd.h>
#include <stdbool.h>

typedef struct tf_http_t tf_http_t;

//  A connection silent this long is closed; one client address holds at
//  most this many connections.
#define TF_HTTP_IDLE_SECONDS 10
#define TF_HTTP_PER_CLIENT   32

//  Listens on address:port (port 0: any free port); `completed` may be NULL.
//  With a PEM certificate and key file (both non-empty) it speaks HTTPS
//  only. NULL on failure (logged).
tf_http_t *tf_http_new (const char *address, int port, MHD_AccessHandlerCallback handler, void *cls,
                        MHD_RequestCompletedCallback completed, unsigned connection_limit,
                        const char *tls_cert, const char *tls_key);
void tf_http_destroy (tf_http_t **self_p);
int tf_http_port (tf_http_t *self);

//  The HTTP status for an error code of proto/events.md.
int tf_http_status (const char *error_code);

//  Queues `json` (taken over) as the response; `allow` adds an Allow header.
enum MHD_Result tf_http_respond_json (struct MHD_Connection *conn, int status, json_t *json, const char *allow);
//  {"error": {"code", "message", "field"?}}; a 401 says WWW-Authenticate: Bearer
enum MHD_Result tf_http_respond_error (struct MHD_Connection *conn, int status, const char *code,
                                       const char *field, const char *message, const char *allow);
//  A decoded `error` reply of a service, with its status.
enum MHD_Result tf_http_respond_reply_error (struct MHD_Connection *conn, const tf_msg_t *reply);

//  The token of an `Authorization: Bearer <token>` header, or "" (an
//  unknown sender, whom the services refuse as `unauthenticated`).
const char *tf_http_bearer (struct MHD_Connection *conn);
//  True when the request says its body is JSON (Content-Type application/json).
bool tf_http_is_json (struct MHD_Connection *conn);

#endif
