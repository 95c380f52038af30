#include "notifier_sink.h"
#include "tf_log.h"
#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct notifier_sink_t {
    char *name;
    char *contact;
    void *state;
    notifier_sink_deliver_fn *deliver;
    notifier_sink_free_fn *free_fn;
};

notifier_sink_t *
notifier_sink_new (const char *name, const char *contact, void *state,
                   notifier_sink_deliver_fn *deliver, notifier_sink_free_fn *free_fn)
{
    assert (name && *name && deliver);
    notifier_sink_t *self = calloc (1, sizeof *self);
    assert (self);
    self->name = strdup (name);
    self->contact = contact? strdup (contact): NULL;
    self->state = state;
    self->deliver = deliver;
    self->free_fn = free_fn;
    return self;
}

void
notifier_sink_destroy (notifier_sink_t **self_p)
{
    notifier_sink_t *self = *self_p;
    if (!self)
        return;
    if (self->free_fn)
        self->free_fn (self->state);
    free (self->name);
    free (self->contact);
    free (self);
    *self_p = NULL;
}

const char *
notifier_sink_name (const notifier_sink_t *self)
{
    return self->name;
}

const char *
notifier_sink_contact (const notifier_sink_t *self)
{
    return self->contact;
}

int
notifier_sink_deliver (notifier_sink_t *self, const char *json, size_t len, char *error, size_t error_size)
{
    if (error_size)
        *error = 0;
    int rc = self->deliver (self->state, json, len, error, error_size);
    if (rc && error_size && !*error)
        snprintf (error, error_size, "%s: delivery failed", self->name);
    return rc? -1: 0;
}

//  --------------------------------------------------------------------------
//  The file sink

typedef struct {
    char *path;
} file_sink_t;

//  mkdir -p of the folder that holds path
static int
s_make_parent (const char *path)
{
    char *dir = strdup (path);
    char *slash = strrchr (dir, '/');
    int rc = 0;
    if (slash && slash != dir) {
        *slash = 0;
        for (char *p = dir + 1; *p && rc == 0; p++)
            if (*p == '/') {
                *p = 0;
                if (mkdir (dir, 0755) && errno != EEXIST)
                    rc = -1;
                *p = '/';
            }
        if (rc == 0 && mkdir (dir, 0755) && errno != EEXIST)
            rc = -1;
    }
    free (dir);
    return rc;
}

static int
s_file_deliver (void *state, const char *json, size_t len, char *error, size_t error_size)
{
    file_sink_t *self = state;
    //  one line per message, written with one write(2) so that lines of
    //  concurrent writers (O_APPEND) never interleave
    char *line = malloc (len + 1);
    if (!line) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        line [i] = json [i] == '\n' || json [i] == '\r'? ' ': json [i];
    line [len] = '\n';
    int fd = open (self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0 && errno == ENOENT && s_make_parent (self->path) == 0)
        fd = open (self->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    int rc = -1;
    if (fd < 0)
        snprintf (error, error_size, "cannot open %s: %s", self->path, strerror (errno));
    else {
        ssize_t n = write (fd, line, len + 1);
        if (n == (ssize_t) (len + 1))
            rc = 0;
        else
            snprintf (error, error_size, "cannot write %s: %s", self->path,
                      n < 0? strerror (errno): "short write");
        if (close (fd) && rc == 0) {
            snprintf (error, error_size, "cannot write %s: %s", self->path, strerror (errno));
            rc = -1;
        }
    }
    free (line);
    return rc;
}

static void
s_file_free (void *state)
{
    file_sink_t *self = state;
    if (self) {
        free (self->path);
        free (self);
    }
}

notifier_sink_t *
notifier_sink_file_new (const char *name, const char *path)
{
    assert (path);
    if (!*path || s_make_parent (path)) {
        tf_error ("file sink: cannot create the folder of '%s': %s", path, *path? strerror (errno): "empty path");
        return NULL;
    }
    file_sink_t *state = calloc (1, sizeof *state);
    assert (state);
    state->path = strdup (path);
    return notifier_sink_new (name, NULL, state, s_file_deliver, s_file_free);
}

//  --------------------------------------------------------------------------
//  The webhook sink

typedef struct {
    char *url;
    CURL *curl;
    struct curl_slist *headers;
    char errbuf [CURL_ERROR_SIZE];
} webhook_sink_t;

static size_t
s_discard (char *data, size_t size, size_t n, void *arg)
{
    (void) data;
    (void) arg;
    return size * n;
}

static int
s_webhook_deliver (void *state, const char *json, size_t len, char *error, size_t error_size)
{
    webhook_sink_t *self = state;
    self->errbuf [0] = 0;
    curl_easy_setopt (self->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
    curl_easy_setopt (self->curl, CURLOPT_POSTFIELDS, json);
    CURLcode code = curl_easy_perform (self->curl);
    if (code != CURLE_OK) {
        snprintf (error, error_size, "webhook: %s", *self->errbuf? self->errbuf: curl_easy_strerror (code));
        return -1;
    }
    long status = 0;
    curl_easy_getinfo (self->curl, CURLINFO_RESPONSE_CODE, &status);
    if (status < 200 || status > 299) {
        snprintf (error, error_size, "webhook: HTTP %ld", status);
        return -1;
    }
    return 0;
}

static void
s_webhook_free (void *state)
{
    webhook_sink_t *self = state;
    if (!self)
        return;
    if (self->curl)
        curl_easy_cleanup (self->curl);
    curl_slist_free_all (self->headers);
    free (self->url);
    free (self);
    curl_global_cleanup ();
}

notifier_sink_t *
notifier_sink_webhook_new (const char *name, const char *url, int timeout_ms)
{
    assert (url);
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        tf_error ("webhook sink: cannot initialise libcurl");
        return NULL;
    }
    webhook_sink_t *self = calloc (1, sizeof *self);
    assert (self);
    self->url = strdup (url);
    self->curl = curl_easy_init ();
    self->headers = curl_slist_append (NULL, "Content-Type: application/json");
    if (!self->curl || !self->headers) {
        tf_error ("webhook sink: cannot initialise libcurl");
        s_webhook_free (self);
        return NULL;
    }
    long timeout = timeout_ms > 0? timeout_ms: 5000;
    CURL *c = self->curl;
    curl_easy_setopt (c, CURLOPT_URL, self->url);
    curl_easy_setopt (c, CURLOPT_HTTPHEADER, self->headers);
    curl_easy_setopt (c, CURLOPT_USERAGENT, "ticketflow-notifier");
    curl_easy_setopt (c, CURLOPT_WRITEFUNCTION, s_discard);
    curl_easy_setopt (c, CURLOPT_ERRORBUFFER, self->errbuf);
    curl_easy_setopt (c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT_MS, timeout < 2000? timeout: 2000);
    curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt (c, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
    return notifier_sink_new (name, NULL, self, s_webhook_deliver, s_webhook_free);
}
