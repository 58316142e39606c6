/* thrift_dec.c — Thrift compact-protocol decoder (see thrift_dec.h).
 * Used by read.c for the footer and page headers. Bounds-checked byte by byte,
 * sticky errors, depth-capped recursion; it never allocates and never reads
 * past `end`, whatever the input says. */
#include "thrift_dec.h"

#include <string.h>

void pqr_thrift_init(pqr_thrift *t, const uint8_t *p, size_t n)
{
    t->start = t->p = p;
    t->end = p + n;
    t->depth = 0;
    t->why = NULL;
}

void pqr_thrift_fail(pqr_thrift *t, const char *why)
{
    if (!t->why)
        t->why = why;
    /* Park the cursor at the end so every later read fails fast. */
    t->p = t->end;
}

static uint8_t read_byte(pqr_thrift *t)
{
    if (t->why)
        return 0;
    if (t->p >= t->end) {
        pqr_thrift_fail(t, "truncated (ran past the end)");
        return 0;
    }
    return *t->p++;
}

static uint64_t read_varint(pqr_thrift *t)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (t->why)
            return 0;
        if (t->p >= t->end) {
            pqr_thrift_fail(t, "truncated varint");
            return 0;
        }
        uint8_t b = *t->p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    pqr_thrift_fail(t, "varint longer than 10 bytes");
    return 0;
}

static int64_t unzigzag(uint64_t v) { return (int64_t)(v >> 1) ^ -(int64_t)(v & 1); }

void pqr_thrift_struct_begin(pqr_thrift *t)
{
    if (++t->depth > PQR_THRIFT_MAX_DEPTH)
        pqr_thrift_fail(t, "structures nested too deeply");
}

void pqr_thrift_struct_end(pqr_thrift *t) { t->depth--; }

bool pqr_thrift_next_field(pqr_thrift *t, int16_t *last_id, int *type, int16_t *id)
{
    uint8_t b = read_byte(t);
    if (t->why || b == PQR_T_STOP)
        return false;
    int ty = b & 0x0f;
    int delta = b >> 4;
    int64_t fid;
    if (delta)
        fid = (int64_t)*last_id + delta;
    else
        fid = unzigzag(read_varint(t));
    if (ty > PQR_T_STRUCT) {
        pqr_thrift_fail(t, "unknown field type");
        return false;
    }
    if (fid < INT16_MIN || fid > INT16_MAX) {
        pqr_thrift_fail(t, "field id out of range");
        return false;
    }
    if (t->why)
        return false;
    *last_id = (int16_t)fid;
    *id = (int16_t)fid;
    *type = ty;
    return true;
}

static bool is_int_type(int type) { return type == PQR_T_I8 || type == PQR_T_I16 || type == PQR_T_I32 || type == PQR_T_I64; }

int64_t pqr_thrift_i64(pqr_thrift *t, int type)
{
    if (!is_int_type(type)) {
        pqr_thrift_fail(t, "field has the wrong type (expected an integer)");
        return 0;
    }
    if (type == PQR_T_I8)
        return (int8_t)read_byte(t);
    return unzigzag(read_varint(t));
}

int32_t pqr_thrift_i32(pqr_thrift *t, int type)
{
    int64_t v = pqr_thrift_i64(t, type);
    if (v < INT32_MIN || v > INT32_MAX) {
        pqr_thrift_fail(t, "32-bit integer out of range");
        return 0;
    }
    return (int32_t)v;
}

bool pqr_thrift_bool(pqr_thrift *t, int type)
{
    if (type == PQR_T_TRUE)
        return true;
    if (type != PQR_T_FALSE)
        pqr_thrift_fail(t, "field has the wrong type (expected a bool)");
    return false;
}

bool pqr_thrift_list_bool(pqr_thrift *t) { return read_byte(t) == 1; }

