/* test_csv.c — the CSV reader (src/csv): golden files for the edge cases of
 * SPEC §4 (tests/golden/csv/NAME.csv → NAME.out; UPDATE_GOLDEN=1 rewrites
 * the .out files, which are then reviewed by hand), the same files and
 * generated ones re-read with tiny read sizes so every byte is a chunk
 * boundary, and tables for name matching, field writing and encodings.
 * Options come from the file name: NAME@utf8, @cp1252, @capN, @fieldsN. */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "../../src/csv/csv.h"
#include "../../src/csv/csv_internal.h"
#include "../../src/util/buf.h"
#include "../test.h"

#define GOLDEN_DIR "tests/golden/csv"

/* ---- helpers ----------------------------------------------------------- */

static void opts_from_name(const char *name, csv_options *opt)
{
    memset(opt, 0, sizeof *opt);
    for (const char *at = strchr(name, '@'); at; at = strchr(at + 1, '@')) {
        const char *t = at + 1;
        if (strncmp(t, "utf8", 4) == 0)
            opt->encoding = CSV_ENC_UTF8;
        else if (strncmp(t, "cp1252", 6) == 0)
            opt->encoding = CSV_ENC_CP1252;
        else if (strncmp(t, "cap", 3) == 0)
            opt->max_record_bytes = strtoul(t + 3, NULL, 10);
        else if (strncmp(t, "fields", 6) == 0)
            opt->max_fields = strtoul(t + 6, NULL, 10);
    }
}

static bool write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = fwrite(data, 1, n, f) == n;
    return fclose(f) == 0 && ok;
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    sp_buf b;
    sp_buf_init(&b, 0);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        sp_buf_append(&b, chunk, n);
    fclose(f);
    sp_buf_putc(&b, 0);
    return (char *)b.data;
}

/* The dump as a NUL-terminated string (caller frees). */
static char *dump(const char *path, const char *name, const csv_options *opt, size_t read_size)
{
    sp_buf b;
    sp_error err;
    sp_buf_init(&b, 64u << 20);
    if (csv_dump(&b, path, name, opt, read_size, &err) != SP_OK) {
        sp_buf_free(&b);
        sp_buf_init(&b, 0);
        sp_buf_printf(&b, "dump failed: %s\n", err.msg);
    }
    sp_buf_putc(&b, 0);
    return (char *)b.data;
}

/* Where a restart happened, only what follows it counts: the caller throws
 * the rest away. A silent switch and a restart then read the same. */
static const char *after_restart(const char *d)
{
    const char *r = strstr(d, "restart\n");
    return r ? r + 8 : d;
}

static void report_diff(const char *what, const char *got, const char *want)
{
    size_t line = 1, i = 0;
    while (got[i] && got[i] == want[i]) {
        if (got[i] == '\n')
            line++;
        i++;
    }
    const char *g = got + i, *w = want + i;
    while (g > got && g[-1] != '\n')
        g--;
    while (w > want && w[-1] != '\n')
        w--;
    int gl = (int)strcspn(g, "\n"), wl = (int)strcspn(w, "\n");
    test_fail_at(__FILE__, __LINE__, "%s: line %zu differs:\n  got:  %.*s\n  want: %.*s", what,
                 line, gl, g, wl, w);
}

