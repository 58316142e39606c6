/* warehouse.c — the warehouse interface (see warehouse.h), backend-neutral:
 * picks a backend from the target once, matches batch columns by name,
 * hands out surrogate keys for the dimensions and resolves each fact's
 * natural keys through them (hash maps that grow with the dimensions only),
 * and keeps the load's one-transaction state: any failure rolls it back.
 * Backends run the SQL (wh_impl.h). Never puts a password into a message. */
#include "wh_impl.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../util/cancel.h"
#include "../util/date.h"
#include "../util/hash.h"

enum {
    WH_KEYMAP_MAX_ENTRIES = 1 << 26, /* distinct dates / products per load */
    WH_KEY_MAX_BYTES = 1 << 16,      /* longest product_id */
};

/* ---- catalogue ------------------------------------------------------- */

static const wh_coldef DIM_DATE_COLS[WH_DD_NCOLS] = {
    {"order_date", WH_K_DATE, false}, {"day", WH_K_INT, false},  {"month", WH_K_INT, false},
    {"quarter", WH_K_INT, false},     {"year", WH_K_INT, false},
};
static const wh_coldef DIM_PRODUCT_COLS[WH_DP_NCOLS] = {
    {"product_id", WH_K_TEXT, false},
    {"category", WH_K_TEXT, false},
};
static const wh_coldef FACT_COLS[WH_FS_NCOLS] = {
    {"order_date", WH_K_DATE, false},     {"product_id", WH_K_TEXT, false},
    {"quantity", WH_K_INT, false},        {"total_sales", WH_K_DECIMAL, false},
    {"profit", WH_K_DECIMAL, false},      {"unit_price", WH_K_DECIMAL, false},
    {"profit_margin", WH_K_DECIMAL, false}, {"ship_date", WH_K_DATE, true},
    {"region", WH_K_TEXT, true},          {"order_id", WH_K_TEXT, true},
    {"source_file", WH_K_TEXT, true},     {"source_line", WH_K_INT, true},
    {"run_id", WH_K_TEXT, true},
};

const wh_coldef *wh_columns(wh_table t, size_t *ncols)
{
    switch (t) {
    case WH_DIM_DATE: *ncols = WH_DD_NCOLS; return DIM_DATE_COLS;
    case WH_DIM_PRODUCT: *ncols = WH_DP_NCOLS; return DIM_PRODUCT_COLS;
    case WH_FACT_SALES: *ncols = WH_FS_NCOLS; return FACT_COLS;
    case WH_NTABLES: break;
    }
    *ncols = 0;
    return NULL;
}

const char *wh_table_name(wh_table t)
{
    switch (t) {
    case WH_DIM_DATE: return "dim_date";
    case WH_DIM_PRODUCT: return "dim_product";
    case WH_FACT_SALES: return "fact_sales";
    case WH_NTABLES: break;
    }
    return "(unknown table)";
}

/* ---- key maps ------------------------------------------------------------ */

typedef struct wh_slot {
    uint64_t hash;
    uint32_t off, len;
    int32_t id; /* 0: empty */
} wh_slot;

static void keymap_free(wh_keymap *m)
{
    free(m->slots);
    sp_buf_free(&m->keys);
    m->slots = NULL;
    m->nslots = m->count = 0;
}

static int32_t keymap_get(const wh_keymap *m, const void *key, size_t len)
{
    if (!m->slots)
        return 0;
    uint64_t h = sp_hash_bytes(key, len);
    size_t mask = m->nslots - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        const wh_slot *s = &m->slots[i];
        if (s->id == 0)
            return 0;
        if (s->hash == h && s->len == len && memcmp(m->keys.data + s->off, key, len) == 0)
            return s->id;
    }
}

static bool keymap_grow(wh_keymap *m)
{
    size_t n = m->nslots ? m->nslots * 2 : 1024;
    wh_slot *ns = calloc(n, sizeof *ns);
    if (!ns)
        return false;
    for (size_t i = 0; i < m->nslots; i++) {
        const wh_slot *s = &m->slots[i];
        if (s->id == 0)
            continue;
        size_t j = (size_t)s->hash & (n - 1);
        while (ns[j].id != 0)
            j = (j + 1) & (n - 1);
        ns[j] = *s;
    }
    free(m->slots);
    m->slots = ns;
    m->nslots = n;
    return true;
}

