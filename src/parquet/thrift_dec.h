/* thrift_dec.h — Thrift compact-protocol decoder for the Parquet reader.
 * Sits under read.c: it turns footer and page-header bytes into field ids and
 * values. Reads never pass `end`; every count is checked against the bytes
 * left; nesting is capped. Errors are sticky (STYLE habit 7): after the first
 * problem every read returns 0 and the caller checks `why` once at the end.
 * It must never allocate: values are views into the caller's bytes. */
#ifndef SP_PARQUET_THRIFT_DEC_H
#define SP_PARQUET_THRIFT_DEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Compact protocol type codes (field headers and list element types). */
enum {
    PQR_T_STOP = 0,
    PQR_T_TRUE = 1, /* in a field header: a bool field whose value is true */
    PQR_T_FALSE = 2,
    PQR_T_I8 = 3,
    PQR_T_I16 = 4,
    PQR_T_I32 = 5,
    PQR_T_I64 = 6,
    PQR_T_DOUBLE = 7,
    PQR_T_BINARY = 8,
    PQR_T_LIST = 9,
    PQR_T_SET = 10,
    PQR_T_MAP = 11,
    PQR_T_STRUCT = 12,
};

/* Deeper than any Parquet structure (FileMetaData → RowGroup → ColumnChunk →
 * ColumnMetaData → Statistics is 5), low enough that hostile nesting cannot
 * exhaust the stack in the recursive skip. */
#define PQR_THRIFT_MAX_DEPTH 32

typedef struct pqr_thrift {
    const uint8_t *start, *p, *end;
    int depth;
    const char *why; /* NULL while everything is fine; static text otherwise */
} pqr_thrift;

void pqr_thrift_init(pqr_thrift *t, const uint8_t *p, size_t n);

/* Byte offset of the read position (for error messages). */
static inline size_t pqr_thrift_pos(const pqr_thrift *t) { return (size_t)(t->p - t->start); }

/* Struct framing: call begin, loop on next_field until it returns false, then
 * end. `last_id` is the caller's per-struct field-id memory (start at 0).
 * next_field returns false at the STOP byte or once an error is set. */
void pqr_thrift_struct_begin(pqr_thrift *t);
bool pqr_thrift_next_field(pqr_thrift *t, int16_t *last_id, int *type, int16_t *id);
void pqr_thrift_struct_end(pqr_thrift *t);

/* Typed reads of the field just announced with `type`; a type that does not
 * match sets an error. Integer reads accept the narrower integer types. */
int64_t pqr_thrift_i64(pqr_thrift *t, int type);
int32_t pqr_thrift_i32(pqr_thrift *t, int type);
bool pqr_thrift_bool(pqr_thrift *t, int type);
/* A view of a binary/string value inside the input bytes. */
void pqr_thrift_binary(pqr_thrift *t, int type, const uint8_t **p, uint32_t *len);

/* List header of a field of `type` (LIST or SET). Returns the element count,
 * never more than the bytes left (every element takes at least one byte). */
uint32_t pqr_thrift_list_begin(pqr_thrift *t, int type, int *elem_type);
/* Read one list element of elem_type as a bool (lists store one byte each). */
bool pqr_thrift_list_bool(pqr_thrift *t);

/* Skip a value of any type, nested structs/lists/maps included. */
void pqr_thrift_skip(pqr_thrift *t, int type);

/* Record an error (first one wins). */
void pqr_thrift_fail(pqr_thrift *t, const char *why);

#endif
