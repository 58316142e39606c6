/* star.c — dimension sets (an open-addressing date set, a product map
 * with keys in one growing arena) and the counts of a run (see star.h).
 * Hot path: star_dims_add runs once per kept row, so it hashes once and
 * allocates only when a new product or date appears. */
#include "star.h"

#include <stdlib.h>
#include <string.h>

#include "../util/buf.h"
#include "../util/hash.h"

typedef struct product_slot {
    uint64_t hash;
    uint32_t id_off, id_len;   /* into keys */
    uint32_t cat_off, cat_len; /* into keys */
    uint32_t order;            /* 1-based insertion order; 0 = empty slot */
    bool conflict;
} product_slot;

struct star_dims {
    /* dates: open addressing on int32, INT32_MIN marks empty */
    int32_t *dates;
    size_t date_cap, ndates;
    int32_t last_date;
    bool have_last;
    /* products */
    product_slot *slots;
    size_t cap, n;
    int64_t conflicts;
    sp_buf keys;
    /* sorted views, rebuilt on demand */
    int32_t *sorted_dates;
    star_product *sorted;
};

#define EMPTY_DATE INT32_MIN

void star_counts_merge(star_counts *into, const star_counts *from)
{
    into->rows_in += from->rows_in;
    for (int i = 0; i < RULES_NREASONS; i++)
        into->rejected[i] += from->rejected[i];
    into->quantity += from->quantity;
    into->sales += from->sales;
    into->profit += from->profit;
    into->rounded_sales += from->rounded_sales;
    into->rounded_profit += from->rounded_profit;
}

int star_format_sum(__int128 v, char *out)
{
    char tmp[48];
    int n = 0;
    bool neg = v < 0;
    unsigned __int128 u = neg ? (unsigned __int128)(-(v + 1)) + 1 : (unsigned __int128)v;
    do {
        tmp[n++] = (char)('0' + (int)(u % 10));
        u /= 10;
    } while (u > 0 || n < 5);
    int k = 0;
    if (neg)
        out[k++] = '-';
    while (n > 4)
        out[k++] = tmp[--n];
    out[k++] = '.';
    while (n > 0)
        out[k++] = tmp[--n];
    out[k] = '\0';
    return k;
}

static inline uint32_t hash_date(int32_t d)
{
    uint32_t x = (uint32_t)d * 0x9E3779B1u;
    return x ^ (x >> 16);
}

int star_dims_new(star_dims **out, sp_error *err)
{
    star_dims *d = calloc(1, sizeof *d);
    if (!d)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (dimensions)");
    sp_buf_init(&d->keys, STAR_MAX_KEY_BYTES);
    *out = d;
    return SP_OK;
}

void star_dims_free(star_dims *d)
{
    if (!d)
        return;
    free(d->dates);
    free(d->slots);
    free(d->sorted_dates);
    free(d->sorted);
    sp_buf_free(&d->keys);
    free(d);
}

void star_dims_clear(star_dims *d)
{
    if (d->dates)
        for (size_t i = 0; i < d->date_cap; i++)
            d->dates[i] = EMPTY_DATE;
    d->ndates = 0;
    d->have_last = false;
    if (d->slots)
        memset(d->slots, 0, d->cap * sizeof *d->slots);
    d->n = 0;
    d->conflicts = 0;
    sp_buf_reset(&d->keys);
    free(d->sorted_dates);
    free(d->sorted);
    d->sorted_dates = NULL;
    d->sorted = NULL;
}

