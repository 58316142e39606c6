/* test_star.c — dimensions and counts: first category wins across files
 * merged in name order, conflicts counted once per product, sorted views,
 * exact sums. */
#include <stdlib.h>
#include <string.h>

#include "../../src/star/star.h"
#include "../test.h"

#define ADD(d, day, id, cat) \
    CHECK(star_dims_add(d, day, id, strlen(id), cat, strlen(cat), &err) == SP_OK)

TEST(test_star_first_category_wins_in_file_order)
{
    sp_error err;
    star_dims *a, *b, *all;
    REQUIRE(star_dims_new(&a, &err) == SP_OK);
    REQUIRE(star_dims_new(&b, &err) == SP_OK);
    REQUIRE(star_dims_new(&all, &err) == SP_OK);
    ADD(a, 100, "P2", "Tech");
    ADD(a, 100, "P1", "Furniture");
    ADD(a, 101, "P1", "Office");   /* conflict inside file a */
    ADD(b, 99, "P3", "Tech");
    ADD(b, 101, "P2", "Office");   /* conflicts with a's first */
    ADD(b, 102, "P2", "Office");
    CHECK_INT(star_dims_conflicts(a), 1);
    REQUIRE(star_dims_merge(all, a, &err) == SP_OK);
    REQUIRE(star_dims_merge(all, b, &err) == SP_OK);
    CHECK_INT(star_dims_nproducts(all), 3);
    CHECK_INT(star_dims_ndates(all), 4);
    CHECK_INT(star_dims_conflicts(all), 2); /* P1 and P2, each once */
    const star_product *p;
    REQUIRE(star_dims_products(all, &p, &err) == SP_OK);
    const char *want[3][2] = {{"P1", "Furniture"}, {"P2", "Tech"}, {"P3", "Tech"}};
    for (int i = 0; i < 3; i++) {
        CHECK(p[i].id_len == strlen(want[i][0]) && memcmp(p[i].id, want[i][0], p[i].id_len) == 0);
        CHECK(p[i].cat_len == strlen(want[i][1]) &&
              memcmp(p[i].category, want[i][1], p[i].cat_len) == 0);
    }
    const int32_t *d;
    REQUIRE(star_dims_dates(all, &d, &err) == SP_OK);
    CHECK(d[0] == 99 && d[1] == 100 && d[2] == 101 && d[3] == 102);
    star_dims_clear(a);
    CHECK_INT(star_dims_nproducts(a), 0);
    CHECK_INT(star_dims_ndates(a), 0);
    star_dims_free(a);
    star_dims_free(b);
    star_dims_free(all);
}

/* A mapped transform's dimensions part: encoding a file's dims and merging
 * the decoded copy gives what merging the original gives (first category
 * and conflict marks kept); a damaged part is refused, naming it. */
