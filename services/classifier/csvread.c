/*  =========================================================================
    csvread - read CSV (RFC 4180) and TSV files with a header row

    A streaming reader: input comes in 64 KiB blocks from a FILE or from a
    copied memory buffer; a record is parsed into one growing buffer with a
    NUL after each field.
    =========================================================================
*/
#include "csvread.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CSVREAD_BLOCK       65536
#define CSVREAD_ROW_MAX     (64u * 1024 * 1024)     //  bytes in one record
#define CSVREAD_FIELDS_MAX  100000                  //  fields in one record
#define CSVREAD_EOF         (-1)

struct _csvread_t {
    FILE *file;                 //  NULL when reading a buffer
    char *name;                 //  for messages
    unsigned char *data;        //  current block (or the whole buffer)
    size_t data_size;
    size_t data_pos;
    int at_eof;                 //  no more blocks
    char delim;
    int quoting;                //  1 for CSV
    size_t line;                //  current physical line
    size_t record_line;         //  line where the current record starts
    //  Current record
    char *row;
    size_t row_len, row_cap;
    size_t *starts;             //  field start offsets into row
    size_t *lens;
    size_t nfields, fields_cap;
    int have_row;
    //  Header
    char **columns;
    size_t ncols;
    int failed;
    char error [512];
};

static void
s_set_error (csvread_t *self, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    int n = snprintf (self->error, sizeof (self->error), "%s:%zu: ",
                      self->name, self->record_line);
    if (n < 0 || (size_t) n >= sizeof (self->error))
        n = 0;
    vsnprintf (self->error + n, sizeof (self->error) - (size_t) n, fmt, args);
    va_end (args);
    self->failed = 1;
}

static int
s_fill (csvread_t *self)
{
    if (!self->file || self->at_eof)
        return 0;
    size_t n = fread (self->data, 1, CSVREAD_BLOCK, self->file);
    if (n == 0) {
        if (ferror (self->file))
            s_set_error (self, "read error: %s", strerror (errno));
        self->at_eof = 1;
        return 0;
    }
    self->data_size = n;
    self->data_pos = 0;
    return 1;
}

static inline int
s_getc (csvread_t *self)
{
    if (self->data_pos < self->data_size)
        return self->data [self->data_pos++];
    if (!s_fill (self))
        return CSVREAD_EOF;
    return self->data [self->data_pos++];
}

//  Look at the next byte without consuming it
static inline int
s_peek (csvread_t *self)
{
    if (self->data_pos < self->data_size)
        return self->data [self->data_pos];
    if (!s_fill (self))
        return CSVREAD_EOF;
    return self->data [self->data_pos];
}

static int
s_append (csvread_t *self, char c)
{
    if (self->row_len + 1 >= self->row_cap) {
        if (self->row_cap >= CSVREAD_ROW_MAX) {
            s_set_error (self, "record longer than %u bytes", CSVREAD_ROW_MAX);
            return -1;
        }
        size_t cap = self->row_cap? self->row_cap * 2: 1024;
        char *row = (char *) realloc (self->row, cap);
        if (!row) {
            s_set_error (self, "out of memory");
            return -1;
        }
        self->row = row;
        self->row_cap = cap;
    }
    self->row [self->row_len++] = c;
    return 0;
}

static int
s_field_begin (csvread_t *self)
{
    if (self->nfields == self->fields_cap) {
        if (self->fields_cap >= CSVREAD_FIELDS_MAX) {
            s_set_error (self, "more than %d fields in a record", CSVREAD_FIELDS_MAX);
            return -1;
        }
        size_t cap = self->fields_cap? self->fields_cap * 2: 16;
        size_t *starts = (size_t *) realloc (self->starts, cap * sizeof (size_t));
        if (!starts) {
            s_set_error (self, "out of memory");
            return -1;
        }
        self->starts = starts;
        size_t *lens = (size_t *) realloc (self->lens, cap * sizeof (size_t));
        if (!lens) {
            s_set_error (self, "out of memory");
            return -1;
        }
        self->lens = lens;
        self->fields_cap = cap;
    }
    self->starts [self->nfields] = self->row_len;
    return 0;
}

