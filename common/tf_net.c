#include "tf_net.h"
#include "tf_log.h"
#include "tf_security.h"
#include <errno.h>
#include <string.h>
#include <unistd.h>

static void
s_common_options (zsock_t *sock, int max_message_bytes)
{
    zsock_set_maxmsgsize (sock, max_message_bytes);
    zsock_set_linger (sock, 200);
    zsock_set_sndtimeo (sock, 0);
    //  A backlog lives in the database, not in memory: past this many
    //  queued events a send is dropped (and counted), and the receiver's
    //  reconciler finds those tickets by their status instead.
    zsock_set_sndhwm (sock, TF_NET_QUEUE_MAX);
    zsock_set_rcvhwm (sock, TF_NET_QUEUE_MAX);
}

zsock_t *
tf_net_bind (int type, const char *endpoint, int max_message_bytes)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    s_common_options (sock, max_message_bytes);
    //  a reply to a client that is gone or does not read fails at once
    //  (EHOSTUNREACH, EAGAIN past its queue) instead of vanishing: s_send
    //  drops it and says so
    if (type == ZMQ_ROUTER)
        zsock_set_router_mandatory (sock, 1);
    if (type == ZMQ_XPUB)
        zsock_set_xpub_manual (sock, 1);
    tf_security_server (sock, type == ZMQ_ROUTER? "requests": type == ZMQ_PUSH? "events": "topics");
    if (zsock_bind (sock, "%s", endpoint) < 0) {
        tf_error ("cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zsock_destroy (&sock);
    }
    return sock;
}

zsock_t *
tf_net_connect (int type, const char *endpoints, int max_message_bytes)
{
    zsock_t *sock = zsock_new (type);
    if (!sock)
        return NULL;
    s_common_options (sock, max_message_bytes);
    if (strncmp (endpoints, "inproc://", 9))
        tf_security_client (sock);      //  in-process peers have no CURVE
    if (type == ZMQ_SUB)
        zsock_set_subscribe (sock, "");
    char *list = strdup (endpoints);
    char *save = NULL;
    for (char *ep = strtok_r (list, ",", &save); ep; ep = strtok_r (NULL, ",", &save))
        if (zsock_connect (sock, "%s", ep) < 0) {
            tf_error ("cannot connect %s: %s", ep, zmq_strerror (zmq_errno ()));
            zsock_destroy (&sock);
            break;
        }
    free (list);
    return sock;
}

tf_request_t *
tf_request_new (zmsg_t *envelope, zmsg_t *frames)
{
    tf_request_t *self = calloc (1, sizeof *self);
    assert (self);
    self->envelope = envelope;
    self->frames = frames;
    self->received_at = zclock_mono ();
    if (zmsg_size (frames) != 2)
        tf_error_set (&self->err, TF_ERR_BAD_FRAMES, NULL,
                      "a request is two frames after the empty delimiter: type and msgpack body (got %zu)",
                      zmsg_size (frames));
    else {
        zframe_t *type = zmsg_first (frames);
        zframe_t *body = zmsg_next (frames);
        //  only requests are requests: a reply or event sent here is refused
        //  for what it is, before its body is looked at
        tf_msg_type_t t = tf_codec_lookup ((const char *) zframe_data (type), zframe_size (type));
        if (t != TF_MSG_NONE && tf_schemas [t].kind != TF_KIND_REQUEST)
            tf_error_set (&self->err, TF_ERR_UNKNOWN_TYPE, NULL, "'%s' is not a request",
                          tf_schemas [t].name);
        else
            self->ok = tf_codec_decode (zframe_data (type), zframe_size (type),
                                        zframe_data (body), zframe_size (body),
                                        &self->msg, &self->err) == 0;
    }
    return self;
}

tf_request_t *
tf_request_recv (zsock_t *router)
{
    zmsg_t *raw = zmsg_recv (router);
    if (!raw)
        return NULL;
    //  envelope: identity frames up to and including the empty delimiter;
    //  a DEALER that sent none still gets its identity back
    zmsg_t *envelope = zmsg_new ();
    zmsg_append (envelope, &(zframe_t *) { zmsg_pop (raw) });
    zframe_t *frame = zmsg_first (raw);
    if (frame && zframe_size (frame) == 0)
        zmsg_append (envelope, &(zframe_t *) { zmsg_pop (raw) });
    else
        zmsg_addmem (envelope, "", 0);
    //  the sender: its CURVE identity, or what an in-process gateway
    //  vouches for (only a peer without CURVE can be in-process)
    tf_identity_t who;
    tf_security_identity (zmsg_last (raw), &who);
    char token [128] = "";
    if (who.role == TF_ROLE_NONE && zmsg_size (raw) == 4 && zframe_streq (zmsg_first (raw), TF_TOKEN_FRAME)) {
        zframe_destroy (&(zframe_t *) { zmsg_pop (raw) });
        zframe_t *text = zmsg_pop (raw);
        if (zframe_size (text) < sizeof token)
            memcpy (token, zframe_data (text), zframe_size (text));
        token [zframe_size (text) < sizeof token? zframe_size (text): 0] = 0;
        zframe_destroy (&text);
    }
    tf_request_t *self = tf_request_new (envelope, raw);
    self->who = who;
    memcpy (self->token, token, sizeof token);
    return self;
}

