#include "tf_security.h"
#include "tf_codec.h"
#include "tf_db.h"
#include "tf_log.h"
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *const tf_role_names [TF_ROLE_COUNT] = {
    "none", "adapter", "agent", "lead", "operator", "service"
};

tf_role_t
tf_role_lookup (const char *name)
{
    for (int r = TF_ROLE_ADAPTER; name && r < TF_ROLE_COUNT; r++)
        if (streq (name, tf_role_names [r]))
            return (tf_role_t) r;
    return TF_ROLE_NONE;
}

const char *
tf_identity_check (const tf_identity_t *who, char *why, size_t size)
{
    if ((who->role == TF_ROLE_AGENT || who->role == TF_ROLE_LEAD) != (*who->department != 0)) {
        snprintf (why, size, "agents and leads need a department, and only they have one");
        return "department";
    }
    if ((who->role == TF_ROLE_ADAPTER) != (*who->channel != 0)) {
        snprintf (why, size, "adapters need a channel, and only they have one");
        return "channel";
    }
    return NULL;
}

//  ------------------------------------------------------------------ keys

const char *
tf_keys_dir (const tf_config_t *cfg, char *buf, size_t size)
{
    if (cfg->keys_dir && *cfg->keys_dir)
        snprintf (buf, size, "%s", cfg->keys_dir);
    else
        snprintf (buf, size, "%s/var/keys", tf_home ());
    return buf;
}

//  Names of certificates: letters, digits, '.', '-', '_' and any UTF-8
//  (an agent's name is often Chinese), never a path.
static bool
s_good_name (const char *name)
{
    if (!name || !*name || strlen (name) > 64 || *name == '.')
        return false;
    for (const unsigned char *p = (const unsigned char *) name; *p; p++)
        if (*p < 0x80 && !isalnum (*p) && *p != '.' && *p != '-' && *p != '_')
            return false;
    return true;
}

//  Writes a cert's secret (or public) file so that it appears whole or
//  not at all; with `exclusive` an existing file wins. 1 written, 0 there
//  already, -1 error.
static int
s_save (zcert_t *cert, const char *path, bool secret, bool exclusive)
{
    char tmp [PATH_MAX];
    snprintf (tmp, sizeof tmp, "%s.%d.%lx.tmp", path, getpid (), (unsigned long) pthread_self ());
    int rc = secret? zcert_save_secret (cert, tmp): zcert_save_public (cert, tmp);
    if (rc) {
        tf_error ("cannot write %s: %s", path, strerror (errno));
        return -1;
    }
    chmod (tmp, secret? 0600: 0644);
    if (exclusive) {
        rc = link (tmp, path);
        int saved = errno;
        unlink (tmp);
        if (rc && saved == EEXIST)
            return 0;
        if (rc) {
            tf_error ("cannot write %s: %s", path, strerror (saved));
            return -1;
        }
        return 1;
    }
    if (rename (tmp, path)) {
        tf_error ("cannot write %s: %s", path, strerror (errno));
        unlink (tmp);
        return -1;
    }
    return 1;
}

static void
s_describe (zcert_t *cert, const char *name, tf_role_t role, const char *department, const char *channel)
{
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "role", "%s", tf_role_names [role]);
    if (department && *department)
        zcert_set_meta (cert, "department", "%s", department);
    if (channel && *channel)
        zcert_set_meta (cert, "channel", "%s", channel);
}

static int
s_mkdirs (const char *dir)
{
    char allowed [PATH_MAX];
    snprintf (allowed, sizeof allowed, "%s/allowed", dir);
    if ((mkdir (dir, 0700) && errno != EEXIST) || (mkdir (allowed, 0700) && errno != EEXIST)) {
        tf_error ("cannot create the keys folder %s: %s", allowed, strerror (errno));
        return -1;
    }
    return 0;
}

static zcert_t *
s_server_cert (const char *dir, int *created)
{
    char path [PATH_MAX];
    snprintf (path, sizeof path, "%s/server.key_secret", dir);
    if (access (path, F_OK)) {
        zcert_t *fresh = zcert_new ();
        zcert_set_meta (fresh, "name", "server");
        int rc = s_save (fresh, path, true, true);
        zcert_destroy (&fresh);
        if (rc < 0)
            return NULL;
        *created += rc;
    }
    zcert_t *cert = zcert_load (path);
    if (!cert)
        tf_error ("cannot read the server key %s", path);
    return cert;
}

