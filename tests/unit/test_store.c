/* test_store.c — the store interface on its fs backend: atomic puts, streamed
 * gets, listing order and prefixes, invisible temporary files, checksums,
 * deletes, key rules, move versus copy, URL schemes and unwritable roots.
 * Every test works in its own test_tmpdir(). */
#include "../test.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../src/store/store.h"
#include "../../src/util/buf.h"

static store *open_in(const char *dir, const char *sub)
{
    char url[600];
    snprintf(url, sizeof url, "%s/%s", dir, sub);
    store *s = NULL;
    sp_error err;
    if (store_open(&s, url, &err) != SP_OK) {
        test_fail_at(__FILE__, __LINE__, "store_open(%s): %s", url, err.msg);
        return NULL;
    }
    return s;
}

static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        test_fail_at(__FILE__, __LINE__, "cannot write %s", path);
}

static bool file_equals(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    char *got = malloc(n + 1);
    size_t r = got ? fread(got, 1, n + 1, f) : 0;
    fclose(f);
    bool ok = got && r == n && memcmp(got, p, n) == 0;
    free(got);
    return ok;
}

/* Lists "key size\n" lines into a buffer. */
static int collect(void *ctx, const char *key, int64_t size)
{
    sp_buf_printf(ctx, "%s %" PRId64 "\n", key, size);
    return 0;
}

static char *list_all(store *s, const char *prefix)
{
    static char out[4096];
    sp_buf b;
    sp_buf_init(&b, 0);
    sp_error err;
    int rc = store_list(s, prefix, collect, &b, &err);
    if (rc != SP_OK)
        snprintf(out, sizeof out, "error %d: %s", rc, err.msg);
    else
        snprintf(out, sizeof out, "%.*s", (int)b.len, b.data ? (const char *)b.data : "");
    sp_buf_free(&b);
    return out;
}

/* Names in a directory starting with `start` (temporary-file leak check). */
static int count_names(const char *dir, const char *start)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (!d)
        return 0;
    for (struct dirent *de; (de = readdir(d));)
        n += strncmp(de->d_name, start, strlen(start)) == 0;
    closedir(d);
    return n;
}

typedef struct chunks {
    sp_buf b;
    size_t calls, biggest;
} chunks;

static int gather(void *ctx, const void *p, size_t n)
{
    chunks *c = ctx;
    c->calls++;
    if (n > c->biggest)
        c->biggest = n;
    sp_buf_append(&c->b, p, n);
    return 0;
}

