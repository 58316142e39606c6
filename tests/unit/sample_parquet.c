/* sample_parquet.c — the shared sample file of the fault tests (see
 * sample_parquet.h). Holds no TEST of its own. */
#include "sample_parquet.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static const pq_column_spec COLS[] = {
    {.name = "order_date", .physical = PQ_INT32, .logical = PQ_LOGICAL_DATE},
    {.name = "product_id", .physical = PQ_BYTE_ARRAY, .logical = PQ_LOGICAL_STRING, .optional = true},
    {.name = "profit", .physical = PQ_INT64, .logical = PQ_LOGICAL_DECIMAL, .precision = 18, .scale = 4},
};
#define NCOLS (sizeof COLS / sizeof COLS[0])

int sample_parquet_write(const char *path, pq_codec codec, size_t rg_rows, size_t page_bytes,
                         sp_error *err)
{
    static int32_t day[SAMPLE_ROWS];
    static int64_t profit[SAMPLE_ROWS];
    static uint8_t valid[SAMPLE_ROWS];
    static uint32_t off[SAMPLE_ROWS + 1];
    static char bytes[SAMPLE_ROWS * 16];
    for (int i = 0; i < SAMPLE_ROWS; i++) {
        day[i] = 17000 + i / 7;
        profit[i] = (int64_t)i * 7919 - 500000;
        valid[i] = i % 9 != 0;
        int n = snprintf(bytes + off[i], 16, "FUR-%04d", (i * 37) % 97);
        off[i + 1] = off[i] + (uint32_t)n;
    }
    pq_writer_options opt;
    pq_writer_options_default(&opt);
    opt.codec = codec;
    if (rg_rows)
        opt.row_group_rows = rg_rows;
    if (page_bytes)
        opt.page_bytes = page_bytes;
    pq_writer *w = NULL;
    SP_TRY(pq_writer_open(&w, path, COLS, NCOLS, &opt, err));
    for (size_t first = 0; first < SAMPLE_ROWS; first += SAMPLE_ROWS / 2) {
        pq_values v[NCOLS] = {
            {.n = SAMPLE_ROWS / 2, .values = day + first},
            {.n = SAMPLE_ROWS / 2, .valid = valid + first, .offsets = off + first,
             .bytes = (const uint8_t *)bytes},
            {.n = SAMPLE_ROWS / 2, .values = profit + first},
        };
        int rc = pq_writer_write(w, v, err);
        if (rc != SP_OK) {
            pq_writer_abort(w);
            return rc;
        }
    }
    return pq_writer_close(w, err);
}

int sample_parquet_read(const char *path, uint64_t *checksum, sp_error *err)
{
    pq_reader *r = NULL;
    SP_TRY(pq_reader_open(&r, path, err));
    pq_reader_set_memory_limit(r, 16u << 20);
    int rc = SP_OK;
    size_t nc = pq_reader_num_columns(r);
    pq_values out[8];
    if (nc > 8)
        nc = 0;
    for (size_t g = 0; g < pq_reader_num_row_groups(r) && nc && rc == SP_OK; g++) {
        rc = pq_reader_read_row_group(r, g, out, err);
        for (size_t c = 0; rc == SP_OK && c < nc; c++) {
            sp_buf b;
            sp_buf_init(&b, 0);
            for (size_t i = 0; i < out[c].n; i++)
                pq_value_text(pq_reader_column(r, c), &out[c], i, &b);
            for (size_t i = 0; i < b.len; i++)
                *checksum = *checksum * 31 + b.data[i];
            if (b.broken)
                rc = sp_fail(err, SP_ERR_NOMEM, "out of memory rendering values");
            sp_buf_free(&b);
        }
    }
    pq_reader_close(r);
    return rc;
}

int sample_count_files(const char *dir, const char *keep)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.' && (!keep || strcmp(e->d_name, keep) != 0);
    closedir(d);
    return n;
}
