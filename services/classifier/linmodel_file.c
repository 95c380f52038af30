/*  =========================================================================
    linmodel_file - the model file: linmodel_save writes it atomically,
    linmodel_load and linmodel_load_buffer refuse anything that is not one
    whole, intact model of this format and feature version. The layout is
    in linmodel.h.
    =========================================================================
*/
#include "linmodel_private.h"
#include "textfeat.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define LM_MAGIC            "TFLINMDL"
#define LM_END_MAGIC        "TFLE"
#define LM_HEADER_SIZE      64
#define LM_TRAILER_SIZE     8
#define LM_LABEL_BYTES_MAX  (16u * 1024 * 1024)
#define LM_FILE_MAX         ((uint64_t) 2 << 30)    //  2 GiB

//  -------------------------------------------------------------------------
//  CRC-32, little-endian

static void
s_crc32_table (uint32_t table [256])
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1? 0xEDB88320u ^ (c >> 1): c >> 1;
        table [i] = c;
    }
}

//  crc starts at 0; standard CRC-32 (IEEE 802.3, as zlib)
static uint32_t
s_crc32 (const uint32_t table [256], uint32_t crc, const void *data, size_t size)
{
    const unsigned char *p = (const unsigned char *) data;
    crc = ~crc;
    for (size_t i = 0; i < size; i++)
        crc = table [(crc ^ p [i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

static void
s_put_u32 (unsigned char *p, uint32_t v)
{
    p [0] = (unsigned char) v;
    p [1] = (unsigned char) (v >> 8);
    p [2] = (unsigned char) (v >> 16);
    p [3] = (unsigned char) (v >> 24);
}

static void
s_put_u64 (unsigned char *p, uint64_t v)
{
    s_put_u32 (p, (uint32_t) v);
    s_put_u32 (p + 4, (uint32_t) (v >> 32));
}

static uint32_t
s_get_u32 (const unsigned char *p)
{
    return (uint32_t) p [0] | (uint32_t) p [1] << 8
         | (uint32_t) p [2] << 16 | (uint32_t) p [3] << 24;
}

static uint64_t
s_get_u64 (const unsigned char *p)
{
    return (uint64_t) s_get_u32 (p) | (uint64_t) s_get_u32 (p + 4) << 32;
}

static uint32_t
s_f32_bits (float f)
{
    uint32_t u;
    memcpy (&u, &f, sizeof u);
    return u;
}

static float
s_bits_f32 (uint32_t u)
{
    float f;
    memcpy (&f, &u, sizeof f);
    return f;
}

//  -------------------------------------------------------------------------
//  Saving

typedef struct {
    FILE *file;
    uint32_t table [256];
    uint32_t crc;
    unsigned char buf [65536];
    size_t len;
    int failed;
} s_writer_t;

static void
s_w_flush (s_writer_t *wr)
{
    if (wr->len && !wr->failed) {
        wr->crc = s_crc32 (wr->table, wr->crc, wr->buf, wr->len);
        if (fwrite (wr->buf, 1, wr->len, wr->file) != wr->len)
            wr->failed = 1;
    }
    wr->len = 0;
}

static void
s_w_bytes (s_writer_t *wr, const void *data, size_t size)
{
    const unsigned char *p = (const unsigned char *) data;
    while (size) {
        if (wr->len == sizeof (wr->buf))
            s_w_flush (wr);
        size_t n = sizeof (wr->buf) - wr->len;
        if (n > size)
            n = size;
        memcpy (wr->buf + wr->len, p, n);
        wr->len += n;
        p += n;
        size -= n;
    }
}

static void
s_w_u32 (s_writer_t *wr, uint32_t v)
{
    unsigned char b [4];
    s_put_u32 (b, v);
    s_w_bytes (wr, b, 4);
}

static size_t
s_labels_size (const linmodel_t *self)
{
    size_t size = 0;
    for (uint32_t c = 0; c < self->n_classes; c++)
        size += 2 + strlen (self->labels [c]);
    return size;
}

int
linmodel_save (const linmodel_t *self, const char *path, char *err, size_t errlen)
{
    assert (self);
    assert (path);
    size_t plen = strlen (path);
    char *tmp = (char *) malloc (plen + 16);
    s_writer_t *wr = (s_writer_t *) calloc (1, sizeof (s_writer_t));
    if (!tmp || !wr) {
        free (tmp);
        free (wr);
        linmodel_error (err, errlen, "out of memory");
        return -1;
    }
    memcpy (tmp, path, plen);
    memcpy (tmp + plen, ".tmp.XXXXXX", 12);
    int fd = mkstemp (tmp);
    if (fd < 0) {
        linmodel_error (err, errlen, "%s: cannot create temporary file: %s", tmp, strerror (errno));
        free (tmp);
        free (wr);
        return -1;
    }
    fchmod (fd, 0644);
    wr->file = fdopen (fd, "wb");
    if (!wr->file) {
        linmodel_error (err, errlen, "%s: %s", tmp, strerror (errno));
        close (fd);
        unlink (tmp);
        free (tmp);
        free (wr);
        return -1;
    }
    s_crc32_table (wr->table);

    size_t label_bytes = s_labels_size (self);
    size_t pad = (4 - label_bytes % 4) % 4;
    uint64_t nf = self->n_features, nc = self->n_classes;
    uint64_t payload = label_bytes + pad + nf * 8 + nf * nc * 4 + nc * 4;

    unsigned char h [LM_HEADER_SIZE];
    memset (h, 0, sizeof h);
    memcpy (h, LM_MAGIC, 8);
    s_put_u32 (h + 8, LINMODEL_FORMAT_VERSION);
    s_put_u32 (h + 12, LM_HEADER_SIZE);
    s_put_u32 (h + 16, TEXTFEAT_VERSION);
    s_put_u32 (h + 20, self->flags);
    s_put_u32 (h + 24, self->n_classes);
    s_put_u32 (h + 28, self->n_features);
    s_put_u32 (h + 32, (uint32_t) label_bytes);
    s_put_u32 (h + 36, self->hash_bits);
    s_put_u64 (h + 40, payload);
    s_put_u32 (h + 48, s_f32_bits (self->temperature));
    s_w_bytes (wr, h, sizeof h);

    for (uint32_t c = 0; c < self->n_classes; c++) {
        size_t ll = strlen (self->labels [c]);
        unsigned char b [2] = { (unsigned char) ll, (unsigned char) (ll >> 8) };
        s_w_bytes (wr, b, 2);
        s_w_bytes (wr, self->labels [c], ll);
    }
    static const unsigned char zeros [4] = { 0, 0, 0, 0 };
    s_w_bytes (wr, zeros, pad);
    for (uint32_t j = 0; j < self->n_features; j++)
        s_w_u32 (wr, self->feat_ids [j]);
    for (uint32_t j = 0; j < self->n_features; j++)
        s_w_u32 (wr, s_f32_bits (self->idf [j]));
    for (size_t j = 0; j < (size_t) nf * nc; j++)
        s_w_u32 (wr, s_f32_bits (self->weights [j]));
    for (uint32_t c = 0; c < self->n_classes; c++)
        s_w_u32 (wr, s_f32_bits (self->bias [c]));
    s_w_flush (wr);

    unsigned char t [LM_TRAILER_SIZE];
    s_put_u32 (t, wr->crc);
    memcpy (t + 4, LM_END_MAGIC, 4);
    if (!wr->failed && fwrite (t, 1, sizeof t, wr->file) != sizeof t)
        wr->failed = 1;
    if (!wr->failed && (fflush (wr->file) || fsync (fileno (wr->file))))
        wr->failed = 1;
    int saved_errno = errno;
    if (fclose (wr->file))
        wr->failed = 1;
    int rc = 0;
    if (wr->failed) {
        linmodel_error (err, errlen, "%s: write failed: %s", tmp, strerror (saved_errno));
        unlink (tmp);
        rc = -1;
    }
    else
    if (rename (tmp, path)) {
        linmodel_error (err, errlen, "%s: cannot rename into place: %s", path, strerror (errno));
        unlink (tmp);
        rc = -1;
    }
    else {
        //  Make the rename itself durable (best effort)
        char *slash = strrchr (tmp, '/');
        if (slash == tmp)
            slash [1] = 0;
        else
        if (slash)
            *slash = 0;
        int dfd = open (slash? tmp: ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync (dfd);
            close (dfd);
        }
    }
    free (tmp);
    free (wr);
    return rc;
}

//  -------------------------------------------------------------------------
//  Loading

linmodel_t *
linmodel_load_buffer (const void *data, size_t size, char *err, size_t errlen)
{
    const unsigned char *d = (const unsigned char *) data;
    if (!d || size < LM_HEADER_SIZE + LM_TRAILER_SIZE) {
        linmodel_error (err, errlen, "not a ticketflow model: too short (%zu bytes)", size);
        return NULL;
    }
    if (memcmp (d, LM_MAGIC, 8)) {
        linmodel_error (err, errlen, "not a ticketflow model: bad magic bytes");
        return NULL;
    }
    uint32_t version = s_get_u32 (d + 8);
    if (version != LINMODEL_FORMAT_VERSION) {
        linmodel_error (err, errlen, "unsupported model format version %u (this build reads %u)",
               version, LINMODEL_FORMAT_VERSION);
        return NULL;
    }
    uint32_t header_size = s_get_u32 (d + 12);
    uint32_t feat_version = s_get_u32 (d + 16);
    uint32_t flags = s_get_u32 (d + 20);
    uint32_t n_classes = s_get_u32 (d + 24);
    uint32_t n_features = s_get_u32 (d + 28);
    uint32_t label_bytes = s_get_u32 (d + 32);
    uint32_t hash_bits = s_get_u32 (d + 36);
    uint64_t payload = s_get_u64 (d + 40);
    float temperature = s_bits_f32 (s_get_u32 (d + 48));
    if (header_size != LM_HEADER_SIZE) {
        linmodel_error (err, errlen, "corrupt model: header size %u, expected %u",
               header_size, LM_HEADER_SIZE);
        return NULL;
    }
    if (n_classes < 2 || n_classes > LINMODEL_CLASSES_MAX
    ||  n_features > LM_FEATURES_MAX
    ||  label_bytes > LM_LABEL_BYTES_MAX
    ||  label_bytes < (uint64_t) n_classes * 3
    ||  hash_bits > 31
    ||  (flags & ~LM_FLAGS_KNOWN)) {
        linmodel_error (err, errlen, "corrupt model: implausible header (classes %u, "
               "features %u, label bytes %u)", n_classes, n_features, label_bytes);
        return NULL;
    }
    //  All sizes are bounded above, so this cannot overflow 64 bits
    uint64_t pad = (4 - label_bytes % 4) % 4;
    uint64_t expect = (uint64_t) label_bytes + pad + (uint64_t) n_features * 8
                    + (uint64_t) n_features * n_classes * 4 + (uint64_t) n_classes * 4;
    if (payload != expect) {
        linmodel_error (err, errlen, "corrupt model: payload size %llu does not match "
               "the header's sizes (%llu)", (unsigned long long) payload,
               (unsigned long long) expect);
        return NULL;
    }
    if ((uint64_t) size != LM_HEADER_SIZE + payload + LM_TRAILER_SIZE) {
        linmodel_error (err, errlen, "corrupt model: file is %zu bytes, header says %llu "
               "(truncated or extended)", size,
               (unsigned long long) (LM_HEADER_SIZE + payload + LM_TRAILER_SIZE));
        return NULL;
    }
    const unsigned char *trailer = d + size - LM_TRAILER_SIZE;
    if (memcmp (trailer + 4, LM_END_MAGIC, 4)) {
        linmodel_error (err, errlen, "corrupt model: bad end marker");
        return NULL;
    }
    uint32_t table [256];
    s_crc32_table (table);
    uint32_t crc = s_crc32 (table, 0, d, size - LM_TRAILER_SIZE);
    if (crc != s_get_u32 (trailer)) {
        linmodel_error (err, errlen, "corrupt model: checksum mismatch (stored %08x, computed %08x)",
               s_get_u32 (trailer), crc);
        return NULL;
    }
    if (feat_version != TEXTFEAT_VERSION) {
        linmodel_error (err, errlen, "model was built with feature extractor version %u, "
               "this build has version %u: retrain it", feat_version, TEXTFEAT_VERSION);
        return NULL;
    }
    if (!(temperature >= LM_TEMPERATURE_MIN && temperature <= LM_TEMPERATURE_MAX)) {
        linmodel_error (err, errlen, "corrupt model: bad temperature");
        return NULL;
    }

    //  Labels: u16 length + bytes, must fill the block exactly
    const unsigned char *p = d + LM_HEADER_SIZE;
    size_t pos = 0, text_bytes = 0;
    for (uint32_t c = 0; c < n_classes; c++) {
        if (pos + 2 > label_bytes) {
            linmodel_error (err, errlen, "corrupt model: label table overruns its block");
            return NULL;
        }
        size_t ll = (size_t) p [pos] | (size_t) p [pos + 1] << 8;
        pos += 2;
        if (ll == 0 || ll > LINMODEL_LABEL_MAX || pos + ll > label_bytes
        ||  memchr (p + pos, 0, ll)) {
            linmodel_error (err, errlen, "corrupt model: bad label %u", c);
            return NULL;
        }
        pos += ll;
        text_bytes += ll + 1;
    }
    if (pos != label_bytes) {
        linmodel_error (err, errlen, "corrupt model: label table size mismatch");
        return NULL;
    }
    linmodel_t *self = linmodel_alloc (n_classes, n_features, text_bytes);
    if (!self) {
        linmodel_error (err, errlen, "out of memory loading model (%u classes, %u features)",
               n_classes, n_features);
        return NULL;
    }
    self->flags = flags;
    self->hash_bits = hash_bits;
    self->temperature = temperature;
    pos = 0;
    size_t off = 0;
    for (uint32_t c = 0; c < n_classes; c++) {
        size_t ll = (size_t) p [pos] | (size_t) p [pos + 1] << 8;
        pos += 2;
        memcpy (self->label_block + off, p + pos, ll);
        self->label_block [off + ll] = 0;
        self->labels [c] = self->label_block + off;
        off += ll + 1;
        pos += ll;
        if (c > 0 && strcmp (self->labels [c - 1], self->labels [c]) >= 0) {
            linmodel_error (err, errlen, "corrupt model: labels not sorted and distinct");
            linmodel_free (self);
            return NULL;
        }
    }
    p += label_bytes + pad;
    for (uint32_t j = 0; j < n_features; j++) {
        self->feat_ids [j] = s_get_u32 (p);
        p += 4;
        if (j > 0 && self->feat_ids [j] <= self->feat_ids [j - 1]) {
            linmodel_error (err, errlen, "corrupt model: feature ids not increasing");
            linmodel_free (self);
            return NULL;
        }
    }
    const char *bad = NULL;
    for (uint32_t j = 0; j < n_features; j++, p += 4) {
        self->idf [j] = s_bits_f32 (s_get_u32 (p));
        if (!(self->idf [j] >= 0 && self->idf [j] <= LM_VALUE_MAX))
            bad = "idf";
    }
    size_t nw = (size_t) n_features * n_classes;
    for (size_t j = 0; j < nw; j++, p += 4) {
        self->weights [j] = s_bits_f32 (s_get_u32 (p));
        if (!(fabsf (self->weights [j]) <= LM_VALUE_MAX))
            bad = "weight";
    }
    for (uint32_t c = 0; c < n_classes; c++, p += 4) {
        self->bias [c] = s_bits_f32 (s_get_u32 (p));
        if (!(fabsf (self->bias [c]) <= LM_VALUE_MAX))
            bad = "bias";
    }
    assert (p == trailer);
    if (bad) {
        linmodel_error (err, errlen, "corrupt model: non-finite or out-of-range %s value", bad);
        linmodel_free (self);
        return NULL;
    }
    linmodel_index (self);
    return self;
}

linmodel_t *
linmodel_load (const char *path, char *err, size_t errlen)
{
    assert (path);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        linmodel_error (err, errlen, "%s: cannot open: %s", path, strerror (errno));
        return NULL;
    }
    struct stat st;
    if (fstat (fd, &st) || !S_ISREG (st.st_mode)) {
        linmodel_error (err, errlen, "%s: not a regular file", path);
        close (fd);
        return NULL;
    }
    if ((uint64_t) st.st_size > LM_FILE_MAX) {
        linmodel_error (err, errlen, "%s: too large for a model (%lld bytes)", path,
               (long long) st.st_size);
        close (fd);
        return NULL;
    }
    size_t size = (size_t) st.st_size;
    unsigned char *buf = (unsigned char *) malloc (size? size: 1);
    if (!buf) {
        linmodel_error (err, errlen, "%s: out of memory reading %zu bytes", path, size);
        close (fd);
        return NULL;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t r = read (fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t) r;
    }
    close (fd);
    linmodel_t *self = NULL;
    if (got != size)
        linmodel_error (err, errlen, "%s: short read (%zu of %zu bytes)", path, got, size);
    else {
        char msg [256] = "";
        self = linmodel_load_buffer (buf, size, msg, sizeof msg);
        if (!self)
            linmodel_error (err, errlen, "%s: %s", path, msg);
    }
    free (buf);
    return self;
}