//  A client certificate: its secret file (when path is not NULL) and its
//  allow-list entry.
static int
s_issue (const char *dir, zcert_t *server, const char *name, tf_role_t role, const char *department,
         const char *channel, const char *path, bool exclusive)
{
    zcert_t *cert = zcert_new ();
    s_describe (cert, name, role, department, channel);
    zcert_set_meta (cert, "server-key", "%s", zcert_public_txt (server));
    int rc = s_save (cert, path, true, exclusive);
    if (rc == 0) {
        //  someone made it first: list theirs
        zcert_destroy (&cert);
        cert = zcert_load (path);
        if (!cert)
            return -1;
    }
    if (rc >= 0) {
        zcert_t *entry = zcert_new_from (zcert_public_key (cert), zcert_secret_key (cert));
        s_describe (entry, name, role, department, channel);
        char allowed [PATH_MAX];
        snprintf (allowed, sizeof allowed, "%s/allowed/%s.key", dir, name);
        if (s_save (entry, allowed, false, false) < 0)
            rc = -1;
        zcert_destroy (&entry);
    }
    zcert_destroy (&cert);
    return rc;
}

//  The folder with everything tf_keys_init makes; its server key (caller
//  destroys), NULL on error. *created counts what it made.
static zcert_t *
s_keys_ready (const char *dir, int *created)
{
    if (s_mkdirs (dir))
        return NULL;
    zcert_t *server = s_server_cert (dir, created);
    if (!server)
        return NULL;
    int rc = 0;
    for (int s = TF_SVC_INTAKE; s < TF_SVC_COUNT + 1 && rc >= 0; s++) {
        const char *name = s < TF_SVC_COUNT? tf_service_names [s]: "operator";
        char path [PATH_MAX], allowed [PATH_MAX];
        snprintf (path, sizeof path, "%s/%s.key_secret", dir, name);
        snprintf (allowed, sizeof allowed, "%s/allowed/%s.key", dir, name);
        if (access (path, F_OK) == 0 && access (allowed, F_OK) == 0)
            continue;
        rc = s_issue (dir, server, name, s < TF_SVC_COUNT? TF_ROLE_SERVICE: TF_ROLE_OPERATOR, NULL, NULL,
                      path, true);
        *created += rc > 0;
    }
    if (rc < 0)
        zcert_destroy (&server);
    return server;
}

int
tf_keys_init (const char *dir)
{
    int created = 0;
    zcert_t *server = s_keys_ready (dir, &created);
    if (!server)
        return -1;
    zcert_destroy (&server);
    return created;
}

int
tf_keys_issue (const char *dir, const char *name, tf_role_t role, const char *department,
               const char *channel, const char *out_path, char *why, size_t why_size)
{
    if (!s_good_name (name)) {
        snprintf (why, why_size, "a certificate's name is 1-64 letters, digits, '.', '-' or '_'");
        return -1;
    }
    if (role == TF_ROLE_NONE || role == TF_ROLE_SERVICE) {
        snprintf (why, why_size, "the role is adapter, agent, lead or operator");
        return -1;
    }
    tf_identity_t who = { .role = role };
    snprintf (who.department, sizeof who.department, "%s", department? department: "");
    snprintf (who.channel, sizeof who.channel, "%s", channel? channel: "");
    if (tf_identity_check (&who, why, why_size))
        return -1;
    int created = 0;
    zcert_t *server = s_keys_ready (dir, &created);
    if (!server) {
        snprintf (why, why_size, "cannot use the keys folder %s", dir);
        return -1;
    }
    char allowed [PATH_MAX];
    snprintf (allowed, sizeof allowed, "%s/allowed/%s.key", dir, name);
    if (access (allowed, F_OK) == 0) {
        zcert_destroy (&server);
        snprintf (why, why_size, "'%s' is on the allow-list already (revoke it first)", name);
        return -1;
    }
    int rc = s_issue (dir, server, name, role, department, channel, out_path, true);
    zcert_destroy (&server);
    if (rc <= 0) {
        snprintf (why, why_size, rc == 0? "%s exists already": "cannot write %s", out_path);
        return -1;
    }
    return 0;
}

int
tf_keys_revoke (const char *dir, const char *name)
{
    if (!s_good_name (name))
        return -1;
    char allowed [PATH_MAX];
    snprintf (allowed, sizeof allowed, "%s/allowed/%s.key", dir, name);
    return unlink (allowed) == 0? 0: -1;
}

//  ------------------------------------------------------------------ ZAP

