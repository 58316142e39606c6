/* transform_parts.c — a transform spread over processes and machines
 * (issue 15): `--list` prints the run's inputs, `--map NAME` (or
 * `--map-index N`) reads one input exactly as the one-process transform
 * would and leaves its parts under the processed store's <prefix>_parts/
 * <name>/, and `--merge` checks every input's part, folds them in file-name
 * order and publishes what the one-process transform publishes, byte for
 * byte (the chunk plan depends only on a file's bytes and CHUNK_BYTES, and
 * the merge appends the very chunk parts the one process would have).
 *
 * The processes coordinate only through the stores: a part is
 * fact-<k>.parquet and rejects-<k>.csv per chunk, dims.bin (the file's
 * dimensions) and part.json (counts, checksum, settings, run id), written
 * LAST, so a part without part.json is not there. A map rerun first
 * withdraws its part.json, then replaces the rest. Every process of one
 * mapped run shares a run id derived from the input set (or --run-id), so
 * fact_sales.run_id agrees. The merge removes the parts once published. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../parquet/parquet.h"
#include "../util/clock.h"
#include "../util/decimal.h"
#include "../util/json.h"
#include "../util/log.h"
#include "../util/sha256.h"
#include "transform_internal.h"

enum {
    PART_FORMAT = 1,
    PART_JSON_MAX = 1 << 20,        /* part.json: counts, a few warnings */
    PART_DIMS_MAX = (1 << 30) + (1 << 26), /* dims.bin: the key arena's cap and headers */
};

/* ---- the shared run id ------------------------------------------------------------ */

void tf_mapped_run_id(tf_task *t)
{
    sp_sha256 h;
    sp_error err;
    if (sp_sha256_init(&h, &err) != SP_OK)
        return; /* keep the process's own id: the merge then names the mismatch */
    sp_sha256_update(&h, "salespipe mapped run\n", 21);
    sp_sha256_update(&h, t->ctx->ds, strlen(t->ctx->ds));
    for (int i = 0; i < t->n; i++) {
        const tf_file *f = &t->files[i];
        const pl_input *in = t->staged ? pl_inputs_find(&t->set, f->name) : NULL;
        char line[128];
        int k = snprintf(line, sizeof line, "\n%lld %s ", (long long)f->size,
                         in ? in->sha256 : "-");
        sp_sha256_update(&h, line, (size_t)k);
        sp_sha256_update(&h, f->name, strlen(f->name) + 1);
    }
    char hex[65];
    sp_sha256_final(&h, hex);
    /* The task's "started" line named the process's own id: say which one
     * this run uses from here on, and log under it. */
    char own[sizeof t->ctx->run_id];
    snprintf(own, sizeof own, "%s", t->ctx->run_id);
    snprintf(t->ctx->run_id, sizeof t->ctx->run_id, "%s_mapped_%.12s", t->ctx->ds, hex);
    sp_log_set_run(t->ctx->ds, t->ctx->run_id);
    sp_log(SP_LOG_INFO, "transform: run %s, not %s: derived from the input set, the same in "
           "every --map and the --merge of it (--run-id sets one)", t->ctx->run_id, own);
}

/* ---- names ------------------------------------------------------------------------ */

/* <prefix>_parts/<name>/<leaf> */
static int part_key(const tf_task *t, const char *name, const char *leaf, char *out, size_t outsz,
                    sp_error *err)
{
    if ((size_t)snprintf(out, outsz, "%s_parts/%s/%s", t->ctx->prefix, name, leaf) >= outsz)
        return sp_fail(err, SP_ERR_LIMIT, "part key too long for %.200s", name);
    return SP_OK;
}

static int chunk_key(const tf_task *t, const char *name, const char *kind, int k, char *out,
                     size_t outsz, sp_error *err)
{
    char leaf[64];
    snprintf(leaf, sizeof leaf, "%s-%d.%s", kind, k, strcmp(kind, "fact") == 0 ? "parquet" : "csv");
    return part_key(t, name, leaf, out, outsz, err);
}

/* What must be equal between the maps and the merge for the outputs to be
 * the one-process outputs. */
