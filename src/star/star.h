/* star.h — the star schema's dimensions and the run's counts (SPEC §5–§6).
 * Each transform worker fills one star_dims and one star_counts for its
 * file; the runner merges them in file-name order, so "a product seen with
 * two categories keeps its first (files in name order, then line order)"
 * holds however the files were scheduled. Dimensions are the only state
 * that grows with the input: distinct dates and distinct products (capped).
 * Knows nothing of storage formats.
 *
 * Ownership: *_new creates, *_free frees. Views returned by the list
 * functions point into the star_dims and stay valid until it is changed or
 * freed. */
#ifndef SP_STAR_H
#define SP_STAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../rules/rules.h"
#include "../util/buf.h"
#include "../util/error.h"

/* ---- counts ---------------------------------------------------------- */

typedef struct star_counts {
    int64_t rows_in;                   /* data records read (not header, not blank lines) */
    int64_t rejected[RULES_NREASONS];  /* [RULES_KEPT] = rows kept */
    int64_t quantity;                  /* sum over kept rows */
    __int128 sales, profit;            /* sums over kept rows, scale 4 */
    int64_t rounded_sales, rounded_profit; /* values with > 4 fractional digits */
} star_counts;

static inline void star_counts_kept(star_counts *c, const rules_row *r)
{
    c->rows_in++;
    c->rejected[RULES_KEPT]++;
    c->quantity += r->quantity;
    c->sales += r->sales;
    c->profit += r->profit;
    c->rounded_sales += r->sales_rounded;
    c->rounded_profit += r->profit_rounded;
}

static inline void star_counts_rejected(star_counts *c, rules_reason why)
{
    c->rows_in++;
    c->rejected[why]++;
}

void star_counts_merge(star_counts *into, const star_counts *from);

/* Exact decimal text of a scale-4 sum ("-12.3400"); out needs 48 bytes. */
int star_format_sum(__int128 v, char *out);

/* ---- dimensions ------------------------------------------------------- */

typedef struct star_dims star_dims;

int star_dims_new(star_dims **out, sp_error *err);
void star_dims_free(star_dims *d); /* NULL is allowed */
void star_dims_clear(star_dims *d);

/* Record a kept row's order date and product. A product already seen with
 * another category keeps its first and is marked conflicting.
 * SP_ERR_LIMIT beyond the caps (STAR_MAX_PRODUCTS, STAR_MAX_KEY_BYTES). */
#define STAR_MAX_PRODUCTS ((size_t)1 << 24)
#define STAR_MAX_KEY_BYTES ((size_t)1 << 30)
int star_dims_add(star_dims *d, int32_t order_date, const char *product_id, size_t pid_len,
                  const char *category, size_t cat_len, sp_error *err);

/* Fold `later` (the dims of a file that sorts after every file already in
 * `into`) into `into`. */
int star_dims_merge(star_dims *into, const star_dims *later, sp_error *err);

size_t star_dims_ndates(const star_dims *d);
size_t star_dims_nproducts(const star_dims *d);
/* Products seen with more than one category. */
int64_t star_dims_conflicts(const star_dims *d);

/* The distinct order dates, ascending (days since 1970-01-01). */
int star_dims_dates(star_dims *d, const int32_t **dates, sp_error *err);

/* The products sorted by product_id (bytewise). Entry i: id and category. */
typedef struct star_product {
    const char *id, *category;
    uint32_t id_len, cat_len;
} star_product;
int star_dims_products(star_dims *d, const star_product **products, sp_error *err);

/* One file's dimensions as bytes and back (transform --map writes them as a
 * part, --merge folds them in with star_dims_merge): the dates, and the
 * products in first-seen order with their conflict marks. Decode replaces
 * d's contents; a malformed part is SP_ERR_CORRUPT naming `what`. */
int star_dims_encode(const star_dims *d, sp_buf *b, sp_error *err);
int star_dims_decode(star_dims *d, const uint8_t *p, size_t n, const char *what, sp_error *err);

#endif