//  The allow-list as the ZAP handler sees it: public key → identity,
//  read again whenever the folder changes (a certificate issued or
//  revoked takes effect at the next handshake).
typedef struct {
    char dir [PATH_MAX];
    struct timespec mtime;
    zhashx_t *keys;             //  Z85 public key → tf_identity_t
    int64_t logged_at;          //  the last refusal logged (zclock_mono)
    int unlogged;               //  refusals since, not logged
} s_allow_list_t;

static void
s_allow_list_refresh (s_allow_list_t *self)
{
    struct stat st;
    if (stat (self->dir, &st))
        return;
    if (self->keys && st.st_mtim.tv_sec == self->mtime.tv_sec && st.st_mtim.tv_nsec == self->mtime.tv_nsec)
        return;
    self->mtime = st.st_mtim;
    zhashx_destroy (&self->keys);
    self->keys = zhashx_new ();
    zhashx_set_destructor (self->keys, (zhashx_destructor_fn *) zstr_free);
    DIR *d = opendir (self->dir);
    struct dirent *e;
    while (d && (e = readdir (d))) {
        size_t len = strlen (e->d_name);
        if (len < 5 || strcmp (e->d_name + len - 4, ".key"))
            continue;
        char path [PATH_MAX + 256];
        snprintf (path, sizeof path, "%s/%s", self->dir, e->d_name);
        zcert_t *cert = zcert_load (path);
        if (!cert)
            continue;
        tf_identity_t *who = calloc (1, sizeof *who);
        snprintf (who->name, sizeof who->name, "%s", zcert_meta (cert, "name")? zcert_meta (cert, "name"): "");
        who->role = tf_role_lookup (zcert_meta (cert, "role"));
        const char *v = zcert_meta (cert, "department");
        snprintf (who->department, sizeof who->department, "%s", v? v: "");
        v = zcert_meta (cert, "channel");
        snprintf (who->channel, sizeof who->channel, "%s", v? v: "");
        if (*who->name && who->role != TF_ROLE_NONE)
            zhashx_update (self->keys, zcert_public_txt (cert), who);
        else
            free (who);
        zcert_destroy (&cert);
    }
    if (d)
        closedir (d);
}

static bool
s_domain_admits (const char *domain, tf_role_t role)
{
    if (streq (domain, "requests"))
        return role != TF_ROLE_NONE;
    if (streq (domain, "events"))
        return role == TF_ROLE_SERVICE;
    if (streq (domain, "topics"))
        return role == TF_ROLE_SERVICE || role == TF_ROLE_OPERATOR || role == TF_ROLE_LEAD
            || role == TF_ROLE_AGENT;
    return false;
}

//  A refusal's log line; a client that retries (every 100 ms, ZeroMQ's
//  reconnect) gets one line a second, with the count of those left out
static void s_refused (s_allow_list_t *self, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));
static void
s_refused (s_allow_list_t *self, const char *fmt, ...)
{
    int64_t now = zclock_mono ();
    if (now - self->logged_at < 1000) {
        self->unlogged++;
        return;
    }
    char line [256];
    va_list args;
    va_start (args, fmt);
    vsnprintf (line, sizeof line, fmt, args);
    va_end (args);
    if (self->unlogged)
        tf_warn ("%s (and %d more refusals in the last second)", line, self->unlogged);
    else
        tf_warn ("%s", line);
    self->logged_at = now;
    self->unlogged = 0;
}

static void
s_add_property (zframe_t *frame, const char *name, const char *value)
{
    size_t n = strlen (name), v = strlen (value), at = zframe_size (frame);
    if (v > 255)
        v = 255;            //  what fits the buffer; names and codes are far shorter
    byte buf [1 + 255 + 4 + 256];
    buf [0] = (byte) n;
    memcpy (buf + 1, name, n);
    buf [1 + n] = (byte) (v >> 24);
    buf [2 + n] = (byte) (v >> 16);
    buf [3 + n] = (byte) (v >> 8);
    buf [4 + n] = (byte) v;
    memcpy (buf + 5 + n, value, v);
    byte *data = malloc (at + 5 + n + v);
    memcpy (data, zframe_data (frame), at);
    memcpy (data + at, buf, 5 + n + v);
    zframe_reset (frame, data, at + 5 + n + v);
    free (data);
}