static void settings_text(const tf_shared *sh, char *out, size_t outsz)
{
    char thr[48];
    sp_decimal_format(sh->threshold, 4, thr);
    snprintf(out, outsz, "SALES_THRESHOLD=%s DATE_ORDER=%s ENCODING=%s CHUNK_BYTES=%llu", thr,
             rules_date_order_name(sh->order), csv_encoding_name(sh->encoding),
             (unsigned long long)sh->chunk_bytes);
}

/* ---- --list ------------------------------------------------------------------------ */

int tf_list(tf_task *t, sp_error *err)
{
    for (int i = 0; i < t->n; i++)
        for (const char *c = t->files[i].name; *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                return sp_fail(err, SP_ERR_DATA, "input %s/%s%.200s: a control character in "
                               "its name cannot be listed one per line", store_url(t->raw),
                               t->ctx->prefix, t->files[i].name);
    for (int i = 0; i < t->n; i++)
        printf("%s\n", t->files[i].name);
    if (fflush(stdout) != 0)
        return sp_fail(err, SP_ERR_IO, "stdout: %s", strerror(errno));
    sp_log(SP_LOG_INFO, "transform: %d input(s) of ds %s (%s)", t->n, t->ctx->ds,
           t->staged ? PL_INPUTS_KEY : "listing");
    return SP_OK;
}

/* ---- part.json ------------------------------------------------------------------- */

static void put_i128(sp_buf *b, __int128 v)
{
    char tmp[48];
    int n = 0;
    unsigned __int128 u = v < 0 ? -(unsigned __int128)v : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u);
    sp_buf_putc(b, '"');
    if (v < 0)
        sp_buf_putc(b, '-');
    while (n)
        sp_buf_putc(b, (uint8_t)tmp[--n]);
    sp_buf_putc(b, '"');
}

static void part_json(sp_buf *b, const tf_task *t, const tf_file *f)
{
    char settings[256];
    settings_text(&t->sh, settings, sizeof settings);
    const star_counts *c = &f->counts;
    sp_buf_printf(b, "{\"format\": %d, \"ds\": ", PART_FORMAT);
    sp_json_cstr(b, t->ctx->ds);
    sp_buf_puts(b, ", \"run_id\": ");
    sp_json_cstr(b, t->ctx->run_id);
    sp_buf_puts(b, ", \"input\": ");
    sp_json_cstr(b, f->name);
    sp_buf_puts(b, ", \"settings\": ");
    sp_json_cstr(b, settings);
    sp_buf_printf(b, ", \"bytes\": %lld, \"sha256\": \"%s\", \"chunks\": %d, \"encoding\": \"%s\", "
                     "\"date_order\": \"%s\", \"rows_in\": %lld, \"rejected\": [",
                  (long long)f->size, f->sha256, f->nchunks, csv_encoding_name(f->enc_used),
                  rules_date_order_name(f->set.order), (long long)c->rows_in);
    for (int r = 0; r < RULES_NREASONS; r++)
        sp_buf_printf(b, "%s%lld", r ? ", " : "", (long long)c->rejected[r]);
    sp_buf_printf(b, "], \"quantity\": %lld, \"sales\": ", (long long)c->quantity);
    put_i128(b, c->sales);
    sp_buf_puts(b, ", \"profit\": ");
    put_i128(b, c->profit);
    sp_buf_printf(b, ", \"rounded_sales\": %lld, \"rounded_profit\": %lld, \"warnings\": [",
                  (long long)c->rounded_sales, (long long)c->rounded_profit);
    for (int w = 0; w < f->nwarn; w++) {
        if (w)
            sp_buf_puts(b, ", ");
        sp_json_cstr(b, f->warn[w]);
    }
    sp_buf_puts(b, "]}\n");
}

static bool get_i128(json_t *v, __int128 *out)
{
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    bool neg = *s == '-';
    s += neg;
    if (!*s || strlen(s) > 37)
        return false;
    __int128 x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return false;
        x = x * 10 + (*s - '0');
    }
    *out = neg ? -x : x;
    return true;
}

static bool get_count(json_t *v, int64_t *out)
{
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = json_integer_value(v);
    return true;
}