static int
s_field_end (csvread_t *self)
{
    size_t start = self->starts [self->nfields];
    self->lens [self->nfields] = self->row_len - start;
    if (s_append (self, 0))
        return -1;
    self->nfields++;
    return 0;
}

//  Parse one record. Returns 1, 0 at end of input, -1 on error.
static int
s_read_record (csvread_t *self)
{
    self->row_len = 0;
    self->nfields = 0;
    self->have_row = 0;
    int c;
    //  Skip blank lines
    while (1) {
        self->record_line = self->line;
        c = s_getc (self);
        if (c == CSVREAD_EOF)
            return self->failed? -1: 0;
        if (c == '\r') {
            if (s_peek (self) == '\n')
                s_getc (self);
            self->line++;
        }
        else
        if (c == '\n')
            self->line++;
        else
            break;
    }
    while (1) {
        if (s_field_begin (self))
            return -1;
        if (self->quoting && c == '"') {
            size_t quote_line = self->line;
            while (1) {
                c = s_getc (self);
                if (c == CSVREAD_EOF) {
                    if (!self->failed)
                        s_set_error (self, "unterminated quoted field (opened on line %zu)",
                                     quote_line);
                    return -1;
                }
                if (c == '"') {
                    c = s_getc (self);
                    if (c != '"')
                        break;          //  closing quote; c is what follows
                }
                else
                if (c == '\n')
                    self->line++;
                else
                if (c == '\r' && s_peek (self) != '\n')
                    self->line++;
                if (s_append (self, (char) c))
                    return -1;
            }
            if (c != self->delim && c != '\r' && c != '\n' && c != CSVREAD_EOF) {
                s_set_error (self, "unexpected character after closing quote on line %zu",
                             self->line);
                return -1;
            }
        }
        else {
            while (c != self->delim && c != '\r' && c != '\n' && c != CSVREAD_EOF) {
                if (s_append (self, (char) c))
                    return -1;
                c = s_getc (self);
            }
        }
        if (s_field_end (self))
            return -1;
        if (c == self->delim) {
            c = s_getc (self);
            continue;
        }
        if (c == '\r') {
            if (s_peek (self) == '\n')
                s_getc (self);
            self->line++;
        }
        else
        if (c == '\n')
            self->line++;
        break;                  //  end of line or end of input
    }
    if (self->failed)
        return -1;              //  read error mid-record
    self->have_row = 1;
    return 1;
}

static csvread_t *
s_new (const char *name, csvread_format_t format)
{
    csvread_t *self = (csvread_t *) calloc (1, sizeof (csvread_t));
    if (!self)
        return NULL;
    self->name = strdup (name);
    if (!self->name) {
        free (self);
        return NULL;
    }
    if (format == CSVREAD_AUTO) {
        size_t n = strlen (name);
        format = (n >= 4 && strcasecmp (name + n - 4, ".tsv") == 0)
               ? CSVREAD_TSV: CSVREAD_CSV;
    }
    self->delim = format == CSVREAD_TSV? '\t': ',';
    self->quoting = format == CSVREAD_CSV;
    self->line = 1;
    self->record_line = 1;
    return self;
}

static void
s_copy_error (const char *msg, char *err, size_t errlen)
{
    if (err && errlen)
        snprintf (err, errlen, "%s", msg);
}

//  Skip a BOM, read the header row
static int
s_start (csvread_t *self)
{
    if (s_peek (self) == 0xEF) {
        //  The BOM is the first three bytes; a block is never smaller
        if (self->data_size - self->data_pos >= 3
        &&  self->data [self->data_pos + 1] == 0xBB
        &&  self->data [self->data_pos + 2] == 0xBF)
            self->data_pos += 3;
    }
    int rc = s_read_record (self);
    if (rc == 0) {
        s_set_error (self, "empty file: no header row");
        return -1;
    }
    if (rc < 0)
        return -1;
    self->columns = (char **) calloc (self->nfields, sizeof (char *));
    if (!self->columns) {
        s_set_error (self, "out of memory");
        return -1;
    }
    self->ncols = self->nfields;
    for (size_t i = 0; i < self->ncols; i++) {
        self->columns [i] = strdup (self->row + self->starts [i]);
        if (!self->columns [i]) {
            s_set_error (self, "out of memory");
            return -1;
        }
    }
    self->have_row = 0;
    return 0;
}