//  RFC 27: [version, request id, domain, address, routing id, mechanism,
//  credentials...] → [version, request id, status, text, user id, metadata]
static void
s_zap_answer (zsock_t *handler, s_allow_list_t *allow)
{
    zmsg_t *request = zmsg_recv (handler);
    if (!request)
        return;
    char *version = zmsg_popstr (request), *request_id = zmsg_popstr (request);
    char *domain = zmsg_popstr (request), *address = zmsg_popstr (request);
    zframe_t *routing = zmsg_pop (request);
    char *mechanism = zmsg_popstr (request);
    zframe_t *key = zmsg_pop (request);
    const tf_identity_t *who = NULL;
    if (mechanism && streq (mechanism, "CURVE") && key && zframe_size (key) == 32) {
        char txt [41];
        zmq_z85_encode (txt, zframe_data (key), 32);
        s_allow_list_refresh (allow);
        who = allow->keys? zhashx_lookup (allow->keys, txt): NULL;
        if (!who)
            s_refused (allow, "refused a connection from %s: key %.8s... is not on the allow-list", address, txt);
        else
        if (!s_domain_admits (domain? domain: "", who->role)) {
            s_refused (allow, "refused %s (%s) on a %s socket", who->name, tf_role_names [who->role], domain);
            who = NULL;
        }
    }
    zmsg_t *reply = zmsg_new ();
    zmsg_addstr (reply, "1.0");
    zmsg_addstr (reply, request_id? request_id: "");
    zmsg_addstr (reply, who? "200": "400");
    zmsg_addstr (reply, who? "OK": "not allowed");
    zmsg_addstr (reply, who? who->name: "");
    zframe_t *meta = zframe_new (NULL, 0);
    if (who) {
        s_add_property (meta, "role", tf_role_names [who->role]);
        s_add_property (meta, "department", who->department);
        s_add_property (meta, "channel", who->channel);
    }
    zmsg_append (reply, &meta);
    zmsg_send (&reply, handler);
    zstr_free (&version);
    zstr_free (&request_id);
    zstr_free (&domain);
    zstr_free (&address);
    zstr_free (&mechanism);
    zframe_destroy (&routing);
    zframe_destroy (&key);
    zmsg_destroy (&request);
}

static void
s_zap_actor (zsock_t *pipe, void *args)
{
    s_allow_list_t allow = { .keys = NULL };
    snprintf (allow.dir, sizeof allow.dir, "%s/allowed", (const char *) args);
    zsock_t *handler = zsock_new (ZMQ_REP);
    if (!handler || zsock_bind (handler, "inproc://zeromq.zap.01")) {
        tf_error ("cannot start the ZAP handler");
        zsock_destroy (&handler);
        zsock_signal (pipe, 1);
        return;
    }
    s_allow_list_refresh (&allow);
    zsock_signal (pipe, 0);
    zpoller_t *poller = zpoller_new (pipe, handler, NULL);
    while (true) {
        void *which = zpoller_wait (poller, -1);
        if (which == handler)
            s_zap_answer (handler, &allow);
        else {
            char *command = which? zstr_recv (pipe): NULL;
            bool end = !command || streq (command, "$TERM");
            zstr_free (&command);
            if (end)
                break;
        }
    }
    zpoller_destroy (&poller);
    zsock_destroy (&handler);
    zhashx_destroy (&allow.keys);
}

//  ------------------------------------------------------------------ runtime

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static int s_refs;
static bool s_on;
static bool s_decided;
static char s_dir [PATH_MAX];
static zactor_t *s_zap;
static zcert_t *s_server;
static zcert_t *s_default;
static _Thread_local zcert_t *s_thread_cert;

static bool
s_wants_off (const tf_config_t *cfg)
{
    return cfg->security && streq (cfg->security, "off");
}

static void
s_warn_off (void)
{
    tf_warn ("SECURITY IS OFF (--security off): every socket takes any client and every request "
             "counts as an operator's. For a developer's laptop only; never on a shared machine.");
}

static int
s_check_setting (const tf_config_t *cfg)
{
    if (cfg->security && (streq (cfg->security, "curve") || streq (cfg->security, "off")))
        return 0;
    tf_error ("--security is curve or off, not '%s'", cfg->security? cfg->security: "");
    return -1;
}