static bool parse_encoding(const char *s, csv_encoding *out)
{
    static const csv_encoding all[] = {CSV_ENC_AUTO, CSV_ENC_UTF8, CSV_ENC_CP1252};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (strcmp(s, csv_encoding_name(all[i])) == 0) {
            *out = all[i];
            return true;
        }
    return false;
}

/* Counts, encoding and date order of part.json into f. */
static bool read_counts(json_t *root, tf_file *f)
{
    star_counts *c = &f->counts;
    memset(c, 0, sizeof *c);
    json_t *rej = json_object_get(root, "rejected");
    if (!json_is_array(rej) || json_array_size(rej) != RULES_NREASONS)
        return false;
    for (int r = 0; r < RULES_NREASONS; r++)
        if (!get_count(json_array_get(rej, (size_t)r), &c->rejected[r]))
            return false;
    const char *enc = json_string_value(json_object_get(root, "encoding"));
    const char *order = json_string_value(json_object_get(root, "date_order"));
    return get_count(json_object_get(root, "rows_in"), &c->rows_in) &&
           get_count(json_object_get(root, "quantity"), &c->quantity) &&
           get_count(json_object_get(root, "rounded_sales"), &c->rounded_sales) &&
           get_count(json_object_get(root, "rounded_profit"), &c->rounded_profit) &&
           get_i128(json_object_get(root, "sales"), &c->sales) &&
           get_i128(json_object_get(root, "profit"), &c->profit) && enc && order &&
           parse_encoding(enc, &f->enc_used) && rules_date_order_parse(order, &f->set.order);
}

static bool string_is(json_t *root, const char *name, const char *want)
{
    const char *v = json_string_value(json_object_get(root, name));
    return v && strcmp(v, want) == 0;
}

/* Check part.json against this merge (the same run, input and settings)
 * and take the file's results from it. */
static int accept_part(const tf_task *t, tf_file *f, json_t *root, const char *what, sp_error *err)
{
    char settings[256];
    settings_text(&t->sh, settings, sizeof settings);
    json_t *fmt = json_object_get(root, "format");
    if (!json_is_integer(fmt) || json_integer_value(fmt) != PART_FORMAT)
        return sp_fail(err, SP_ERR_CORRUPT, "%s: not a part of format %d", what, PART_FORMAT);
    const char *run = json_string_value(json_object_get(root, "run_id"));
    if (!run || strcmp(run, t->ctx->run_id) != 0)
        return sp_fail(err, SP_ERR_DATA, "%s: made by run %.80s, not this merge's %s (the input "
                       "set changed since, or --run-id differs): map %s again",
                       what, run ? run : "?", t->ctx->run_id, f->name);
    if (!string_is(root, "input", f->name))
        return sp_fail(err, SP_ERR_CORRUPT, "%s: not the part of %s", what, f->name);
    if (!string_is(root, "settings", settings)) {
        const char *theirs = json_string_value(json_object_get(root, "settings"));
        return sp_fail(err, SP_ERR_DATA, "%s: mapped with %.200s, the merge has %s: map %s "
                       "again with the merge's configuration", what, theirs ? theirs : "?",
                       settings, f->name);
    }
    json_t *bytes = json_object_get(root, "bytes"), *chunks = json_object_get(root, "chunks");
    const char *sha = json_string_value(json_object_get(root, "sha256"));
    if (!json_is_integer(bytes) || !json_is_integer(chunks) || !sha || strlen(sha) != 64 ||
        json_integer_value(chunks) < 1 || json_integer_value(chunks) > 100000 ||
        !read_counts(root, f))
        return sp_fail(err, SP_ERR_CORRUPT, "%s: malformed (counts, size, checksum or chunks)",
                       what);
    if (json_integer_value(bytes) != f->size)
        return sp_fail(err, SP_ERR_DATA, "%s: made from %lld bytes of %s, the raw store holds "
                       "%lld now: map it again", what, (long long)json_integer_value(bytes),
                       f->name, (long long)f->size);
    memcpy(f->sha256, sha, 65);
    f->nchunks = (int)json_integer_value(chunks);
    json_t *warnings = json_object_get(root, "warnings"), *w;
    size_t i;
    json_array_foreach(warnings, i, w)
        if (json_is_string(w) && f->nwarn < TF_MAX_WARNINGS)
            tf_file_warn(f, "%s", json_string_value(w));
    return SP_OK;
}

