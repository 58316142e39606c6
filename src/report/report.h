/* report.h — what a run leaves for people and for the systems around us:
 * the self-contained HTML run report (html.c, its charts in svg.c), the
 * Prometheus textfile (metrics.c) and OpenLineage RunEvents (lineage.c), all
 * built from one gathered picture of a run (gather.c): the run ledger
 * (src/orch), the run's _manifest.json, rejects.csv and Parquet facts in the
 * processed store. It reads, and writes only its own outputs; a failure here
 * is a warning, never the run's failure. It never shows a secret.
 *
 * Ownership: rp_gather creates an rp_data, rp_data_free frees it; every
 * string in it is owned by it. Builders append to a caller-owned sp_buf. */
#ifndef SP_REPORT_H
#define SP_REPORT_H

#include <stdbool.h>
#include <stdint.h>

#include "../config/config.h"
#include "../pipeline/pipeline.h"
#include "../rules/rules.h"
#include "../util/buf.h"
#include "../util/error.h"

/* ---- caps: the report's size never follows the data's ----------------- */
#define RP_MAX_ATTEMPTS 200  /* timeline bars */
#define RP_MAX_INPUTS 1000   /* input rows shown (the rest are counted) */
#define RP_MAX_GATES 64
#define RP_SAMPLES 5         /* sample raw records per reject reason */
#define RP_SAMPLE_BYTES 2048 /* of one sample record (longer ones are cut) */
#define RP_MAX_GROUPS 120    /* bars per sales chart; the rest sum in "(other)" */
#define RP_TRENDS 30         /* runs in the trend charts */
#define RP_TEXT 1024         /* error texts, names */

/* ---- a small JSON reader (json_read.c) -------------------------------- */

enum { RP_J_NULL, RP_J_FALSE, RP_J_TRUE, RP_J_NUM, RP_J_STR, RP_J_ARR, RP_J_OBJ };

typedef struct rp_jnode {
    int type;
    const char *s;      /* raw text of a string (escapes undecoded) or number */
    size_t n;
    const char *key;    /* raw key when a member of an object */
    size_t keyn;
    int first, next;    /* first child, next sibling; -1 for none */
} rp_jnode;

typedef struct rp_json {
    rp_jnode *nodes;    /* nodes[0] is the root */
    int n, cap;
} rp_json;

/* Parse text[0..n) (which must outlive doc): SP_ERR_CORRUPT with the byte
 * offset when it is not JSON, SP_ERR_LIMIT beyond 64 levels. */
int rp_json_parse(rp_json *doc, const char *text, size_t n, sp_error *err);
void rp_json_free(rp_json *doc);
/* The member `key` of object node obj, or -1. */
int rp_json_get(const rp_json *doc, int obj, const char *key);
/* Integer value of node i (a JSON integer, or a string holding one). */
bool rp_json_int(const rp_json *doc, int i, long long *out);
/* Node i as text into out (decoded string; numbers, true/false/null as
 * written); "" for containers or i < 0. Cut to outsz-1 bytes. */
const char *rp_json_text(const rp_json *doc, int i, char *out, size_t outsz);

/* ---- the gathered picture of a run (gather.c) -------------------------- */

typedef struct rp_attempt {
    char task[16];
    int attempt;
    double t0, t1;          /* Unix seconds; t1 < 0 while unknown */
    char started[32], ended[32];
    char error[RP_TEXT];    /* "" when it succeeded */
} rp_attempt;

typedef struct rp_input {
    char file[256], encoding[24], date_order[16];
    long long bytes, rows, kept;
    long long rejected[RULES_NREASONS];
} rp_input;

typedef struct rp_gate {
    char name[64], figure[64], threshold[64];
    int passed;             /* 1, 0, or -1 when not said */
} rp_gate;

typedef struct rp_sample {
    char source_file[256];
    long long line;
    char record[RP_SAMPLE_BYTES];
    bool cut;               /* the record was longer than shown */
} rp_sample;

typedef struct rp_group {
    char key[96];
    __int128 sales;         /* scale 4 */
    long long rows;
} rp_group;

typedef struct rp_groups {
    rp_group g[RP_MAX_GROUPS + 1]; /* the last slot is "(other)" */
    int n;
    bool other_used;
} rp_groups;

typedef struct rp_trend {
    char run_id[64], ds[11], state[16];
    double duration;        /* seconds; < 0 unknown */
    bool has_rows;
    long long rows_in, rejected;
} rp_trend;

