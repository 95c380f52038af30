#include "notifier_sink.h"
#include "tf_log.h"
#include "tf_private.h"
#include "tf_utf8.h"
#include <assert.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct notifier_sink_t {
    char *name;
    char *contact;
    void *state;
    notifier_sink_deliver_fn *deliver;
    notifier_sink_free_fn *free_fn;
    notifier_sink_seen_fn *seen;
    bool quiet;
    //  the token bucket: rate 0 is no limit; `filled` is false until the
    //  first admit, which starts with a full bucket
    double rate;
    double tokens;
    int64_t refilled_at;
    bool filled;
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

void
notifier_sink_set_contact (notifier_sink_t *self, const char *contact)
{
    free (self->contact);
    self->contact = contact? strdup (contact): NULL;
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

void
notifier_sink_set_seen (notifier_sink_t *self, notifier_sink_seen_fn *seen)
{
    self->seen = seen;
}

int
notifier_sink_seen (notifier_sink_t *self, long long message_id)
{
    if (!self->seen)
        return -1;
    int rc = self->seen (self->state, message_id);
    return rc == 1 || rc == 0? rc: -1;
}

void
notifier_sink_set_rate (notifier_sink_t *self, double per_second)
{
    self->rate = per_second > 0? per_second: 0;
    self->filled = false;
}

bool
notifier_sink_admit (notifier_sink_t *self, int64_t now_ms)
{
    if (self->rate <= 0)
        return true;
    double burst = self->rate > 1? self->rate: 1;
    if (!self->filled) {
        self->tokens = burst;
        self->refilled_at = now_ms;
        self->filled = true;
    }
    //  a clock that went back refills nothing (and is not a debt either)
    if (now_ms > self->refilled_at) {
        self->tokens += (double) (now_ms - self->refilled_at) * self->rate / 1000.0;
        if (self->tokens > burst)
            self->tokens = burst;
        self->refilled_at = now_ms;
    }
    if (self->tokens < 1)
        return false;
    self->tokens -= 1;
    return true;
}

void
notifier_sink_set_quiet (notifier_sink_t *self, bool quiet)
{
    self->quiet = quiet;
}

bool
notifier_sink_quiet (const notifier_sink_t *self)
{
    return self->quiet;
}

//  The integer member "message_id" of the JSON object json[0..len) in *id;
//  false when there is none (or json is not an object)
static bool
s_message_id (const char *json, size_t len, long long *id)
{
    json_t *doc = json_loadb (json, len, 0, NULL);
    json_t *value = json_object_get (doc, "message_id");     //  NULL-safe
    bool found = json_is_integer (value);
    if (found)
        *id = (long long) json_integer_value (value);
    json_decref (doc);
    return found;
}

//  --------------------------------------------------------------------------
//  The file sink

//  How much of the file the first seen() reads, and how many ids it keeps
//  (8 bytes each). A 16 MB tail holds fewer ids than that (a line is at
//  least 17 bytes), so only a long-running sink's own writes can fill it.
#define FILE_SEEN_WINDOW (16 * 1024 * 1024)
#define FILE_SEEN_MAX    (1024 * 1024)

typedef struct {
    char *path;
    //  seen(): the message ids read from the file or written, sorted and
    //  unique; nothing until the first question
    bool loaded;                //  the file was read once
    long long *ids;
    size_t nids;
    size_t maxids;
    bool forgot;                //  ids <= floor were dropped to bound memory
    long long floor;
    bool partial;               //  some of a file was never read
    dev_t dev;                  //  the file read (0/0: there was none)
    ino_t ino;
    off_t read_to;              //  read up to here, just after a newline
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
s_compare_ids (const void *a, const void *b)
{
    long long x = *(const long long *) a, y = *(const long long *) b;
    return x < y? -1: x > y;
}

static void
s_ids_reserve (file_sink_t *self, size_t more)
{
    if (self->nids + more <= self->maxids)
        return;
    size_t max = self->maxids? self->maxids: 1024;
    while (max < self->nids + more)
        max *= 2;
    self->ids = realloc (self->ids, max * sizeof *self->ids);
    assert (self->ids);
    self->maxids = max;
}

//  Keeps the set at FILE_SEEN_MAX ids: drops the smaller half (the older
//  messages: ids come from the outbox's sequence) and remembers up to where
static void
s_ids_bound (file_sink_t *self)
{
    if (self->nids <= FILE_SEEN_MAX)
        return;
    size_t drop = self->nids - FILE_SEEN_MAX / 2;
    self->floor = self->ids [drop - 1];
    self->forgot = true;
    memmove (self->ids, self->ids + drop, (self->nids - drop) * sizeof *self->ids);
    self->nids -= drop;
}

static bool
s_ids_has (file_sink_t *self, long long id)
{
    return self->nids && bsearch (&id, self->ids, self->nids, sizeof *self->ids, s_compare_ids);
}

static void
s_ids_add (file_sink_t *self, long long id)
{
    //  ids mostly grow: appending is the common case
    size_t at = self->nids;
    if (at && self->ids [at - 1] >= id) {
        size_t low = 0, high = self->nids;
        while (low < high) {
            size_t mid = low + (high - low) / 2;
            if (self->ids [mid] < id)
                low = mid + 1;
            else
                high = mid;
        }
        if (self->ids [low] == id)
            return;
        at = low;
    }
    s_ids_reserve (self, 1);
    memmove (self->ids + at + 1, self->ids + at, (self->nids - at) * sizeof *self->ids);
    self->ids [at] = id;
    self->nids++;
    s_ids_bound (self);
}

//  Adds the ids of the complete lines of data[0..size) (a line that does
//  not parse or has no integer message_id adds nothing); returns the bytes
//  up to and including the last newline
static size_t
s_ids_add_lines (file_sink_t *self, const char *data, size_t size)
{
    size_t start = 0, used = 0, before = self->nids;
    while (start < size) {
        const char *newline = memchr (data + start, '\n', size - start);
        if (!newline)
            break;
        size_t end = newline - data;
        long long id;
        if (s_message_id (data + start, end - start, &id)) {
            s_ids_reserve (self, 1);
            self->ids [self->nids++] = id;
        }
        start = end + 1;
        used = start;
    }
    //  one sort for the lot, then the duplicates out
    if (self->nids > before) {
        qsort (self->ids, self->nids, sizeof *self->ids, s_compare_ids);
        size_t kept = 1;
        for (size_t i = 1; i < self->nids; i++)
            if (self->ids [i] != self->ids [kept - 1])
                self->ids [kept++] = self->ids [i];
        self->nids = kept;
        s_ids_bound (self);
    }
    return used;
}

//  Reads what the file holds past what was read: the last 16 MB the first
//  time, then the lines other writers appended (and a new file after a
//  rotation, from its start). Returns -1 when the file could not be read.
static int
s_file_catch_up (file_sink_t *self)
{
    int fd = open (self->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno != ENOENT) {
            tf_warn ("file sink: cannot read %s: %s", self->path, strerror (errno));
            return -1;
        }
        //  no file, nothing delivered into it
        self->loaded = true;
        self->dev = 0;
        self->ino = 0;
        self->read_to = 0;
        return 0;
    }
    struct stat st;
    if (fstat (fd, &st)) {
        tf_warn ("file sink: cannot read %s: %s", self->path, strerror (errno));
        close (fd);
        return -1;
    }
    if (!self->loaded || st.st_dev != self->dev || st.st_ino != self->ino || st.st_size < self->read_to) {
        //  another file than the one read (or the first): from its start.
        //  The ids of the old file stay: those messages went out.
        self->dev = st.st_dev;
        self->ino = st.st_ino;
        self->read_to = 0;
    }
    off_t from = self->read_to;
    bool skip_first = false;
    if (st.st_size - from > FILE_SEEN_WINDOW) {
        //  the window starts mid-file: read one byte more so that a
        //  window that starts just after a newline keeps its first line
        from = st.st_size - FILE_SEEN_WINDOW - 1;
        skip_first = true;
        self->partial = true;
    }
    size_t size = (size_t) (st.st_size - from);
    char *data = malloc (size? size: 1);
    assert (data);
    size_t got = 0;
    int rc = 0;
    while (got < size && rc == 0) {
        ssize_t n = pread (fd, data + got, size - got, from + (off_t) got);
        if (n < 0 && errno != EINTR) {
            tf_warn ("file sink: cannot read %s: %s", self->path, strerror (errno));
            rc = -1;
        }
        else
        if (n == 0)
            break;              //  truncated meanwhile: what there is
        else
        if (n > 0)
            got += (size_t) n;
    }
    if (rc == 0) {
        size_t skip = 0;
        if (skip_first) {
            const char *newline = memchr (data, '\n', got);
            skip = newline? (size_t) (newline - data) + 1: got;
        }
        size_t used = skip + s_ids_add_lines (self, data + skip, got - skip);
        //  an unfinished last line is read again next time
        self->read_to = from + (off_t) used;
        self->loaded = true;
    }
    free (data);
    close (fd);
    return rc;
}

static int
s_file_seen (void *state, long long message_id)
{
    file_sink_t *self = state;
    int rc = s_file_catch_up (self);
    if (s_ids_has (self, message_id))
        return 1;
    if (rc || !self->loaded || self->partial || (self->forgot && message_id <= self->floor))
        return -1;
    return 0;
}

//  After a write of `written` bytes ending at `end` of the file on fd: the
//  id of the line goes into the set, and the line counts as read when no
//  other writer came in between (so a catch-up does not read it again)
static void
s_file_wrote (file_sink_t *self, int fd, const char *json, size_t len, size_t written)
{
    long long id;
    if (s_message_id (json, len, &id))
        s_ids_add (self, id);
    struct stat st;
    off_t end = lseek (fd, 0, SEEK_CUR);
    if (end >= 0 && fstat (fd, &st) == 0 && st.st_dev == self->dev && st.st_ino == self->ino
        && end - (off_t) written == self->read_to)
        self->read_to = end;
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
        if (n == (ssize_t) (len + 1)) {
            rc = 0;
            if (self->loaded)
                s_file_wrote (self, fd, line, len, len + 1);
        }
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
        free (self->ids);
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
    notifier_sink_t *self = notifier_sink_new (name, NULL, state, s_file_deliver, s_file_free);
    notifier_sink_set_seen (self, s_file_seen);
    return self;
}

//  --------------------------------------------------------------------------
//  The webhook sink

typedef struct {
    char *url;
    char *secret;               //  NULL: unsigned
    size_t secret_len;
    CURL *curl;
    char errbuf [CURL_ERROR_SIZE];
} webhook_sink_t;

static size_t
s_discard (char *data, size_t size, size_t n, void *arg)
{
    (void) data;
    (void) arg;
    return size * n;
}

//  The headers of one POST: they depend on the body (signature, message id)
static struct curl_slist *
s_webhook_headers (webhook_sink_t *self, const char *json, size_t len)
{
    struct curl_slist *headers = curl_slist_append (NULL, "Content-Type: application/json");
    if (headers && self->secret) {
        char header [128] = "X-Ticketflow-Signature: sha256=";
        if (tf_private_hmac_hex (self->secret, self->secret_len, json, len, 32, header + strlen (header))) {
            curl_slist_free_all (headers);
            return NULL;
        }
        struct curl_slist *more = curl_slist_append (headers, header);
        if (!more) {
            curl_slist_free_all (headers);
            return NULL;
        }
        headers = more;
    }
    long long id;
    if (headers && s_message_id (json, len, &id)) {
        char header [64];
        snprintf (header, sizeof header, "Idempotency-Key: %lld", id);
        struct curl_slist *more = curl_slist_append (headers, header);
        if (!more) {
            curl_slist_free_all (headers);
            return NULL;
        }
        headers = more;
    }
    return headers;
}

static int
s_webhook_deliver (void *state, const char *json, size_t len, char *error, size_t error_size)
{
    webhook_sink_t *self = state;
    struct curl_slist *headers = s_webhook_headers (self, json, len);
    if (!headers) {
        snprintf (error, error_size, "webhook: cannot build the request headers");
        return -1;
    }
    self->errbuf [0] = 0;
    curl_easy_setopt (self->curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt (self->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t) len);
    curl_easy_setopt (self->curl, CURLOPT_POSTFIELDS, json);
    CURLcode code = curl_easy_perform (self->curl);
    //  the handle must not keep a list freed here
    curl_easy_setopt (self->curl, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all (headers);
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
    if (self->secret) {
        OPENSSL_cleanse (self->secret, self->secret_len);
        free (self->secret);
    }
    free (self->url);
    free (self);
    curl_global_cleanup ();
}

notifier_sink_t *
notifier_sink_webhook_new (const char *name, const char *url, int timeout_ms, const char *secret)
{
    assert (url);
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        tf_error ("webhook sink: cannot initialise libcurl");
        return NULL;
    }
    webhook_sink_t *self = calloc (1, sizeof *self);
    assert (self);
    self->url = strdup (url);
    if (secret && *secret) {
        self->secret = strdup (secret);
        self->secret_len = strlen (secret);
    }
    self->curl = curl_easy_init ();
    if (!self->curl) {
        tf_error ("webhook sink: cannot initialise libcurl");
        s_webhook_free (self);
        return NULL;
    }
    long timeout = timeout_ms > 0? timeout_ms: 5000;
    CURL *c = self->curl;
    curl_easy_setopt (c, CURLOPT_URL, self->url);
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

//  --------------------------------------------------------------------------
//  The e-mail sink

typedef struct {
    char *url;
    char *from;
    const char *domain;         //  in from, after the '@': the Message-IDs' right side
    CURL *curl;
    char errbuf [CURL_ERROR_SIZE];
} smtp_sink_t;

//  What libcurl uploads: the whole message, built before the transfer
typedef struct {
    const char *data;
    size_t size;
    size_t at;
} smtp_upload_t;

static size_t
s_smtp_read (char *buffer, size_t size, size_t n, void *arg)
{
    smtp_upload_t *upload = arg;
    size_t room = size * n, left = upload->size - upload->at;
    size_t chunk = left < room? left: room;
    memcpy (buffer, upload->data + upload->at, chunk);
    upload->at += chunk;
    return chunk;
}

//  libcurl rewinds when it must send the message again
static int
s_smtp_seek (void *arg, curl_off_t offset, int origin)
{
    smtp_upload_t *upload = arg;
    if (origin != SEEK_SET || offset < 0 || (size_t) offset > upload->size)
        return CURL_SEEKFUNC_CANTSEEK;
    upload->at = (size_t) offset;
    return CURL_SEEKFUNC_OK;
}

//  One plain address, local@domain, in printable ASCII without the
//  characters that would make it a list, a display name or a second
//  header line: it goes into the To header and the RCPT command as is.
static bool
s_address_ok (const char *address)
{
    size_t len = strlen (address);
    const char *at = strchr (address, '@');
    if (len == 0 || len > 254 || !at || at == address || !at [1] || strchr (at + 1, '@'))
        return false;
    for (const char *p = address; *p; p++)
        if ((unsigned char) *p <= ' ' || (unsigned char) *p >= 0x7f || strchr ("<>()[]\\,;:\"", *p))
            return false;
    return true;
}

//  RFC 2047 encoded-words of at most 42 bytes of text each (a 77-character
//  first line), each cut at a character boundary as the RFC requires
static void
s_smtp_subject (FILE *out, const char *subject)
{
    //  a control character would come back out of the decoding as one
    char *text = strdup (subject);
    assert (text);
    for (char *p = text; *p; p++)
        if ((unsigned char) *p < ' ' || *p == 0x7f)
            *p = ' ';
    size_t len = strlen (text), at = 0;
    fputs ("Subject:", out);
    while (at < len) {
        size_t n = tf_utf8_prefix (text + at, len - at, 42);
        assert (n > 0);
        unsigned char word [4 * 42 / 3 + 1];
        EVP_EncodeBlock (word, (const unsigned char *) text + at, (int) n);
        fprintf (out, "%s=?UTF-8?B?%s?=", at? "\r\n ": " ", word);
        at += n;
    }
    fputs ("\r\n", out);
    free (text);
}

//  Date: in RFC 5322's form, local time with its offset; names spelled
//  out here because strftime's follow the locale
static void
s_smtp_date (FILE *out)
{
    static const char *days [] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char *months [] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                     "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    time_t now = time (NULL);
    struct tm tm;
    localtime_r (&now, &tm);
    long offset = tm.tm_gmtoff;
    char sign = offset < 0? '-': '+';
    if (offset < 0)
        offset = -offset;
    fprintf (out, "Date: %s, %d %s %d %02d:%02d:%02d %c%02ld%02ld\r\n", days [tm.tm_wday], tm.tm_mday,
             months [tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec,
             sign, offset / 3600, offset % 3600 / 60);
}

//  The body: the text with CRLF line ends (text's canonical form, RFC
//  2045), in base64 lines of 76 characters
static void
s_smtp_body (FILE *out, const char *text)
{
    size_t len = strlen (text), size = 0;
    char *canonical = malloc (2 * len + 1);
    assert (canonical);
    for (size_t i = 0; i < len; i++) {
        if (text [i] == '\r' || text [i] == '\n') {
            canonical [size++] = '\r';
            canonical [size++] = '\n';
            if (text [i] == '\r' && text [i + 1] == '\n')
                i++;
        }
        else
            canonical [size++] = text [i];
    }
    unsigned char line [77];
    for (size_t at = 0; at < size; at += 57) {
        size_t n = size - at < 57? size - at: 57;
        EVP_EncodeBlock (line, (const unsigned char *) canonical + at, (int) n);
        fprintf (out, "%s\r\n", line);
    }
    free (canonical);
}

//  The whole RFC 5322 message in *message (caller frees)
static int
s_smtp_message (smtp_sink_t *self, const char *to, const char *subject, const char *text,
                bool has_id, long long message_id, char **message, size_t *size)
{
    FILE *out = open_memstream (message, size);
    if (!out)
        return -1;
    fprintf (out, "From: %s\r\n", self->from);
    fprintf (out, "To: %s\r\n", to);
    s_smtp_subject (out, subject);
    s_smtp_date (out);
    //  the same for every attempt at one outbox row, so a receiver that
    //  got it already can drop the repeat
    if (has_id)
        fprintf (out, "Message-ID: <ticketflow-%lld@%s>\r\n", message_id, self->domain);
    fputs ("MIME-Version: 1.0\r\n"
           "Content-Type: text/plain; charset=UTF-8\r\n"
           "Content-Transfer-Encoding: base64\r\n"
           "\r\n", out);
    s_smtp_body (out, text);
    return fclose (out)? -1: 0;
}

static int
s_smtp_deliver (void *state, const char *json, size_t len, char *error, size_t error_size)
{
    smtp_sink_t *self = state;
    json_t *doc = json_loadb (json, len, 0, NULL);
    if (!json_is_object (doc)) {
        json_decref (doc);
        snprintf (error, error_size, "smtp: not a JSON object");
        return -1;
    }
    const char *to = json_string_value (json_object_get (doc, "to"));
    const char *text = json_string_value (json_object_get (doc, "message"));
    const char *subject = json_string_value (json_object_get (doc, "subject"));
    const char *ticket_no = json_string_value (json_object_get (doc, "ticket_no"));
    json_t *id = json_object_get (doc, "message_id");
    int rc = -1;
    if (!to || !*to)
        snprintf (error, error_size, "smtp: no e-mail address");
    else
    if (!s_address_ok (to))
        snprintf (error, error_size, "smtp: not a plain e-mail address");
    else
    if (!text)
        snprintf (error, error_size, "smtp: no message text");
    else
        rc = 0;
    char default_subject [128] = "ticketflow";
    if (rc == 0 && (!subject || !*subject)) {
        if (ticket_no && *ticket_no)
            snprintf (default_subject, sizeof default_subject, "工单 %.100s", ticket_no);
        subject = default_subject;
    }
    char *message = NULL;
    size_t size = 0;
    if (rc == 0 && s_smtp_message (self, to, subject, text, json_is_integer (id),
                                   (long long) json_integer_value (id), &message, &size)) {
        snprintf (error, error_size, "smtp: cannot build the message");
        rc = -1;
    }
    if (rc == 0) {
        smtp_upload_t upload = { message, size, 0 };
        struct curl_slist *rcpt = curl_slist_append (NULL, to);
        if (!rcpt) {
            snprintf (error, error_size, "smtp: out of memory");
            rc = -1;
        }
        else {
            self->errbuf [0] = 0;
            curl_easy_setopt (self->curl, CURLOPT_MAIL_RCPT, rcpt);
            curl_easy_setopt (self->curl, CURLOPT_READDATA, &upload);
            curl_easy_setopt (self->curl, CURLOPT_SEEKDATA, &upload);
            curl_easy_setopt (self->curl, CURLOPT_INFILESIZE_LARGE, (curl_off_t) size);
            CURLcode code = curl_easy_perform (self->curl);
            curl_easy_setopt (self->curl, CURLOPT_MAIL_RCPT, NULL);
            curl_easy_setopt (self->curl, CURLOPT_READDATA, NULL);
            curl_easy_setopt (self->curl, CURLOPT_SEEKDATA, NULL);
            curl_slist_free_all (rcpt);
            if (code != CURLE_OK) {
                //  libcurl's own text names the SMTP reply ("RCPT failed:
                //  550"); should one ever quote the address, its generic
                //  text instead
                const char *reason = *self->errbuf && !strstr (self->errbuf, to)?
                                     self->errbuf: curl_easy_strerror (code);
                snprintf (error, error_size, "smtp: %s", reason);
                rc = -1;
            }
        }
    }
    free (message);
    json_decref (doc);
    return rc;
}

static void
s_smtp_free (void *state)
{
    smtp_sink_t *self = state;
    if (!self)
        return;
    if (self->curl)
        curl_easy_cleanup (self->curl);
    free (self->from);
    free (self->url);
    free (self);
    curl_global_cleanup ();
}

notifier_sink_t *
notifier_sink_smtp_new (const char *name, const char *url, const char *from, int timeout_ms)
{
    assert (url && from);
    if (!s_address_ok (from)) {
        tf_error ("smtp sink %s: the sender is not a plain e-mail address", name);
        return NULL;
    }
    if (curl_global_init (CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        tf_error ("smtp sink %s: cannot initialise libcurl", name);
        return NULL;
    }
    smtp_sink_t *self = calloc (1, sizeof *self);
    assert (self);
    self->url = strdup (url);
    self->from = strdup (from);
    self->domain = strchr (self->from, '@') + 1;
    self->curl = curl_easy_init ();
    if (!self->curl) {
        tf_error ("smtp sink %s: cannot initialise libcurl", name);
        s_smtp_free (self);
        return NULL;
    }
    long timeout = timeout_ms > 0? timeout_ms: 10000;
    CURL *c = self->curl;
    curl_easy_setopt (c, CURLOPT_URL, self->url);
    curl_easy_setopt (c, CURLOPT_MAIL_FROM, self->from);
    curl_easy_setopt (c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt (c, CURLOPT_READFUNCTION, s_smtp_read);
    curl_easy_setopt (c, CURLOPT_SEEKFUNCTION, s_smtp_seek);
    curl_easy_setopt (c, CURLOPT_ERRORBUFFER, self->errbuf);
    curl_easy_setopt (c, CURLOPT_TIMEOUT_MS, timeout);
    curl_easy_setopt (c, CURLOPT_CONNECTTIMEOUT_MS, timeout < 2000? timeout: 2000);
    curl_easy_setopt (c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt (c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
#endif
    return notifier_sink_new (name, "email", self, s_smtp_deliver, s_smtp_free);
}