/* ---- --map ------------------------------------------------------------------------ */

/* Which input this process maps: -1 when --map-index is past the last. */
static int pick_input(const tf_task *t, int *which, sp_error *err)
{
    const pl_ctx *ctx = t->ctx;
    *which = -1;
    if (ctx->tf_mode == PL_TF_MAP_INDEX) {
        if (ctx->map_index < t->n)
            *which = (int)ctx->map_index;
        return SP_OK;
    }
    for (int i = 0; i < t->n; i++)
        if (strcmp(t->files[i].name, ctx->map_key) == 0 ||
            strcmp(t->files[i].key, ctx->map_key) == 0) {
            *which = i;
            return SP_OK;
        }
    return sp_fail(err, SP_ERR_USAGE, "--map %.200s: not an input of ds %s (%d input(s) under "
                   "%s/%s; `salespipe transform --list` prints them)", ctx->map_key, ctx->ds,
                   t->n, store_url(t->raw), ctx->prefix);
}

/* Upload the chunk parts and dims, then part.json: the part is there. */
static int upload_part(tf_task *t, sp_error *err)
{
    tf_file *f = &t->files[0];
    char key[2048], local[PATH_MAX];
    SP_TRY(part_key(t, f->name, "part.json", key, sizeof key, err));
    SP_TRY(store_delete(t->processed, key, err)); /* a rerun withdraws the old part first */
    for (int k = 0; k < f->nchunks; k++) {
        tf_fact_part(&t->sh, f->first_chunk + k, local, sizeof local);
        SP_TRY(chunk_key(t, f->name, "fact", k, key, sizeof key, err));
        SP_TRY(store_put_file(t->processed, key, local, STORE_PUT_MOVE, err));
        tf_reject_part(&t->sh, f->first_chunk + k, local, sizeof local);
        SP_TRY(chunk_key(t, f->name, "rejects", k, key, sizeof key, err));
        SP_TRY(store_put_file(t->processed, key, local, STORE_PUT_MOVE, err));
    }
    sp_buf b;
    sp_buf_init(&b, PART_DIMS_MAX);
    int rc = star_dims_encode(t->out.dims, &b, err);
    if (rc == SP_OK && (rc = part_key(t, f->name, "dims.bin", key, sizeof key, err)) == SP_OK)
        rc = store_put_bytes(t->processed, key, b.data ? (const void *)b.data : "", b.len, err);
    sp_buf_reset(&b);
    if (rc == SP_OK) {
        part_json(&b, t, f);
        rc = b.broken ? sp_fail(err, SP_ERR_NOMEM, "out of memory writing part.json")
                      : part_key(t, f->name, "part.json", key, sizeof key, err);
    }
    if (rc == SP_OK)
        rc = store_put_bytes(t->processed, key, b.data, b.len, err);
    sp_buf_free(&b);
    return rc;
}

int tf_map(tf_task *t, sp_error *err)
{
    int which;
    SP_TRY(pick_input(t, &which, err));
    if (which < 0) {
        sp_log(SP_LOG_INFO, "transform: --map-index %lld: the run has %d input(s): nothing to "
               "map", t->ctx->map_index, t->n);
        return SP_OK;
    }
    tf_task_keep_one(t, which);
    SP_TRY(tf_task_read(t, err));
    const tf_file *f = &t->files[0];
    SP_TRY(upload_part(t, err));
    sp_log(SP_LOG_INFO, "transform: %s mapped (%d chunk(s), run %s) → %s/%s_parts/%s/", f->name,
           f->nchunks, t->ctx->run_id, store_url(t->processed), t->ctx->prefix, f->name);
    return SP_OK;
}

/* ---- --merge ---------------------------------------------------------------------- */

