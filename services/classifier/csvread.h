/*  =========================================================================
    csvread - read CSV (RFC 4180) and TSV files with a header row

    CSV: comma-separated; a field may be quoted with '"', a quoted field may
    contain commas, CR/LF line breaks and doubled quotes ("" -> "). Records
    end with CRLF, LF or a lone CR. A quote inside an unquoted field is taken
    literally; text after a closing quote (other than a delimiter or line end)
    is an error. TSV: tab-separated, no quoting or escapes at all, so a field
    cannot contain a tab or a line break.

    Both: a UTF-8 byte order mark at the start is skipped; the first record
    is the header; blank lines are skipped; every record must have as many
    fields as the header (else an error naming the line). Line numbers are
    1-based physical lines where the record starts, so they match an editor.
    Fields may contain NUL bytes: use the returned length.
    =========================================================================
*/
#ifndef CSVREAD_H_INCLUDED
#define CSVREAD_H_INCLUDED

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    CSVREAD_AUTO = 0,       //  TSV if the file name ends in .tsv, else CSV
    CSVREAD_CSV,
    CSVREAD_TSV
} csvread_format_t;

typedef struct _csvread_t csvread_t;

//  Open a file and read its header row. Returns NULL with a message in err
//  (if err is not NULL) when the file cannot be read or has no header.
csvread_t *
    csvread_open (const char *path, csvread_format_t format, char *err, size_t errlen);

//  Same over a memory buffer (copied, so the caller may free it). AUTO means
//  CSV. name is used in messages (NULL: "<buffer>").
csvread_t *
    csvread_new_buffer (const char *data, size_t size, csvread_format_t format,
                        const char *name, char *err, size_t errlen);

//  Destroy the reader; sets *self_p to NULL, safe twice.
void
    csvread_destroy (csvread_t **self_p);

//  Header: number of columns, name of column i (NULL if out of range), index
//  of the first column with that exact name, or -1 if there is none.
size_t
    csvread_column_count (csvread_t *self);
const char *
    csvread_column_name (csvread_t *self, size_t index);
int
    csvread_column_index (csvread_t *self, const char *name);

//  Read the next record. Returns 1 when a record is available, 0 at end of
//  input, -1 on error (see csvread_error; further calls keep returning -1).
int
    csvread_next (csvread_t *self);

//  Field i of the current record, NUL-terminated, with its length in
//  *len_p if len_p is not NULL. NULL if i is out of range or no record.
//  Valid until the next csvread_next.
const char *
    csvread_field (csvread_t *self, size_t index, size_t *len_p);

//  Line on which the current record starts (1-based).
size_t
    csvread_line (csvread_t *self);

//  Last error message, "" if none.
const char *
    csvread_error (csvread_t *self);


//  -------------------------------------------------------------------------
//  A labelled data set: the text and label columns of one or more files.

typedef struct {
    size_t count;           //  rows loaded
    char **texts;           //  NUL-terminated, may contain NULs: use lens
    size_t *lens;
    char **labels;          //  trimmed of surrounding ASCII white space
    size_t skipped;         //  rows skipped because the label was empty
    size_t cap;
} csvread_pairs_t;

//  Create an empty set; NULL on out of memory.
csvread_pairs_t *
    csvread_pairs_new (void);

//  Destroy; sets *self_p to NULL, safe twice.
void
    csvread_pairs_destroy (csvread_pairs_t **self_p);

//  Append the rows of a file. text_col and label_col name the columns;
//  label_col NULL means "category" if the file has it, else "label". Rows
//  with an empty label are skipped (counted). Returns the number of rows
//  added, or -1 with a message in err (missing column, parse error with the
//  line number, out of memory); on error no rows of this file are kept.
long
    csvread_pairs_load (csvread_pairs_t *self, const char *path, csvread_format_t format,
                        const char *text_col, const char *label_col,
                        char *err, size_t errlen);

//  Append one row (text of len bytes, label of label_len bytes; both are
//  copied). Returns 0, or -1 on out of memory (the set is unchanged).
int
    csvread_pairs_add (csvread_pairs_t *self, const char *text, size_t len,
                       const char *label, size_t label_len);

#ifdef __cplusplus
}
#endif

#endif