static int date_insert(star_dims *d, int32_t day, sp_error *err)
{
    if (d->ndates * 2 >= d->date_cap) {
        size_t ncap = d->date_cap ? d->date_cap * 2 : 1024;
        int32_t *nd = malloc(ncap * sizeof *nd);
        if (!nd)
            return sp_fail(err, SP_ERR_NOMEM, "out of memory (dim_date)");
        for (size_t i = 0; i < ncap; i++)
            nd[i] = EMPTY_DATE;
        for (size_t i = 0; i < d->date_cap; i++) {
            if (d->dates[i] == EMPTY_DATE)
                continue;
            size_t j = hash_date(d->dates[i]) & (ncap - 1);
            while (nd[j] != EMPTY_DATE)
                j = (j + 1) & (ncap - 1);
            nd[j] = d->dates[i];
        }
        free(d->dates);
        d->dates = nd;
        d->date_cap = ncap;
    }
    size_t j = hash_date(day) & (d->date_cap - 1);
    while (d->dates[j] != EMPTY_DATE) {
        if (d->dates[j] == day)
            return SP_OK;
        j = (j + 1) & (d->date_cap - 1);
    }
    d->dates[j] = day;
    d->ndates++;
    return SP_OK;
}

static int products_grow(star_dims *d, sp_error *err)
{
    size_t ncap = d->cap ? d->cap * 2 : 4096;
    product_slot *ns = calloc(ncap, sizeof *ns);
    if (!ns)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (dim_product)");
    for (size_t i = 0; i < d->cap; i++) {
        if (!d->slots[i].order)
            continue;
        size_t j = d->slots[i].hash & (ncap - 1);
        while (ns[j].order)
            j = (j + 1) & (ncap - 1);
        ns[j] = d->slots[i];
    }
    free(d->slots);
    d->slots = ns;
    d->cap = ncap;
    return SP_OK;
}

/* Find or insert; *slot receives the entry, *fresh whether it is new. */
static int product_upsert(star_dims *d, const char *id, size_t id_len, const char *cat,
                          size_t cat_len, product_slot **slot, bool *fresh, sp_error *err)
{
    if ((d->n + 1) * 4 >= d->cap * 3)
        SP_TRY(products_grow(d, err));
    uint64_t h = sp_hash_bytes(id, id_len);
    size_t j = h & (d->cap - 1);
    for (;;) {
        product_slot *s = &d->slots[j];
        if (!s->order)
            break;
        if (s->hash == h && s->id_len == id_len &&
            memcmp(d->keys.data + s->id_off, id, id_len) == 0) {
            *slot = s;
            *fresh = false;
            return SP_OK;
        }
        j = (j + 1) & (d->cap - 1);
    }
    if (d->n >= STAR_MAX_PRODUCTS)
        return sp_fail(err, SP_ERR_LIMIT, "more than %zu distinct products", STAR_MAX_PRODUCTS);
    size_t off = d->keys.len;
    sp_buf_append(&d->keys, id, id_len);
    sp_buf_append(&d->keys, cat, cat_len);
    if (d->keys.broken || d->keys.len > UINT32_MAX)
        return sp_fail(err, SP_ERR_LIMIT, "product ids and categories exceed %zu bytes",
                       (size_t)STAR_MAX_KEY_BYTES);
    product_slot *s = &d->slots[j];
    s->hash = h;
    s->id_off = (uint32_t)off;
    s->id_len = (uint32_t)id_len;
    s->cat_off = (uint32_t)(off + id_len);
    s->cat_len = (uint32_t)cat_len;
    s->order = (uint32_t)++d->n;
    s->conflict = false;
    *slot = s;
    *fresh = true;
    return SP_OK;
}

static void note_category(star_dims *d, product_slot *s, const char *cat, size_t cat_len,
                          bool conflict_seen)
{
    bool differs = s->cat_len != cat_len || memcmp(d->keys.data + s->cat_off, cat, cat_len) != 0;
    if ((differs || conflict_seen) && !s->conflict) {
        s->conflict = true;
        d->conflicts++;
    }
}

int star_dims_add(star_dims *d, int32_t order_date, const char *product_id, size_t pid_len,
                  const char *category, size_t cat_len, sp_error *err)
{
    if (!d->have_last || d->last_date != order_date) {
        SP_TRY(date_insert(d, order_date, err));
        d->last_date = order_date;
        d->have_last = true;
    }
    product_slot *s;
    bool fresh;
    SP_TRY(product_upsert(d, product_id, pid_len, category, cat_len, &s, &fresh, err));
    if (!fresh)
        note_category(d, s, category, cat_len, false);
    return SP_OK;
}