void pqr_thrift_binary(pqr_thrift *t, int type, const uint8_t **p, uint32_t *len)
{
    *p = t->p;
    *len = 0;
    if (type != PQR_T_BINARY) {
        pqr_thrift_fail(t, "field has the wrong type (expected binary)");
        return;
    }
    uint64_t n = read_varint(t);
    if (t->why)
        return;
    if (n > (uint64_t)(t->end - t->p)) {
        pqr_thrift_fail(t, "binary length past the end");
        return;
    }
    *p = t->p;
    *len = (uint32_t)n;
    t->p += n;
}

uint32_t pqr_thrift_list_begin(pqr_thrift *t, int type, int *elem_type)
{
    *elem_type = PQR_T_STOP;
    if (type != PQR_T_LIST && type != PQR_T_SET) {
        pqr_thrift_fail(t, "field has the wrong type (expected a list)");
        return 0;
    }
    uint8_t b = read_byte(t);
    uint64_t n = b >> 4;
    if (n == 15)
        n = read_varint(t);
    int et = b & 0x0f;
    if (t->why)
        return 0;
    if (et > PQR_T_STRUCT || (et == PQR_T_STOP && n > 0)) {
        pqr_thrift_fail(t, "unknown list element type");
        return 0;
    }
    /* Every element, even an empty struct or a bool, takes at least a byte. */
    if (n > (uint64_t)(t->end - t->p)) {
        pqr_thrift_fail(t, "list count larger than the bytes left");
        return 0;
    }
    *elem_type = et;
    return (uint32_t)n;
}

/* Skip one element inside a list/set/map, where bools are one byte. */
static void skip_elem(pqr_thrift *t, int type)
{
    if (type == PQR_T_TRUE || type == PQR_T_FALSE)
        read_byte(t);
    else
        pqr_thrift_skip(t, type);
}

void pqr_thrift_skip(pqr_thrift *t, int type)
{
    if (t->why)
        return;
    switch (type) {
    case PQR_T_TRUE:
    case PQR_T_FALSE:
        return; /* the value lives in the field header */
    case PQR_T_I8:
        read_byte(t);
        return;
    case PQR_T_I16:
    case PQR_T_I32:
    case PQR_T_I64:
        read_varint(t);
        return;
    case PQR_T_DOUBLE:
        if (t->end - t->p < 8)
            pqr_thrift_fail(t, "truncated double");
        else
            t->p += 8;
        return;
    case PQR_T_BINARY: {
        const uint8_t *p;
        uint32_t n;
        pqr_thrift_binary(t, type, &p, &n);
        return;
    }
    case PQR_T_LIST:
    case PQR_T_SET: {
        int et;
        uint32_t n = pqr_thrift_list_begin(t, type, &et);
        if (++t->depth > PQR_THRIFT_MAX_DEPTH)
            pqr_thrift_fail(t, "structures nested too deeply");
        for (uint32_t i = 0; i < n && !t->why; i++)
            skip_elem(t, et);
        t->depth--;
        return;
    }
    case PQR_T_MAP: {
        uint64_t n = read_varint(t);
        if (n == 0 || t->why)
            return;
        uint8_t kv = read_byte(t);
        int kt = kv >> 4, vt = kv & 0x0f;
        if (kt == PQR_T_STOP || vt == PQR_T_STOP || kt > PQR_T_STRUCT || vt > PQR_T_STRUCT) {
            pqr_thrift_fail(t, "unknown map element type");
            return;
        }
        if (n > (uint64_t)(t->end - t->p) / 2) {
            pqr_thrift_fail(t, "map count larger than the bytes left");
            return;
        }
        if (++t->depth > PQR_THRIFT_MAX_DEPTH)
            pqr_thrift_fail(t, "structures nested too deeply");
        for (uint64_t i = 0; i < n && !t->why; i++) {
            skip_elem(t, kt);
            skip_elem(t, vt);
        }
        t->depth--;
        return;
    }
    case PQR_T_STRUCT: {
        int16_t last = 0, id;
        int ft;
        pqr_thrift_struct_begin(t);
        while (pqr_thrift_next_field(t, &last, &ft, &id))
            pqr_thrift_skip(t, ft);
        pqr_thrift_struct_end(t);
        return;
    }
    default:
        pqr_thrift_fail(t, "unknown field type");
    }
}
