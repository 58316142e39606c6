/* thrift_enc.h — Thrift compact-protocol encoder for the Parquet writer's
 * page headers and footer. Appends to a caller-owned sp_buf; errors are sticky
 * (a full buffer or too deep nesting marks it broken) so the writer checks once
 * per header. Knows Thrift only, never Parquet semantics; it never reads. */
#ifndef SP_PARQUET_THRIFT_ENC_H
#define SP_PARQUET_THRIFT_ENC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../util/buf.h"

/* Compact protocol type codes (as they appear in field and list headers). */
enum {
    PQ_TC_BOOL_TRUE = 1,
    PQ_TC_BOOL_FALSE = 2,
    PQ_TC_BYTE = 3,
    PQ_TC_I16 = 4,
    PQ_TC_I32 = 5,
    PQ_TC_I64 = 6,
    PQ_TC_DOUBLE = 7,
    PQ_TC_BINARY = 8,
    PQ_TC_LIST = 9,
    PQ_TC_SET = 10,
    PQ_TC_MAP = 11,
    PQ_TC_STRUCT = 12,
};

#define PQ_TENC_MAX_DEPTH 16

/* Encoder state: the output buffer (not owned) and, per open struct, the last
 * field id written, from which the next field header's delta is computed. */
typedef struct pq_tenc {
    sp_buf *out;
    int depth;
    int16_t last_id[PQ_TENC_MAX_DEPTH];
} pq_tenc;

/* Start encoding into `out` (appends; nothing is written yet). */
void pq_tenc_init(pq_tenc *t, sp_buf *out);

/* Open a top-level struct or a struct that is a list element. */
void pq_tenc_struct_begin(pq_tenc *t);
/* Write the stop byte and close the innermost struct. */
void pq_tenc_struct_end(pq_tenc *t);

/* Fields of the innermost open struct. Ids need not be ascending, but the
 * short header form is only used for ascending ids 1..15 apart. */
void pq_tenc_field_bool(pq_tenc *t, int16_t id, bool v);
void pq_tenc_field_i32(pq_tenc *t, int16_t id, int32_t v);
void pq_tenc_field_i64(pq_tenc *t, int16_t id, int64_t v);
void pq_tenc_field_binary(pq_tenc *t, int16_t id, const void *p, size_t n);
void pq_tenc_field_string(pq_tenc *t, int16_t id, const char *s);
/* A struct-valued field: header, then the caller writes its fields and calls
 * pq_tenc_struct_end. */
void pq_tenc_field_struct_begin(pq_tenc *t, int16_t id);
/* A list-valued field header with `count` elements of `elem_type` (PQ_TC_*);
 * the caller then writes exactly `count` elements. */
void pq_tenc_field_list_begin(pq_tenc *t, int16_t id, int elem_type, size_t count);

/* List elements. */
void pq_tenc_elem_i32(pq_tenc *t, int32_t v);
void pq_tenc_elem_binary(pq_tenc *t, const void *p, size_t n);

/* Low-level pieces, exposed for tests and for the RLE encoder. */
void pq_tenc_uvarint(sp_buf *out, uint64_t v);
static inline uint64_t pq_tenc_zigzag64(int64_t v)
{
    return ((uint64_t)v << 1) ^ (0 - ((uint64_t)v >> 63)); /* all ones when v < 0 */
}

/* True when something was dropped (buffer cap, allocation, nesting, size). */
static inline bool pq_tenc_broken(const pq_tenc *t) { return t->out->broken; }

#endif
