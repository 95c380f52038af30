/*  notifier_sink — where an outbound message goes. A sink has a name (the
    `sink` column of the outbox rows it delivers), optionally the contact
    detail it needs ("phone" for an SMS sink, "email" for a mail sink: the
    confirmation payload then carries it as "to"), and one operation:
    deliver a JSON document, succeed or fail with a reason.

    Two sinks ship: a file sink (one JSON line per message, appended) and an
    HTTP webhook sink (POST application/json; 2xx = delivered). Another sink
    (SMS, WeChat template message, e-mail) is a deliver function and a
    state: see notifier_sink_new.
*/
#ifndef NOTIFIER_SINK_H
#define NOTIFIER_SINK_H

#include <stddef.h>

typedef struct notifier_sink_t notifier_sink_t;

//  Delivers json[0..len) (one JSON object, no newline). Returns 0 when the
//  message was delivered; -1 with a one-line reason in error (which must
//  not quote contact details) when it was not.
typedef int (notifier_sink_deliver_fn) (void *state, const char *json, size_t len,
                                        char *error, size_t error_size);
typedef void (notifier_sink_free_fn) (void *state);

//  A sink from its parts; `contact` is NULL, "phone" or "email". The sink
//  owns state and frees it with free_fn (which may be NULL).
notifier_sink_t *notifier_sink_new (const char *name, const char *contact, void *state,
                                    notifier_sink_deliver_fn *deliver, notifier_sink_free_fn *free_fn);
void notifier_sink_destroy (notifier_sink_t **self_p);

//  The file sink: appends one line per message to path, creating the file
//  and its folder. NULL when the folder cannot be created (logged).
notifier_sink_t *notifier_sink_file_new (const char *name, const char *path);

//  The webhook sink: POSTs each message to url with Content-Type
//  application/json; a 2xx answer is a delivery, anything else, a
//  connection failure or no answer within timeout_ms is a failed attempt.
notifier_sink_t *notifier_sink_webhook_new (const char *name, const char *url, int timeout_ms);

const char *notifier_sink_name (const notifier_sink_t *self);
const char *notifier_sink_contact (const notifier_sink_t *self);     //  NULL when none
int notifier_sink_deliver (notifier_sink_t *self, const char *json, size_t len,
                           char *error, size_t error_size);

#endif
