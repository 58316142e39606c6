/* test.h — salespipe's minimal in-house unit-test harness.
 * A test is a function declared with TEST(name); it registers itself before
 * main() runs. CHECK* macros record a failure with file:line and carry on, so
 * one run shows every broken expectation. tests/test_main.c runs them all and
 * prints the closing line "N passed, N failed[, N skipped]". */
#ifndef SP_TEST_H
#define SP_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
void test_register(const char *name, const char *file, test_fn fn);
void test_fail_at(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void test_skip(const char *why);
/* Directory with the shared data (../shared/data) or NULL when absent. */
const char *test_shared_dir(void);
/* A fresh empty temporary directory for this test (removed at exit). */
const char *test_tmpdir(void);
/* A whole file, NUL-terminated (not counted in *len); NULL when it cannot be
 * read. The caller frees it. */
char *test_read_file(const char *path, size_t *len);

#define TEST(name)                                                   \
    static void name(void);                                          \
    __attribute__((constructor)) static void test_reg_##name(void)   \
    {                                                                \
        test_register(#name, __FILE__, name);                        \
    }                                                                \
    static void name(void)

#define CHECK(cond)                                                  \
    do {                                                             \
        if (!(cond))                                                 \
            test_fail_at(__FILE__, __LINE__, "CHECK(%s)", #cond);    \
    } while (0)

#define CHECK_INT(a, b)                                                         \
    do {                                                                        \
        long long ta_ = (long long)(a), tb_ = (long long)(b);                   \
        if (ta_ != tb_)                                                         \
            test_fail_at(__FILE__, __LINE__, "%s == %lld, expected %s == %lld", \
                         #a, ta_, #b, tb_);                                     \
    } while (0)

#define CHECK_STR(a, b)                                                          \
    do {                                                                         \
        const char *ta_ = (a), *tb_ = (b);                                       \
        if (!ta_ || !tb_ || strcmp(ta_, tb_) != 0)                               \
            test_fail_at(__FILE__, __LINE__, "%s == \"%s\", expected \"%s\"", #a, \
                         ta_ ? ta_ : "(null)", tb_ ? tb_ : "(null)");            \
    } while (0)

/* Substring check, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                                \
    do {                                                                           \
        const char *th_ = (hay), *tn_ = (needle);                                  \
        if (!th_ || !strstr(th_, tn_))                                             \
            test_fail_at(__FILE__, __LINE__, "%s == \"%s\" lacks \"%s\"", #hay,     \
                         th_ ? th_ : "(null)", tn_);                               \
    } while (0)

/* A check whose failure makes the rest of the test meaningless. */
#define REQUIRE(cond)                                                \
    do {                                                             \
        if (!(cond)) {                                               \
            test_fail_at(__FILE__, __LINE__, "REQUIRE(%s)", #cond);  \
            return;                                                  \
        }                                                            \
    } while (0)

#define SKIP(why)        \
    do {                 \
        test_skip(why);  \
        return;          \
    } while (0)

#endif