static int cmp_names(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

static int pick_csv(const struct dirent *d)
{
    size_t n = strlen(d->d_name);
    return n > 4 && strcmp(d->d_name + n - 4, ".csv") == 0;
}

/* ---- golden files ------------------------------------------------------- */

TEST(test_csv_golden)
{
    struct dirent **list;
    int n = scandir(GOLDEN_DIR, &list, pick_csv, cmp_names);
    REQUIRE(n > 0);
    bool update = getenv("UPDATE_GOLDEN") && strcmp(getenv("UPDATE_GOLDEN"), "1") == 0;
    for (int i = 0; i < n; i++) {
        char path[512], out[520];
        snprintf(path, sizeof path, GOLDEN_DIR "/%s", list[i]->d_name);
        snprintf(out, sizeof out, "%.*s.out", (int)(strlen(path) - 4), path);
        csv_options opt;
        opts_from_name(list[i]->d_name, &opt);
        char *got = dump(path, list[i]->d_name, &opt, 0);
        if (update) {
            CHECK(write_file(out, got, strlen(got)));
        } else {
            char *want = read_text(out);
            if (!want)
                test_fail_at(__FILE__, __LINE__, "%s missing (run with UPDATE_GOLDEN=1)", out);
            else if (strcmp(got, want) != 0)
                report_diff(list[i]->d_name, got, want);
            free(want);
        }
        free(got);
        free(list[i]);
    }
    free(list);
}

static const size_t tiny_sizes[] = {1, 2, 3, 4, 5, 7, 16, 64};

TEST(test_csv_golden_chunk_boundaries)
{
    struct dirent **list;
    int n = scandir(GOLDEN_DIR, &list, pick_csv, cmp_names);
    REQUIRE(n > 0);
    for (int i = 0; i < n; i++) {
        char path[512];
        snprintf(path, sizeof path, GOLDEN_DIR "/%s", list[i]->d_name);
        csv_options opt;
        opts_from_name(list[i]->d_name, &opt);
        char *want = dump(path, list[i]->d_name, &opt, 0);
        for (size_t k = 0; k < sizeof tiny_sizes / sizeof tiny_sizes[0]; k++) {
            char *got = dump(path, list[i]->d_name, &opt, tiny_sizes[k]);
            if (strcmp(after_restart(got), after_restart(want)) != 0) {
                char what[600];
                snprintf(what, sizeof what, "%s read size %zu", list[i]->d_name, tiny_sizes[k]);
                report_diff(what, after_restart(got), after_restart(want));
            }
            free(got);
        }
        free(want);
        free(list[i]);
    }
    free(list);
}

/* Generated files: random pieces that stress quoting, line ends, blank
 * lines, multi-byte characters and bad bytes at every offset. */
static size_t gen_csv(uint8_t *out, size_t cap, uint32_t seed, bool high_bytes)
{
    static const char *pieces[] = {
        "a", "bc", ",", ",", ",", "\n", "\r\n", "\r", " ", "\t", "\"", "\"\"", "\"x,y\"",
        "\"q\nr\"", "\n\n", "\r\n\r\n", "12.5", "Bookcase", "\"Bush \"\"Somerset\"\"\"",
        "caf\xc3\xa9", "\xe6\x97\xa5", "\xf0\x9f\x98\x80", "\xef\xbb\xbf",
    };
    size_t np = sizeof pieces / sizeof pieces[0];
    size_t n = 0;
    uint32_t x = seed * 2654435761u + 1;
    while (n + 8 < cap) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (high_bytes && x % 97 == 0) {
            out[n++] = (uint8_t)(0x80 + (x >> 8) % 0x80); /* often invalid UTF-8 */
            continue;
        }
        const char *p = pieces[(x >> 3) % np];
        size_t l = strlen(p);
        memcpy(out + n, p, l);
        n += l;
    }
    return n;
}

TEST(test_csv_generated_chunk_boundaries)
{
    const char *dir = test_tmpdir();
    static uint8_t data[24000];
    static const size_t sizes[] = {1, 3, 17, 100, 4096};
    for (uint32_t seed = 1; seed <= 12; seed++) {
        size_t n = gen_csv(data, sizeof data - (seed % 5) * 997, seed, seed % 3 != 0);
        char path[400];
        snprintf(path, sizeof path, "%s/gen%u.csv", dir, (unsigned)seed);
        REQUIRE(write_file(path, data, n));
        for (int enc = 0; enc < 3; enc++) {
            for (int capped = 0; capped < 2; capped++) {
                csv_options opt = {0};
                opt.encoding = (csv_encoding)enc;
                if (capped) {
                    opt.max_record_bytes = 40 + seed * 7;
                    opt.max_fields = 5 + seed;
                }
                char *want = dump(path, "gen.csv", &opt, 0);
                CHECK(strstr(want, "dump failed") == NULL);
                for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
                    char *got = dump(path, "gen.csv", &opt, sizes[k]);
                    if (strcmp(after_restart(got), after_restart(want)) != 0) {
                        char what[200];
                        snprintf(what, sizeof what, "seed %u enc %d capped %d read size %zu",
                                 (unsigned)seed, enc, capped, sizes[k]);
                        report_diff(what, after_restart(got), after_restart(want));
                    }
                    free(got);
                }
                free(want);
            }
        }
    }
}

/* A file larger than several default reads, with records of all lengths up
 * to the cap: the default read size against an odd small one. */