void
tf_request_destroy (tf_request_t **self_p)
{
    if (!*self_p)
        return;
    tf_request_t *self = *self_p;
    zmsg_destroy (&self->envelope);
    zmsg_destroy (&self->frames);
    tf_msg_clear (&self->msg);     //  what the policy rewrote
    free (self);
    *self_p = NULL;
}

static void
s_send (zsock_t *router, tf_request_t *req, zmsg_t *body)
{
    req->replied = true;
    zmsg_t *out = zmsg_dup (req->envelope);
    zframe_t *f;
    while ((f = zmsg_pop (body)))
        zmsg_append (out, &f);
    zmsg_destroy (&body);
    if (zmsg_send (&out, router) == 0)
        return;
    zmsg_destroy (&out);
    if (zmq_errno () != EAGAIN)
        return;                 //  the client is gone: nothing to do
    //  the client does not read its replies: TF_NET_QUEUE_MAX of them wait
    //  for it, the rest are dropped; one line a second says how many
    static _Thread_local int64_t dropped, logged_at;
    dropped++;
    if (zclock_mono () - logged_at >= 1000) {
        tf_warn ("a client is not reading its replies: %lld dropped (%d wait for it at most)",
                 (long long) dropped, TF_NET_QUEUE_MAX);
        logged_at = zclock_mono ();
        dropped = 0;
    }
}

int
tf_request_reply (zsock_t *router, tf_request_t *req, const tf_msg_t *reply)
{
    zmsg_t *body = zmsg_new ();
    tf_error_t err;
    if (tf_codec_encode (reply, body, &err)) {
        tf_error ("cannot encode reply %s: %s", tf_schemas [reply->type].name, err.message);
        zmsg_destroy (&body);
        tf_error_t internal;
        tf_error_set (&internal, TF_ERR_INTERNAL, NULL, "the service could not encode its reply");
        tf_request_reply_error (router, req, &internal);
        return -1;
    }
    s_send (router, req, body);
    return 0;
}

void
tf_request_reply_error (zsock_t *router, tf_request_t *req, const tf_error_t *err)
{
    tf_msg_t reply;
    tf_msg_init (&reply, TF_MSG_ERROR);
    tf_msg_set_cstr (&reply, TF_F_ERROR_CODE, err->code);
    tf_msg_set_cstr (&reply, TF_F_ERROR_MESSAGE, err->message);
    if (*err->field)
        tf_msg_set_cstr (&reply, TF_F_ERROR_FIELD, err->field);
    zmsg_t *body = zmsg_new ();
    tf_error_t inner;
    int rc = tf_codec_encode (&reply, body, &inner);
    assert (rc == 0);
    tf_msg_clear (&reply);
    s_send (router, req, body);
}

void
tf_request_refuse (zsock_t *router, tf_request_t *req, const tf_error_t *err)
{
    tf_warn ("request %s refused: %s: %s%s%s", req->ok? tf_schemas [req->msg.type].name: "?",
             err->code, err->message, *err->field? " field=": "", err->field);
    tf_request_reply_error (router, req, err);
}

void
tf_request_reply_pong (zsock_t *router, tf_request_t *req, const char *service)
{
    tf_msg_t pong;
    tf_msg_init (&pong, TF_MSG_PONG);
    tf_msg_set_cstr (&pong, TF_F_PONG_SERVICE, service);
    tf_msg_set_cstr (&pong, TF_F_PONG_VERSION, TF_VERSION);
    tf_msg_set_int (&pong, TF_F_PONG_PID, getpid ());
    tf_request_reply (router, req, &pong);
    tf_msg_clear (&pong);
}

int
tf_net_send_event (zsock_t *sock, const char *topic, const tf_msg_t *event)
{
    zmsg_t *out = zmsg_new ();
    if (topic)
        zmsg_addstr (out, topic);
    tf_error_t err;
    if (tf_codec_encode (event, out, &err)) {
        tf_error ("cannot encode event %s: %s", tf_schemas [event->type].name, err.message);
        zmsg_destroy (&out);
        return -1;
    }
    if (zmsg_send (&out, sock)) {
        tf_debug ("event %s dropped (no peer or queue full): the reconciler will catch up",
                  tf_schemas [event->type].name);
        zmsg_destroy (&out);
        return -1;
    }
    return 0;
}

int
tf_net_recv_event (zsock_t *sock, bool has_topic, zmsg_t **frames_p, tf_msg_t *msg, tf_error_t *err)
{
    zmsg_t *frames = zmsg_recv (sock);
    *frames_p = frames;
    if (!frames)
        return tf_error_set (err, TF_ERR_INTERNAL, NULL, "interrupted");
    if (has_topic)
        zframe_destroy (&(zframe_t *) { zmsg_pop (frames) });
    if (zmsg_size (frames) != 2)
        return tf_error_set (err, TF_ERR_BAD_FRAMES, NULL, "an event is two frames (got %zu)",
                             zmsg_size (frames));
    zframe_t *type = zmsg_first (frames);
    zframe_t *body = zmsg_next (frames);
    return tf_codec_decode (zframe_data (type), zframe_size (type),
                            zframe_data (body), zframe_size (body), msg, err);
}