/* 0: added; 1: the key was there already (its id in *old); -1: out of
 * memory; -2: the map is full (WH_KEYMAP_MAX_ENTRIES). */
static int keymap_put(wh_keymap *m, const void *key, size_t len, int32_t id, int32_t *old)
{
    if (m->count >= WH_KEYMAP_MAX_ENTRIES)
        return -2;
    if ((m->count + 1) * 2 > m->nslots && !keymap_grow(m))
        return -1;
    uint64_t h = sp_hash_bytes(key, len);
    size_t mask = m->nslots - 1, i = (size_t)h & mask;
    for (; m->slots[i].id != 0; i = (i + 1) & mask) {
        const wh_slot *s = &m->slots[i];
        if (s->hash == h && s->len == len && memcmp(m->keys.data + s->off, key, len) == 0) {
            *old = s->id;
            return 1;
        }
    }
    if (m->keys.len > UINT32_MAX - len)
        return -2;
    uint32_t off = (uint32_t)m->keys.len;
    sp_buf_append(&m->keys, key, len);
    if (m->keys.broken)
        return -1;
    m->slots[i] = (wh_slot){.hash = h, .off = off, .len = (uint32_t)len, .id = id};
    m->count++;
    return 0;
}

/* ---- opening ------------------------------------------------------------- */

static bool starts_with_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Length of "scheme" in "scheme://…", else 0. */
static size_t scheme_len(const char *s)
{
    size_t i = 0;
    if (!isalpha((unsigned char)s[0]))
        return 0;
    while (isalnum((unsigned char)s[i]) || s[i] == '+' || s[i] == '-' || s[i] == '.')
        i++;
    return strncmp(s + i, "://", 3) == 0 ? i : 0;
}

/* A PostgreSQL warehouse: from the URL, or (url NULL) from s's settings. */
static int open_postgres(wh **out, const char *url, const wh_pg_settings *s, sp_error *err)
{
    wh *w = calloc(1, sizeof *w);
    if (!w)
        return sp_fail(err, SP_ERR_NOMEM, "warehouse postgresql: out of memory");
    sp_buf_init(&w->dates.keys, 0);
    sp_buf_init(&w->products.keys, 0);
    int rc = wh_pg_open(w, url, s, err);
    if (rc != SP_OK) {
        free(w->describe);
        free(w);
        return rc;
    }
    *out = w;
    return SP_OK;
}

int wh_open(wh **out, const char *target, sp_error *err)
{
    return wh_open_with(out, target, NULL, err);
}

/* wh_open_with; with create false a missing SQLite file is left missing
 * (*out NULL, SP_OK). */
static int open_target(wh **out, const char *target, const wh_pg_settings *s, bool create,
                       sp_error *err);

int wh_open_with(wh **out, const char *target, const wh_pg_settings *s, sp_error *err)
{
    return open_target(out, target, s, true, err);
}

int wh_open_existing(wh **out, const char *target, const wh_pg_settings *s, sp_error *err)
{
    return open_target(out, target, s, false, err);
}