TEST(test_csv_large_file_matches_small_reads)
{
    const char *dir = test_tmpdir();
    char path[400];
    snprintf(path, sizeof path, "%s/big.csv", dir);
    FILE *f = fopen(path, "wb");
    REQUIRE(f);
    size_t total = 0;
    for (int i = 0; total < (3u << 20); i++) {
        int len = (i * 7919) % 3000;
        total += (size_t)fprintf(f, "%d,\"%*s\",caf\xc3\xa9 %d,", i, len, "q\"\"", i);
        for (int k = 0; k < (i % 40) * 37; k++)
            total += (size_t)fprintf(f, "x");
        total += (size_t)fprintf(f, i % 3 ? "\n" : "\r\n");
    }
    REQUIRE(fclose(f) == 0);
    csv_options opt = {0};
    char *want = dump(path, "big.csv", &opt, 0);
    char *got = dump(path, "big.csv", &opt, 4093);
    CHECK(strstr(want, "end encoding=utf-8 bom=no") != NULL);
    if (strcmp(got, want) != 0)
        report_diff("big.csv read size 4093", got, want);
    free(got);
    free(want);
}

/* ---- records near the cap ---------------------------------------------- */

static int read_all(const char *path, const csv_options *opt, size_t read_size, size_t *nrec,
                    sp_error *err)
{
    csv_reader *r;
    SP_TRY(csv_open(&r, path, "t.csv", opt, err));
    csv_set_read_size(r, read_size);
    csv_record rec;
    int rc;
    *nrec = 0;
    while ((rc = csv_next(r, &rec, err)) == SP_OK)
        (*nrec)++;
    csv_close(r);
    return rc == CSV_END ? SP_OK : rc;
}

TEST(test_csv_record_cap_is_exact)
{
    static const struct {
        const char *data;
        int ok; /* 1: all records fit the cap of 8 */
    } cases[] = {
        {"12345678", 1},         {"12345678\n", 1},     {"12345678\r\n", 1},
        {"\"123456\"\r\n", 1},   {"123456789", 0},      {"123456789\n", 0},
        {"1234567\r\r\n", 1},    {"\"1234567\"\n", 0},    {"1234567\r\r\r\n", 0},  {"a\n\n\n\n\n\n\n\n\n\n12345678\n", 1},
        {"\"12\n\n\n\n\n\nx\"", 0}, {"1234,678\r\nab\r\n", 1},
    };
    const char *dir = test_tmpdir();
    char path[400];
    snprintf(path, sizeof path, "%s/cap.csv", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        REQUIRE(write_file(path, cases[i].data, strlen(cases[i].data)));
        csv_options opt = {.max_record_bytes = 8};
        for (size_t rs = 0; rs < 5; rs++) {
            size_t n;
            sp_error err;
            int rc = read_all(path, &opt, rs, &n, &err);
            if (cases[i].ok) {
                if (rc != SP_OK)
                    test_fail_at(__FILE__, __LINE__, "case %zu read size %zu: %s", i, rs, err.msg);
            } else {
                if (rc != SP_ERR_LIMIT)
                    test_fail_at(__FILE__, __LINE__, "case %zu read size %zu: rc %d", i, rs, rc);
                if (rc == SP_ERR_LIMIT)
                    CHECK_CONTAINS(err.msg, "record longer than 8 bytes");
            }
        }
    }
}

/* ---- encodings ---------------------------------------------------------- */