/* part.json of files[i] into f (SP_ERR_DATA naming the part when missing). */
static int read_part(tf_task *t, tf_file *f, sp_buf *b, sp_error *err)
{
    char key[2048], what[2400];
    SP_TRY(part_key(t, f->name, "part.json", key, sizeof key, err));
    snprintf(what, sizeof what, "%s/%s", store_url(t->processed), key);
    bool found;
    SP_TRY(pl_store_read(t->processed, key, PART_JSON_MAX, b, &found, what, err));
    if (!found)
        return sp_fail(err, SP_ERR_DATA, "no part for input %s: %s is missing (run `salespipe "
                       "transform --ds %s --map %s`, then merge again)", f->name, what,
                       t->ctx->ds, f->name);
    json_error_t je;
    json_t *root = json_loadb((const char *)b->data, b->len, JSON_REJECT_DUPLICATES, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return sp_fail(err, SP_ERR_CORRUPT, "%s: not JSON (%s)", what, je.text);
    }
    int rc = accept_part(t, f, root, what, err);
    json_decref(root);
    if (rc == SP_OK && t->staged)
        rc = pl_inputs_verify_digest(&t->set, f->key, f->name, f->size, f->sha256, err);
    return rc;
}

/* The file's chunk parts into the work directory, as the one process
 * would have left them (chunk numbers run on across files); their fact
 * rows must be the rows part.json says were kept. */
static int fetch_chunks(tf_task *t, tf_file *f, sp_error *err)
{
    char key[2048], local[PATH_MAX];
    int64_t rows = 0;
    f->first_chunk = t->nchunks;
    for (int k = 0; k < f->nchunks; k++) {
        int g = t->nchunks++; /* counted first: the work directory's cleanup removes it */
        tf_fact_part(&t->sh, g, local, sizeof local);
        SP_TRY(chunk_key(t, f->name, "fact", k, key, sizeof key, err));
        SP_TRY(store_get_file(t->processed, key, local, err));
        pq_reader *r;
        if (pq_reader_open(&r, local, err) != SP_OK)
            return sp_error_prefix(err, "part of %s: %s/%s (map it again)", f->name,
                                   store_url(t->processed), key);
        rows += (int64_t)pq_reader_num_rows(r);
        pq_reader_close(r);
        tf_reject_part(&t->sh, g, local, sizeof local);
        SP_TRY(chunk_key(t, f->name, "rejects", k, key, sizeof key, err));
        SP_TRY(store_get_file(t->processed, key, local, err));
    }
    if (rows != f->counts.rejected[RULES_KEPT])
        return sp_fail(err, SP_ERR_CORRUPT, "part of %s: %lld fact rows, its part.json says %lld "
                       "were kept: map it again", f->name, (long long)rows,
                       (long long)f->counts.rejected[RULES_KEPT]);
    return SP_OK;
}

/* Fold the file's dimensions into the run's, in file-name order. */
static int merge_dims(tf_task *t, const tf_file *f, star_dims *one, sp_buf *b, sp_error *err)
{
    char key[2048], what[2400];
    SP_TRY(part_key(t, f->name, "dims.bin", key, sizeof key, err));
    snprintf(what, sizeof what, "%s/%s", store_url(t->processed), key);
    bool found;
    SP_TRY(pl_store_read(t->processed, key, PART_DIMS_MAX, b, &found, what, err));
    if (!found)
        return sp_fail(err, SP_ERR_DATA, "%s is missing: map %s again", what, f->name);
    SP_TRY(star_dims_decode(one, b->data ? b->data : (const uint8_t *)"", b->len, what, err));
    return star_dims_merge(t->out.dims, one, err);
}

static int gather_parts(tf_task *t, sp_error *err)
{
    star_dims *one;
    SP_TRY(star_dims_new(&t->out.dims, err));
    SP_TRY(star_dims_new(&one, err));
    sp_buf b;
    sp_buf_init(&b, PART_DIMS_MAX);
    int rc = SP_OK;
    for (int i = 0; i < t->n && rc == SP_OK; i++) {
        tf_file *f = &t->files[i];
        sp_buf_reset(&b);
        if ((rc = read_part(t, f, &b, err)) != SP_OK || (rc = fetch_chunks(t, f, err)) != SP_OK)
            break;
        sp_buf_reset(&b);
        if ((rc = merge_dims(t, f, one, &b, err)) != SP_OK)
            break;
        star_counts_merge(&t->out.total, &f->counts);
        sp_log_fields lf = {.file = f->name};
        pl_log_counts(&lf, &f->counts);
        sp_log_event(SP_LOG_INFO, &lf, "transform: %s: %lld rows in, %lld kept, %lld rejected "
                     "(mapped)", f->name, (long long)lf.rows_in, (long long)lf.rows_kept,
                     (long long)lf.rows_rejected);
        lf.has_rows = false;
        for (int w = 0; w < f->nwarn; w++)
            sp_log_event(SP_LOG_WARN, &lf, "transform: %s", f->warn[w]);
    }
    sp_buf_free(&b);
    star_dims_free(one);
    return rc;
}