static int open_target(wh **out, const char *target, const wh_pg_settings *s, bool create,
                       sp_error *err)
{
    *out = NULL;
    const char *path;
    if ((!target || !target[0]) && s &&
        ((s->host && s->host[0]) || (s->fallback_host && s->fallback_host[0]))) {
        return open_postgres(out, NULL, s, err);
    } else if (!target || !target[0]) {
        path = "./warehouse.db";
    } else if (starts_with_ci(target, "postgresql://") || starts_with_ci(target, "postgres://")) {
        /* The URL says where; RDS_* do not apply, a secret's values fill gaps. */
        wh_pg_settings fallback = {0};
        if (s) {
            fallback = *s;
            fallback.host = fallback.port = fallback.dbname = fallback.user = NULL;
            fallback.password = NULL;
        }
        return open_postgres(out, target, &fallback, err);
    } else if (starts_with_ci(target, "sqlite://")) {
        /* SQLAlchemy: sqlite:/// + path, so sqlite:////abs is "/abs". */
        const char *rest = target + strlen("sqlite://");
        if (rest[0] != '/' || rest[1] == '\0')
            return sp_fail(err, SP_ERR_USAGE,
                           "DATABASE_URL '%s' names no SQLite file: write "
                           "sqlite:///relative/wh.db or sqlite:////absolute/wh.db",
                           target);
        path = rest + 1;
    } else if (scheme_len(target) > 0) {
        size_t sl = scheme_len(target);
        return sp_fail(err, SP_ERR_USAGE,
                       "DATABASE_URL scheme '%.*s://' is not supported (use postgresql://… "
                       "or sqlite:///path)",
                       (int)(sl > 32 ? 32 : sl), target);
    } else if (ends_with(target, ".db") || ends_with(target, ".sqlite") ||
               ends_with(target, ".sqlite3")) {
        path = target;
    } else {
        return sp_fail(err, SP_ERR_USAGE,
                       "DATABASE_URL '%s' is neither postgresql://…, sqlite:///path nor a "
                       "file path ending in .db or .sqlite",
                       target);
    }

    if (!create && access(path, F_OK) != 0)
        return SP_OK;
    wh *w = calloc(1, sizeof *w);
    size_t dl = strlen("sqlite:") + strlen(path) + 1;
    if (!w || !(w->describe = malloc(dl))) {
        free(w);
        return sp_fail(err, SP_ERR_NOMEM, "warehouse sqlite:%s: out of memory", path);
    }
    snprintf(w->describe, dl, "sqlite:%s", path);
    sp_buf_init(&w->dates.keys, 0);
    sp_buf_init(&w->products.keys, 0);
    int rc = wh_sqlite_open(w, path, err);
    if (rc != SP_OK) {
        free(w->describe);
        free(w);
        return rc;
    }
    *out = w;
    return SP_OK;
}

static void free_files(wh *w)
{
    for (size_t i = 0; i < w->nfiles; i++)
        free((char *)w->files[i].name), free((char *)w->files[i].sha256);
    free(w->files);
    w->files = NULL;
    w->nfiles = w->files_cap = 0;
    w->caller_files = NULL;
    w->caller_nfiles = 0;
}

static void end_load(wh *w)
{
    w->state = WH_IDLE;
    w->facts_started = false;
    keymap_free(&w->dates);
    keymap_free(&w->products);
    free(w->resolved);
    w->resolved = NULL;
    w->resolved_cap = 0;
    free_files(w);
}

void wh_close(wh *w)
{
    if (!w)
        return;
    if (w->state == WH_LOADING)
        wh_load_rollback(w);
    end_load(w);
    if (w->ops && w->ops->close)
        w->ops->close(w);
    free(w->describe);
    free(w);
}

const char *wh_describe(const wh *w)
{
    return w->describe;
}

/* ---- schema, check, counts --------------------------------------------- */

static int not_while_loading(wh *w, const char *what, sp_error *err)
{
    if (w->state == WH_LOADING)
        return sp_fail(err, SP_ERR_INTERNAL, "warehouse %s: %s while a load is open", w->describe,
                       what);
    return SP_OK;
}

int wh_create_schema(wh *w, sp_error *err)
{
    SP_TRY(not_while_loading(w, "create-tables", err));
    SP_TRY(sp_cancel_check(err, "creating the tables"));
    return w->ops->create_schema(w, err);
}

int wh_check(wh *w, sp_error *err)
{
    SP_TRY(not_while_loading(w, "check", err));
    return w->ops->check(w, err);
}

int wh_table_rows(wh *w, wh_table t, int64_t *rows, sp_error *err)
{
    *rows = 0;
    if ((unsigned)t >= WH_NTABLES)
        return sp_fail(err, SP_ERR_INTERNAL, "warehouse %s: no table number %d", w->describe,
                       (int)t);
    return w->ops->table_rows(w, t, rows, err);
}