TEST(test_csv_utf8_validation_table)
{
    static const struct {
        const char *bytes;
        long bad_at; /* index of the reported byte in BYTES; -1: valid */
    } cases[] = {
        {"plain", -1},
        {"\xc2\x80", -1},             /* U+0080 */
        {"\xdf\xbf", -1},             /* U+07FF */
        {"\xe0\xa0\x80", -1},         /* U+0800 */
        {"\xed\x9f\xbf", -1},         /* U+D7FF */
        {"\xee\x80\x80", -1},         /* U+E000 */
        {"\xef\xbf\xbf", -1},         /* U+FFFF */
        {"\xf0\x90\x80\x80", -1},     /* U+10000 */
        {"\xf4\x8f\xbf\xbf", -1},     /* U+10FFFF */
        {"\xc0\x80", 0},              /* overlong NUL */
        {"\xc1\xbf", 0},              /* overlong */
        {"\xe0\x9f\xbf", 0},          /* overlong 3-byte */
        {"\xf0\x8f\xbf\xbf", 0},      /* overlong 4-byte */
        {"\xed\xa0\x80", 0},          /* surrogate D800 */
        {"\xed\xbf\xbf", 0},          /* surrogate DFFF */
        {"\xf4\x90\x80\x80", 0},      /* U+110000 */
        {"\xf5\x80\x80\x80", 0},      /* lead byte past F4 */
        {"\xff", 0},                  /* never in UTF-8 */
        {"\x80", 0},                  /* lone continuation */
        {"ab\xc3(", 2},               /* truncated by ASCII */
        {"\xe2\x82", 0},              /* truncated by the line end */
        {"\xf0\x9f\x98", 0},          /* truncated 4-byte */
        {"\xc3\xa9\xe9", 2},          /* valid, then Windows-1252 é */
    };
    const char *dir = test_tmpdir();
    char path[400], data[64];
    snprintf(path, sizeof path, "%s/u.csv", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int n = snprintf(data, sizeof data, "h\nx,%s\n", cases[i].bytes);
        REQUIRE(write_file(path, data, (size_t)n));
        csv_options opt = {.encoding = CSV_ENC_UTF8};
        for (size_t rs = 0; rs < 3; rs++) {
            size_t nrec;
            sp_error err;
            int rc = read_all(path, &opt, rs, &nrec, &err);
            if (cases[i].bad_at < 0) {
                if (rc != SP_OK)
                    test_fail_at(__FILE__, __LINE__, "case %zu: %s", i, err.msg);
                CHECK_INT(nrec, 2);
            } else {
                char want[96];
                snprintf(want, sizeof want, "t.csv:2: invalid UTF-8 (byte 0x%02X at offset %ld)",
                         (unsigned char)cases[i].bytes[cases[i].bad_at], cases[i].bad_at + 4);
                CHECK_INT(rc, SP_ERR_DATA);
                if (rc == SP_ERR_DATA)
                    CHECK_CONTAINS(err.msg, want);
            }
        }
    }
}

static size_t put_utf8(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
}

TEST(test_csv_cp1252_table)
{
    /* WHATWG index-windows-1252 for 0x80..0x9F, written out once more here
     * on purpose: the test must not share the code's table. */
    static const unsigned c1[32] = {
        0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
        0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,   0x017D, 0x8F,
        0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
        0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178,
    };
    uint8_t src[256];
    char want[1024], got[1024];
    size_t wn = 0;
    for (unsigned b = 1; b < 256; b++) {
        src[b - 1] = (uint8_t)b;
        wn += put_utf8(want + wn, b >= 0x80 && b < 0xA0 ? c1[b - 0x80] : b);
    }
    size_t gn = csv_cp1252_to_utf8((uint8_t *)got, src, 255);
    CHECK_INT(gn, wn);
    CHECK_INT(csv_cp1252_utf8_len(src, 255), wn);
    CHECK(gn == wn && memcmp(got, want, wn) == 0);
    /* é as 0xE9 becomes C3 A9 */
    const uint8_t e9 = 0xE9;
    CHECK_INT(csv_cp1252_to_utf8((uint8_t *)got, &e9, 1), 2);
    CHECK(memcmp(got, "\xc3\xa9", 2) == 0);
}

/* An é early, a bad byte late, under auto: CSV_RESTART after the é was
 * returned, then csv_rewind reads the whole file as Windows-1252; on_bytes
 * sees every byte once per pass. */
typedef struct byte_log {
    sp_buf b;
    int calls;
} byte_log;

static void log_bytes(void *ctx, const uint8_t *p, size_t n)
{
    byte_log *l = ctx;
    sp_buf_append(&l->b, p, n);
    l->calls++;
}