csvread_t *
csvread_open (const char *path, csvread_format_t format, char *err, size_t errlen)
{
    assert (path);
    FILE *file = fopen (path, "rb");
    if (!file) {
        if (err && errlen)
            snprintf (err, errlen, "%s: cannot open: %s", path, strerror (errno));
        return NULL;
    }
    csvread_t *self = s_new (path, format);
    if (self)
        self->data = (unsigned char *) malloc (CSVREAD_BLOCK);
    if (!self || !self->data) {
        s_copy_error ("out of memory", err, errlen);
        fclose (file);
        csvread_destroy (&self);
        return NULL;
    }
    self->file = file;
    if (s_start (self)) {
        s_copy_error (self->error, err, errlen);
        csvread_destroy (&self);
    }
    return self;
}

csvread_t *
csvread_new_buffer (const char *data, size_t size, csvread_format_t format,
                    const char *name, char *err, size_t errlen)
{
    assert (data || size == 0);
    csvread_t *self = s_new (name? name: "<buffer>", format == CSVREAD_AUTO? CSVREAD_CSV: format);
    if (self)
        self->data = (unsigned char *) malloc (size? size: 1);
    if (!self || !self->data) {
        s_copy_error ("out of memory", err, errlen);
        csvread_destroy (&self);
        return NULL;
    }
    if (size)
        memcpy (self->data, data, size);
    self->data_size = size;
    self->at_eof = 1;
    if (s_start (self)) {
        s_copy_error (self->error, err, errlen);
        csvread_destroy (&self);
    }
    return self;
}

void
csvread_destroy (csvread_t **self_p)
{
    assert (self_p);
    csvread_t *self = *self_p;
    if (self) {
        if (self->file)
            fclose (self->file);
        for (size_t i = 0; i < self->ncols; i++)
            free (self->columns [i]);
        free (self->columns);
        free (self->data);
        free (self->row);
        free (self->starts);
        free (self->lens);
        free (self->name);
        free (self);
        *self_p = NULL;
    }
}

size_t
csvread_column_count (csvread_t *self)
{
    assert (self);
    return self->ncols;
}

const char *
csvread_column_name (csvread_t *self, size_t index)
{
    assert (self);
    return index < self->ncols? self->columns [index]: NULL;
}

int
csvread_column_index (csvread_t *self, const char *name)
{
    assert (self);
    assert (name);
    for (size_t i = 0; i < self->ncols && i < (size_t) INT_MAX; i++)
        if (strcmp (self->columns [i], name) == 0)
            return (int) i;
    return -1;
}

int
csvread_next (csvread_t *self)
{
    assert (self);
    if (self->failed)
        return -1;
    int rc = s_read_record (self);
    if (rc == 1 && self->nfields != self->ncols) {
        s_set_error (self, "expected %zu fields as in the header, found %zu",
                     self->ncols, self->nfields);
        self->have_row = 0;
        return -1;
    }
    return rc;
}

const char *
csvread_field (csvread_t *self, size_t index, size_t *len_p)
{
    assert (self);
    if (!self->have_row || index >= self->nfields)
        return NULL;
    if (len_p)
        *len_p = self->lens [index];
    return self->row + self->starts [index];
}

size_t
csvread_line (csvread_t *self)
{
    assert (self);
    return self->record_line;
}

const char *
csvread_error (csvread_t *self)
{
    assert (self);
    return self->error;
}

//  -------------------------------------------------------------------------
//  Labelled data sets

csvread_pairs_t *
csvread_pairs_new (void)
{
    return (csvread_pairs_t *) calloc (1, sizeof (csvread_pairs_t));
}

