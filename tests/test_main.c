/* test_main.c — runs every TEST registered in the linked test files.
 * Usage: unit_tests [NAME_SUBSTRING]. Prints one line per failure and a
 * closing "N passed, N failed, N skipped" line; exit 1 when anything failed. */
#include "test.h"

#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_TESTS 4096

static struct {
    const char *name, *file;
    test_fn fn;
} tests[MAX_TESTS];
static int ntests;
static int cur_failed, cur_skipped;
static const char *cur_name;
static char tmp_root[256];
static char cur_tmp[320];
static int tmp_seq;

void test_register(const char *name, const char *file, test_fn fn)
{
    if (ntests < MAX_TESTS) {
        tests[ntests].name = name;
        tests[ntests].file = file;
        tests[ntests].fn = fn;
        ntests++;
    }
}

void test_fail_at(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stdout, "FAIL %s (%s:%d): ", cur_name, file, line);
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    cur_failed++;
}

void test_skip(const char *why)
{
    fprintf(stdout, "skipped %s: %s\n", cur_name, why);
    cur_skipped = 1;
}

const char *test_shared_dir(void)
{
    static char path[512];
    const char *env = getenv("SALESPIPE_SHARED");
    const char *cands[] = {env, "../shared/data", "../../shared/data"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        struct stat st;
        if (cands[i] && stat(cands[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(path, sizeof path, "%s", cands[i]);
            return path;
        }
    }
    return NULL;
}

const char *test_tmpdir(void)
{
    if (!tmp_root[0]) {
        /* $TMPDIR as mktemp(1) honours it: tests/run.sh may point it at a
         * tmpfs, where the fsyncs the code does cost nothing. */
        const char *base = getenv("TMPDIR");
        snprintf(tmp_root, sizeof tmp_root, "%s/sp-unit-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(tmp_root)) {
            perror("mkdtemp");
            exit(2);
        }
    }
    snprintf(cur_tmp, sizeof cur_tmp, "%s/t%d", tmp_root, ++tmp_seq);
    if (mkdir(cur_tmp, 0700) != 0) {
        perror("mkdir");
        exit(2);
    }
    return cur_tmp;
}

static void cleanup(void)
{
    if (tmp_root[0] && !getenv("SP_KEEP_TMP")) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_root);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmp_root);
    }
}

int main(int argc, char **argv)
{
    const char *filter = argc > 1 ? argv[1] : NULL;
    int passed = 0, failed = 0, skipped = 0;
    atexit(cleanup);
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 0; i < ntests; i++) {
        if (filter && !strstr(tests[i].name, filter))
            continue;
        cur_name = tests[i].name;
        cur_failed = 0;
        cur_skipped = 0;
        tests[i].fn();
        if (cur_failed)
            failed++;
        else if (cur_skipped)
            skipped++;
        else
            passed++;
        if (getenv("SP_TEST_VERBOSE"))
            printf("%s %s\n", cur_failed ? "not ok" : "ok", cur_name);
    }
    printf("%d passed, %d failed, %d skipped\n", passed, failed, skipped);
    return failed ? 1 : 0;
}

char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *p = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (p = malloc((size_t)n + 1)) != NULL && fread(p, 1, (size_t)n, f) != (size_t)n) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p) {
        p[n] = '\0';
        *len = (size_t)n;
    }
    return p;
}
