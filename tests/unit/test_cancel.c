/* test_cancel.c — stops and debris (SPEC §8): the cancel flag and its
 * sleep, hooks and notes (util/cancel.h), a real SIGTERM caught, the loops
 * that poll it (CSV reader, fs put), owner tags (util/owner.h) and the fs
 * store's sweep of a dead owner's temporary files next to a live one's. */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <utime.h>

#include "../../src/csv/csv.h"
#include "../../src/orch/orch.h"
#include "../../src/store/store.h"
#include "../../src/util/cancel.h"
#include "../../src/util/clock.h"
#include "../../src/util/owner.h"
#include "../test.h"

TEST(cancel_flag_error_and_policy)
{
    sp_cancel_reset();
    sp_error err;
    sp_error_clear(&err);
    CHECK_INT(sp_cancel_check(&err, "x"), SP_OK);
    CHECK(!sp_cancelled());
    sp_cancel_request(SIGTERM);
    CHECK_INT(sp_cancel_signal(), SIGTERM);
    CHECK_INT(sp_cancel_check(&err, "uploading a file"), SP_ERR_CANCELLED);
    CHECK_STR(err.msg, "cancelled by SIGTERM, while uploading a file");
    CHECK(!err.retryable);
    err.retryable = true; /* even when a lower layer said so */
    CHECK(!orch_is_retryable(&err));
    CHECK_STR(sp_status_name(SP_ERR_CANCELLED), "cancelled");
    sp_cancel_request(SIGINT); /* the first signal stays the one that counts */
    CHECK_INT(sp_cancel_signal(), SIGTERM);
    sp_cancel_reset();
    CHECK(!sp_cancelled());
}

static void *request_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 100 * 1000000};
    nanosleep(&ts, NULL);
    sp_cancel_request(SIGINT);
    return NULL;
}

TEST(cancel_sleep_wakes_on_request)
{
    sp_cancel_reset();
    double t0 = sp_mono_seconds();
    CHECK_INT(sp_cancel_sleep(0.05), 0);
    CHECK(sp_mono_seconds() - t0 >= 0.04);
    pthread_t th;
    pthread_create(&th, NULL, request_later, NULL);
    t0 = sp_mono_seconds();
    CHECK_INT(sp_cancel_sleep(30), SIGINT);
    double took = sp_mono_seconds() - t0;
    pthread_join(th, NULL);
    CHECK(took < 1.0);
    sp_cancel_reset();
}

static void count_hook(void *arg)
{
    (*(int *)arg)++;
}

TEST(cancel_hooks_and_notes)
{
    sp_cancel_reset();
    int a = 0, b = 0;
    int sa = sp_cancel_hook_add(count_hook, &a), sb = sp_cancel_hook_add(count_hook, &b);
    CHECK(sa >= 0 && sb >= 0 && sa != sb);
    sp_cancel_hook_remove(sb);
    sp_cancel_note("not kept: no stop yet");
    CHECK_STR(sp_cancel_notes(), "");
    sp_cancel_request(SIGTERM);
    CHECK_INT(a, 1);
    CHECK_INT(b, 0);
    sp_cancel_note("removed %s", "x");
    sp_cancel_note("aborted %s", "y");
    CHECK_STR(sp_cancel_notes(), "removed x; aborted y");
    sp_cancel_hook_remove(sa);
    sp_cancel_reset();
    CHECK_STR(sp_cancel_notes(), "");
}

TEST(cancel_real_signal_is_caught)
{
    sp_cancel_reset();
    sp_cancel_install();
    CHECK_INT(raise(SIGTERM), 0); /* the default action would end the test run */
    CHECK_INT(sp_cancel_signal(), SIGTERM);
    sp_cancel_uninstall();
    sp_cancel_reset();
}

TEST(cancel_stops_csv_reader_and_fs_put)
{
    const char *dir = test_tmpdir();
    char in[512], root[512];
    snprintf(in, sizeof in, "%s/in.csv", dir);
    snprintf(root, sizeof root, "%s/store", dir);
    FILE *f = fopen(in, "w");
    fputs("a,b\n1,2\n", f);
    fclose(f);
    sp_cancel_reset();
    sp_cancel_request(SIGTERM);
    sp_error err;
    sp_error_clear(&err);
    csv_reader *r = NULL;
    csv_options co = {0};
    int rc = csv_open(&r, in, "in.csv", &co, &err);
    csv_record rec;
    if (rc == SP_OK)
        rc = csv_next(r, &rec, &err);
    CHECK_INT(rc, SP_ERR_CANCELLED);
    CHECK_CONTAINS(err.msg, "cancelled by SIGTERM");
    csv_close(r);

    store *s = NULL;
    CHECK_INT(store_open(&s, root, &err), SP_OK);
    CHECK_INT(store_put_file(s, "runs/x/in.csv", in, 0, &err), SP_ERR_CANCELLED);
    CHECK_CONTAINS(err.msg, "cancelled by SIGTERM");
    CHECK_CONTAINS(sp_cancel_notes(), "removed ");
    char dirpath[600];
    snprintf(dirpath, sizeof dirpath, "%s/runs/x", root);
    int left = 0;
    char cmd[700];
    snprintf(cmd, sizeof cmd, "ls -A %s 2>/dev/null | wc -l", dirpath);
    FILE *p = popen(cmd, "r");
    if (p) {
        if (fscanf(p, "%d", &left) != 1)
            left = -1;
        pclose(p);
    }
    CHECK_INT(left, 0); /* no temporary file left beside the object */
    store_close(s);
    sp_cancel_reset();
}

