/* test_store_get.c — store_get when its consumer stops early: the status the
 * callback returned comes back untouched, and the caller's message always
 * names a cause — the consumer's own when it filled err, else one naming the
 * store and key — never an empty or stale message. */
#include "../test.h"

#include "../../src/store/store.h"

static store *open_lake(void)
{
    char url[600];
    snprintf(url, sizeof url, "%s/lake", test_tmpdir());
    store *s = NULL;
    sp_error err;
    if (store_open(&s, url, &err) != SP_OK) {
        test_fail_at(__FILE__, __LINE__, "store_open(%s): %s", url, err.msg);
        return NULL;
    }
    return s;
}

/* Stops without saying why. */
static int stop_silently(void *ctx, const void *p, size_t n)
{
    (void)ctx, (void)p, (void)n;
    return SP_ERR_IO;
}

/* Stops as a consumer whose disk is full would: its cause in err. */
static int stop_disk_full(void *ctx, const void *p, size_t n)
{
    (void)p, (void)n;
    return sp_fail(ctx, SP_ERR_IO, "cannot write /out/part.bin: No space left on device");
}

TEST(test_store_get_silent_consumer_named)
{
    store *s = open_lake();
    REQUIRE(s);
    sp_error err;
    REQUIRE(store_put_bytes(s, "runs/x.bin", "abc", 3, &err) == SP_OK);
    /* A message left over from an earlier failure must not pass as the cause. */
    sp_fail(&err, SP_ERR_NET, "an older failure");
    CHECK_INT(store_get(s, "runs/x.bin", stop_silently, NULL, &err), SP_ERR_IO);
    CHECK_INT(err.code, SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "get 'runs/x.bin': stopped by the consumer");
    CHECK_CONTAINS(err.msg, store_url(s));
    CHECK(!strstr(err.msg, "an older failure"));
    store_close(s);
}

TEST(test_store_get_consumer_cause_kept)
{
    store *s = open_lake();
    REQUIRE(s);
    sp_error err;
    REQUIRE(store_put_bytes(s, "runs/y.bin", "abc", 3, &err) == SP_OK);
    CHECK_INT(store_get(s, "runs/y.bin", stop_disk_full, &err, &err), SP_ERR_IO);
    CHECK_INT(err.code, SP_ERR_IO);
    CHECK_CONTAINS(err.msg, "No space left on device");
    store_close(s);
}
