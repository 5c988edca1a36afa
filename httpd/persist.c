/* persist: what a run wrote under /output, copied into the store at output/<exec_id>/. The
 * sandbox wrote that tree: nothing in it is followed (symlinks, devices and fifos are skipped),
 * every file is opened with O_NOFOLLOW and copied as bytes, within a total size. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "httpd_internal.h"

#define PERSIST_MAX_DEPTH 64
#define PERSIST_MAX_ENTRIES 100000

struct persist {
    uint64_t limit, used;
    size_t entries;
};

static int
copy_file(int src_dir, const char *name, int dst_dir, struct persist *p, struct bx_err *err)
{
    cleanup_close int in = openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    struct stat st;
    if (in < 0 || fstat(in, &st) < 0 || !S_ISREG(st.st_mode))
        return 0; /* changed under us, or not a regular file: not kept */
    if (p->used + (uint64_t)st.st_size > p->limit)
        return bx_err_set(err, BX_ETOOBIG, "over the persist limit of %llu bytes at %s",
                          (unsigned long long)p->limit, name);
    cleanup_close int out =
        openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (out < 0)
        return bx_err_sys(err, BX_EIO, errno, "persist %s", name);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0) {
        if (p->used + (uint64_t)n > p->limit)
            return bx_err_set(err, BX_ETOOBIG, "over the persist limit at %s", name);
        if (bx_write_all(out, buf, (size_t)n) < 0)
            return bx_err_sys(err, BX_EIO, errno, "persist %s", name);
        p->used += (uint64_t)n;
    }
    return n < 0 ? bx_err_sys(err, BX_EIO, errno, "read %s", name) : 0;
}

static int
copy_dir(int src, int dst, int depth, struct persist *p, struct bx_err *err)
{
    if (depth > PERSIST_MAX_DEPTH)
        return bx_err_set(err, BX_ETOOBIG, "/output is nested deeper than %d", PERSIST_MAX_DEPTH);
    cleanup_dir DIR *d = bx_opendir_at(src, ".");
    if (!d)
        return bx_err_sys(err, BX_EIO, errno, "list /output");
    struct dirent *de;
    int rc = 0;
    while (rc == 0 && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        struct stat st;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        if (++p->entries > PERSIST_MAX_ENTRIES)
            return bx_err_set(err, BX_ETOOBIG, "/output has more than %d entries",
                              PERSIST_MAX_ENTRIES);
        if (S_ISREG(st.st_mode)) {
            rc = copy_file(src, name, dst, p, err);
        } else if (S_ISDIR(st.st_mode)) {
            cleanup_close int s2 =
                openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (s2 < 0 || (mkdirat(dst, name, 0755) < 0 && errno != EEXIST))
                continue;
            cleanup_close int d2 =
                openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (d2 >= 0)
                rc = copy_dir(s2, d2, depth + 1, p, err);
        } else {
            bx_log_debug("persist skips what is not a file or directory", "name=%s", name);
        }
    }
    return rc;
}

int
persist_output(int store_fd, const char *output_dir, const char *exec_id, uint64_t limit,
               struct bx_err *err)
{
    cleanup_close int src = open(output_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (src < 0)
        return bx_err_sys(err, BX_EIO, errno, "open %s", output_dir);
    char path[128];
    snprintf(path, sizeof(path), "output/%s", exec_id);
    if (bx_mkdir_p(store_fd, path, 0755, err) < 0)
        return err->code;
    cleanup_close int dst =
        bx_open_in_root(store_fd, path, O_RDONLY | O_DIRECTORY, 0, BX_RESOLVE_NO_SYMLINKS, err);
    if (dst < 0)
        return dst;
    struct persist p = {.limit = limit ? limit : UINT64_MAX};
    return copy_dir(src, dst, 0, &p, err);
}
