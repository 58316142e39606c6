/* owner.h — who made a temporary file or folder, written into its name, so
 * that the next run can tell debris of a dead process (kill -9, a lost
 * machine) from the work of a live one (a concurrent run) and remove only
 * the former. A tag is "<host><boot>.<pid>.<start>": 8 hex digits hashing
 * the host name, 8 hashing the kernel's boot id, the process id and its
 * start time in clock ticks since boot (/proc/<pid>/stat), so a reused pid
 * is not mistaken for the owner. Knows nothing of stores or tasks. */
#ifndef SP_UTIL_OWNER_H
#define SP_UTIL_OWNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { SP_OWNER_TAG_MAX = 64 };

/* This process's tag (computed once; thread-safe). Contains no '-' and no
 * '/', so it can sit between '-' separators in a file name. */
const char *sp_owner_tag(void);

typedef enum sp_owner_state {
    SP_OWNER_ALIVE,   /* this machine, this boot, the process still runs */
    SP_OWNER_GONE,    /* this machine: the process (or the boot it ran in) is gone */
    SP_OWNER_UNKNOWN, /* another machine, or not a tag: only its age can tell */
} sp_owner_state;

/* The state of the owner named by tag[0..len). */
sp_owner_state sp_owner_check(const char *tag, size_t len);

/* Is a temporary item debris? Its owner is gone, or unknown and it was last
 * modified (mtime, seconds since the epoch) more than max_age seconds ago.
 * `name` is what follows the item's fixed head (".tmp-", "salespipe-load-",
 * …): the tag runs up to the next '-' or the end. */
bool sp_owner_is_debris(const char *name, int64_t mtime, int64_t max_age);

#endif