int
tf_security_start (const tf_config_t *cfg)
{
    if (s_check_setting (cfg))
        return -1;
    pthread_mutex_lock (&s_lock);
    int rc = 0;
    if (s_refs++ == 0 && !s_zap && !s_wants_off (cfg)) {
        tf_keys_dir (cfg, s_dir, sizeof s_dir);
        int created = 0;
        zcert_t *server = s_keys_ready (s_dir, &created);
        if (!server)
            rc = -1;
        else {
            if (s_server)
                zcert_destroy (&server);        //  a client start loaded it already
            else
                s_server = server;
            s_zap = zactor_new (s_zap_actor, s_dir);
            s_on = s_decided = true;
        }
    }
    else
    if (!s_decided) {
        s_on = !s_wants_off (cfg);
        s_decided = true;
    }
    if (!s_on)
        s_warn_off ();
    if (rc)
        s_refs--;
    pthread_mutex_unlock (&s_lock);
    return rc;
}

void
tf_security_stop (void)
{
    pthread_mutex_lock (&s_lock);
    if (s_refs > 0 && --s_refs == 0)
        zactor_destroy (&s_zap);
    //  the keys stay loaded: sockets still open may need them
    pthread_mutex_unlock (&s_lock);
}

int
tf_security_client_start (const tf_config_t *cfg, const char *cert)
{
    if (s_check_setting (cfg))
        return -1;
    pthread_mutex_lock (&s_lock);
    if (!s_decided) {
        s_on = !s_wants_off (cfg);
        s_decided = true;
        tf_keys_dir (cfg, s_dir, sizeof s_dir);
    }
    if (s_on && !s_server) {
        //  a process that also binds (a test, standing in for a service)
        //  serves with the services' key when it can read it
        char path [PATH_MAX + 32];
        snprintf (path, sizeof path, "%s/server.key_secret", s_dir);
        if (access (path, R_OK) == 0)
            s_server = zcert_load (path);
    }
    bool on = s_on;
    pthread_mutex_unlock (&s_lock);
    if (!on) {
        s_warn_off ();
        return 0;
    }
    if (!cert)
        return 0;
    zcert_t *loaded = tf_security_load_cert (cert);
    if (!loaded)
        return -1;
    tf_security_use_default (loaded);
    return 0;
}

bool
tf_security_on (void)
{
    return s_on;
}

void
tf_security_use (zcert_t *cert)
{
    s_thread_cert = cert;
}

void
tf_security_use_default (zcert_t *cert)
{
    pthread_mutex_lock (&s_lock);
    if (!s_default)
        s_default = cert;
    else
    if (s_default != cert)
        zcert_destroy (&cert);
    pthread_mutex_unlock (&s_lock);
}

zcert_t *
tf_security_load_cert (const char *name_or_path)
{
    char path [PATH_MAX + 80];
    if (strchr (name_or_path, '/'))
        snprintf (path, sizeof path, "%s", name_or_path);
    else
        snprintf (path, sizeof path, "%s/%s.key_secret", s_dir, name_or_path);
    zcert_t *cert = zcert_load (path);
    if (cert && !streq (zcert_secret_txt (cert), "0000000000000000000000000000000000000000"))
        return cert;
    zcert_destroy (&cert);
    tf_error ("cannot read the client certificate %s (`ticketctl cert create` makes one)", path);
    return NULL;
}

void
tf_security_server (zsock_t *sock, const char *domain)
{
    if (!s_on || !s_server)
        return;
    zcert_apply (s_server, sock);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, domain);
}

void
tf_security_client (zsock_t *sock)
{
    if (!s_on)
        return;
    zcert_t *cert = s_thread_cert? s_thread_cert: s_default;
    if (!cert) {
        tf_error ("no client certificate for this connection: it will be refused");
        return;
    }
    const char *server = zcert_meta (cert, "server-key");
    if (!server && s_server)
        server = zcert_public_txt (s_server);
    zcert_apply (cert, sock);
    if (server)
        zsock_set_curve_serverkey (sock, server);
}

void
tf_security_identity (zframe_t *frame, tf_identity_t *who)
{
    memset (who, 0, sizeof *who);
    if (!s_on) {
        snprintf (who->name, sizeof who->name, "anonymous");
        who->role = TF_ROLE_OPERATOR;
        return;
    }
    const char *user = frame? zframe_meta (frame, "User-Id"): NULL;
    if (!user || !*user)
        return;
    snprintf (who->name, sizeof who->name, "%s", user);
    who->role = tf_role_lookup (zframe_meta (frame, "role"));
    const char *v = zframe_meta (frame, "department");
    snprintf (who->department, sizeof who->department, "%s", v? v: "");
    v = zframe_meta (frame, "channel");
    snprintf (who->channel, sizeof who->channel, "%s", v? v: "");
}
