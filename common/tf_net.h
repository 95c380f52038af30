/*  tf_net — sockets, requests and replies.

    A request arrives on a ROUTER as [identity, "", type, body] (REQ, or
    DEALER with an empty delimiter frame); every request gets exactly one
    reply with the same envelope, even when it is garbage.
*/
#ifndef TF_NET_H
#define TF_NET_H

#include "tf_codec.h"
#include "tf_security.h"
#include <czmq.h>

//  Messages a socket queues each way (its high-water mark): five seconds of
//  a 2000 tickets/s peak, a few megabytes.
#define TF_NET_QUEUE_MAX 10000

//  Binds a socket of `type` (ZMQ_ROUTER, ZMQ_PUSH, ZMQ_PUB, ZMQ_XPUB: manual
//  subscriptions) to endpoint, with the message size cap and non-blocking
//  sends, as a CURVE server while security is on (tf_security.h: the ZAP
//  domain is requests, events or topics by the type). NULL on failure (logged).
zsock_t *tf_net_bind (int type, const char *endpoint, int max_message_bytes);
//  Connects a socket (ZMQ_PULL, ZMQ_SUB, ZMQ_DEALER) to one endpoint or a
//  comma-separated list of them, with this thread's certificate while
//  security is on.
zsock_t *tf_net_connect (int type, const char *endpoints, int max_message_bytes);

typedef struct {
    zmsg_t *envelope;           //  routing frames up to the empty delimiter
    zmsg_t *frames;             //  [type, body]: decoded fields point into them
    tf_msg_t msg;
    tf_error_t err;
    bool ok;                    //  decoded; else err says why
    bool replied;               //  set by tf_request_reply / tf_request_reply_error
    tf_identity_t who;          //  the sender (tf_security_identity)
    char token [128];           //  an in-process gateway's bearer token (TF_TOKEN_FRAME), or ""
    int64_t received_at;        //  zclock_mono ()
} tf_request_t;

//  Receives one request from a ROUTER and decodes it. NULL when interrupted.
tf_request_t *tf_request_recv (zsock_t *router);
//  Decodes a request from envelope + frames (takes ownership of both).
tf_request_t *tf_request_new (zmsg_t *envelope, zmsg_t *frames);
void tf_request_destroy (tf_request_t **self_p);

//  Sends the reply (consumes nothing; envelope is copied). When the reply
//  itself cannot be encoded, an `internal` error goes out instead and it
//  returns -1, else 0.
int tf_request_reply (zsock_t *router, tf_request_t *req, const tf_msg_t *reply);
void tf_request_reply_error (zsock_t *router, tf_request_t *req, const tf_error_t *err);
//  Refuses a request: one warning line naming the request, the code and
//  the field, then the `error` reply.
void tf_request_refuse (zsock_t *router, tf_request_t *req, const tf_error_t *err);
//  Answers `service.ping` with `service.pong`.
void tf_request_reply_pong (zsock_t *router, tf_request_t *req, const char *service);

//  Sends an event [type, body] (or [topic, type, body] when topic is given)
//  without blocking; a dropped event is logged at debug level: the next
//  stage's reconciler finds the ticket anyway. Returns 0 when sent.
int tf_net_send_event (zsock_t *sock, const char *topic, const tf_msg_t *event);

//  Receives one event from a PULL/SUB socket and decodes it (the topic frame
//  of a SUB message is skipped). Returns 0, or -1 with err (the frames are
//  kept in *frames_p either way when received; caller destroys).
int tf_net_recv_event (zsock_t *sock, bool has_topic, zmsg_t **frames_p, tf_msg_t *msg, tf_error_t *err);

//  Sends a {ticket_id, ticket_no} event (ticket.received, ticket.classified,
//  ...) like tf_net_send_event. Returns 0 when sent.
int tf_net_send_ticket_event (zsock_t *sock, tf_msg_type_t type, int64_t id, const char *ticket_no);

//  Receives one {ticket_id, ticket_no} event. Returns 0 with its type and
//  ticket id; -1 when it was malformed or not such an event (*type is then
//  TF_MSG_NONE, and err says why) or when interrupted (err is NULL-coded).
int tf_net_recv_ticket_event (zsock_t *sock, tf_msg_type_t *type, int64_t *ticket_id, tf_error_t *err);

//  The field id of `ticket_id` in a {ticket_id, ticket_no} event type, or
//  TF_FIELD_COUNT for other messages.
tf_field_id_t tf_net_ticket_id_field (tf_msg_type_t type);

//  Client side: sends a request over a fresh DEALER to endpoint and waits
//  up to timeout_ms. On a reply, *reply_frames_p holds it (caller
//  destroys) and reply is decoded. Returns 0 on a well-formed reply
//  (which may be `error`), -1 on timeout or garbage (err says which).
int tf_net_request (const char *endpoint, const tf_msg_t *request, int timeout_ms,
                    zmsg_t **reply_frames_p, tf_msg_t *reply, tf_error_t *err);
//  The same from an in-process gateway (an inproc endpoint): the request
//  carries the bearer token the gateway was given (TF_TOKEN_FRAME; NULL:
//  none) while security is on, for the engine to resolve.
int tf_net_request_as (const char *endpoint, const char *token, const tf_msg_t *request,
                       int timeout_ms, zmsg_t **reply_frames_p, tf_msg_t *reply, tf_error_t *err);

#define TF_VERSION "0.1.0"

#endif