/* ---- the load ------------------------------------------------------------ */

int wh_file_find(const wh *w, const char *p, size_t n)
{
    for (size_t i = 0; i < w->nfiles; i++)
        if (strlen(w->files[i].name) == n && memcmp(w->files[i].name, p, n) == 0)
            return (int)i;
    return -1;
}

/* Append a file (name copied); its index, or -1 out of memory. */
static int add_file(wh *w, const char *name, size_t n, const wh_file *from)
{
    if (w->nfiles == w->files_cap) {
        size_t cap = w->files_cap ? w->files_cap * 2 : 8;
        wh_file *f = realloc(w->files, cap * sizeof *f);
        if (!f)
            return -1;
        w->files = f;
        w->files_cap = cap;
    }
    wh_file *f = &w->files[w->nfiles];
    *f = from ? *from : (wh_file){.bytes = -1, .rows = -1};
    f->name = strndup(name, n);
    f->sha256 = from && from->sha256 ? strdup(from->sha256) : NULL;
    f->action = WH_FILE_NEW;
    f->loaded_by[0] = '\0';
    f->facts = 0;
    if (!f->name || (from && from->sha256 && !f->sha256)) {
        free((char *)f->name), free((char *)f->sha256);
        return -1;
    }
    return (int)w->nfiles++;
}

int wh_load_begin(wh *w, sp_error *err)
{
    wh_load_opts o = {.mode = WH_MODE_FULL};
    return wh_load_begin_with(w, &o, err);
}

int wh_load_begin_with(wh *w, const wh_load_opts *o, sp_error *err)
{
    if (w->state == WH_LOADING)
        return sp_fail(err, SP_ERR_INTERNAL, "warehouse %s: a load is already open",
                       w->describe);
    end_load(w);
    memset(w->rows, 0, sizeof w->rows);
    w->conflicts = 0;
    w->mode = o->mode;
    w->force = o->force;
    snprintf(w->run_id, sizeof w->run_id, "%s", o->run_id ? o->run_id : "");
    snprintf(w->fact_run_id, sizeof w->fact_run_id, "%s", o->fact_run_id ? o->fact_run_id : "");
    snprintf(w->ds, sizeof w->ds, "%s", o->ds ? o->ds : "");
    for (size_t i = 0; i < o->nfiles; i++) {
        if (wh_file_find(w, o->files[i].name, strlen(o->files[i].name)) >= 0)
            continue; /* a name twice: one file */
        if (add_file(w, o->files[i].name, strlen(o->files[i].name), &o->files[i]) < 0) {
            free_files(w);
            return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", w->describe);
        }
    }
    w->caller_files = o->files;
    w->caller_nfiles = o->nfiles;
    int rc = sp_cancel_check(err, "starting the load");
    if (rc == SP_OK)
        rc = w->ops->begin(w, err);
    if (rc != SP_OK) {
        free_files(w);
        return rc;
    }
    for (size_t i = 0; i < o->nfiles; i++) {
        int k = wh_file_find(w, o->files[i].name, strlen(o->files[i].name));
        o->files[i].action = w->files[k].action;
        memcpy(o->files[i].loaded_by, w->files[k].loaded_by, sizeof o->files[i].loaded_by);
        o->files[i].facts = 0;
    }
    w->state = WH_LOADING;
    return SP_OK;
}

int64_t wh_load_category_conflicts(const wh *w)
{
    return w->conflicts;
}

void wh_load_rollback(wh *w)
{
    if (w->state == WH_LOADING)
        w->ops->rollback(w);
    end_load(w);
}

int wh_load_commit(wh *w, sp_error *err)
{
    if (w->state != WH_LOADING)
        return sp_fail(err, SP_ERR_INTERNAL,
                       "warehouse %s: commit without an open load (not begun, or rolled back "
                       "after an error)",
                       w->describe);
    int rc = sp_cancel_check(err, "before COMMIT");
    if (rc == SP_OK)
        rc = w->ops->commit(w, err);
    if (rc != SP_OK)
        w->ops->rollback(w);
    for (size_t i = 0; rc == SP_OK && i < w->caller_nfiles; i++) {
        wh_file *c = &w->caller_files[i];
        c->facts = w->files[wh_file_find(w, c->name, strlen(c->name))].facts;
    }
    end_load(w);
    return rc;
}

