/* thrift_enc.c — Thrift compact-protocol encoder (see thrift_enc.h).
 * Used by write.c for PageHeader and FileMetaData. Never allocates on its own:
 * every byte goes through the caller's capped sp_buf, whose sticky `broken`
 * flag also records our own misuse (nesting too deep, binary over INT32_MAX). */
#include "thrift_enc.h"

#include <string.h>

void pq_tenc_uvarint(sp_buf *out, uint64_t v)
{
    uint8_t tmp[10];
    size_t n = 0;
    while (v >= 0x80) {
        tmp[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    tmp[n++] = (uint8_t)v;
    sp_buf_append(out, tmp, n);
}

void pq_tenc_init(pq_tenc *t, sp_buf *out)
{
    t->out = out;
    t->depth = 0;
}

void pq_tenc_struct_begin(pq_tenc *t)
{
    if (t->depth >= PQ_TENC_MAX_DEPTH) {
        t->out->broken = true;
        return;
    }
    t->last_id[t->depth++] = 0;
}

void pq_tenc_struct_end(pq_tenc *t)
{
    sp_buf_putc(t->out, 0);
    if (t->depth <= 0) {
        t->out->broken = true;
        return;
    }
    t->depth--;
}

/* Short form (delta << 4 | type) when the id grows by 1..15, else the type
 * byte followed by the id as a zigzag varint. */
static void field_header(pq_tenc *t, int16_t id, int type)
{
    if (t->depth <= 0) {
        t->out->broken = true;
        return;
    }
    int16_t *last = &t->last_id[t->depth - 1];
    int delta = (int)id - (int)*last;
    if (delta > 0 && delta <= 15) {
        sp_buf_putc(t->out, (uint8_t)(delta << 4 | type));
    } else {
        sp_buf_putc(t->out, (uint8_t)type);
        pq_tenc_uvarint(t->out, pq_tenc_zigzag64(id));
    }
    *last = id;
}

void pq_tenc_field_bool(pq_tenc *t, int16_t id, bool v)
{
    field_header(t, id, v ? PQ_TC_BOOL_TRUE : PQ_TC_BOOL_FALSE);
}

void pq_tenc_field_i32(pq_tenc *t, int16_t id, int32_t v)
{
    field_header(t, id, PQ_TC_I32);
    pq_tenc_uvarint(t->out, pq_tenc_zigzag64(v));
}

void pq_tenc_field_i64(pq_tenc *t, int16_t id, int64_t v)
{
    field_header(t, id, PQ_TC_I64);
    pq_tenc_uvarint(t->out, pq_tenc_zigzag64(v));
}

void pq_tenc_elem_binary(pq_tenc *t, const void *p, size_t n)
{
    /* Thrift lengths are i32: a longer value cannot be represented. */
    if (n > INT32_MAX) {
        t->out->broken = true;
        return;
    }
    pq_tenc_uvarint(t->out, n);
    sp_buf_append(t->out, p, n);
}

void pq_tenc_field_binary(pq_tenc *t, int16_t id, const void *p, size_t n)
{
    field_header(t, id, PQ_TC_BINARY);
    pq_tenc_elem_binary(t, p, n);
}

void pq_tenc_field_string(pq_tenc *t, int16_t id, const char *s)
{
    pq_tenc_field_binary(t, id, s, strlen(s));
}

void pq_tenc_field_struct_begin(pq_tenc *t, int16_t id)
{
    field_header(t, id, PQ_TC_STRUCT);
    pq_tenc_struct_begin(t);
}

void pq_tenc_field_list_begin(pq_tenc *t, int16_t id, int elem_type, size_t count)
{
    field_header(t, id, PQ_TC_LIST);
    if (count > INT32_MAX) {
        t->out->broken = true;
        return;
    }
    if (count < 15) {
        sp_buf_putc(t->out, (uint8_t)(count << 4 | (size_t)elem_type));
    } else {
        sp_buf_putc(t->out, (uint8_t)(0xF0 | elem_type));
        pq_tenc_uvarint(t->out, count);
    }
}

void pq_tenc_elem_i32(pq_tenc *t, int32_t v)
{
    pq_tenc_uvarint(t->out, pq_tenc_zigzag64(v));
}