TEST(test_star_dims_part_round_trip)
{
    sp_error err;
    star_dims *a, *b, *back, *direct, *via;
    REQUIRE(star_dims_new(&a, &err) == SP_OK && star_dims_new(&b, &err) == SP_OK);
    REQUIRE(star_dims_new(&back, &err) == SP_OK && star_dims_new(&direct, &err) == SP_OK);
    REQUIRE(star_dims_new(&via, &err) == SP_OK);
    ADD(a, 100, "P2", "Tech");
    ADD(a, 100, "P1", "Furniture");
    ADD(a, 101, "P1", "Office"); /* a conflict inside the part */
    ADD(b, 99, "P1", "Tech");
    ADD(b, 98, "P4", "Office");
    sp_buf buf;
    sp_buf_init(&buf, 0);
    REQUIRE(star_dims_encode(a, &buf, &err) == SP_OK);
    REQUIRE(star_dims_decode(back, buf.data, buf.len, "part", &err) == SP_OK);
    CHECK_INT(star_dims_nproducts(back), 2);
    CHECK_INT(star_dims_ndates(back), 2);
    CHECK_INT(star_dims_conflicts(back), 1);
    /* b first, then a (directly or through its part): the same result */
    REQUIRE(star_dims_merge(direct, b, &err) == SP_OK && star_dims_merge(direct, a, &err) == SP_OK);
    REQUIRE(star_dims_merge(via, b, &err) == SP_OK && star_dims_merge(via, back, &err) == SP_OK);
    CHECK_INT(star_dims_conflicts(via), star_dims_conflicts(direct));
    const star_product *p, *q;
    REQUIRE(star_dims_products(direct, &p, &err) == SP_OK);
    REQUIRE(star_dims_products(via, &q, &err) == SP_OK);
    CHECK_INT(star_dims_nproducts(via), 3);
    for (int i = 0; i < 3; i++)
        CHECK(p[i].cat_len == q[i].cat_len && memcmp(p[i].category, q[i].category, p[i].cat_len) == 0);
    /* damaged parts: truncated, a trailing byte, another magic */
    CHECK_INT(star_dims_decode(back, buf.data, buf.len - 1, "part X", &err), SP_ERR_CORRUPT);
    CHECK(strstr(err.msg, "part X") == err.msg);
    uint8_t *more = malloc(buf.len + 1);
    REQUIRE(more != NULL);
    memcpy(more, buf.data, buf.len);
    more[buf.len] = 0;
    CHECK_INT(star_dims_decode(back, more, buf.len + 1, "part", &err), SP_ERR_CORRUPT);
    more[0] = 'X';
    CHECK_INT(star_dims_decode(back, more, buf.len, "part", &err), SP_ERR_CORRUPT);
    free(more);
    sp_buf_free(&buf);
    star_dims_free(a);
    star_dims_free(b);
    star_dims_free(back);
    star_dims_free(direct);
    star_dims_free(via);
}

TEST(test_star_many_products_grow)
{
    sp_error err;
    star_dims *d;
    REQUIRE(star_dims_new(&d, &err) == SP_OK);
    char id[32];
    for (int i = 0; i < 50000; i++) {
        int n = snprintf(id, sizeof id, "PRD-%07d", (i * 7919) % 50000);
        CHECK(star_dims_add(d, i % 1500, id, (size_t)n, "C", 1, &err) == SP_OK);
    }
    CHECK_INT(star_dims_nproducts(d), 50000);
    CHECK_INT(star_dims_ndates(d), 1500);
    const star_product *p;
    REQUIRE(star_dims_products(d, &p, &err) == SP_OK);
    int sorted = 1;
    for (int i = 1; i < 50000; i++)
        sorted &= memcmp(p[i - 1].id, p[i].id, 11) < 0;
    CHECK(sorted);
    star_dims_free(d);
}

TEST(test_star_sums_exact)
{
    char out[48];
    star_format_sum(0, out);
    CHECK_STR(out, "0.0000");
    star_format_sum(-1, out);
    CHECK_STR(out, "-0.0001");
    star_format_sum((__int128)123456789 * 10000 + 5, out);
    CHECK_STR(out, "123456789.0005");
    __int128 big = (__int128)999999999999999999LL * 1000; /* beyond int64 */
    star_format_sum(-big, out);
    CHECK_STR(out, "-99999999999999999.9000");
    star_counts a = {0}, b = {0};
    rules_row r = {.quantity = 2, .sales = 1250, .profit = -1, .sales_rounded = true};
    star_counts_kept(&a, &r);
    star_counts_rejected(&b, RULES_SALES);
    star_counts_kept(&b, &r);
    star_counts_merge(&a, &b);
    CHECK_INT(a.rows_in, 3);
    CHECK_INT(a.rejected[RULES_KEPT], 2);
    CHECK_INT(a.rejected[RULES_SALES], 1);
    CHECK_INT(a.quantity, 4);
    CHECK_INT((long long)a.sales, 2500);
    CHECK_INT(a.rounded_sales, 2);
}