/* Roll the load back after a failure described in err; returns its code. */
static int fail_load(wh *w, sp_error *err)
{
    wh_load_rollback(w);
    return err->code;
}

static const char *type_name(sp_coltype t)
{
    switch (t) {
    case SP_COL_INT32: return "INT32";
    case SP_COL_INT64: return "INT64";
    case SP_COL_DATE: return "DATE";
    case SP_COL_DECIMAL: return "DECIMAL";
    case SP_COL_TEXT: return "TEXT";
    }
    return "(unknown type)";
}

static bool kind_accepts(wh_kind k, const sp_column *c)
{
    switch (k) {
    case WH_K_INT: return c->type == SP_COL_INT32 || c->type == SP_COL_INT64;
    case WH_K_DATE: return c->type == SP_COL_DATE;
    case WH_K_TEXT: return c->type == SP_COL_TEXT;
    case WH_K_DECIMAL:
        return (c->type == SP_COL_DECIMAL && c->scale >= 0 && c->scale <= 18) ||
               c->type == SP_COL_INT32 || c->type == SP_COL_INT64;
    }
    return false;
}

static const char *kind_name(wh_kind k)
{
    switch (k) {
    case WH_K_INT: return "an integer (INT32 or INT64)";
    case WH_K_DATE: return "DATE";
    case WH_K_TEXT: return "TEXT";
    case WH_K_DECIMAL: return "DECIMAL with a scale of 0 to 18";
    }
    return "?";
}

/* Fill rows->col from the batch by name; check types and text offsets. */
static int match_columns(wh *w, wh_table t, const sp_batch *b, wh_rows *rows, sp_error *err)
{
    size_t ncols;
    const wh_coldef *defs = wh_columns(t, &ncols);
    for (size_t k = 0; k < ncols; k++) {
        const sp_column *found = NULL;
        for (size_t j = 0; j < b->ncols && !found; j++)
            if (b->cols[j].name && strcmp(b->cols[j].name, defs[k].name) == 0)
                found = &b->cols[j];
        if (!found && !defs[k].optional)
            return sp_fail(err, SP_ERR_DATA, "warehouse %s: %s batch has no column '%s'",
                           w->describe, wh_table_name(t), defs[k].name);
        if (found && !kind_accepts(defs[k].kind, found))
            return sp_fail(err, SP_ERR_DATA,
                           "warehouse %s: %s column '%s' is %s (scale %d), expected %s",
                           w->describe, wh_table_name(t), defs[k].name, type_name(found->type),
                           found->scale, kind_name(defs[k].kind));
        if (found && b->nrows > 0 &&
            ((found->type == SP_COL_TEXT && (!found->offsets || !found->bytes)) ||
             (found->type != SP_COL_TEXT && !found->values)))
            return sp_fail(err, SP_ERR_INTERNAL, "warehouse %s: %s column '%s' has no values",
                           w->describe, wh_table_name(t), defs[k].name);
        if (found && found->type == SP_COL_TEXT) {
            for (size_t i = 0; i < b->nrows; i++)
                if (found->offsets[i + 1] < found->offsets[i])
                    return sp_fail(err, SP_ERR_INTERNAL,
                                   "warehouse %s: %s column '%s': text offsets go backwards at "
                                   "row %zu of the batch",
                                   w->describe, wh_table_name(t), defs[k].name, i + 1);
        }
        rows->col[k] = found;
    }
    return SP_OK;
}

/* A natural key quoted for a message: control bytes escaped, cut at 64. */
static const char *quote_key(const char *p, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 5 < outsz; i++) {
        unsigned char c = (unsigned char)p[i];
        if (i == 64) {
            o += (size_t)snprintf(out + o, outsz - o, "…");
            break;
        }
        if (c < 0x20 || c == 0x7f || c == '\'')
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02x", c);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
    return out;
}

