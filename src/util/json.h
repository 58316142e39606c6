/* json.h — the few JSON helpers salespipe needs: writing (logs, manifests,
 * `runs --json`), appending to an sp_buf, and reading one value by path. Strings are escaped per RFC 8259;
 * bytes that are not valid UTF-8 are written as U+FFFD so output stays valid. */
#ifndef SP_JSON_H
#define SP_JSON_H

#include <stdbool.h>

#include "buf.h"

/* Append s[0..n) as a quoted JSON string. */
void sp_json_string(sp_buf *b, const char *s, size_t n);
/* Same for a NUL-terminated string; NULL is written as null. */
void sp_json_cstr(sp_buf *b, const char *s);

/* Find the integer at a dotted path of object keys ("tables.fact_sales")
 * in the JSON text j[0..n). Returns true and *out when present and an
 * integer; false for absent, another type, or JSON that does not parse. */
bool sp_json_get_int(const char *j, size_t n, const char *path, long long *out);

/* The string at path (as above; an all-digit segment indexes an array:
 * "inputs.0.file"), unescaped into out (NUL-terminated). False when absent,
 * not a string, or longer than outsz - 1 bytes. */
bool sp_json_get_str(const char *j, size_t n, const char *path, char *out, size_t outsz);

#endif
