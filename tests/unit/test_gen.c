/* test_gen.c — the synthetic file generator: same options give the same
 * bytes, the superstore header, exact row counts (checked by a small
 * quote-aware scanner of its own, not the project's CSV reader), dirty
 * summaries that add up, the dirty file shapes, and sane clean numbers.
 * Never calls the rules module: the summary is the oracle for the pipeline. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <dirent.h>

#include "../../src/gen/gen.h"
#include "../../src/util/date.h"
#include "../test.h"

static const char *const SUPERSTORE_HEADER[] = {
    "Row ID", "Order ID", "Order Date", "Ship Date", "Ship Mode", "Customer ID",
    "Customer Name", "Segment", "Country", "City", "State", "Postal Code", "Region",
    "Product ID", "Category", "Sub-Category", "Product Name", "Sales", "Quantity",
    "Discount", "Profit",
};
#define NSTD ((int)(sizeof SUPERSTORE_HEADER / sizeof SUPERSTORE_HEADER[0]))

/* ---- helpers ------------------------------------------------------------ */

static int gen(const char *dir, int64_t rows, uint64_t seed, bool dirty, gen_summary *sum)
{
    gen_options opt = {.out_dir = dir, .rows = rows, .seed = seed, .dirty = dirty};
    sp_error err;
    sp_error_clear(&err);
    int rc = gen_write(&opt, sum, &err);
    if (rc != SP_OK)
        printf("gen_write: %s\n", err.msg);
    return rc;
}

/* File i of a gen() run into dir, whole (see test_read_file); NULL when it
 * cannot be read, which the caller REQUIREs against at its own line. */
static char *read_gen_file(const char *dir, const gen_summary *sum, int i, size_t *len)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, sum->files[i].name);
    *len = 0;
    return test_read_file(path, len);
}

#define MAXF 40
#define FIELD_CAP 512

/* One record's fields, unquoted, cut at FIELD_CAP-1 bytes. */
typedef struct rec {
    char f[MAXF][FIELD_CAP];
    int n;
    bool unterminated;
} rec;

/* A tiny RFC 4180 scanner: a UTF-8 BOM skipped, blank lines skipped,
 * quoted fields with doubled quotes and line ends inside. Returns the
 * position after the record, or NULL at the end of the data. */