static int keymap_error(wh *w, int r, const char *table, int64_t row, const char *col,
                        sp_error *err)
{
    if (r == -1)
        return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: %s row %" PRId64 ": out of memory for "
                       "the %s map", w->describe, table, row, col);
    return sp_fail(err, SP_ERR_LIMIT, "warehouse %s: %s row %" PRId64 ": more than %d distinct "
                   "%s values in one load", w->describe, table, row, WH_KEYMAP_MAX_ENTRIES, col);
}

/* Before a dimension batch goes to the backend: no NULL natural key, no
 * product_id over the cap. */
static int check_dims(wh *w, wh_table t, const wh_rows *rows, sp_error *err)
{
    const char *table = wh_table_name(t);
    const sp_column *c = rows->col[t == WH_DIM_DATE ? WH_DD_ORDER_DATE : WH_DP_PRODUCT_ID];
    for (size_t i = 0; i < rows->n; i++) {
        int64_t rowno = rows->first + (int64_t)i;
        if (wh_is_null(c, i))
            return sp_fail(err, SP_ERR_DATA, "warehouse %s: %s row %" PRId64 ": %s is NULL",
                           w->describe, table, rowno, c->name);
        size_t len;
        if (t == WH_DIM_PRODUCT && (wh_text_at(c, i, &len), len > WH_KEY_MAX_BYTES))
            return sp_fail(err, SP_ERR_LIMIT, "warehouse %s: %s row %" PRId64
                           ": product_id is longer than %d bytes", w->describe, table,
                           rowno, WH_KEY_MAX_BYTES);
    }
    return SP_OK;
}

/* After the backend upserted a dimension batch: remember each natural
 * key's surrogate key (rows->keys) for the facts. A natural key twice in
 * one load is an error. */
static int register_dims(wh *w, wh_table t, const wh_rows *rows, sp_error *err)
{
    const char *table = wh_table_name(t);
    for (size_t i = 0; i < rows->n; i++) {
        int64_t rowno = rows->first + (int64_t)i;
        int32_t id = rows->keys[i], old = 0;
        int r;
        if (id <= 0)
            return sp_fail(err, SP_ERR_INTERNAL, "warehouse %s: %s row %" PRId64
                           ": no surrogate key came back", w->describe, table, rowno);
        if (t == WH_DIM_DATE) {
            const sp_column *c = rows->col[WH_DD_ORDER_DATE];
            int32_t day = ((const int32_t *)c->values)[i];
            r = keymap_put(&w->dates, &day, sizeof day, id, &old);
            if (r == 1) {
                char d[16];
                sp_date_format(day, d);
                return sp_fail(err, SP_ERR_DATA, "warehouse %s: %s row %" PRId64
                               ": order_date %s appears twice in the load", w->describe,
                               table, rowno, d);
            }
            if (r < 0)
                return keymap_error(w, r, table, rowno, "order_date", err);
        } else {
            size_t len;
            const char *p = wh_text_at(rows->col[WH_DP_PRODUCT_ID], i, &len);
            r = keymap_put(&w->products, p, len, id, &old);
            if (r == 1) {
                char q[300];
                return sp_fail(err, SP_ERR_DATA, "warehouse %s: %s row %" PRId64
                               ": product_id '%s' appears twice in the load", w->describe,
                               table, rowno, quote_key(p, len, q, sizeof q));
            }
            if (r < 0)
                return keymap_error(w, r, table, rowno, "product_id", err);
        }
    }
    return SP_OK;
}