TEST(test_csv_auto_restart_and_rewind)
{
    const char data[] = "name,v\ncaf\xc3\xa9,1\nx,2\nfin,\xe9t\xe9\n";
    const char *dir = test_tmpdir();
    char path[400];
    snprintf(path, sizeof path, "%s/r.csv", dir);
    REQUIRE(write_file(path, data, sizeof data - 1));
    for (size_t rs = 0; rs < 4; rs++) {
        byte_log log;
        sp_buf_init(&log.b, 0);
        log.calls = 0;
        csv_options opt = {.on_bytes = log_bytes, .on_bytes_ctx = &log};
        csv_reader *r;
        sp_error err;
        REQUIRE(csv_open(&r, path, "r.csv", &opt, &err) == SP_OK);
        csv_set_read_size(r, rs);
        csv_record rec;
        CHECK_INT(csv_next(r, &rec, &err), SP_OK);
        CHECK_INT(csv_next(r, &rec, &err), SP_OK);
        CHECK(rec.fields[0].len == 5 && memcmp(rec.fields[0].ptr, "caf\xc3\xa9", 5) == 0);
        CHECK_INT(csv_encoding_used(r), CSV_ENC_UTF8);
        CHECK_INT(csv_next(r, &rec, &err), SP_OK);
        CHECK_INT(csv_next(r, &rec, &err), CSV_RESTART);
        CHECK_INT(csv_next(r, &rec, &err), CSV_RESTART); /* until rewound */
        /* the aborted pass read a prefix, each byte once */
        CHECK(log.b.len <= sizeof data - 1 && memcmp(log.b.data, data, log.b.len) == 0);
        CHECK_INT(csv_bytes_read(r), log.b.len);
        sp_buf_reset(&log.b);
        REQUIRE(csv_rewind(r, &err) == SP_OK);
        CHECK_INT(csv_encoding_used(r), CSV_ENC_CP1252);
        CHECK_INT(csv_bytes_read(r), 0);
        CHECK_INT(csv_next(r, &rec, &err), SP_OK);
        CHECK_INT(rec.line, 1);
        CHECK_INT(csv_next(r, &rec, &err), SP_OK);
        CHECK_INT(rec.line, 2);
        CHECK(rec.fields[0].len == 7 && memcmp(rec.fields[0].ptr, "caf\xc3\x83\xc2\xa9", 7) == 0);
        CHECK_INT(csv_next(r, &rec, &err), SP_OK);
        CHECK_INT(csv_next(r, &rec, &err), SP_OK);
        CHECK_INT(rec.line, 4);
        CHECK(rec.fields[1].len == 5 && memcmp(rec.fields[1].ptr, "\xc3\xa9t\xc3\xa9", 5) == 0);
        CHECK_INT(csv_next(r, &rec, &err), CSV_END);
        CHECK_INT(csv_next(r, &rec, &err), CSV_END);
        CHECK_INT(csv_bytes_read(r), sizeof data - 1);
        CHECK_INT(log.b.len, sizeof data - 1);
        CHECK(memcmp(log.b.data, data, sizeof data - 1) == 0);
        csv_close(r);
        sp_buf_free(&log.b);
    }
}

TEST(test_csv_auto_switch_is_silent_when_only_ascii_was_returned)
{
    const char data[] = "a,b\nplain,1\nRen\xe9,2\n";
    const char *dir = test_tmpdir();
    char path[400];
    snprintf(path, sizeof path, "%s/s.csv", dir);
    REQUIRE(write_file(path, data, sizeof data - 1));
    for (size_t rs = 0; rs < 3; rs++) {
        csv_reader *r;
        sp_error err;
        REQUIRE(csv_open(&r, path, "s.csv", NULL, &err) == SP_OK);
        csv_set_read_size(r, rs);
        csv_record rec;
        CHECK_INT(csv_next(r, &rec, &err), SP_OK);
        CHECK_INT(csv_next(r, &rec, &err), SP_OK);
        CHECK_INT(csv_next(r, &rec, &err), SP_OK);
        CHECK(rec.fields[0].len == 5 && memcmp(rec.fields[0].ptr, "Ren\xc3\xa9", 5) == 0);
        CHECK_INT(csv_encoding_used(r), CSV_ENC_CP1252);
        CHECK_INT(csv_next(r, &rec, &err), CSV_END);
        /* a rewind keeps what the file proved to be */
        REQUIRE(csv_rewind(r, &err) == SP_OK);
        CHECK_INT(csv_encoding_used(r), CSV_ENC_CP1252);
        csv_close(r);
    }
}

/* ---- API edges ---------------------------------------------------------- */

TEST(test_csv_open_missing_file_names_it)
{
    csv_reader *r = (csv_reader *)1;
    sp_error err;
    CHECK_INT(csv_open(&r, "/nonexistent/x.csv", "runs/x.csv", NULL, &err), SP_ERR_IO);
    CHECK(r == NULL);
    CHECK_CONTAINS(err.msg, "runs/x.csv");
    csv_close(NULL);
}

