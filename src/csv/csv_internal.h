/* csv_internal.h — the CSV module's private header: the encoding helpers
 * shared by the reader's files, a read-size hook for chunk-boundary tests,
 * and the canonical record dump used by golden tests and the fuzz target.
 * Nothing outside src/csv/ and the tests includes this; callers use csv.h. */
#ifndef SP_CSV_INTERNAL_H
#define SP_CSV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"
#include "csv.h"

/* Default bytes per read(2). The read buffer holds max_record_bytes plus
 * three times this (Windows-1252 can triple in UTF-8). */
#define CSV_READ_SIZE ((size_t)256 * 1024)

/* Test hook: bytes per read(2) (1 makes every byte a chunk boundary).
 * Takes effect only before the first csv_next of a pass (ignored later);
 * n = 0 restores CSV_READ_SIZE. */
void csv_set_read_size(csv_reader *r, size_t n);

/* UTF-8 validation of s[0..n). Strict: no overlongs, no surrogates, nothing
 * above U+10FFFF. *ok_len gets the length of the valid prefix that ends on
 * a character boundary; *first_high the index of the first byte >= 0x80
 * (n when none). NUL bytes are not this function's business. */
typedef enum csv_utf8_result {
    CSV_UTF8_OK,      /* all n bytes are valid */
    CSV_UTF8_PARTIAL, /* valid, but the last character is cut off at n */
    CSV_UTF8_BAD,     /* s[*ok_len] starts an invalid sequence */
} csv_utf8_result;
csv_utf8_result csv_utf8_check(const uint8_t *s, size_t n, size_t *ok_len, size_t *first_high);

/* Windows-1252 (WHATWG table) to UTF-8: writes at most 3*n bytes to dst
 * and returns how many; csv_cp1252_utf8_len says how many without writing. */
size_t csv_cp1252_to_utf8(uint8_t *dst, const uint8_t *src, size_t n);
size_t csv_cp1252_utf8_len(const uint8_t *src, size_t n);

/* The canonical dump of a file as the reader sees it, one line per event:
 *   line L fields N [f1|f2|…] text [raw record text][ unterminated]
 *   restart                      (CSV_RESTART; the dump rewinds and goes on)
 *   error: MESSAGE               (last line on failure)
 *   end encoding=E bom=yes|no bytes=B   (last line on success)
 * Bytes below 0x20, 0x7F, '\\' and '|' are escaped (\n, \r, \t, \xNN, \\,
 * \|) so that the dump is one line per record. read_size 0 = default.
 * Returns SP_OK, or an error only when the dump itself could not be built
 * (the reader's own errors are part of the dump). */
int csv_dump(sp_buf *out, const char *path, const char *name, const csv_options *opt,
             size_t read_size, sp_error *err);

#endif