static void
s_pairs_truncate (csvread_pairs_t *self, size_t count)
{
    while (self->count > count) {
        self->count--;
        free (self->texts [self->count]);
        free (self->labels [self->count]);
    }
}

void
csvread_pairs_destroy (csvread_pairs_t **self_p)
{
    assert (self_p);
    csvread_pairs_t *self = *self_p;
    if (self) {
        s_pairs_truncate (self, 0);
        free (self->texts);
        free (self->lens);
        free (self->labels);
        free (self);
        *self_p = NULL;
    }
}

static char *
s_memdup (const char *s, size_t len)
{
    char *copy = (char *) malloc (len + 1);
    if (copy) {
        memcpy (copy, s, len);
        copy [len] = 0;
    }
    return copy;
}

int
csvread_pairs_add (csvread_pairs_t *self, const char *text, size_t len,
                   const char *label, size_t label_len)
{
    assert (self);
    assert (text || len == 0);
    assert (label);
    if (self->count == self->cap) {
        size_t cap = self->cap? self->cap * 2: 1024;
        char **texts = (char **) realloc (self->texts, cap * sizeof (char *));
        if (texts)
            self->texts = texts;
        size_t *lens = (size_t *) realloc (self->lens, cap * sizeof (size_t));
        if (lens)
            self->lens = lens;
        char **labels = (char **) realloc (self->labels, cap * sizeof (char *));
        if (labels)
            self->labels = labels;
        if (!texts || !lens || !labels)
            return -1;
        self->cap = cap;
    }
    char *t = s_memdup (text? text: "", len);
    char *l = s_memdup (label, label_len);
    if (!t || !l) {
        free (t);
        free (l);
        return -1;
    }
    self->texts [self->count] = t;
    self->lens [self->count] = len;
    self->labels [self->count] = l;
    self->count++;
    return 0;
}

long
csvread_pairs_load (csvread_pairs_t *self, const char *path, csvread_format_t format,
                    const char *text_col, const char *label_col,
                    char *err, size_t errlen)
{
    assert (self);
    assert (path);
    assert (text_col);
    csvread_t *reader = csvread_open (path, format, err, errlen);
    if (!reader)
        return -1;
    size_t start = self->count, skipped = 0;
    long rc = -1;
    if (!label_col)
        label_col = csvread_column_index (reader, "category") >= 0? "category": "label";
    int tcol = csvread_column_index (reader, text_col);
    int lcol = csvread_column_index (reader, label_col);
    if (tcol < 0 || lcol < 0) {
        if (err && errlen) {
            int n = snprintf (err, errlen, "%s: no column named \"%s\"; columns are:",
                              path, tcol < 0? text_col: label_col);
            for (size_t i = 0; i < reader->ncols && n > 0 && (size_t) n < errlen; i++)
                n += snprintf (err + n, errlen - (size_t) n, "%s\"%s\"", i? ", ": " ",
                               reader->columns [i]);
        }
        goto done;
    }
    int more;
    while ((more = csvread_next (reader)) == 1) {
        size_t tlen = 0, llen = 0;
        const char *text = csvread_field (reader, (size_t) tcol, &tlen);
        const char *label = csvread_field (reader, (size_t) lcol, &llen);
        assert (text && label);     //  csvread_next checked the field count
        while (llen && (*label == ' ' || *label == '\t' || *label == '\r' || *label == '\n')) {
            label++;
            llen--;
        }
        while (llen && (label [llen - 1] == ' ' || label [llen - 1] == '\t'
                    ||  label [llen - 1] == '\r' || label [llen - 1] == '\n'))
            llen--;
        if (llen == 0) {
            skipped++;
            continue;
        }
        if (csvread_pairs_add (self, text, tlen, label, llen)) {
            s_copy_error ("out of memory", err, errlen);
            goto done;
        }
    }
    if (more < 0) {
        s_copy_error (csvread_error (reader), err, errlen);
        goto done;
    }
    self->skipped += skipped;
    rc = (long) (self->count - start);
done:
    if (rc < 0)
        s_pairs_truncate (self, start);
    csvread_destroy (&reader);
    return rc;
}
