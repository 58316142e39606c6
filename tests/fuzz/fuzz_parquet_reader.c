/* fuzz_parquet_reader.c — libFuzzer target for the Parquet reader
 * (src/parquet/read.c), built and run by scripts/fuzz.sh (`make fuzz`).
 * Each input is a whole file, handed to pq_reader_open through a memfd; every
 * footer accessor is called and every row group decoded and touched, so that
 * ASan sees any value the reader hands out beyond its buffers. The reader must
 * never crash, hang or allocate without bound on any input. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../../src/parquet/parquet.h"

/* Read every byte the contract says a value owns (INT96, like the byte
 * arrays, comes through offsets); the sum keeps it live. */
static uint64_t touch(const pq_column_spec *c, const pq_values *v)
{
    uint64_t sum = 0;
    size_t width = 0;
    switch (c->physical) {
    case PQ_BOOLEAN: width = 1; break;
    case PQ_INT32: case PQ_FLOAT: width = 4; break;
    case PQ_INT64: case PQ_DOUBLE: width = 8; break;
    default: break;
    }
    for (size_t i = 0; i < v->n; i++) {
        if (v->valid)
            sum += v->valid[i];
        if (width) {
            const uint8_t *p = (const uint8_t *)v->values + i * width;
            for (size_t k = 0; k < width; k++)
                sum += p[k];
        } else if (v->offsets) {
            uint32_t a = v->offsets[i], b = v->offsets[i + 1];
            if (b < a)
                __builtin_trap(); /* offsets must never run backwards */
            for (uint32_t k = a; k < b; k++)
                sum += v->bytes[k];
        }
    }
    return sum;
}

static void touch_stats(const pq_chunk_info *ch)
{
    volatile uint8_t sink = 0;
    if (ch->stats.has_min_max) {
        for (uint32_t k = 0; k < ch->stats.min_len; k++)
            sink ^= ch->stats.min[k];
        for (uint32_t k = 0; k < ch->stats.max_len; k++)
            sink ^= ch->stats.max[k];
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("pq_fuzz", 0);
        if (fd < 0)
            return 0;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        return 0;

    sp_error err;
    sp_error_clear(&err);
    pq_reader *r = NULL;
    if (pq_reader_open(&r, path, &err) != SP_OK) {
        if (r != NULL || err.msg[0] == '\0')
            __builtin_trap(); /* a failed open leaves *out NULL and says why */
        return 0;
    }
    pq_reader_set_memory_limit(r, (size_t)64 << 20);
    size_t ncols = pq_reader_num_columns(r), nrg = pq_reader_num_row_groups(r);
    (void)pq_reader_num_rows(r);
    (void)strlen(pq_reader_created_by(r));
    for (size_t i = 0; i < ncols; i++) {
        const pq_column_spec *c = pq_reader_column(r, i);
        (void)strlen(c->name);
        (void)strlen(pq_physical_name(c->physical));
    }
    pq_values out[64];
    volatile uint64_t sink = 0;
    for (size_t g = 0; g < nrg; g++) {
        (void)pq_reader_row_group_rows(r, g);
        (void)pq_reader_row_group_bytes(r, g);
        for (size_t i = 0; i < ncols; i++) {
            const pq_chunk_info *ch = pq_reader_chunk(r, g, i);
            touch_stats(ch);
            (void)strlen(pq_codec_name(ch->codec));
        }
        if (ncols > 64)
            continue; /* decoding needs one slot per column */
        if (pq_reader_read_row_group(r, g, out, &err) != SP_OK) {
            if (err.msg[0] == '\0')
                __builtin_trap(); /* every failure says why */
            continue;
        }
        for (size_t i = 0; i < ncols; i++)
            sink += touch(pq_reader_column(r, i), &out[i]);
    }
    (void)sink;
    pq_reader_close(r);
    return 0;
}