static int resolve_facts(wh *w, wh_rows *rows, sp_error *err)
{
    if (rows->n > w->resolved_cap) {
        size_t cap = w->resolved_cap ? w->resolved_cap : 1024;
        while (cap < rows->n)
            cap *= 2;
        int32_t *p = malloc(cap * 2 * sizeof *p);
        if (!p)
            return sp_fail(err, SP_ERR_NOMEM, "warehouse %s: fact_sales: out of memory for a "
                           "batch of %zu rows", w->describe, rows->n);
        free(w->resolved);
        w->resolved = p;
        w->resolved_cap = cap;
    }
    int32_t *date_id = w->resolved, *product_sk = w->resolved + w->resolved_cap;
    const sp_column *dc = rows->col[WH_FS_ORDER_DATE], *pc = rows->col[WH_FS_PRODUCT_ID];
    for (size_t i = 0; i < rows->n; i++) {
        int64_t rowno = rows->first + (int64_t)i;
        if (wh_is_null(dc, i) || wh_is_null(pc, i))
            return sp_fail(err, SP_ERR_DATA, "warehouse %s: fact_sales row %" PRId64
                           ": %s is NULL", w->describe, rowno,
                           wh_is_null(dc, i) ? "order_date" : "product_id");
        int32_t day = ((const int32_t *)dc->values)[i];
        date_id[i] = keymap_get(&w->dates, &day, sizeof day);
        if (date_id[i] == 0) {
            char d[16];
            sp_date_format(day, d);
            return sp_fail(err, SP_ERR_DATA, "warehouse %s: fact_sales row %" PRId64
                           ": order_date %s is not in dim_date", w->describe, rowno, d);
        }
        size_t len;
        const char *p = wh_text_at(pc, i, &len);
        product_sk[i] = keymap_get(&w->products, p, len);
        if (product_sk[i] == 0) {
            char q[300];
            return sp_fail(err, SP_ERR_DATA, "warehouse %s: fact_sales row %" PRId64
                           ": product_id '%s' is not in dim_product", w->describe, rowno,
                           quote_key(p, len, q, sizeof q));
        }
    }
    rows->date_id = date_id;
    rows->product_sk = product_sk;
    return SP_OK;
}

/* The file of fact row i: its index in w->files, added in a full load when
 * new; -1 with err filled when it cannot be. A missing or NULL source_file
 * is the file "". */
static int file_of_row(wh *w, const sp_column *sf, size_t i, int64_t rowno, sp_error *err)
{
    const char *p = "";
    size_t len = 0;
    if (sf && !wh_is_null(sf, i))
        p = wh_text_at(sf, i, &len);
    int k = wh_file_find(w, p, len);
    if (k >= 0)
        return k;
    char q[300];
    if (w->mode == WH_MODE_INCREMENTAL) {
        sp_fail(err, SP_ERR_DATA, "warehouse %s: fact_sales row %" PRId64 ": source_file '%s' "
                "is not one of the run's inputs (an incremental load goes file by file)",
                w->describe, rowno, quote_key(p, len, q, sizeof q));
        return -1;
    }
    if ((k = add_file(w, p, len, NULL)) < 0)
        sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", w->describe);
    return k;
}

/* Hand a resolved fact batch to the backend one input file at a time
 * (maximal runs of equal source_file), dropping the rows of skipped files. */
static int insert_facts(wh *w, wh_rows *all, sp_error *err)
{
    const sp_column *sf = all->col[WH_FS_SOURCE_FILE];
    for (size_t i = 0; i < all->n;) {
        int k = file_of_row(w, sf, i, w->rows[WH_FACT_SALES] + 1, err);
        if (k < 0)
            return err->code;
        size_t j = i + 1;
        if (sf) {
            size_t len, len2;
            const char *a = wh_is_null(sf, i) ? "" : wh_text_at(sf, i, &len);
            if (wh_is_null(sf, i))
                len = 0;
            for (; j < all->n; j++) {
                const char *b2 = wh_is_null(sf, j) ? "" : wh_text_at(sf, j, &len2);
                if (wh_is_null(sf, j))
                    len2 = 0;
                if (len2 != len || memcmp(a, b2, len) != 0)
                    break;
            }
        } else {
            j = all->n;
        }
        if (w->files[k].action != WH_FILE_SAME) {
            wh_rows part = *all;
            part.base = i;
            part.n = j - i;
            part.first = w->rows[WH_FACT_SALES] + 1;
            part.file = k;
            SP_TRY(w->ops->insert(w, &part, err));
            w->rows[WH_FACT_SALES] += (int64_t)part.n;
            w->files[k].facts += (int64_t)part.n;
        }
        i = j;
    }
    return SP_OK;
}