TEST(test_csv_read_error_names_file)
{
    csv_reader *r;
    sp_error err;
    /* open(2) takes a directory; read(2) then fails with EISDIR */
    REQUIRE(csv_open(&r, test_tmpdir(), "runs/d.csv", NULL, &err) == SP_OK);
    csv_record rec;
    CHECK_INT(csv_next(r, &rec, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "runs/d.csv: read failed");
    csv_close(r);
}

TEST(test_csv_bad_options_are_usage_errors)
{
    csv_reader *r = NULL;
    sp_error err;
    csv_options opt = {.max_record_bytes = (size_t)1 << 40};
    CHECK_INT(csv_open(&r, "/dev/null", "x.csv", &opt, &err), SP_ERR_USAGE);
    CHECK(r == NULL);
    csv_options enc = {.encoding = (csv_encoding)7};
    CHECK_INT(csv_open(&r, "/dev/null", "x.csv", &enc, &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "x.csv");
}

TEST(test_csv_errors_are_sticky)
{
    const char *dir = test_tmpdir();
    char path[400];
    snprintf(path, sizeof path, "%s/n.csv", dir);
    REQUIRE(write_file(path, "a\n\0\n", 4));
    csv_reader *r;
    sp_error err;
    REQUIRE(csv_open(&r, path, "n.csv", NULL, &err) == SP_OK);
    csv_record rec;
    CHECK_INT(csv_next(r, &rec, &err), SP_OK);
    CHECK_INT(csv_next(r, &rec, &err), SP_ERR_DATA);
    CHECK_CONTAINS(err.msg, "n.csv:2: NUL byte");
    sp_error_clear(&err);
    CHECK_INT(csv_next(r, &rec, &err), SP_ERR_DATA);
    CHECK_CONTAINS(err.msg, "n.csv:2: NUL byte");
    csv_close(r);
}

TEST(test_csv_encoding_names)
{
    CHECK_STR(csv_encoding_name(CSV_ENC_AUTO), "auto");
    CHECK_STR(csv_encoding_name(CSV_ENC_UTF8), "utf-8");
    CHECK_STR(csv_encoding_name(CSV_ENC_CP1252), "windows-1252");
}

TEST(test_csv_name_matches_table)
{
    static const struct {
        const char *name, *want;
        bool match;
    } cases[] = {
        {"Order Date", "order_date", true},
        {"ORDER-DATE", "Order Date", true},
        {"order_date", "ORDER-DATE", true},
        {"OrderDate", "order date", true},
        {" order  date ", "orderdate", true},
        {"Product ID", "product_id", true},
        {"Order Dates", "order_date", false},
        {"Order Dat", "order_date", false},
        {"Ship Date", "order_date", false},
        {"Sales", "sales", true},
        {"Sale", "sales", false},
        {"", "", true},
        {"_-", "", true},
        {"", "sales", false},
        {"sales", "", false},
        {"Order\tDate", "order_date", false}, /* only spaces, '_' and '-' are ignored */
        {"Qty.", "qty", false},
        {"caf\xc3\xa9", "CAF\xc3\xa9", true}, /* ASCII case only; other bytes exact */
        {"CAF\xc3\x89", "caf\xc3\xa9", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool got = csv_name_matches(cases[i].name, strlen(cases[i].name), cases[i].want);
        if (got != cases[i].match)
            test_fail_at(__FILE__, __LINE__, "csv_name_matches(\"%s\", \"%s\") == %d", cases[i].name,
                         cases[i].want, got);
    }
    /* len bounds the name: no NUL needed, none read past it */
    CHECK(csv_name_matches("Sales,Quantity", 5, "sales"));
    CHECK(!csv_name_matches("Sales,Quantity", 4, "sales"));
}

TEST(test_csv_write_field_table)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"", ""},
        {"plain", "plain"},
        {"a,b", "\"a,b\""},
        {"say \"hi\"", "\"say \"\"hi\"\"\""},
        {"\"", "\"\"\"\""},
        {"line\nbreak", "\"line\nbreak\""},
        {"cr\r", "\"cr\r\""},
        {" lead", "\" lead\""},
        {"trail ", "\"trail \""},
        {"in side", "in side"},
        {"\ttab", "\ttab"},
        {"caf\xc3\xa9", "caf\xc3\xa9"},
    };
    const char *dir = test_tmpdir();
    char path[400];
    snprintf(path, sizeof path, "%s/w.csv", dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sp_buf b;
        sp_buf_init(&b, 0);
        csv_write_field(&b, cases[i].text, strlen(cases[i].text));
        sp_buf_putc(&b, 0);
        CHECK_STR(b.len ? (const char *)b.data : "", cases[i].want);
        /* and the reader gives the text back (it trims, so not for blanks at the ends) */
        size_t tl = strlen(cases[i].text);
        bool trimmed = tl && (strchr(" \t", cases[i].text[0]) || strchr(" \t", cases[i].text[tl - 1]));
        if (!trimmed) {
            REQUIRE(write_file(path, b.data, b.len - 1));
            csv_reader *r;
            sp_error err;
            REQUIRE(csv_open(&r, path, "w.csv", NULL, &err) == SP_OK);
            csv_record rec;
            int rc = csv_next(r, &rec, &err);
            if (tl == 0) {
                CHECK_INT(rc, CSV_END);
            } else {
                CHECK_INT(rc, SP_OK);
                CHECK(rc == SP_OK && rec.nfields == 1 && rec.fields[0].len == tl &&
                      memcmp(rec.fields[0].ptr, cases[i].text, tl) == 0);
            }
            csv_close(r);
        }
        sp_buf_free(&b);
    }
}