TEST(test_store_put_get_roundtrip)
{
    const char *dir = test_tmpdir();
    store *s = open_in(dir, "lake");
    REQUIRE(s);
    sp_error err;
    CHECK_INT(store_put_bytes(s, "runs/2024-01-01/_manifest.json", "{\"a\":1}", 7, &err), SP_OK);
    CHECK_INT(store_put_bytes(s, "empty", "", 0, &err), SP_OK);

    /* A 2.5 MiB object through a local file: gets come in chunks <= 1 MiB. */
    size_t big = (5u << 20) / 2;
    char *data = malloc(big);
    REQUIRE(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (char)(i * 2654435761u >> 13);
    char src[600], dst[600];
    snprintf(src, sizeof src, "%s/big.bin", dir);
    write_file(src, data, big);
    CHECK_INT(store_put_file(s, "runs/2024-01-01/big.bin", src, 0, &err), SP_OK);
    CHECK(access(src, F_OK) == 0); /* a copy leaves the local file */

    chunks c = {.calls = 0};
    sp_buf_init(&c.b, 0);
    CHECK_INT(store_get(s, "runs/2024-01-01/big.bin", gather, &c, &err), SP_OK);
    CHECK_INT(c.b.len, big);
    CHECK(c.b.len == big && memcmp(c.b.data, data, big) == 0);
    CHECK(c.calls >= 3);
    CHECK(c.biggest <= (1u << 20));
    sp_buf_reset(&c.b);
    CHECK_INT(store_get(s, "runs/2024-01-01/_manifest.json", gather, &c, &err), SP_OK);
    CHECK(c.b.len == 7 && memcmp(c.b.data, "{\"a\":1}", 7) == 0);
    sp_buf_reset(&c.b);
    c.calls = 0;
    CHECK_INT(store_get(s, "empty", gather, &c, &err), SP_OK);
    CHECK_INT(c.b.len, 0);
    sp_buf_free(&c.b);

    /* get_file replaces an existing local file whole. */
    snprintf(dst, sizeof dst, "%s/copy.bin", dir);
    write_file(dst, "old", 3);
    CHECK_INT(store_get_file(s, "runs/2024-01-01/big.bin", dst, &err), SP_OK);
    CHECK(file_equals(dst, data, big));
    CHECK_INT(count_names(dir, ".tmp-"), 0);

    /* A put replaces the object. */
    CHECK_INT(store_put_bytes(s, "runs/2024-01-01/big.bin", "new", 3, &err), SP_OK);
    char lp[700];
    REQUIRE(store_local_path(s, "runs/2024-01-01/big.bin", lp, sizeof lp));
    CHECK(file_equals(lp, "new", 3));
    free(data);
    store_close(s);
}

TEST(test_store_get_missing_and_callback_stop)
{
    const char *dir = test_tmpdir();
    store *s = open_in(dir, "lake");
    REQUIRE(s);
    sp_error err;
    chunks c = {.calls = 0};
    sp_buf_init(&c.b, 0);
    CHECK_INT(store_get(s, "runs/nope.csv", gather, &c, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "/lake");
    CHECK_CONTAINS(err.msg, "'runs/nope.csv'");
    CHECK_CONTAINS(err.msg, strerror(ENOENT));
    CHECK_INT(c.calls, 0);
    sp_buf_free(&c.b);

    char dst[600];
    snprintf(dst, sizeof dst, "%s/out.csv", dir);
    CHECK_INT(store_get_file(s, "runs/nope.csv", dst, &err), SP_ERR_IO);
    CHECK(access(dst, F_OK) != 0);

    /* A directory is not an object. */
    REQUIRE(store_put_bytes(s, "runs/a/b", "x", 1, &err) == SP_OK);
    CHECK_INT(store_get(s, "runs/a", gather, &c, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "no such object");

    /* get_file into a missing local directory names that path. */
    snprintf(dst, sizeof dst, "%s/no/such/dir/out", dir);
    CHECK_INT(store_get_file(s, "runs/a/b", dst, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "no/such/dir");

    store_close(s);
}

static int stop_after_two(void *ctx, const char *key, int64_t size)
{
    (void)key;
    (void)size;
    int *n = ctx;
    return ++*n == 2 ? 42 : 0;
}

static int stop_chunk(void *ctx, const void *p, size_t n)
{
    (void)ctx;
    (void)p;
    (void)n;
    return 17;
}

TEST(test_store_callbacks_stop_early)
{
    const char *dir = test_tmpdir();
    store *s = open_in(dir, "lake");
    REQUIRE(s);
    sp_error err;
    REQUIRE(store_put_bytes(s, "a", "1", 1, &err) == SP_OK);
    REQUIRE(store_put_bytes(s, "b", "22", 2, &err) == SP_OK);
    REQUIRE(store_put_bytes(s, "c", "333", 3, &err) == SP_OK);
    int n = 0;
    CHECK_INT(store_list(s, "", stop_after_two, &n, &err), 42);
    CHECK_INT(n, 2);
    CHECK_INT(store_get(s, "c", stop_chunk, NULL, &err), 17);
    store_close(s);
}

TEST(test_store_list_order_and_prefix)
{
    const char *dir = test_tmpdir();
    store *s = open_in(dir, "lake/");
    REQUIRE(s);
    sp_error err;
    /* Inserted out of order; '-' < '.' < '/' < '0' in byte order. */
    static const char *keys[] = {
        "a0",   "a/y/z", "b",    "a.txt", "a-b", "a/x",
        "runs/2024-01-10/z.csv", "runs/2024-01-01/x.csv", "runs/2024-01-02/y.csv",
        "runs/2024-01-01/x.csv.bak", "A",
    };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        REQUIRE(store_put_bytes(s, keys[i], keys[i], strlen(keys[i]), &err) == SP_OK);

    CHECK_STR(list_all(s, ""), "A 1\na-b 3\na.txt 5\na/x 3\na/y/z 5\na0 2\nb 1\n"
                               "runs/2024-01-01/x.csv 21\nruns/2024-01-01/x.csv.bak 25\n"
                               "runs/2024-01-02/y.csv 21\nruns/2024-01-10/z.csv 21\n");
    CHECK_STR(list_all(s, NULL), list_all(s, ""));
    CHECK_STR(list_all(s, "a"), "a-b 3\na.txt 5\na/x 3\na/y/z 5\na0 2\n");
    CHECK_STR(list_all(s, "a/"), "a/x 3\na/y/z 5\n");
    CHECK_STR(list_all(s, "runs/2024-01-0"),
              "runs/2024-01-01/x.csv 21\nruns/2024-01-01/x.csv.bak 25\nruns/2024-01-02/y.csv 21\n");
    CHECK_STR(list_all(s, "runs/2024-01-01/"),
              "runs/2024-01-01/x.csv 21\nruns/2024-01-01/x.csv.bak 25\n");
    CHECK_STR(list_all(s, "runs/2024-01-01/x.csv"),
              "runs/2024-01-01/x.csv 21\nruns/2024-01-01/x.csv.bak 25\n");
    CHECK_STR(list_all(s, "runs/2099"), "");
    CHECK_STR(list_all(s, "b/c/"), ""); /* "b" is an object, not a folder */
    CHECK_STR(list_all(s, "zzz/"), "");

    /* Invalid prefixes are usage errors. */
    CHECK_INT(store_list(s, "../", collect, NULL, &err), SP_ERR_USAGE);
    CHECK_INT(store_list(s, "/runs", collect, NULL, &err), SP_ERR_USAGE);
    CHECK_INT(store_list(s, "runs//x", collect, NULL, &err), SP_ERR_USAGE);
    store_close(s);

    /* A store whose directory does not exist yet is empty. */
    s = open_in(dir, "never/created");
    REQUIRE(s);
    CHECK_STR(list_all(s, ""), "");
    CHECK_STR(list_all(s, "runs/"), "");
    store_close(s);
}

TEST(test_store_temp_files_not_listed)
{
    const char *dir = test_tmpdir();
    store *s = open_in(dir, "lake");
    REQUIRE(s);
    sp_error err;
    REQUIRE(store_put_bytes(s, "runs/d/x.csv", "x", 1, &err) == SP_OK);
    char p[700];
    /* Leftovers of an interrupted put (ours or another process's). */
    snprintf(p, sizeof p, "%s/lake/runs/d/.tmp-999-0-y.csv", dir);
    write_file(p, "partial", 7);
    snprintf(p, sizeof p, "%s/lake/.tmp-1-2-z", dir);
    write_file(p, "partial", 7);
    CHECK_STR(list_all(s, ""), "runs/d/x.csv 1\n");
    CHECK_STR(list_all(s, "runs/d/"), "runs/d/x.csv 1\n");
    CHECK_STR(list_all(s, "runs/d/.tmp"), "");
    /* Our own puts leave no temporary file behind. */
    snprintf(p, sizeof p, "%s/lake/runs/d", dir);
    CHECK_INT(count_names(p, ".tmp-"), 1); /* only the planted one */
    /* Keys that would hide as temporaries are refused. */
    CHECK_INT(store_put_bytes(s, "runs/.tmp-x", "x", 1, &err), SP_ERR_USAGE);
    store_close(s);
}

TEST(test_store_stat_sha256)
{
    const char *dir = test_tmpdir();
    store *s = open_in(dir, "lake");
    REQUIRE(s);
    sp_error err;
    REQUIRE(store_put_bytes(s, "k/abc", "abc", 3, &err) == SP_OK);
    store_stat st;
    CHECK_INT(store_stat_key(s, "k/abc", true, &st, &err), SP_OK);
    CHECK(st.exists);
    CHECK_INT(st.size, 3);
    CHECK_STR(st.sha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CHECK_INT(store_stat_key(s, "k/abc", false, &st, &err), SP_OK);
    CHECK(st.exists);
    CHECK_INT(st.size, 3);
    CHECK_STR(st.sha256, "");
    CHECK_INT(store_stat_key(s, "k/missing", true, &st, &err), SP_OK);
    CHECK(!st.exists);
    CHECK_INT(store_stat_key(s, "k/abc/below-a-file", true, &st, &err), SP_OK);
    CHECK(!st.exists);
    CHECK_INT(store_stat_key(s, "k", true, &st, &err), SP_OK); /* a folder */
    CHECK(!st.exists);
    REQUIRE(store_put_bytes(s, "k/empty", "", 0, &err) == SP_OK);
    CHECK_INT(store_stat_key(s, "k/empty", true, &st, &err), SP_OK);
    CHECK(st.exists);
    CHECK_INT(st.size, 0);
    CHECK_STR(st.sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    store_close(s);
}

TEST(test_store_delete)
{
    const char *dir = test_tmpdir();
    store *s = open_in(dir, "lake");
    REQUIRE(s);
    sp_error err;
    REQUIRE(store_put_bytes(s, "runs/d/x.csv", "x", 1, &err) == SP_OK);
    REQUIRE(store_put_bytes(s, "runs/e/y.csv", "y", 1, &err) == SP_OK);
    CHECK_INT(store_delete(s, "runs/d/x.csv", &err), SP_OK);
    CHECK_STR(list_all(s, ""), "runs/e/y.csv 1\n");
    char p[700];
    snprintf(p, sizeof p, "%s/lake/runs/d", dir);
    CHECK(access(p, F_OK) != 0); /* the empty folder went too */
    snprintf(p, sizeof p, "%s/lake/runs", dir);
    CHECK(access(p, F_OK) == 0); /* not the one still holding e/ */
    CHECK_INT(store_delete(s, "runs/d/x.csv", &err), SP_OK); /* missing: fine */
    CHECK_INT(store_delete(s, "never/was", &err), SP_OK);
    CHECK_INT(store_delete(s, "runs/e/y.csv", &err), SP_OK);
    CHECK_STR(list_all(s, ""), "");
    snprintf(p, sizeof p, "%s/lake", dir);
    CHECK(access(p, F_OK) == 0); /* the root stays */
    store_close(s);
}

TEST(test_store_invalid_keys)
{
    const char *dir = test_tmpdir();
    store *s = open_in(dir, "lake");
    REQUIRE(s);
    char longkey[1100];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    static const char *bad[] = {"", "/abs", "a//b", "a/./b", "../x", "a/..", "a/", ".",
                                "..", "./a", "a/.tmp-1", "a\nb", "tab\there"};
    sp_error err;
    store_stat st;
    for (size_t i = 0; i <= sizeof bad / sizeof bad[0]; i++) {
        const char *k = i < sizeof bad / sizeof bad[0] ? bad[i] : longkey;
        int rc = store_put_bytes(s, k, "x", 1, &err);
        if (rc != SP_ERR_USAGE)
            test_fail_at(__FILE__, __LINE__, "put '%s' gave %d", k, rc);
        CHECK_CONTAINS(err.msg, "/lake");
        CHECK_INT(store_check_key(k, &err), SP_ERR_USAGE);
        CHECK_INT(store_stat_key(s, k, false, &st, &err), SP_ERR_USAGE);
        CHECK_INT(store_get(s, k, gather, NULL, &err), SP_ERR_USAGE);
        CHECK_INT(store_delete(s, k, &err), SP_ERR_USAGE);
        CHECK_INT(store_put_file(s, k, "/etc/hostname", 0, &err), SP_ERR_USAGE);
    }
    CHECK_INT(store_check_key(NULL, &err), SP_ERR_USAGE);
    CHECK_INT(store_put_bytes(s, "a/../../escape", "x", 1, &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "'a/../../escape'");
    char esc[700];
    snprintf(esc, sizeof esc, "%s/escape", dir);
    CHECK(access(esc, F_OK) != 0);
    /* Dots inside names are fine. */
    static const char *good[] = {"a", "b/c.d", "..a", ".hidden/x", "e/f..", "sp ace/x y"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        CHECK_INT(store_put_bytes(s, good[i], "x", 1, &err), SP_OK);
    char lp[700];
    CHECK(store_local_path(s, "a/../b", lp, sizeof lp) == NULL);
    CHECK(store_local_path(s, "a/b.c", lp, 8) == NULL); /* too small */
    REQUIRE(store_local_path(s, "a/b.c", lp, sizeof lp) != NULL);
    char want[700];
    snprintf(want, sizeof want, "%s/lake/a/b.c", dir);
    CHECK_STR(lp, want);
    store_close(s);
}

TEST(test_store_put_move_vs_copy)
{
    const char *dir = test_tmpdir();
    store *s = open_in(dir, "lake");
    REQUIRE(s);
    sp_error err;
    char src[600], obj[700];
    snprintf(src, sizeof src, "%s/local.parquet", dir);
    write_file(src, "PAR1data", 8);
    struct stat before, after;
    REQUIRE(stat(src, &before) == 0);

    CHECK_INT(store_put_file(s, "runs/d/copy.parquet", src, 0, &err), SP_OK);
    CHECK(access(src, F_OK) == 0);
    REQUIRE(store_local_path(s, "runs/d/copy.parquet", obj, sizeof obj));
    REQUIRE(stat(obj, &after) == 0);
    CHECK(after.st_ino != before.st_ino);
    CHECK(file_equals(obj, "PAR1data", 8));

    CHECK_INT(store_put_file(s, "runs/d/moved.parquet", src, STORE_PUT_MOVE, &err), SP_OK);
    CHECK(access(src, F_OK) != 0);
    REQUIRE(store_local_path(s, "runs/d/moved.parquet", obj, sizeof obj));
    REQUIRE(stat(obj, &after) == 0);
    CHECK(after.st_ino == before.st_ino); /* renamed, not copied */
    CHECK(file_equals(obj, "PAR1data", 8));

    /* Missing or non-regular local files are clear errors. */
    CHECK_INT(store_put_file(s, "x", src, STORE_PUT_MOVE, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, src);
    CHECK_CONTAINS(err.msg, strerror(ENOENT));
    CHECK_INT(store_put_file(s, "x", dir, 0, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "not a regular file");
    CHECK_STR(list_all(s, ""), "runs/d/copy.parquet 8\nruns/d/moved.parquet 8\n");
    store_close(s);
}

TEST(test_store_put_move_across_filesystems)
{
    /* /dev/shm is usually a tmpfs apart from /tmp: rename gives EXDEV there.
     * When the test directory is itself on a tmpfs ($TMPDIR), /tmp or the
     * working directory (the repository) is the other filesystem. */
    const char *dir = test_tmpdir();
    static const char *const others[] = {"/dev/shm", "/tmp", "."};
    const char *other = NULL;
    struct stat a, b;
    for (size_t i = 0; i < sizeof others / sizeof others[0] && !other; i++)
        if (stat(others[i], &b) == 0 && stat(dir, &a) == 0 && a.st_dev != b.st_dev &&
            access(others[i], W_OK) == 0)
            other = others[i];
    if (!other)
        SKIP("needs a writable /dev/shm, /tmp or working directory on another filesystem "
             "than the test directory");
    char src[128];
    snprintf(src, sizeof src, "%s/sp-store-test-%ld", other, (long)getpid());
    write_file(src, "moved across", 12);
    store *s = open_in(dir, "lake");
    REQUIRE(s);
    sp_error err;
    CHECK_INT(store_put_file(s, "x/y", src, STORE_PUT_MOVE, &err), SP_OK);
    CHECK(access(src, F_OK) != 0); /* copied, then the source was removed */
    char obj[700];
    REQUIRE(store_local_path(s, "x/y", obj, sizeof obj));
    CHECK(file_equals(obj, "moved across", 12));
    unlink(src);
    store_close(s);
}

TEST(test_store_url_schemes)
{
    store *s = NULL;
    sp_error err;
    /* s3:// URLs go to the S3 backend (tests/unit/test_s3.c). */
    CHECK_INT(store_open(&s, "s3://Bad_Bucket/prefix", &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "not a valid S3 bucket name");
    CHECK(s == NULL);
    CHECK_INT(store_open(&s, "ftp://user:secret@host/x", &err), SP_ERR_USAGE);
    CHECK_CONTAINS(err.msg, "ftp://");
    CHECK(strstr(err.msg, "secret") == NULL);
    CHECK_INT(store_open(&s, "gs://bucket", &err), SP_ERR_USAGE);
    CHECK_INT(store_open(&s, "file://otherhost/dir", &err), SP_ERR_USAGE);
    CHECK_INT(store_open(&s, "file://relative", &err), SP_ERR_USAGE);
    CHECK_INT(store_open(&s, "", &err), SP_ERR_USAGE);
    CHECK_INT(store_open(&s, NULL, &err), SP_ERR_USAGE);

    const char *dir = test_tmpdir();
    char url[600];
    snprintf(url, sizeof url, "file://%s/lake", dir);
    REQUIRE(store_open(&s, url, &err) == SP_OK);
    CHECK_STR(store_url(s), url);
    char want[600];
    snprintf(want, sizeof want, "%s/lake", dir);
    CHECK_STR(store_local_root(s), want);
    CHECK_INT(store_put_bytes(s, "a", "x", 1, &err), SP_OK);
    store_close(s);
    snprintf(url, sizeof url, "file://localhost%s/lake", dir);
    REQUIRE(store_open(&s, url, &err) == SP_OK);
    CHECK_STR(store_local_root(s), want);
    CHECK_STR(list_all(s, ""), "a 1\n");
    store_close(s);

    /* A relative plain path; the directory is not created at open. */
    REQUIRE(store_open(&s, "no-such-relative-dir/lake", &err) == SP_OK);
    CHECK_STR(store_local_root(s), "no-such-relative-dir/lake");
    CHECK(access("no-such-relative-dir", F_OK) != 0);
    store_close(s);
    store_close(NULL);
}

TEST(test_store_unwritable_root_under_a_file)
{
    const char *dir = test_tmpdir();
    char file[600];
    snprintf(file, sizeof file, "%s/plain-file", dir);
    write_file(file, "x", 1);
    store *s = open_in(dir, "plain-file/lake");
    REQUIRE(s);
    sp_error err;
    CHECK_INT(store_put_bytes(s, "runs/d/x", "x", 1, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "plain-file/lake");
    CHECK_CONTAINS(err.msg, "'runs/d/x'");
    CHECK_CONTAINS(err.msg, strerror(ENOTDIR));
    CHECK_INT(store_probe(s, "runs/d/", &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "write probe");
    CHECK_CONTAINS(err.msg, strerror(ENOTDIR));
    store_close(s);

    /* A root that is itself a file. */
    s = open_in(dir, "plain-file");
    REQUIRE(s);
    CHECK_CONTAINS(list_all(s, ""), strerror(ENOTDIR));
    CHECK_CONTAINS(list_all(s, "runs/"), "not a directory");
    CHECK_INT(store_probe(s, "", &err), SP_ERR_IO);
    store_close(s);
}

TEST(test_store_unwritable_root_permissions)
{
    if (geteuid() == 0)
        SKIP("running as root: permission bits do not stop root "
             "(test_store_unwritable_root_under_a_file covers the error path)");
    const char *dir = test_tmpdir();
    char root[600];
    snprintf(root, sizeof root, "%s/ro", dir);
    REQUIRE(mkdir(root, 0700) == 0);
    store *s = open_in(dir, "ro");
    REQUIRE(s);
    sp_error err;
    REQUIRE(store_put_bytes(s, "old", "x", 1, &err) == SP_OK);
    REQUIRE(chmod(root, 0500) == 0);
    CHECK_INT(store_put_bytes(s, "x", "x", 1, &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, strerror(EACCES));
    CHECK_INT(store_probe(s, "runs/", &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, root);
    CHECK_CONTAINS(err.msg, strerror(EACCES));
    CHECK_INT(store_delete(s, "old", &err), SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "'old'");
    CHECK_STR(list_all(s, ""), "old 1\n");
    chmod(root, 0700);
    store_close(s);
}

TEST(test_store_probe)
{
    const char *dir = test_tmpdir();
    store *s = open_in(dir, "lake");
    REQUIRE(s);
    sp_error err;
    CHECK_INT(store_probe(s, "runs/2024-01-01/", &err), SP_OK);
    CHECK_INT(store_probe(s, "runs/2024-01-01", &err), SP_OK);
    CHECK_INT(store_probe(s, "", &err), SP_OK);
    CHECK_INT(store_probe(s, NULL, &err), SP_OK);
    CHECK_STR(list_all(s, ""), "");
    char p[700];
    snprintf(p, sizeof p, "%s/lake/runs", dir);
    CHECK(access(p, F_OK) != 0); /* the probe's folders were pruned */
    CHECK_INT(store_probe(s, "../up/", &err), SP_ERR_USAGE);
    store_close(s);
}
