/* inspect.c — `salespipe inspect FILE.parquet [--head N] [--csv]`: prints a
 * Parquet file's schema, row groups, codecs and statistics, or its rows as
 * RFC 4180 CSV. Reads through the parquet module only, one row group at a
 * time, so memory stays bounded by a row group whatever the file size. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../parquet/parquet.h"
#include "../util/log.h"
#include "cli.h"

static void type_text(const pq_column_spec *c, char *out, size_t n)
{
    switch (c->logical) {
    case PQ_LOGICAL_STRING: snprintf(out, n, "STRING"); break;
    case PQ_LOGICAL_DATE: snprintf(out, n, "DATE"); break;
    case PQ_LOGICAL_DECIMAL: snprintf(out, n, "DECIMAL(%d,%d)", c->precision, c->scale); break;
    case PQ_LOGICAL_OTHER: snprintf(out, n, "(other)"); break;
    default: snprintf(out, n, "-"); break;
    }
}

/* Append one field, quoted only when it holds the separator, " CR or LF
 * (RFC 4180 with sep ','; the --head table uses '|'). */
static void csv_field(sp_buf *line, const uint8_t *p, size_t n, uint8_t sep)
{
    bool quote = false;
    for (size_t i = 0; i < n && !quote; i++)
        quote = p[i] == sep || p[i] == '"' || p[i] == '\r' || p[i] == '\n';
    if (!quote) {
        sp_buf_append(line, p, n);
        return;
    }
    sp_buf_putc(line, '"');
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '"')
            sp_buf_putc(line, '"');
        sp_buf_putc(line, p[i]);
    }
    sp_buf_putc(line, '"');
}

static int print_rows(pq_reader *r, long long limit, bool csv, sp_error *err)
{
    size_t ncol = pq_reader_num_columns(r);
    uint8_t sep = csv ? ',' : '|';
    sp_buf line, cell;
    sp_buf_init(&line, 0);
    sp_buf_init(&cell, 0);
    for (size_t c = 0; c < ncol; c++) {
        const char *name = pq_reader_column(r, c)->name;
        if (c)
            sp_buf_putc(&line, sep);
        csv_field(&line, (const uint8_t *)name, strlen(name), sep);
    }
    sp_buf_putc(&line, '\n');
    fwrite(line.data, 1, line.len, stdout);

    pq_values *vals = calloc(ncol ? ncol : 1, sizeof *vals);
    long long printed = 0;
    int rc = vals ? SP_OK : sp_fail(err, SP_ERR_NOMEM, "out of memory");
    for (size_t rg = 0; !rc && rg < pq_reader_num_row_groups(r) && (limit < 0 || printed < limit); rg++) {
        if ((rc = pq_reader_read_row_group(r, rg, vals, err)) != SP_OK)
            break;
        size_t n = ncol ? vals[0].n : 0;
        for (size_t row = 0; row < n && (limit < 0 || printed < limit); row++, printed++) {
            sp_buf_reset(&line);
            for (size_t c = 0; c < ncol; c++) {
                if (c)
                    sp_buf_putc(&line, sep);
                sp_buf_reset(&cell);
                pq_value_text(pq_reader_column(r, c), &vals[c], row, &cell);
                csv_field(&line, cell.data, cell.len, sep);
            }
            sp_buf_putc(&line, '\n');
            if (line.broken) {
                rc = sp_fail(err, SP_ERR_LIMIT, "row %lld is too large to print", printed);
                break;
            }
            fwrite(line.data, 1, line.len, stdout);
        }
        if (rc)
            break;
    }
    free(vals);
    sp_buf_free(&line);
    sp_buf_free(&cell);
    return rc;
}