static const char *next_record(const char *p, const char *end, rec *r)
{
    while (p < end && (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')))
        p += *p == '\r' ? 2 : 1;
    if (p >= end)
        return NULL;
    r->n = 0;
    r->unterminated = false;
    for (;;) {
        char *out = r->n < MAXF ? r->f[r->n] : r->f[MAXF - 1];
        size_t o = 0;
        if (p < end && *p == '"') {
            p++;
            for (;;) {
                if (p >= end) {
                    r->unterminated = true;
                    break;
                }
                if (*p == '"') {
                    if (p + 1 < end && p[1] == '"') {
                        p++;
                    } else {
                        p++;
                        break;
                    }
                }
                if (o < FIELD_CAP - 1)
                    out[o++] = *p;
                p++;
            }
        }
        while (p < end && *p != ',' && *p != '\n' && !(*p == '\r' && p + 1 < end && p[1] == '\n')) {
            if (o < FIELD_CAP - 1)
                out[o++] = *p;
            p++;
        }
        out[o] = '\0';
        if (r->n < MAXF)
            r->n++;
        if (p >= end)
            return p;
        if (*p == ',') {
            p++;
            continue;
        }
        return p + (*p == '\r' ? 2 : 1);
    }
}

static const char *skip_bom(const char *p, const char *end)
{
    if (end - p >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
        return p + 3;
    return p;
}

static int64_t count_records(const char *buf, size_t len)
{
    static rec r;
    const char *end = buf + len, *p = skip_bom(buf, end);
    int64_t n = -1; /* the header is not a row */
    while ((p = next_record(p, end, &r)) != NULL)
        n++;
    return n;
}

static bool valid_utf8(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        size_t k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        if (k == 9 || (k == 1 && c < 0xC2) || i + k >= n + (k == 0))
            return false;
        for (size_t j = 1; j <= k; j++)
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
        i += k + 1;
    }
    return true;
}

static int col_index(const rec *h, const char *name)
{
    for (int i = 0; i < h->n; i++)
        if (strcmp(h->f[i], name) == 0)
            return i;
    return -1;
}

/* "a/b/yyyy" → a, b, year; false for any other text. */
static bool slash_date(const char *s, int *a, int *b, int *y)
{
    char tail;
    return sscanf(s, "%d/%d/%d%c", a, b, y, &tail) == 3 && *y >= 1000;
}

/* A plain decimal as an integer with 4 fractional digits (no rounding:
 * clean files never have more). */
static bool dec4(const char *s, int64_t *out)
{
    int64_t v = 0;
    int frac = -1;
    bool neg = *s == '-', digits = false;
    if (neg)
        s++;
    for (; *s; s++) {
        if (*s == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (*s < '0' || *s > '9' || frac == 4 || v > 100000000000000LL)
            return false;
        v = v * 10 + (*s - '0');
        digits = true;
        if (frac >= 0)
            frac++;
    }
    for (int i = frac < 0 ? 0 : frac; i < 4; i++)
        v *= 10;
    *out = neg ? -v : v;
    return digits;
}

/* ---- tests -------------------------------------------------------------- */

TEST(test_gen_deterministic)
{
    const char *base = test_tmpdir();
    char a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/a", base);
    snprintf(b, sizeof b, "%s/b", base);
    snprintf(c, sizeof c, "%s/c", base);
    for (int dirty = 0; dirty <= 1; dirty++) {
        REQUIRE(gen(a, 3000, 42, dirty, NULL) == SP_OK);
        REQUIRE(gen(b, 3000, 42, dirty, NULL) == SP_OK);
        REQUIRE(gen(c, 3000, 43, dirty, NULL) == SP_OK);
        static const char *const names[] = {"Central_orders.csv", "East_orders.csv",
                                            "South_orders.csv", "West_orders.csv"};
        for (int i = 0; i < 4; i++) {
            char pa[600], pb[600], pc[600];
            snprintf(pa, sizeof pa, "%s/%s", a, names[i]);
            snprintf(pb, sizeof pb, "%s/%s", b, names[i]);
            snprintf(pc, sizeof pc, "%s/%s", c, names[i]);
            size_t la = 0, lb = 0, lc = 0;
            char *da = test_read_file(pa, &la), *db = test_read_file(pb, &lb), *dc = test_read_file(pc, &lc);
            CHECK(da && db && dc);
            if (da && db && dc) {
                CHECK(la == lb && memcmp(da, db, la) == 0);
                CHECK(la != lc || memcmp(da, dc, la) != 0);
            }
            free(da);
            free(db);
            free(dc);
        }
    }
}

static void check_header_line(const char *line, size_t n)
{
    char expect[1024] = "";
    for (int i = 0; i < NSTD; i++) {
        if (i)
            strcat(expect, ",");
        strcat(expect, SUPERSTORE_HEADER[i]);
    }
    CHECK_INT(n, strlen(expect));
    CHECK(n == strlen(expect) && memcmp(line, expect, n) == 0);
}

static size_t first_line_len(const char *p, size_t len)
{
    size_t n = 0;
    while (n < len && p[n] != '\n' && p[n] != '\r')
        n++;
    return n;
}

TEST(test_gen_header_is_superstore_literal)
{
    const char *dir = test_tmpdir();
    gen_summary sum;
    REQUIRE(gen(dir, 10, 1, false, &sum) == SP_OK);
    CHECK_INT(sum.nfiles, GEN_REGIONS);
    for (int i = 0; i < sum.nfiles; i++) {
        size_t len;
        char *d = read_gen_file(dir, &sum, i, &len);
        REQUIRE(d);
        check_header_line(d, first_line_len(d, len));
        free(d);
    }
}

TEST(test_gen_header_matches_real_superstore)
{
    const char *shared = test_shared_dir();
    if (!shared)
        SKIP("no shared data directory (set SALESPIPE_SHARED to ../shared/data)");
    char real[600];
    snprintf(real, sizeof real, "%s/superstore/West_orders.csv", shared);
    size_t rlen = 0;
    char *r = test_read_file(real, &rlen);
    if (!r)
        SKIP("superstore/West_orders.csv is not in the shared data directory");
    const char *rp = skip_bom(r, r + rlen);
    size_t rn = first_line_len(rp, rlen - (size_t)(rp - r));

    const char *dir = test_tmpdir();
    REQUIRE(gen(dir, 5, 1, false, NULL) == SP_OK);
    char path[600];
    snprintf(path, sizeof path, "%s/West_orders.csv", dir);
    size_t glen = 0;
    char *g = test_read_file(path, &glen);
    REQUIRE(g);
    size_t gn = first_line_len(g, glen);
    CHECK_INT(gn, rn);
    CHECK(gn == rn && memcmp(g, rp, gn) == 0);
    check_header_line(rp, rn); /* our literal list is the real one */
    free(g);
    free(r);
}

TEST(test_gen_row_counts)
{
    static const int64_t sizes[] = {0, 1, 2, 7, 49, 50, 2500};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int dirty = 0; dirty <= 1; dirty++) {
            const char *dir = test_tmpdir();
            gen_summary sum;
            REQUIRE(gen(dir, sizes[s], 5, dirty, &sum) == SP_OK);
            REQUIRE(sum.nfiles == GEN_REGIONS);
            for (int i = 0; i < sum.nfiles; i++) {
                size_t len;
                char *d = read_gen_file(dir, &sum, i, &len);
                REQUIRE(d);
                CHECK_INT(sum.files[i].rows, sizes[s]);
                CHECK_INT(count_records(d, len), sizes[s]);
                CHECK_INT(sum.files[i].bytes, (int64_t)len);
                free(d);
            }
            /* nothing else in the directory: no temporary left behind */
            DIR *dh = opendir(dir);
            REQUIRE(dh);
            int entries = 0;
            struct dirent *e;
            while ((e = readdir(dh)) != NULL)
                entries += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
            closedir(dh);
            CHECK_INT(entries, GEN_REGIONS);
        }
    }
}

TEST(test_gen_summary_adds_up)
{
    static const int64_t sizes[] = {1, 3, 20, 49, 50, 2500, 10000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        for (int dirty = 0; dirty <= 1; dirty++) {
            gen_summary sum;
            REQUIRE(gen(test_tmpdir(), sizes[s], 9, dirty, &sum) == SP_OK);
            for (int i = 0; i < sum.nfiles; i++) {
                int64_t total = 0;
                for (int k = 0; k < RULES_NREASONS; k++) {
                    CHECK(sum.files[i].expect[k] >= 0);
                    total += sum.files[i].expect[k];
                }
                CHECK_INT(total, sizes[s]);
                if (!dirty)
                    CHECK_INT(sum.files[i].expect[RULES_KEPT], sizes[s]);
                /* from 50 rows on, every reason is exercised in every file */
                if (dirty && sizes[s] >= 50)
                    for (int k = 0; k < RULES_NREASONS; k++)
                        CHECK(sum.files[i].expect[k] > 0);
            }
        }
    }
}

TEST(test_gen_dirty_shapes_are_stable)
{
    /* The same per-file pattern of reasons at 50 and at 1999 rows. */
    gen_summary a, b;
    REQUIRE(gen(test_tmpdir(), 50, 3, true, &a) == SP_OK);
    REQUIRE(gen(test_tmpdir(), 1999, 4, true, &b) == SP_OK);
    for (int i = 0; i < GEN_REGIONS; i++)
        for (int k = 1; k < RULES_NREASONS; k++)
            CHECK_INT(a.files[i].expect[k], b.files[i].expect[k]);
}

/* Per file: what the dirty shapes look like. */
typedef struct shape_facts {
    bool bom, all_crlf, any_lf_only, valid_utf8, high_byte;
    bool header_is_superstore, has_extra_column;
    int first_gt12, second_gt12; /* slash dates with that part above 12 */
} shape_facts;

static void facts_of(const char *d, size_t len, shape_facts *sf)
{
    static rec r, h;
    memset(sf, 0, sizeof *sf);
    sf->bom = len >= 3 && memcmp(d, "\xEF\xBB\xBF", 3) == 0;
    size_t lf = 0, crlf = 0;
    for (size_t i = 0; i < len; i++) {
        if (d[i] == '\n') {
            lf++;
            crlf += i > 0 && d[i - 1] == '\r';
        }
        if ((unsigned char)d[i] >= 0x80)
            sf->high_byte = true;
    }
    sf->all_crlf = lf > 0 && lf == crlf;
    sf->any_lf_only = lf > crlf;
    sf->valid_utf8 = valid_utf8((const unsigned char *)d, len);

    const char *end = d + len, *p = skip_bom(d, end);
    p = next_record(p, end, &h);
    if (!p)
        return;
    sf->header_is_superstore = h.n == NSTD;
    for (int i = 0; i < NSTD && i < h.n; i++)
        sf->header_is_superstore &= strcmp(h.f[i], SUPERSTORE_HEADER[i]) == 0;
    int known = 0;
    for (int i = 0; i < NSTD; i++)
        known += col_index(&h, SUPERSTORE_HEADER[i]) >= 0;
    CHECK_INT(known, NSTD); /* every superstore column, whatever the order */
    sf->has_extra_column = h.n > NSTD;
    int od = col_index(&h, "Order Date"), sd = col_index(&h, "Ship Date");
    while ((p = next_record(p, end, &r)) != NULL) {
        if (r.n != h.n)
            continue;
        int cols[2] = {od, sd};
        for (int c = 0; c < 2; c++) {
            int a, b, y;
            if (!slash_date(r.f[cols[c]], &a, &b, &y))
                continue;
            sf->first_gt12 += a > 12;
            sf->second_gt12 += b > 12;
        }
    }
}

/* facts_of() file i of a gen() run into dir; false when it cannot be read. */
static bool gen_file_facts(const char *dir, const gen_summary *sum, int i, shape_facts *sf)
{
    size_t len;
    char *d = read_gen_file(dir, sum, i, &len);
    if (!d)
        return false;
    facts_of(d, len, sf);
    free(d);
    return true;
}

TEST(test_gen_dirty_file_shapes)
{
    const char *dir = test_tmpdir();
    gen_summary sum;
    REQUIRE(gen(dir, 2500, 1, true, &sum) == SP_OK);
    int bom_crlf = 0, cp1252 = 0, day_first = 0, month_first = 0, reordered = 0;
    for (int i = 0; i < sum.nfiles; i++) {
        shape_facts sf;
        REQUIRE(gen_file_facts(dir, &sum, i, &sf));
        if (sf.bom) {
            bom_crlf++;
            CHECK(sf.all_crlf);
            CHECK(sf.valid_utf8);
        } else {
            CHECK(sf.any_lf_only);
        }
        if (!sf.valid_utf8) {
            cp1252++;
            CHECK(sf.high_byte);
            CHECK(!sf.bom); /* a BOM would be mojibake in a cp1252 file */
        }
        /* Evidence one way only: mixing would fail the whole file. */
        CHECK(sf.first_gt12 == 0 || sf.second_gt12 == 0);
        if (sf.first_gt12 >= 3)
            day_first++;
        if (sf.second_gt12 >= 1)
            month_first++;
        if (!sf.header_is_superstore) {
            reordered++;
            CHECK(sf.has_extra_column);
        }
    }
    CHECK_INT(bom_crlf, 1);
    CHECK_INT(cp1252, 1);
    CHECK_INT(day_first, 1);
    CHECK_INT(month_first, GEN_REGIONS - 1);
    CHECK_INT(reordered, 1);
}

TEST(test_gen_small_dirty_keeps_date_evidence)
{
    /* Even one row tells each file's date order, in the same way. */
    const char *dir = test_tmpdir();
    gen_summary sum;
    REQUIRE(gen(dir, 1, 11, true, &sum) == SP_OK);
    int day_first = 0, month_first = 0, nonutf8 = 0;
    for (int i = 0; i < sum.nfiles; i++) {
        shape_facts sf;
        REQUIRE(gen_file_facts(dir, &sum, i, &sf));
        CHECK(sf.first_gt12 == 0 || sf.second_gt12 == 0);
        day_first += sf.first_gt12 > 0;
        month_first += sf.second_gt12 > 0;
        nonutf8 += !sf.valid_utf8;
    }
    CHECK_INT(day_first, 1);
    CHECK_INT(month_first, GEN_REGIONS - 1);
    CHECK_INT(nonutf8, 1);
}

TEST(test_gen_clean_numbers_are_sane)
{
    const char *dir = test_tmpdir();
    gen_summary sum;
    REQUIRE(gen(dir, 5000, 77, false, &sum) == SP_OK);
    static rec r, h;
    int four_decimals = 0, negative_profit = 0, quoted_names = 0;
    for (int i = 0; i < sum.nfiles; i++) {
        size_t len;
        char *d = read_gen_file(dir, &sum, i, &len);
        REQUIRE(d);
        for (size_t j = 0; j + 1 < len; j++)
            quoted_names += d[j] == ',' && d[j + 1] == '"';
        const char *end = d + len, *p = next_record(d, end, &h);
        REQUIRE(p && h.n == NSTD);
        int64_t rows = 0, bad = 0;
        while ((p = next_record(p, end, &r)) != NULL) {
            rows++;
            int64_t sales, profit, disc;
            long qty = strtol(r.f[18], NULL, 10);
            int om, od, oy, sm, sdd, sy;
            bool ok = r.n == NSTD && dec4(r.f[17], &sales) && sales > 0 &&
                      sales <= 100000000 && dec4(r.f[20], &profit) &&
                      dec4(r.f[19], &disc) && disc >= 0 && disc <= 8000 && qty >= 1 &&
                      qty <= 14 && slash_date(r.f[2], &om, &od, &oy) &&
                      slash_date(r.f[3], &sm, &sdd, &sy) && oy >= 2014 && oy <= 2017 &&
                      sp_date_valid(oy, (unsigned)om, (unsigned)od) &&
                      sp_date_valid(sy, (unsigned)sm, (unsigned)sdd) && r.f[13][0];
            if (ok) {
                int64_t gap = sp_days_from_civil(sy, (unsigned)sm, (unsigned)sdd) -
                              sp_days_from_civil(oy, (unsigned)om, (unsigned)od);
                ok = gap >= 0 && gap <= 7;
                /* Order ID carries the order year: CA-2016-152156 */
                char year[8];
                snprintf(year, sizeof year, "-%d-", oy);
                ok = ok && strlen(r.f[1]) == 14 && strstr(r.f[1], year) == r.f[1] + 2;
                /* the product id prefix names its category */
                const char *cat = r.f[14];
                ok = ok && ((strncmp(r.f[13], "FUR-", 4) == 0 && !strcmp(cat, "Furniture")) ||
                            (strncmp(r.f[13], "OFF-", 4) == 0 && !strcmp(cat, "Office Supplies")) ||
                            (strncmp(r.f[13], "TEC-", 4) == 0 && !strcmp(cat, "Technology")));
                ok = ok && strlen(r.f[13]) == 15;
                const char *dot = strchr(r.f[17], '.');
                four_decimals += dot && strlen(dot + 1) == 4;
                negative_profit += profit < 0;
            }
            if (!ok && bad++ < 3)
                printf("  bad clean row %lld in %s: %s,%s,%s,%s,%s,%s\n", (long long)rows,
                       sum.files[i].name, r.f[1], r.f[2], r.f[3], r.f[13], r.f[17], r.f[18]);
        }
        CHECK_INT(bad, 0);
        CHECK_INT(rows, 5000);
        free(d);
    }
    CHECK(four_decimals > 0);
    CHECK(negative_profit > 0);
    CHECK(quoted_names > 0);
}

TEST(test_gen_rejects_bad_options)
{
    sp_error err;
    sp_error_clear(&err);
    gen_options opt = {.out_dir = NULL, .rows = 10, .seed = 1};
    CHECK_INT(gen_write(&opt, NULL, &err), SP_ERR_USAGE);
    opt.out_dir = test_tmpdir();
    opt.rows = -1;
    CHECK_INT(gen_write(&opt, NULL, &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "rows");

    /* out_dir below a regular file cannot be created */
    char file[600], below[700];
    snprintf(file, sizeof file, "%s/plain", opt.out_dir);
    FILE *f = fopen(file, "w");
    REQUIRE(f);
    fclose(f);
    snprintf(below, sizeof below, "%s/sub/dir", file);
    opt.out_dir = below;
    opt.rows = 3;
    CHECK_INT(gen_write(&opt, NULL, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "plain");
}

TEST(test_gen_creates_parent_directories)
{
    char dir[600];
    snprintf(dir, sizeof dir, "%s/x/y/z", test_tmpdir());
    REQUIRE(gen(dir, 3, 1, true, NULL) == SP_OK);
    char path[700];
    snprintf(path, sizeof path, "%s/South_orders.csv", dir);
    struct stat st;
    CHECK(stat(path, &st) == 0 && st.st_size > 0);
}

/* ---- an independent reading of SPEC §4, to check the summary ------------ */

static void trim(char *s)
{
    size_t n = strlen(s), a = 0;
    while (a < n && (s[a] == ' ' || s[a] == '\t'))
        a++;
    while (n > a && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    memmove(s, s + a, n - a);
    s[n - a] = '\0';
}

/* Digits-only run → value; false when empty or too long. */
static bool number_part(const char **s, int maxlen, int *out, int *len)
{
    int v = 0, n = 0;
    while (**s >= '0' && **s <= '9' && n < maxlen) {
        v = v * 10 + (**s - '0');
        (*s)++;
        n++;
    }
    *out = v;
    *len = n;
    return n > 0;
}

/* A date of SPEC §4 under `dmy`; *evidence gets 'd', 'm' or 0. */
static bool spec_date(const char *s, bool dmy, char *evidence)
{
    int a, b, c, la, lb, lc;
    *evidence = 0;
    if (!number_part(&s, 4, &a, &la) || (*s != '/' && *s != '-'))
        return false;
    char sep = *s++;
    if (!number_part(&s, 2, &b, &lb) || *s++ != sep || !number_part(&s, 4, &c, &lc) || *s)
        return false;
    int y, m, d;
    if (la == 4) {
        if (lc > 2)
            return false;
        y = a, m = b, d = c;
    } else {
        if (la > 2 || (lc != 2 && lc != 4))
            return false;
        if (a > 12 && b <= 12)
            *evidence = 'd';
        if (b > 12 && a <= 12)
            *evidence = 'm';
        y = lc == 2 ? (c >= 69 ? 1900 + c : 2000 + c) : c;
        m = dmy ? b : a;
        d = dmy ? a : b;
    }
    return m >= 1 && m <= 12 && d >= 1 && sp_date_valid(y, (unsigned)m, (unsigned)d);
}

/* A plain decimal rounded half away from zero to 4 places; |v| < 10^18. */
static bool spec_decimal(const char *s, int64_t *out)
{
    bool neg = false;
    if (*s == '+' || *s == '-')
        neg = *s++ == '-';
    __int128 v = 0;
    int frac = -1, digits = 0, next = -1;
    for (; *s; s++) {
        if (*s == '.' && frac < 0) {
            frac = 0;
            continue;
        }
        if (*s < '0' || *s > '9')
            return false;
        digits++;
        if (frac >= 4) {
            if (next < 0)
                next = *s - '0';
            continue;
        }
        if (v > (__int128)1000000000000000000LL)
            return false;
        v = v * 10 + (*s - '0');
        if (frac >= 0)
            frac++;
    }
    if (!digits)
        return false;
    for (int i = frac < 0 ? 0 : frac; i < 4; i++)
        v *= 10;
    if (next >= 5)
        v++;
    if (v >= (__int128)1000000000000000000LL)
        return false;
    *out = neg ? -(int64_t)v : (int64_t)v;
    return true;
}

static rules_reason spec_reason(rec *r, int nhdr, const int *col, bool dmy)
{
    char ev;
    if (r->unterminated || r->n != nhdr)
        return RULES_MALFORMED;
    for (int i = 0; i < 7; i++)
        trim(r->f[col[i]]);
    if (!spec_date(r->f[col[0]], dmy, &ev))
        return RULES_ORDER_DATE;
    if (!spec_date(r->f[col[1]], dmy, &ev))
        return RULES_SHIP_DATE;
    if (!r->f[col[2]][0])
        return RULES_PRODUCT_ID;
    const char *q = r->f[col[4]];
    char *qend;
    long long qty = strtoll(q, &qend, 10);
    if (!*q || *qend || q[0] == ' ' || qty <= 0 || qty > INT32_MAX)
        return RULES_QUANTITY;
    int64_t sales, profit;
    if (!spec_decimal(r->f[col[3]], &sales) || sales <= 0)
        return RULES_SALES;
    if (sales > 100000000)
        return RULES_THRESHOLD;
    if (!spec_decimal(r->f[col[5]], &profit))
        return RULES_PROFIT;
    __int128 margin = (__int128)profit * 100 / sales; /* truncated: enough to see the limit */
    if (margin >= (__int128)10000000000000000LL || margin <= -(__int128)10000000000000000LL)
        return RULES_PROFIT;
    return RULES_KEPT;
}

TEST(test_gen_dirty_expectations_match_independent_check)
{
    static const int64_t sizes[] = {7, 50, 2500};
    static rec r, h;
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        const char *dir = test_tmpdir();
        gen_summary sum;
        REQUIRE(gen(dir, sizes[s], 1, true, &sum) == SP_OK);
        for (int i = 0; i < sum.nfiles; i++) {
            size_t len;
            char *d = read_gen_file(dir, &sum, i, &len);
            REQUIRE(d);
            const char *end = d + len, *start = next_record(skip_bom(d, end), end, &h);
            REQUIRE(start);
            static const char *const need[] = {"Order Date", "Ship Date", "Product ID", "Sales",
                                               "Quantity", "Profit", "Category"};
            int col[7];
            for (int k = 0; k < 7; k++) {
                col[k] = col_index(&h, need[k]);
                REQUIRE(col[k] >= 0);
            }
            /* pass 1: the file's date order from unambiguous well-formed dates */
            bool dmy = false, mdy = false;
            for (const char *p = start; (p = next_record(p, end, &r)) != NULL;) {
                if (r.n != h.n || r.unterminated)
                    continue;
                for (int k = 0; k < 2; k++) {
                    char ev;
                    trim(r.f[col[k]]);
                    spec_date(r.f[col[k]], false, &ev);
                    dmy |= ev == 'd';
                    mdy |= ev == 'm';
                }
            }
            CHECK(!(dmy && mdy));
            int64_t got[RULES_NREASONS] = {0};
            for (const char *p = start; (p = next_record(p, end, &r)) != NULL;)
                got[spec_reason(&r, h.n, col, dmy)]++;
            for (int k = 0; k < RULES_NREASONS; k++)
                if (got[k] != sum.files[i].expect[k])
                    test_fail_at(__FILE__, __LINE__, "%s rows %lld: reason %d expected %lld, read %lld",
                                 sum.files[i].name, (long long)sizes[s], k,
                                 (long long)sum.files[i].expect[k], (long long)got[k]);
            free(d);
        }
    }
}
