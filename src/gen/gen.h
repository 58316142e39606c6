/* gen.h — synthetic regional sales files shaped like the public "Sample -
 * Superstore" data (the 21 columns, in its order), for demos, tests and
 * benchmarks: `salespipe gen --out DIR [--rows N] [--seed S] [--dirty]`.
 * Deterministic: the same options give byte-identical files. Clean output
 * passes every rule of SPEC §4; --dirty injects the cases the rules must
 * catch and the CSV shapes the reader must handle, and reports how many rows
 * each reject reason must receive, so tests have an oracle independent of
 * the pipeline. Writes files only; knows nothing of the pipeline. */
#ifndef SP_GEN_H
#define SP_GEN_H

#include <stdbool.h>
#include <stdint.h>

#include "../rules/rules.h"
#include "../util/error.h"

#define GEN_REGIONS 4 /* Central, East, South, West → <Region>_orders.csv */

typedef struct gen_options {
    const char *out_dir;  /* created (with parents) when missing */
    int64_t rows;         /* data rows per file (default 2500, the caller's to
                           * apply: 0 writes header-only files; at most 2e8) */
    uint64_t seed;        /* default 1 */
    bool dirty;
    int threads;          /* files written at once (THREADS); 0 = all of them */
} gen_options;

typedef struct gen_file_summary {
    char name[64];        /* "West_orders.csv" */
    int64_t rows;         /* data records written (a record may span lines) */
    int64_t bytes;
    /* rows each reason must reject (index rules_reason; [RULES_KEPT] = rows
     * that must be kept) under the default configuration */
    int64_t expect[RULES_NREASONS];
} gen_file_summary;

typedef struct gen_summary {
    gen_file_summary files[GEN_REGIONS];
    int nfiles;
} gen_summary;

/* Write the files (atomically each: written under a hidden temporary name in
 * out_dir, renamed when complete). summary may be NULL. Returns SP_OK, or
 * SP_ERR_USAGE (bad options), SP_ERR_IO or SP_ERR_NOMEM with err filled;
 * a file already renamed stays when a later one fails. */
int gen_write(const gen_options *opt, gen_summary *summary, sp_error *err);

#endif