static void print_meta(pq_reader *r, const char *path)
{
    size_t ncol = pq_reader_num_columns(r), nrg = pq_reader_num_row_groups(r);
    char type[48];
    printf("file:        %s\n", path);
    printf("created_by:  %s\n", pq_reader_created_by(r));
    printf("rows:        %" PRId64 "\n", pq_reader_num_rows(r));
    printf("row groups:  %zu\n", nrg);
    printf("columns:     %zu\n\n", ncol);
    printf("%-24s %-22s %-14s %s\n", "column", "physical", "logical", "repetition");
    for (size_t c = 0; c < ncol; c++) {
        const pq_column_spec *s = pq_reader_column(r, c);
        type_text(s, type, sizeof type);
        char phys[40];
        if (s->physical == PQ_FIXED_LEN_BYTE_ARRAY)
            snprintf(phys, sizeof phys, "%s(%d)", pq_physical_name(s->physical), s->type_length);
        else
            snprintf(phys, sizeof phys, "%s", pq_physical_name(s->physical));
        printf("%-24s %-22s %-14s %s\n", s->name, phys, type, s->optional ? "OPTIONAL" : "REQUIRED");
    }
    sp_buf lo, hi;
    sp_buf_init(&lo, 1 << 16);
    sp_buf_init(&hi, 1 << 16);
    for (size_t rg = 0; rg < nrg; rg++) {
        printf("\nrow group %zu: %" PRId64 " rows, %" PRId64 " bytes uncompressed\n", rg,
               pq_reader_row_group_rows(r, rg), pq_reader_row_group_bytes(r, rg));
        printf("  %-22s %-8s %12s %12s %6s  %-28s %s\n", "column", "codec", "compressed",
               "uncompressed", "nulls", "encodings", "min .. max");
        for (size_t c = 0; c < ncol; c++) {
            const pq_chunk_info *k = pq_reader_chunk(r, rg, c);
            char enc[96] = "";
            for (int e = 0; e < 32; e++)
                if (k->encodings & (1u << e)) {
                    size_t used = strlen(enc);
                    snprintf(enc + used, sizeof enc - used, "%s%s", used ? "," : "",
                             pq_encoding_name(e));
                }
            char nulls[24] = "?";
            if (k->stats.null_count >= 0)
                snprintf(nulls, sizeof nulls, "%" PRId64, k->stats.null_count);
            sp_buf_reset(&lo);
            sp_buf_reset(&hi);
            if (k->stats.has_min_max) {
                pq_plain_text(pq_reader_column(r, c), k->stats.min, k->stats.min_len, &lo);
                pq_plain_text(pq_reader_column(r, c), k->stats.max, k->stats.max_len, &hi);
            }
            /* Long string statistics would drown the table: cut them. */
            int lw = lo.len > 40 ? 40 : (int)lo.len, hw = hi.len > 40 ? 40 : (int)hi.len;
            printf("  %-22s %-8s %12" PRId64 " %12" PRId64 " %6s  %-28s %.*s%s%.*s\n",
                   pq_reader_column(r, c)->name, pq_codec_name(k->codec), k->compressed_size,
                   k->uncompressed_size, nulls, enc, lw, lo.data ? (char *)lo.data : "",
                   k->stats.has_min_max ? " .. " : "-", hw, hi.data ? (char *)hi.data : "");
        }
    }
    sp_buf_free(&lo);
    sp_buf_free(&hi);
}

int cmd_inspect(const sp_cli *cli)
{
    sp_error err;
    sp_error_clear(&err);
    pq_reader *r = NULL;
    int rc = pq_reader_open(&r, cli->file, &err);
    if (rc == SP_OK) {
        if (cli->csv) {
            rc = print_rows(r, cli->rows, true, &err);
        } else {
            print_meta(r, cli->file);
            if (cli->rows > 0) {
                printf("\nfirst %lld rows:\n", cli->rows);
                rc = print_rows(r, cli->rows, false, &err);
            }
        }
    }
    pq_reader_close(r);
    if (fflush(stdout) != 0 && rc == SP_OK)
        rc = sp_fail(&err, SP_ERR_IO, "writing to standard output failed");
    if (rc != SP_OK) {
        sp_log(SP_LOG_ERROR, "inspect: %s", err.msg);
        return EXIT_TASK_FAILED;
    }
    return EXIT_OK;
}