//  Every {ticket_id, ticket_no} event lays out its two fields in that
//  order: returns the first, or TF_FIELD_COUNT for other messages.
tf_field_id_t
tf_net_ticket_id_field (tf_msg_type_t type)
{
    for (int f = 0; f + 1 < TF_FIELD_COUNT; f++)
        if (tf_fields [f].schema == type)
            return streq (tf_fields [f].key, "ticket_id") && tf_fields [f + 1].schema == type
                && streq (tf_fields [f + 1].key, "ticket_no")? (tf_field_id_t) f: TF_FIELD_COUNT;
    return TF_FIELD_COUNT;
}

int
tf_net_recv_ticket_event (zsock_t *sock, tf_msg_type_t *type, int64_t *ticket_id, tf_error_t *err)
{
    zmsg_t *frames = NULL;
    tf_msg_t msg;
    int rc = -1;
    *type = TF_MSG_NONE;
    err->code = NULL;
    if (tf_net_recv_event (sock, false, &frames, &msg, err)) {
        if (!frames)
            err->code = NULL;       //  interrupted: not the sender's fault
    }
    else {
        tf_field_id_t f = tf_net_ticket_id_field (msg.type);
        if (f == TF_FIELD_COUNT || tf_schemas [msg.type].kind != TF_KIND_EVENT)
            tf_error_set (err, TF_ERR_UNKNOWN_TYPE, NULL, "'%s' is not a ticket event",
                          tf_schemas [msg.type].name);
        else {
            *type = msg.type;
            *ticket_id = tf_msg_int (&msg, f);
            rc = 0;
        }
    }
    zmsg_destroy (&frames);
    return rc;
}

int
tf_net_send_ticket_event (zsock_t *sock, tf_msg_type_t type, int64_t id, const char *ticket_no)
{
    tf_msg_t event;
    tf_msg_init (&event, type);
    tf_field_id_t first = tf_net_ticket_id_field (type);
    assert (first != TF_FIELD_COUNT);
    tf_msg_set_int (&event, first, id);
    tf_msg_set_cstr (&event, (tf_field_id_t) (first + 1), ticket_no);
    int rc = tf_net_send_event (sock, NULL, &event);
    tf_msg_clear (&event);
    return rc;
}

int
tf_net_request (const char *endpoint, const tf_msg_t *request, int timeout_ms,
                zmsg_t **reply_frames_p, tf_msg_t *reply, tf_error_t *err)
{
    return tf_net_request_as (endpoint, NULL, request, timeout_ms, reply_frames_p, reply, err);
}

int
tf_net_request_as (const char *endpoint, const char *token, const tf_msg_t *request,
                   int timeout_ms, zmsg_t **reply_frames_p, tf_msg_t *reply, tf_error_t *err)
{
    *reply_frames_p = NULL;
    zsock_t *dealer = tf_net_connect (ZMQ_DEALER, endpoint, 64 * 1024 * 1024);
    if (!dealer)
        return tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "cannot connect to %s", endpoint);
    zsock_set_sndtimeo (dealer, timeout_ms);
    zsock_set_linger (dealer, 0);
    zmsg_t *out = zmsg_new ();
    zmsg_addmem (out, "", 0);
    if (token && tf_security_on ()) {
        zmsg_addstr (out, TF_TOKEN_FRAME);
        zmsg_addstr (out, token);
    }
    if (tf_codec_encode (request, out, err)) {
        zmsg_destroy (&out);
        zsock_destroy (&dealer);
        return -1;
    }
    int rc = -1;
    if (zmsg_send (&out, dealer)) {
        zmsg_destroy (&out);
        tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "cannot send to %s", endpoint);
    }
    else {
        zpoller_t *poller = zpoller_new (dealer, NULL);
        if (zpoller_wait (poller, timeout_ms) == dealer) {
            zmsg_t *in = zmsg_recv (dealer);
            zframe_t *delimiter = in? zmsg_pop (in): NULL;
            if (in && delimiter && zframe_size (delimiter) == 0 && zmsg_size (in) == 2) {
                zframe_t *type = zmsg_first (in);
                zframe_t *body = zmsg_next (in);
                rc = tf_codec_decode (zframe_data (type), zframe_size (type),
                                      zframe_data (body), zframe_size (body), reply, err);
                *reply_frames_p = in;
                in = NULL;
            }
            else
                tf_error_set (err, TF_ERR_BAD_FRAMES, NULL, "malformed reply from %s", endpoint);
            zframe_destroy (&delimiter);
            zmsg_destroy (&in);
        }
        else
            tf_error_set (err, TF_ERR_UNAVAILABLE, NULL, "no reply from %s within %d ms",
                          endpoint, timeout_ms);
        zpoller_destroy (&poller);
    }
    zsock_destroy (&dealer);
    return rc;
}