/* Views stay where the contract says: unquoted fields point into the
 * record's text (zero-copy), and everything is trimmed. */
TEST(test_csv_unquoted_fields_are_views_into_text)
{
    const char *dir = test_tmpdir();
    char path[400];
    snprintf(path, sizeof path, "%s/v.csv", dir);
    const char data[] = " 1 ,CA-2016-152156,\t11/8/2016\t,\"Bush \"\"S\"\"\",\"plain quoted\"\n";
    REQUIRE(write_file(path, data, sizeof data - 1));
    csv_reader *r;
    sp_error err;
    REQUIRE(csv_open(&r, path, "v.csv", NULL, &err) == SP_OK);
    csv_record rec;
    REQUIRE(csv_next(r, &rec, &err) == SP_OK);
    REQUIRE(rec.nfields == 5);
    for (size_t i = 0; i < rec.nfields; i++) {
        bool inside = rec.fields[i].ptr >= rec.text &&
                      rec.fields[i].ptr + rec.fields[i].len <= rec.text + rec.text_len;
        CHECK(inside == (i != 3)); /* only the field with "" needs a copy */
    }
    CHECK(rec.fields[0].len == 1 && rec.fields[0].ptr[0] == '1');
    CHECK(rec.fields[2].len == 9 && memcmp(rec.fields[2].ptr, "11/8/2016", 9) == 0);
    CHECK(rec.fields[3].len == 8 && memcmp(rec.fields[3].ptr, "Bush \"S\"", 8) == 0);
    csv_close(r);
}

/* The separator scan looks at 64 bytes at a time: records whose fields end
 * at every offset of a block (and across two), each field checked against
 * a plain split of the same text (no quotes here, so splitting at ',' is
 * the whole rule), at several read sizes. */
TEST(test_csv_separators_at_every_block_offset)
{
    const char *dir = test_tmpdir();
    static char data[200000];
    size_t n = 0;
    for (int a = 0; a < 140; a++) {
        int b = (a * 37) % 71, c = 130 - a % 130;
        n += (size_t)snprintf(data + n, sizeof data - n, "%.*s,%.*s,%.*s%s", a,
                              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                              "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                              b, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy",
                              c,
                              "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz"
                              "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz",
                              a % 3 ? "\n" : "\r\n");
    }
    char path[400];
    snprintf(path, sizeof path, "%s/blocks.csv", dir);
    REQUIRE(write_file(path, data, n));
    static const size_t sizes[] = {0, 1, 63, 64, 65, 4096};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        csv_reader *r;
        sp_error err;
        REQUIRE(csv_open(&r, path, "blocks.csv", NULL, &err) == SP_OK);
        if (sizes[k])
            csv_set_read_size(r, sizes[k]);
        csv_record rec;
        int a = 0, bad = 0;
        while (csv_next(r, &rec, &err) == SP_OK) {
            int b = (a * 37) % 71, c = 130 - a % 130;
            if (rec.nfields != 3 || rec.fields[0].len != (size_t)a ||
                rec.fields[1].len != (size_t)b || rec.fields[2].len != (size_t)c ||
                (a && rec.fields[0].ptr[a - 1] != 'x') || (b && rec.fields[1].ptr[0] != 'y') ||
                (c && rec.fields[2].ptr[c - 1] != 'z'))
                bad++;
            a++;
        }
        csv_close(r);
        CHECK_INT(a, 140);
        CHECK_INT(bad, 0);
    }
}
