/* fsutil.h — local-filesystem helpers shared by the modules that create
 * files (the fs store, the SQLite warehouse, gen, transform's work dir). */
#ifndef SP_FSUTIL_H
#define SP_FSUTIL_H

#include <stddef.h>

#include "error.h"

/* mkdir -p of the first `len` bytes of `path` (pass strlen(path) for the
 * whole path, or the length of its dirname). Existing directories are fine;
 * SP_ERR_IO names the directory that could not be created, or the path when
 * it exists but is not a directory. Callers prefix their own context. */
int sp_mkdirs(const char *path, size_t len, sp_error *err);

/* rm -r of a file or a folder (symbolic links are removed, never followed;
 * at most 64 levels deep). A path that does not exist is fine. SP_ERR_IO
 * names the first entry that could not be removed (the rest are tried). */
int sp_remove_tree(const char *path, sp_error *err);

#endif
