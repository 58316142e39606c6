/* fsutil.c — see fsutil.h. */
#include "fsutil.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static int remove_at(char *path, size_t len, int depth, sp_error *err)
{
    struct stat st;
    if (lstat(path, &st) != 0)
        return errno == ENOENT ? SP_OK
                               : sp_fail(err, SP_ERR_IO, "cannot remove %s: %s", path,
                                         strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (unlink(path) != 0 && errno != ENOENT)
            return sp_fail(err, SP_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
        return SP_OK;
    }
    int rc = SP_OK;
    DIR *d = depth < 64 ? opendir(path) : NULL;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            size_t nl = strlen(e->d_name);
            if (len + 1 + nl >= PATH_MAX) {
                rc = sp_fail(err, SP_ERR_IO, "cannot remove %s/%s: path too long", path, e->d_name);
                continue;
            }
            path[len] = '/';
            memcpy(path + len + 1, e->d_name, nl + 1);
            int r = remove_at(path, len + 1 + nl, depth + 1, err);
            path[len] = '\0';
            if (r != SP_OK)
                rc = r;
        }
        closedir(d);
    }
    if (rmdir(path) != 0 && errno != ENOENT && rc == SP_OK)
        rc = sp_fail(err, SP_ERR_IO, "cannot remove %s: %s", path, strerror(errno));
    return rc;
}

int sp_remove_tree(const char *path, sp_error *err)
{
    char buf[PATH_MAX];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return sp_fail(err, SP_ERR_IO, "cannot remove %.200s…: path too long", path);
    memcpy(buf, path, n + 1);
    return remove_at(buf, n, 0, err);
}