int star_dims_merge(star_dims *into, const star_dims *later, sp_error *err)
{
    for (size_t i = 0; i < later->date_cap; i++)
        if (later->dates[i] != EMPTY_DATE)
            SP_TRY(date_insert(into, later->dates[i], err));
    into->have_last = false;
    /* Products in the later file's first-seen order keep "first wins". */
    product_slot **order = NULL;
    if (later->n) {
        order = calloc(later->n, sizeof *order);
        if (!order)
            return sp_fail(err, SP_ERR_NOMEM, "out of memory (merging dim_product)");
        for (size_t i = 0; i < later->cap; i++)
            if (later->slots[i].order)
                order[later->slots[i].order - 1] = &later->slots[i];
    }
    int rc = SP_OK;
    for (size_t i = 0; i < later->n && rc == SP_OK; i++) {
        const product_slot *ls = order[i];
        const char *id = (const char *)later->keys.data + ls->id_off;
        const char *cat = (const char *)later->keys.data + ls->cat_off;
        product_slot *s;
        bool fresh;
        rc = product_upsert(into, id, ls->id_len, cat, ls->cat_len, &s, &fresh, err);
        if (rc != SP_OK)
            break;
        if (fresh) {
            if (ls->conflict) {
                s->conflict = true;
                into->conflicts++;
            }
        } else {
            note_category(into, s, cat, ls->cat_len, ls->conflict);
        }
    }
    free(order);
    return rc;
}

size_t star_dims_ndates(const star_dims *d) { return d->ndates; }
size_t star_dims_nproducts(const star_dims *d) { return d->n; }
int64_t star_dims_conflicts(const star_dims *d) { return d->conflicts; }

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int star_dims_dates(star_dims *d, const int32_t **dates, sp_error *err)
{
    free(d->sorted_dates);
    d->sorted_dates = malloc((d->ndates ? d->ndates : 1) * sizeof *d->sorted_dates);
    if (!d->sorted_dates)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (dim_date)");
    size_t k = 0;
    for (size_t i = 0; i < d->date_cap; i++)
        if (d->dates[i] != EMPTY_DATE)
            d->sorted_dates[k++] = d->dates[i];
    qsort(d->sorted_dates, k, sizeof *d->sorted_dates, cmp_i32);
    *dates = d->sorted_dates;
    return SP_OK;
}

static int cmp_product(const void *a, const void *b)
{
    const star_product *x = a, *y = b;
    size_t n = x->id_len < y->id_len ? x->id_len : y->id_len;
    int c = memcmp(x->id, y->id, n);
    if (c)
        return c;
    return (x->id_len > y->id_len) - (x->id_len < y->id_len);
}

int star_dims_products(star_dims *d, const star_product **products, sp_error *err)
{
    free(d->sorted);
    d->sorted = malloc((d->n ? d->n : 1) * sizeof *d->sorted);
    if (!d->sorted)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (dim_product)");
    size_t k = 0;
    for (size_t i = 0; i < d->cap; i++) {
        const product_slot *s = &d->slots[i];
        if (!s->order)
            continue;
        d->sorted[k].id = (const char *)d->keys.data + s->id_off;
        d->sorted[k].id_len = s->id_len;
        d->sorted[k].category = (const char *)d->keys.data + s->cat_off;
        d->sorted[k].cat_len = s->cat_len;
        k++;
    }
    qsort(d->sorted, k, sizeof *d->sorted, cmp_product);
    *products = d->sorted;
    return SP_OK;
}

/* ---- a file's dimensions as bytes (transform --map's part) -------------------- */

/* "SPDIMS1\n", u32 dates, u32 products, the dates (i32), then each product
 * in first-seen order: u32 id length, u32 category length, u8 conflict, the
 * id, the category. Little-endian. First-seen order and the conflict marks
 * are what star_dims_merge needs to give the one-process result. */