TEST(owner_tags)
{
    const char *me = sp_owner_tag();
    CHECK(strchr(me, '-') == NULL && strchr(me, '/') == NULL);
    CHECK_INT(sp_owner_check(me, strlen(me)), SP_OWNER_ALIVE);
    char t[SP_OWNER_TAG_MAX + 8];
    /* our pid with another start time: a reused pid, not us */
    snprintf(t, sizeof t, "%.*s%ld.1", 17, me, (long)getpid());
    CHECK_INT(sp_owner_check(t, strlen(t)), SP_OWNER_GONE);
    /* another boot of this machine */
    snprintf(t, sizeof t, "%s", me);
    t[8] = t[8] == '0' ? '1' : '0';
    CHECK_INT(sp_owner_check(t, strlen(t)), SP_OWNER_GONE);
    /* another machine */
    snprintf(t, sizeof t, "%s", me);
    t[0] = t[0] == '0' ? '1' : '0';
    CHECK_INT(sp_owner_check(t, strlen(t)), SP_OWNER_UNKNOWN);
    CHECK_INT(sp_owner_check("1234", 4), SP_OWNER_UNKNOWN);
    int64_t now = (int64_t)time(NULL);
    CHECK(!sp_owner_is_debris(t, now - 10, 3600));
    CHECK(sp_owner_is_debris(t, now - 7200, 3600));
    CHECK(!sp_owner_is_debris(me, now - 7200, 3600)); /* alive: never, whatever its age */
}

static void make_file(const char *path, time_t mtime)
{
    FILE *f = fopen(path, "w");
    if (f) {
        fputs("x", f);
        fclose(f);
    }
    if (mtime) {
        struct utimbuf ut = {mtime, mtime};
        utime(path, &ut);
    }
}

static void tell_count(void *ctx, const char *what)
{
    (void)what;
    (*(int *)ctx)++;
}

TEST(fs_sweep_removes_only_dead_owners_debris)
{
    const char *dir = test_tmpdir();
    const char *me = sp_owner_tag();
    char dead[SP_OWNER_TAG_MAX + 8], foreign[SP_OWNER_TAG_MAX + 8], p[1024];
    snprintf(dead, sizeof dead, "%.*s%ld.1", 17, me, (long)getpid());
    snprintf(foreign, sizeof foreign, "%s", me);
    foreign[0] = foreign[0] == '0' ? '1' : '0';
    time_t old = time(NULL) - 7200;
    snprintf(p, sizeof p, "%s/runs/d", dir);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", p);
    CHECK_INT(system(cmd), 0);
    static const char *const kept[] = {"runs/d/a.csv", "runs/d/.tmp-%s-1-live.csv",
                                       "runs/d/.tmp-%f-2-young.csv", "runs/d/.tmp-99-3-legacy"};
    static const char *const gone[] = {"runs/d/.tmp-%d-4-dead.csv", "runs/d/.tmp-%f-5-old.csv"};
    for (int pass = 0; pass < 2; pass++) {
        const char *const *names = pass ? gone : kept;
        int n = pass ? 2 : 4;
        for (int i = 0; i < n; i++) {
            char name[256];
            const char *pct = strchr(names[i], '%');
            if (pct)
                snprintf(name, sizeof name, "%.*s%s%s", (int)(pct - names[i]), names[i],
                         pct[1] == 's' ? me : pct[1] == 'd' ? dead : foreign, pct + 2);
            else
                snprintf(name, sizeof name, "%s", names[i]);
            snprintf(p, sizeof p, "%s/%s", dir, name);
            make_file(p, strstr(name, "-old") ? old : 0);
        }
    }
    /* a dead transform's work folder, with files in it; a live one's */
    snprintf(p, sizeof p, "%s/.tmp-transform-%s-0", dir, dead);
    mkdir(p, 0700);
    strcat(p, "/fact-0.parquet");
    make_file(p, 0);
    snprintf(p, sizeof p, "%s/.tmp-transform-%s-1", dir, me);
    mkdir(p, 0700);

    store *s = NULL;
    sp_error err;
    CHECK_INT(store_open(&s, dir, &err), SP_OK);
    int told = 0, removed = -1;
    CHECK_INT(store_sweep(s, s ? 3600 : 0, tell_count, &told, &removed, &err), SP_OK);
    CHECK_INT(removed, 3);
    CHECK_INT(told, 3);
    store_close(s);
    snprintf(cmd, sizeof cmd, "cd %s && find . -mindepth 1 | sort | tr '\\n' ' '", dir);
    FILE *f = popen(cmd, "r");
    char out[4096] = "";
    if (f) {
        size_t n = fread(out, 1, sizeof out - 1, f);
        out[n] = '\0';
        pclose(f);
    }
    CHECK(strstr(out, "a.csv") != NULL);
    CHECK(strstr(out, "-live.csv") != NULL);
    CHECK(strstr(out, "-young.csv") != NULL);
    CHECK(strstr(out, "-legacy") != NULL); /* no owner, recent: kept */
    CHECK(strstr(out, "-dead.csv") == NULL);
    CHECK(strstr(out, "-old.csv") == NULL);
    CHECK(strstr(out, "fact-0.parquet") == NULL);
    snprintf(p, sizeof p, ".tmp-transform-%s-1", me);
    CHECK(strstr(out, p) != NULL);
}
