/* cancel.c — the stop request of cancel.h: one lock-free atomic set by the
 * SIGINT/SIGTERM handler, the hooks it calls, a sleep that wakes on it, and
 * the notes of what the stop cleaned up. The handler only touches atomics,
 * write(2) and _exit(2), and the hooks (async-signal-safe by contract). */
#include "cancel.h"

#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static atomic_int g_signal;

typedef struct hook_slot {
    _Atomic(sp_cancel_hook_fn) fn;
    _Atomic(void *) arg;
    atomic_int busy; /* handlers running this hook now */
} hook_slot;

static hook_slot g_hooks[SP_CANCEL_HOOKS];

static void run_hooks(void)
{
    for (int i = 0; i < SP_CANCEL_HOOKS; i++) {
        hook_slot *h = &g_hooks[i];
        atomic_fetch_add(&h->busy, 1);
        sp_cancel_hook_fn fn = atomic_load(&h->fn);
        void *arg = atomic_load(&h->arg);
        if (fn)
            fn(arg);
        atomic_fetch_sub(&h->busy, 1);
    }
}

static void on_signal(int sig)
{
    int none = 0;
    if (!atomic_compare_exchange_strong(&g_signal, &none, sig)) {
        /* The second signal: the operator does not want to wait for the
         * cleanup. What is left is debris the next run sweeps. */
        static const char msg[] = "salespipe: second signal: exiting at once; temporary files "
                                  "may remain (the next run that uses the stores removes them)\n";
        ssize_t w = write(STDERR_FILENO, msg, sizeof msg - 1);
        (void)w;
        _exit(128 + sig);
    }
    run_hooks();
}

static void set_handler(void (*fn)(int))
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = fn;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: blocking calls return EINTR and loops look */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void sp_cancel_install(void)
{
    set_handler(on_signal);
}

void sp_cancel_uninstall(void)
{
    set_handler(SIG_DFL);
}

int sp_cancel_signal(void)
{
    return atomic_load(&g_signal);
}

const char *sp_cancel_signal_name(int sig)
{
    static _Thread_local char other[24];
    if (sig == SIGTERM)
        return "SIGTERM";
    if (sig == SIGINT)
        return "SIGINT";
    snprintf(other, sizeof other, "signal %d", sig);
    return other;
}

int sp_cancel_check(sp_error *err, const char *what)
{
    int sig = sp_cancel_signal();
    if (!sig)
        return SP_OK;
    return sp_fail(err, SP_ERR_CANCELLED, "cancelled by %s%s%s", sp_cancel_signal_name(sig),
                   what && *what ? ", while " : "", what ? what : "");
}

int sp_cancel_sleep(double seconds)
{
    double end = sp_mono_seconds() + seconds;
    for (;;) {
        int sig = sp_cancel_signal();
        if (sig)
            return sig;
        double left = end - sp_mono_seconds();
        if (left <= 0)
            return 0;
        if (left > 0.05)
            left = 0.05;
        struct timespec ts = {0, (long)(left * 1e9)};
        nanosleep(&ts, NULL); /* EINTR: the loop looks at the flag */
    }
}

void sp_cancel_request(int sig)
{
    int none = 0;
    if (atomic_compare_exchange_strong(&g_signal, &none, sig))
        run_hooks();
}

/* ---- hooks ------------------------------------------------------------- */

static pthread_mutex_t g_hooks_lock = PTHREAD_MUTEX_INITIALIZER;

int sp_cancel_hook_add(sp_cancel_hook_fn fn, void *arg)
{
    int slot = -1;
    pthread_mutex_lock(&g_hooks_lock);
    for (int i = 0; i < SP_CANCEL_HOOKS && slot < 0; i++) {
        hook_slot *h = &g_hooks[i];
        if (atomic_load(&h->fn) == NULL) {
            atomic_store(&h->arg, arg); /* before fn: a handler seeing fn sees arg */
            atomic_store(&h->fn, fn);
            slot = i;
        }
    }
    pthread_mutex_unlock(&g_hooks_lock);
    return slot;
}

void sp_cancel_hook_remove(int slot)
{
    if (slot < 0 || slot >= SP_CANCEL_HOOKS)
        return;
    hook_slot *h = &g_hooks[slot];
    pthread_mutex_lock(&g_hooks_lock);
    atomic_store(&h->fn, NULL);
    /* A handler on another thread may still be inside the hook. */
    while (atomic_load(&h->busy) > 0) {
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    atomic_store(&h->arg, NULL);
    pthread_mutex_unlock(&g_hooks_lock);
}

/* ---- notes ---------------------------------------------------------------- */

enum { NOTES_MAX = 1536 };
static pthread_mutex_t g_notes_lock = PTHREAD_MUTEX_INITIALIZER;
static char g_notes[NOTES_MAX];
static char g_notes_out[NOTES_MAX + 32];
static int g_notes_dropped;

void sp_cancel_note(const char *fmt, ...)
{
    if (!sp_cancelled())
        return;
    char one[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(one, sizeof one, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&g_notes_lock);
    size_t have = strlen(g_notes), add = strlen(one) + (have ? 2 : 0);
    if (have + add < sizeof g_notes)
        snprintf(g_notes + have, sizeof g_notes - have, "%s%s", have ? "; " : "", one);
    else
        g_notes_dropped++;
    pthread_mutex_unlock(&g_notes_lock);
}

const char *sp_cancel_notes(void)
{
    pthread_mutex_lock(&g_notes_lock);
    if (g_notes_dropped)
        snprintf(g_notes_out, sizeof g_notes_out, "%s; and %d more", g_notes, g_notes_dropped);
    else
        snprintf(g_notes_out, sizeof g_notes_out, "%s", g_notes);
    pthread_mutex_unlock(&g_notes_lock);
    return g_notes_out;
}

void sp_cancel_reset(void)
{
    atomic_store(&g_signal, 0);
    pthread_mutex_lock(&g_notes_lock);
    g_notes[0] = '\0';
    g_notes_dropped = 0;
    pthread_mutex_unlock(&g_notes_lock);
}
