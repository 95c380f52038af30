/*  tf_security — who is talking: CURVE keys, the ZAP allow-list and the
    identity every request carries.

    Keys live in one folder (--keys-dir, default var/keys):

        server.key_secret        the services' CURVE server key pair; every
                                 bound socket uses it, every client needs its
                                 public half (server-key in a client cert)
        NAME.key_secret          a client's key pair and identity (the six
                                 services, operator, and what `ticketctl cert
                                 create` issues when --out is not given)
        allowed/NAME.key         the allow-list: public key + name, role,
                                 department, channel. Only what is here is
                                 believed; a client's own file is not.

    Every bound socket is a CURVE server with a ZAP domain: `requests`
    (ROUTER: any allowed key), `events` (PUSH between services: role service
    only) or `topics` (PUB: services, operators, leads and agents; the
    engine lets agents and leads subscribe to their own department only).
    The ZAP handler answers with the key's name as User-Id and its role,
    department and channel as metadata, so each request names its sender.
    In-process connections (inproc, the HTTP gateways) carry no CURVE: a
    gateway passes the request's bearer token in a frame of its own, and
    the engine looks it up.

    Security off (--security off) is for a developer's laptop: plain
    sockets, every request from an anonymous operator, a warning at start.
*/
#ifndef TF_SECURITY_H
#define TF_SECURITY_H

#include "tf_config.h"
#include <czmq.h>
#include <stdbool.h>

typedef enum {
    TF_ROLE_NONE,               //  not authenticated
    TF_ROLE_ADAPTER,            //  a channel adapter: its own channel's customers
    TF_ROLE_AGENT,              //  an agent: their own department's tickets
    TF_ROLE_LEAD,               //  a team lead / supervisor: their department, roster and reports
    TF_ROLE_OPERATOR,           //  the desk's operators: everything
    TF_ROLE_SERVICE,            //  one of the six services
    TF_ROLE_COUNT
} tf_role_t;

extern const char *const tf_role_names [TF_ROLE_COUNT];
//  The role of a name ("agent"), or TF_ROLE_NONE.
tf_role_t tf_role_lookup (const char *name);

typedef struct {
    char name [65];
    tf_role_t role;
    char department [33];       //  agents and leads
    char channel [17];          //  adapters
} tf_identity_t;

//  The frame an in-process gateway (HTTP) puts before [type, body]: the
//  bearer token it was given, for the engine to resolve (tf_token.h).
#define TF_TOKEN_FRAME "tf.token"

//  What a certificate or token may say of its holder: agents and leads
//  have a department and only they, adapters a channel and only they.
//  NULL when it holds, else the field at fault ("department", "channel")
//  with why in `why`.
const char *tf_identity_check (const tf_identity_t *who, char *why, size_t size);

//  ------------------------------------------------------------------ keys

//  Creates in dir what is missing: the server key pair, the six services'
//  and the operator's certificates, and their allow-list entries. Safe
//  when several processes run it at once (the first writer wins). Returns
//  how many certificates it created, -1 on error (logged).
int tf_keys_init (const char *dir);

//  Issues a client certificate: the secret file at out_path (with the
//  server's public key as server-key, mode 0600) and its entry in the
//  allow-list. Refuses a name already on it (-1, why).
int tf_keys_issue (const char *dir, const char *name, tf_role_t role, const char *department,
                   const char *channel, const char *out_path, char *why, size_t why_size);
//  Takes a name off the allow-list: its key is refused from the next
//  handshake on. -1 when there was none.
int tf_keys_revoke (const char *dir, const char *name);

//  The keys folder of a configuration: --keys-dir, else $TICKETFLOW_HOME/var/keys.
const char *tf_keys_dir (const tf_config_t *cfg, char *buf, size_t size);

//  ------------------------------------------------------------------ runtime

//  Turns security on for this process with cfg's keys (creating those it
//  lacks) and starts the ZAP handler; or, with --security off, warns.
//  Counted: each start needs a stop. 0, or -1 when the keys are unusable.
int tf_security_start (const tf_config_t *cfg);
void tf_security_stop (void);
//  A client process (ticketctl, the load generator): security as cfg says,
//  no ZAP handler, no keys created; connections present `cert` (a path or
//  a name in the keys folder; NULL: the thread says, tf_security_use).
//  0, or -1 when that cert cannot be loaded.
int tf_security_client_start (const tf_config_t *cfg, const char *cert);
bool tf_security_on (void);

//  The certificate this thread's outgoing connections present: a service
//  uses its own, ticketctl the one --cert names. Without one a thread uses
//  the process default (the first tf_security_use_default). The cert must
//  outlive its use; NULL clears it.
void tf_security_use (zcert_t *cert);
void tf_security_use_default (zcert_t *cert);
//  Loads a client certificate: a path (a file from `cert create`) or a
//  name in the keys folder. NULL when missing or without a secret key (logged).
zcert_t *tf_security_load_cert (const char *name_or_path);

//  What tf_net does to each socket it makes (nothing while security is off).
void tf_security_server (zsock_t *sock, const char *domain);
void tf_security_client (zsock_t *sock);

//  The identity behind a received frame: its ZAP User-Id and metadata when
//  it came over CURVE; anonymous operator while security is off; else
//  TF_ROLE_NONE (an in-process peer: see TF_TOKEN_FRAME).
void tf_security_identity (zframe_t *frame, tf_identity_t *who);

#endif
