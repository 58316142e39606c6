/* fsutil.c — see fsutil.h. */
#include "fsutil.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

int sp_mkdirs(const char *path, size_t len, sp_error *err)
{
    char dir[PATH_MAX];
    if (len == 0)
        return SP_OK;
    if (len >= sizeof dir)
        return sp_fail(err, SP_ERR_IO, "cannot create directory %.*s…: name too long", 200, path);
    memcpy(dir, path, len);
    dir[len] = '\0';
    for (size_t i = 1; i <= len; i++) {
        if (dir[i] != '/' && dir[i] != '\0')
            continue;
        char c = dir[i];
        dir[i] = '\0';
        if (mkdir(dir, 0777) != 0 && errno != EEXIST)
            return sp_fail(err, SP_ERR_IO, "cannot create directory %s: %s", dir, strerror(errno));
        dir[i] = c;
    }
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sp_fail(err, SP_ERR_IO, "%s is not a directory", dir);
    return SP_OK;
}
