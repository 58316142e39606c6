/* json.h — the few JSON writing helpers salespipe needs (logs, manifests,
 * `runs --json`), appending to an sp_buf. Strings are escaped per RFC 8259;
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

#endif