int wh_load_batch(wh *w, wh_table t, const sp_batch *b, sp_error *err)
{
    if (w->state != WH_LOADING)
        return sp_fail(err, SP_ERR_INTERNAL,
                       "warehouse %s: %s batch without an open load (not begun, or rolled "
                       "back after an error)",
                       w->describe, wh_table_name(t));
    if (sp_cancel_check(err, NULL) != SP_OK) /* between batches: at most one row group late */
        return fail_load(w, err);
    if ((unsigned)t >= WH_NTABLES) {
        sp_fail(err, SP_ERR_INTERNAL, "warehouse %s: no table number %d", w->describe, (int)t);
        return fail_load(w, err);
    }
    if (t != WH_FACT_SALES && w->facts_started) {
        sp_fail(err, SP_ERR_INTERNAL,
                "warehouse %s: a %s batch after fact_sales batches (dimensions load first)",
                w->describe, wh_table_name(t));
        return fail_load(w, err);
    }
    wh_rows rows = {.table = t, .n = b->nrows, .first = w->rows[t] + 1, .file = -1};
    if (match_columns(w, t, b, &rows, err) != SP_OK)
        return fail_load(w, err);
    if (b->nrows == 0)
        return SP_OK;
    if (t != WH_FACT_SALES && (int64_t)b->nrows > INT32_MAX - w->rows[t]) {
        sp_fail(err, SP_ERR_LIMIT, "warehouse %s: %s: more than %d rows", w->describe,
                wh_table_name(t), INT32_MAX);
        return fail_load(w, err);
    }
    if (t == WH_FACT_SALES) {
        w->facts_started = true;
        if (resolve_facts(w, &rows, err) != SP_OK || insert_facts(w, &rows, err) != SP_OK)
            return fail_load(w, err);
        return SP_OK;
    }
    int32_t *keys = malloc(b->nrows * sizeof *keys);
    if (!keys) {
        sp_fail(err, SP_ERR_NOMEM, "warehouse %s: out of memory", w->describe);
        return fail_load(w, err);
    }
    rows.keys = keys;
    int rc = check_dims(w, t, &rows, err);
    if (rc == SP_OK)
        rc = w->ops->insert(w, &rows, err);
    if (rc == SP_OK)
        rc = register_dims(w, t, &rows, err);
    free(keys);
    if (rc != SP_OK)
        return fail_load(w, err);
    w->rows[t] += (int64_t)b->nrows;
    return SP_OK;
}

/* ---- the load record and quality checks ---------------------------------- */

int wh_file_registry(wh *w, wh_registry_fn fn, void *arg, bool *found, sp_error *err)
{
    *found = false;
    SP_TRY(not_while_loading(w, "reading etl_file", err));
    return w->ops->registry(w, fn, arg, found, err);
}

int wh_last_load(wh *w, wh_load_info *out, sp_error *err)
{
    memset(out, 0, sizeof *out);
    SP_TRY(not_while_loading(w, "reading etl_load", err));
    return w->ops->last_load(w, out, err);
}

static int need_open_load(wh *w, const char *what, sp_error *err)
{
    if (w->state != WH_LOADING)
        return sp_fail(err, SP_ERR_INTERNAL,
                       "warehouse %s: %s without an open load (not begun, or rolled back after "
                       "an error)",
                       w->describe, what);
    return SP_OK;
}

int wh_load_record(wh *w, const char *run_id, const char *ds, int64_t rows_kept, sp_error *err)
{
    SP_TRY(need_open_load(w, "recording the load in etl_load", err));
    if (w->ops->record(w, run_id, ds, rows_kept, err) != SP_OK)
        return fail_load(w, err);
    return SP_OK;
}

int wh_load_query(wh *w, const char *sql, size_t max_rows, wh_row_fn fn, void *arg,
                  int64_t *nrows, sp_error *err)
{
    *nrows = 0;
    SP_TRY(need_open_load(w, "a quality check", err));
    if (w->ops->query(w, sql, max_rows, fn, arg, nrows, err) != SP_OK)
        return fail_load(w, err);
    return SP_OK;
}
