/*  notifier_sink — where an outbound message goes. A sink has a name (the
    `sink` column of the outbox rows it delivers), optionally the contact
    detail it needs ("phone" for an SMS sink, "email" for a mail sink: the
    confirmation payload then carries it as "to"), and one operation:
    deliver a JSON document, succeed or fail with a reason.

    Three sinks ship:
    * file: one JSON line per message, appended.
    * webhook: POST application/json; 2xx = delivered. With a secret, each
      POST is signed (X-Ticketflow-Signature: sha256=<hex HMAC-SHA256 of
      the body>) so the receiver can tell it is ours; every POST of a
      document with a "message_id" carries Idempotency-Key: <message_id>,
      so the receiver can drop the repeat of a retried delivery.
    * smtp: one e-mail per message through an SMTP server (libcurl), to the
      document's "to", with a Message-ID made from "message_id" for the
      same reason.
    Another sink (SMS, WeChat template message) is a deliver function and a
    state: see notifier_sink_new.

    Each sink also has three settings the notifier reads; the sink itself
    does not act on them:
    * seen: an optional question, "was message N delivered before?", for
      crash recovery. A message the notifier had claimed but not marked
      sent when it died may have gone out; when the sink can say it did,
      the notifier marks it sent instead of sending it twice. The file
      sink answers from its file; the others cannot tell.
    * rate: at most so many deliveries a second (a token bucket), for
      gateways that throttle or bill per burst.
    * quiet: the sink reaches a customer's phone (SMS, push), so it must
      not deliver at night. The notifier decides when night is.

    Error texts never quote a contact detail (phone number, e-mail
    address): they end up in logs and in the outbox's last_error.
*/
#ifndef NOTIFIER_SINK_H
#define NOTIFIER_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct notifier_sink_t notifier_sink_t;

//  Delivers json[0..len) (one JSON object, no newline). Returns 0 when the
//  message was delivered; -1 with a one-line reason in error (which must
//  not quote contact details) when it was not.
typedef int (notifier_sink_deliver_fn) (void *state, const char *json, size_t len,
                                        char *error, size_t error_size);
typedef void (notifier_sink_free_fn) (void *state);

//  Was the message with this message_id delivered before? 1: certainly;
//  0: certainly not; -1: the sink cannot tell. Only a definite answer lets
//  the notifier skip or repeat a delivery it is in doubt about.
typedef int (notifier_sink_seen_fn) (void *state, long long message_id);

//  A sink from its parts; `contact` is NULL, "phone" or "email". The sink
//  owns state and frees it with free_fn (which may be NULL).
notifier_sink_t *notifier_sink_new (const char *name, const char *contact, void *state,
                                    notifier_sink_deliver_fn *deliver, notifier_sink_free_fn *free_fn);
void notifier_sink_destroy (notifier_sink_t **self_p);

//  The file sink: appends one line per message to path, creating the file
//  and its folder. NULL when the folder cannot be created (logged).
//  It answers seen(): on the first question it reads the file's last 16 MB
//  (from a line boundary) and keeps the "message_id" of every line there;
//  then it adds each id it writes, and before each answer reads what other
//  writers appended since. It answers 0 only when it has read the whole
//  file (so keep the file under 16 MB, by rotation, for definite answers);
//  for an id it has not read it answers -1. It keeps at most 1 Mi ids
//  (8 MB): past that it forgets the smaller half and answers -1 for them.
//  A file rotated away between a crash and the restart is not read.
notifier_sink_t *notifier_sink_file_new (const char *name, const char *path);

//  The webhook sink: POSTs each message to url with Content-Type
//  application/json; a 2xx answer is a delivery, anything else, a
//  connection failure or no answer within timeout_ms is a failed attempt.
//  With a secret (NULL or "" = unsigned), each POST carries
//  X-Ticketflow-Signature: sha256=<lowercase hex of HMAC-SHA256 (secret,
//  body)>; when the document has an integer "message_id", the POST carries
//  Idempotency-Key: <message_id> (the same for every retry of it).
notifier_sink_t *notifier_sink_webhook_new (const char *name, const char *url, int timeout_ms,
                                            const char *secret);

//  The e-mail sink (contact "email"): sends each message through the SMTP
//  server at url (smtp://host:port, or smtps:// for TLS from the start;
//  user:password@ in the url when the server wants a login) from the
//  address `from`. The document's members:
//    to          the recipient; missing or empty: fails, "smtp: no e-mail
//                address". One plain address (no name, no list, ASCII).
//    subject     optional; default "工单 <ticket_no>", or "ticketflow"
//    message     the UTF-8 text, sent as text/plain, base64
//    message_id  gives Message-ID <ticketflow-<id>@<from's domain>>, so a
//                receiver can drop a repeated delivery
//  Errors are one line, "smtp: <reason>", without the address. NULL when
//  `from` is not a plain address or libcurl cannot start (logged).
notifier_sink_t *notifier_sink_smtp_new (const char *name, const char *url, const char *from, int timeout_ms);

const char *notifier_sink_name (const notifier_sink_t *self);
const char *notifier_sink_contact (const notifier_sink_t *self);
//  Says which contact detail the sink needs ("phone", "email", NULL: none),
//  e.g. for a webhook that is an SMS gateway.
void notifier_sink_set_contact (notifier_sink_t *self, const char *contact);     //  NULL when none
int notifier_sink_deliver (notifier_sink_t *self, const char *json, size_t len,
                           char *error, size_t error_size);

//  Gives the sink a seen function (it is called with the sink's state).
void notifier_sink_set_seen (notifier_sink_t *self, notifier_sink_seen_fn *seen);
//  1, 0 or -1 as notifier_sink_seen_fn; -1 when the sink has none.
int notifier_sink_seen (notifier_sink_t *self, long long message_id);

//  At most per_second deliveries a second on average, in bursts of up to
//  max (1, per_second); 0 (the default) is no limit. Resets the bucket.
void notifier_sink_set_rate (notifier_sink_t *self, double per_second);
//  Takes a token at now_ms (a monotonic clock, e.g. zclock_mono) and
//  returns true, or returns false when the bucket is empty: deliver later.
bool notifier_sink_admit (notifier_sink_t *self, int64_t now_ms);

//  A quiet sink reaches a customer's phone and must not deliver at night;
//  false by default. The flag only marks the sink: the notifier decides.
void notifier_sink_set_quiet (notifier_sink_t *self, bool quiet);
bool notifier_sink_quiet (const notifier_sink_t *self);

#endif
