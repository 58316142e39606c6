/* json.h — the few JSON writing helpers salespipe needs (logs, manifests,
 * `runs --json`), appending to an sp_buf. Strings are escaped per RFC 8259;
 * bytes that are not valid UTF-8 are written as U+FFFD so output stays valid. */
#ifndef SP_JSON_H
#define SP_JSON_H

#include "buf.h"

/* Append s[0..n) as a quoted JSON string. */
void sp_json_string(sp_buf *b, const char *s, size_t n);
/* Same for a NUL-terminated string; NULL is written as null. */
void sp_json_cstr(sp_buf *b, const char *s);

#endif
