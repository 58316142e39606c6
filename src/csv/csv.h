/* csv.h — the streaming CSV reader of SPEC §4: bytes of one file → records
 * of trimmed field views. RFC 4180 quoting (commas, doubled quotes and
 * newlines inside quotes), \n or \r\n line ends, an optional UTF-8 BOM,
 * blank lines skipped, encodings utf-8 / windows-1252 / auto, header-name
 * matching. First stage of transform; knows nothing of sales or rules.
 * It must never read a whole file into memory: memory is bounded by the
 * read buffer plus the largest record (capped, SP_ERR_LIMIT beyond).
 *
 * Ownership: csv_open creates the reader, csv_close frees it. Everything a
 * csv_record points at is owned by the reader and valid until the next
 * csv_next / csv_rewind / csv_close call. */
#ifndef SP_CSV_H
#define SP_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/error.h"

typedef enum csv_encoding {
    CSV_ENC_AUTO = 0, /* valid UTF-8 is UTF-8, otherwise Windows-1252 */
    CSV_ENC_UTF8,     /* invalid UTF-8 is an error naming file and line */
    CSV_ENC_CP1252,   /* every byte transcoded to UTF-8 (WHATWG mapping) */
} csv_encoding;

typedef struct csv_options {
    csv_encoding encoding;
    size_t max_record_bytes; /* cap on one record's text; 0 = 1 MiB */
    size_t max_fields;       /* cap on the header's fields; 0 = 4096. A later
                              * record with more comes back with exactly
                              * max_fields + 1 fields (the rest dropped):
                              * never a header's width, so a malformed row */
    /* Called with every raw byte of the file, in order, exactly once per
     * pass (again from the start after csv_rewind): checksums. May be NULL. */
    void (*on_bytes)(void *ctx, const uint8_t *p, size_t n);
    void *on_bytes_ctx;
} csv_options;

typedef struct csv_field {
    const char *ptr; /* UTF-8, unquoted, trimmed of spaces and tabs; not NUL-terminated */
    size_t len;
} csv_field;

typedef struct csv_record {
    const csv_field *fields;
    size_t nfields;
    uint64_t line;        /* 1-based physical line where the record starts */
    const char *text;     /* the original record text as UTF-8, without its line end */
    size_t text_len;
    bool unterminated;    /* a quote was never closed: the record ran to end of file
                           * (text and last field then hold everything to EOF,
                           * line ends included) */
} csv_record;

typedef struct csv_reader csv_reader;

/* Special results of csv_next besides SP_OK and errors (sp_status > 0). */
enum {
    CSV_END = -1,     /* no more records */
    CSV_RESTART = -2, /* ENCODING=auto found invalid UTF-8 after records with
                       * non-ASCII UTF-8 were already returned: the file is
                       * Windows-1252. The caller discards what it built from
                       * this file and calls csv_rewind, which restarts it
                       * (as CSV_ENC_CP1252) from the first byte. */
};

/* Open `path` for reading. `name` is how errors name the file (e.g. the
 * store key "runs/2024-01-01/West_orders.csv") and is copied; `path` is
 * only used by this call (rewinds seek the open file). opt may be NULL for
 * defaults. */
int csv_open(csv_reader **out, const char *path, const char *name, const csv_options *opt,
             sp_error *err);
void csv_close(csv_reader *r); /* NULL is allowed */

/* Next record: SP_OK and *rec filled, CSV_END, CSV_RESTART, or an error
 * status with err naming file and line (I/O error, record over the cap,
 * invalid UTF-8 under CSV_ENC_UTF8, a NUL byte). Blank lines are skipped.
 * The first record of a file is its header; the reader does not treat it
 * specially except that a leading BOM is removed (under every encoding).
 * Records before a bad byte are returned first; the error (or the switch of
 * ENCODING=auto) comes when the reader reaches the record holding it, so
 * results never depend on how read(2) cut the file. Errors are sticky:
 * later calls return the same one. CSV_END and CSV_RESTART repeat too.
 * Leniency: blanks around a quoted value are dropped; text after a closing
 * quote is kept literally up to the delimiter ("ab" cd → ab cd); a quote
 * inside an unquoted value is literal; a lone \r is data. */
int csv_next(csv_reader *r, csv_record *rec, sp_error *err);

/* A reader of one chunk of a file, so that several threads can read one
 * file (transform splits big files): the pass starts at byte `start`, which
 * the caller must know to be a line start outside any quoted field (0, or
 * just after a line end between records), numbered `line`; csv_next returns
 * CSV_END at the first line numbered >= stop_line where a record or a blank
 * line would begin (stop_line 0: the end of the file). A record that starts
 * before stop_line is read whole, past the stop if need be. Past byte 0
 * there is no BOM and no header: every record is data (the field cap of
 * data records applies). Errors name file lines and file offsets. */
int csv_open_range(csv_reader **out, const char *path, const char *name, const csv_options *opt,
                   uint64_t start, uint64_t line, uint64_t stop_line, sp_error *err);

/* The line the reader stands at: after CSV_END from a range reader, the
 * line where it stopped (where the next chunk's first record begins). */
uint64_t csv_line(const csv_reader *r);

/* Start again from the first byte; after CSV_RESTART the encoding becomes
 * CSV_ENC_CP1252 (and stays so once auto switched silently). Line numbers
 * restart at 1, csv_bytes_read at 0, and on_bytes sees the file again. */
int csv_rewind(csv_reader *r, sp_error *err);

/* The encoding in effect: for CSV_ENC_AUTO, CSV_ENC_UTF8 until the file
 * proved not to be UTF-8, then CSV_ENC_CP1252. */
csv_encoding csv_encoding_used(const csv_reader *r);
const char *csv_encoding_name(csv_encoding e); /* "auto", "utf-8", "windows-1252" */
/* Bytes read in the current pass, and whether the file had a UTF-8 BOM. */
uint64_t csv_bytes_read(const csv_reader *r);
bool csv_had_bom(const csv_reader *r);

/* Header names match ignoring case, spaces, '_' and '-':
 * "Order Date" = "order_date" = "ORDER-DATE". `want` is NUL-terminated. */
bool csv_name_matches(const char *name, size_t len, const char *want);

/* Append `text` as one CSV field (quoted when it holds a comma, quote, CR
 * or LF, or starts/ends with a space) to out. Used for rejects.csv. */
struct sp_buf;
void csv_write_field(struct sp_buf *out, const char *text, size_t len);

#endif