static const char DIMS_MAGIC[8] = {'S', 'P', 'D', 'I', 'M', 'S', '1', '\n'};

static void put_u32(sp_buf *b, uint32_t v)
{
    uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    sp_buf_append(b, x, 4);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

int star_dims_encode(const star_dims *d, sp_buf *b, sp_error *err)
{
    sp_buf_append(b, DIMS_MAGIC, sizeof DIMS_MAGIC);
    put_u32(b, (uint32_t)d->ndates);
    put_u32(b, (uint32_t)d->n);
    for (size_t i = 0; i < d->date_cap; i++)
        if (d->dates[i] != EMPTY_DATE)
            put_u32(b, (uint32_t)d->dates[i]);
    const product_slot **order = calloc(d->n ? d->n : 1, sizeof *order);
    if (!order)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (encoding dimensions)");
    for (size_t i = 0; i < d->cap; i++)
        if (d->slots[i].order)
            order[d->slots[i].order - 1] = &d->slots[i];
    for (size_t i = 0; i < d->n; i++) {
        const product_slot *s = order[i];
        put_u32(b, s->id_len);
        put_u32(b, s->cat_len);
        sp_buf_putc(b, s->conflict ? 1 : 0);
        sp_buf_append(b, d->keys.data + s->id_off, s->id_len);
        sp_buf_append(b, d->keys.data + s->cat_off, s->cat_len);
    }
    free(order);
    if (b->broken)
        return sp_fail(err, SP_ERR_NOMEM, "out of memory (encoding dimensions)");
    return SP_OK;
}

int star_dims_decode(star_dims *d, const uint8_t *p, size_t n, const char *what, sp_error *err)
{
    star_dims_clear(d);
    if (n < 16 || memcmp(p, DIMS_MAGIC, sizeof DIMS_MAGIC) != 0)
        return sp_fail(err, SP_ERR_CORRUPT, "%s: not a salespipe dimensions part", what);
    uint32_t ndates = get_u32(p + 8), nproducts = get_u32(p + 12);
    size_t at = 16;
    if (ndates > (n - at) / 4 || nproducts > STAR_MAX_PRODUCTS)
        return sp_fail(err, SP_ERR_CORRUPT, "%s: %u dates, %u products: more than it holds",
                       what, ndates, nproducts);
    for (uint32_t i = 0; i < ndates; i++, at += 4) {
        int32_t day = (int32_t)get_u32(p + at);
        if (day == EMPTY_DATE)
            return sp_fail(err, SP_ERR_CORRUPT, "%s: date %u is not a date", what, i);
        SP_TRY(date_insert(d, day, err));
        if (d->ndates != i + 1)
            return sp_fail(err, SP_ERR_CORRUPT, "%s: date %u appears twice", what, i);
    }
    for (uint32_t i = 0; i < nproducts; i++) {
        if (n - at < 9)
            return sp_fail(err, SP_ERR_CORRUPT, "%s: truncated at product %u", what, i);
        uint32_t id_len = get_u32(p + at), cat_len = get_u32(p + at + 4);
        bool conflict = p[at + 8] != 0;
        at += 9;
        if (id_len > n - at || cat_len > n - at - id_len)
            return sp_fail(err, SP_ERR_CORRUPT, "%s: truncated at product %u", what, i);
        if (id_len == 0) /* the data contract never keeps an empty product_id */
            return sp_fail(err, SP_ERR_CORRUPT, "%s: product %u has no id", what, i);
        product_slot *s;
        bool fresh;
        SP_TRY(product_upsert(d, (const char *)p + at, id_len, (const char *)p + at + id_len,
                              cat_len, &s, &fresh, err));
        if (!fresh)
            return sp_fail(err, SP_ERR_CORRUPT, "%s: product %u appears twice", what, i);
        if (conflict) {
            s->conflict = true;
            d->conflicts++;
        }
        at += id_len + cat_len;
    }
    if (at != n)
        return sp_fail(err, SP_ERR_CORRUPT, "%s: %zu bytes after the last product", what, n - at);
    return SP_OK;
}