typedef struct rp_data {
    /* the run (ledger) */
    char run_id[64], ds[11], state[16], started[32], ended[32], failed_task[16];
    char error[RP_TEXT];
    double t0, t1;          /* Unix seconds of its attempts; < 0 unknown */
    struct {
        char name[16], state[16];
        int attempts;
    } tasks[PL_NTASKS];
    int ntasks;
    rp_attempt *attempts;
    int nattempts, attempts_total;
    /* the manifest of this run, when the processed store has it */
    bool has_manifest;
    char manifest_note[RP_TEXT]; /* why there is none, or whose it is */
    long long rows_in, rows_kept, rejected[RULES_NREASONS];
    long long tables[3];    /* dim_date, dim_product, fact_sales */
    long long table_bytes[3], rejects_bytes; /* their objects' sizes; -1 unknown */
    char total_sales[48], settings[256];
    rp_input *inputs;
    int ninputs, inputs_total;
    long long input_bytes;
    rp_gate gates[RP_MAX_GATES];
    int ngates;
    bool has_gates;
    /* rejects.csv */
    rp_sample samples[RULES_NREASONS][RP_SAMPLES];
    int nsamples[RULES_NREASONS];
    char rejects_note[RP_TEXT];
    /* fact_sales (+ dim_product) */
    bool has_facts;
    char facts_note[RP_TEXT];
    rp_groups months, categories, regions;
    bool regions_from_source; /* no region column: grouped by source file */
    /* the last RP_TRENDS runs of the ledger, oldest first */
    rp_trend trends[RP_TRENDS];
    int ntrends;
    /* where things are */
    char processed_url[512], prefix[1024], warehouse[512];
    /* the raw store's URL (lineage input namespace) */
    char raw_url[512];
} rp_data;

/* Gather run `run_id` of ctx's ds (ctx gives the configuration, the
 * prefix and the stores): ledger first, then the processed store. A part
 * that cannot be read becomes a note in the data (the report says why);
 * only an unknown run or a ledger that cannot be opened is an error. */
int rp_gather(pl_ctx *ctx, const char *run_id, rp_data **out, sp_error *err);
void rp_data_free(rp_data *d); /* NULL is allowed */

/* ---- outputs ----------------------------------------------------------- */

/* The HTML report (html.c): one document, inline CSS and SVG, no script,
 * nothing loaded from anywhere; every text from data is escaped. */
void rp_html(sp_buf *out, const rp_data *d, const sp_config *cfg);

/* Append s[0..n) escaped for HTML text and attribute values (html.c). */
void rp_html_escape(sp_buf *b, const char *s, size_t n);

/* Charts (svg.c): inline SVG, every bar a <g class="bar"> carrying
 * data-label and data-value (the exact figure as text) and a visible text
 * label, so a reader (and the tests) can check each figure. */
typedef struct rp_bar {
    const char *label;  /* shown and in data-label */
    double value;       /* drawn length */
    const char *text;   /* the figure as shown and in data-value */
    const char *cls;    /* extra class ("failed"), or NULL */
    const char *shown;  /* a shorter label to draw, or NULL for label */
} rp_bar;
/* Horizontal bars (vertical: columns, labels under them). */
void rp_svg_bars(sp_buf *b, const char *id, const char *title, const rp_bar *bars, int n,
                 bool vertical);
/* The task timeline: one row per task, one bar per attempt. */
void rp_svg_gantt(sp_buf *b, const rp_data *d);

/* Prometheus text exposition of the run (metrics.c); last_success < 0 when
 * no run ever succeeded. */
void rp_metrics_text(sp_buf *out, const rp_data *d, double last_success);
/* Write it to path atomically (temporary file in the same directory, fsync,
 * rename). The last success comes from the ledger, else the previous file. */
int rp_metrics_write(const char *path, const rp_data *d, double last_success, sp_error *err);

/* Write p[0..n) to path atomically: a temporary ".NAME.tmp-PID" in the
 * same directory, fsync, rename. Errors start with `what` and the path. */
int rp_write_atomic(const char *path, const char *what, const void *p, size_t n, sp_error *err);

/* The OpenLineage RunEvent (lineage.c) of type "START", "COMPLETE" or
 * "FAIL"; d may be NULL for START (no datasets yet). */
void rp_lineage_event(sp_buf *out, const sp_config *cfg, const char *type, const char *run_id,
                      const char *ds, const rp_data *d);
/* The UUID of a run id (a name-based UUID, version 5): the same run id
 * (a resumed run) always gives the same runId. out needs 37 bytes. */
void rp_lineage_uuid(const char *run_id, char out[37]);
/* Send it to OPENLINEAGE_URL (HTTP POST) and/or OPENLINEAGE_FILE (one JSON
 * line); errors name the sink with its URL masked. */
int rp_lineage_send(const sp_config *cfg, const char *event, size_t n, sp_error *err);

/* ---- the run's hooks and the command (report.c) ------------------------ */

/* orch_options.on_start / on_end: lineage START; then the report to
 * <prefix>report.html in the processed store, METRICS_FILE, lineage
 * COMPLETE/FAIL. Failures are logged as warnings. arg is unused. */
void rp_on_run_start(pl_ctx *ctx, void *arg);
void rp_on_run_end(pl_ctx *ctx, bool succeeded, void *arg);

/* `salespipe report [RUN_ID | --ds D] [--out FILE]`: the report of RUN_ID,
 * or of the newest run of ds, or of the newest run; to FILE (atomically) or
 * stdout when out_path is NULL. */
int rp_command(const sp_config *cfg, const char *run_id, const char *ds, const char *out_path,
               sp_error *err);

#endif