typedef struct key_batch {
    char **keys;
    size_t n, cap;
} key_batch;

static int note_key(void *arg, const char *key, int64_t size)
{
    (void)size;
    key_batch *kb = arg;
    if (kb->n == kb->cap) {
        size_t cap = kb->cap ? kb->cap * 2 : 64;
        char **k = realloc(kb->keys, cap * sizeof *k);
        if (!k)
            return SP_ERR_NOMEM;
        kb->keys = k;
        kb->cap = cap;
    }
    if (!(kb->keys[kb->n] = strdup(key)))
        return SP_ERR_NOMEM;
    kb->n++;
    return SP_OK;
}

/* Once published, the parts have served: remove every object under
 * <prefix>_parts/ (a failure only warns: the outputs are out). */
static void remove_parts(tf_task *t)
{
    char prefix[2048];
    snprintf(prefix, sizeof prefix, "%s_parts/", t->ctx->prefix);
    key_batch kb = {0};
    sp_error err;
    int rc = store_list(t->processed, prefix, note_key, &kb, &err);
    for (size_t i = 0; i < kb.n && rc == SP_OK; i++)
        rc = store_delete(t->processed, kb.keys[i], &err);
    if (rc != SP_OK)
        sp_log(SP_LOG_WARN, "transform: the parts under %s/%s remain: %s",
               store_url(t->processed), prefix, rc == SP_ERR_NOMEM ? "out of memory" : err.msg);
    for (size_t i = 0; i < kb.n; i++)
        free(kb.keys[i]);
    free(kb.keys);
}

/* A merge retried after it succeeded (a scheduler that lost the answer)
 * finds no parts: when the published manifest is this mapped run's and no
 * input has a part, there is nothing left to do. */
static bool already_merged(tf_task *t)
{
    char key[2048], what[2400], run[64];
    snprintf(key, sizeof key, "%s_manifest.json", t->ctx->prefix);
    snprintf(what, sizeof what, "%s/%s", store_url(t->processed), key);
    sp_buf b;
    sp_buf_init(&b, (size_t)64 << 20);
    bool found = false, same = false;
    sp_error err;
    if (pl_store_read(t->processed, key, (size_t)64 << 20, &b, &found, what, &err) == SP_OK &&
        found)
        same = sp_json_get_str((const char *)b.data, b.len, "run_id", run, sizeof run) &&
               strcmp(run, t->ctx->run_id) == 0;
    sp_buf_free(&b);
    for (int i = 0; same && i < t->n; i++) {
        store_stat st;
        same = part_key(t, t->files[i].name, "part.json", key, sizeof key, &err) == SP_OK &&
               store_stat_key(t->processed, key, false, &st, &err) == SP_OK && !st.exists;
    }
    return same;
}

int tf_merge(tf_task *t, sp_error *err)
{
    t->t0 = sp_mono_seconds();
    int rc = gather_parts(t, err);
    if (rc == SP_ERR_DATA && already_merged(t)) {
        sp_log(SP_LOG_INFO, "transform: run %s is merged and published already (%s/%s"
               "_manifest.json); no part is left: nothing to do", t->ctx->run_id,
               store_url(t->processed), t->ctx->prefix);
        return SP_OK;
    }
    if (rc != SP_OK)
        return rc;
    sp_log(SP_LOG_INFO, "transform: merging %d mapped input(s), %d chunk part(s) of run %s", t->n,
           t->nchunks, t->ctx->run_id);
    SP_TRY(tf_task_publish(t, err));
    remove_parts(t);
    return SP_OK;
}
