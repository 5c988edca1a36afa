/* Path resolution under a root directory fd with openat2(2): see common/fs.h.
 *
 * The kernel does the resolution (RESOLVE_IN_ROOT clamps symlinks and ".." to the root,
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS refuses them), so no string join can lead outside. openat2
 * returns EAGAIN when a rename raced with the lookup; that is retried a few times.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"

#define OPENAT2_RETRIES 16

static uint64_t
resolve_flags(enum bx_resolve resolve)
{
    if (resolve == BX_RESOLVE_NO_SYMLINKS)
        return RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    return RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
}

/* Returns the fd, or -1 with errno set. */
static int
openat2_retry(int dirfd, const char *path, int flags, mode_t mode, uint64_t resolve)
{
    struct open_how how;
    memset(&how, 0, sizeof(how));
    how.flags = (uint64_t)(flags | O_CLOEXEC);
    how.mode = (flags & (O_CREAT | O_TMPFILE)) ? (mode & 07777) : 0;
    how.resolve = resolve;
    for (int i = 0; i < OPENAT2_RETRIES; i++) {
        long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN && errno != EINTR)
            return -1;
    }
    return -1;
}

static int
open_error(int errnum, const char *path, enum bx_resolve resolve, struct bx_err *err)
{
    if (errnum == ENOSYS)
        return bx_err_sys(err, BX_EUNSUPPORTED, errnum, "open %s: openat2 (Linux 5.6+)", path);
    if (errnum == EXDEV)
        return bx_err_set(err, BX_EPERM, "open %s: path leads outside its root", path);
    if (errnum == ELOOP && resolve == BX_RESOLVE_NO_SYMLINKS)
        return bx_err_set(err, BX_EPERM, "open %s: path goes through a symlink", path);
    return bx_err_sys(err, bx_err_from_errno(errnum), errnum, "open %s", path);
}

static const char *
skip_slashes(const char *path)
{
    while (*path == '/')
        path++;
    return *path ? path : ".";
}

int
bx_open_in_root(int rootfd, const char *path, int flags, mode_t mode, enum bx_resolve resolve,
                struct bx_err *err)
{
    if (!path)
        return bx_err_set(err, BX_EINVAL, "open in root: no path");
    const char *rel = skip_slashes(path);
    int fd = openat2_retry(rootfd, rel, flags, mode, resolve_flags(resolve));
    return fd >= 0 ? fd : open_error(errno, rel, resolve, err);
}

/* Splits `path` into its directory part (in dir, without trailing slashes, "." when there is
 * none) and its last component (in leaf). */
static int
split_leaf(const char *path, char *dir, size_t dir_size, char *leaf, size_t leaf_size,
           struct bx_err *err)
{
    size_t len = strlen(path);
    while (len > 0 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t leaf_len = len - start;
    if (leaf_len == 0 || (leaf_len == 1 && path[start] == '.') ||
        (leaf_len == 2 && path[start] == '.' && path[start + 1] == '.'))
        return bx_err_set(err, BX_EINVAL, "path '%s' names no entry", path);
    if (leaf_len + 1 > leaf_size || start + 2 > dir_size)
        return bx_err_set(err, BX_ETOOBIG, "path too long");
    memcpy(leaf, path + start, leaf_len);
    leaf[leaf_len] = '\0';
    size_t dlen = start;
    while (dlen > 0 && path[dlen - 1] == '/')
        dlen--;
    if (dlen == 0) {
        strcpy(dir, ".");
    } else {
        memcpy(dir, path, dlen);
        dir[dlen] = '\0';
    }
    return 0;
}

/* Opens dir under the root, creating each missing component in the directory its prefix
 * resolved to. Each prefix is resolved afresh from the root so symlinks keep the root's
 * semantics whatever the depth. Returns the fd, or -1 with errno set. */
static int
open_dir_creating(int rootfd, char *dir, uint64_t how, mode_t dir_mode)
{
    const int flags = O_RDONLY | O_DIRECTORY;
    int fd = openat2_retry(rootfd, dir, flags, 0, how);
    if (fd >= 0 || errno != ENOENT || dir_mode == 0)
        return fd;

    cleanup_close int parent = openat2_retry(rootfd, ".", flags, 0, how);
    if (parent < 0)
        return -1;
    size_t len = strlen(dir);
    for (size_t end = 1; end <= len; end++) {
        if ((dir[end] != '/' && dir[end] != '\0') || dir[end - 1] == '/')
            continue;
        char saved = dir[end];
        dir[end] = '\0';
        int next = openat2_retry(rootfd, dir, flags, 0, how);
        if (next < 0 && errno == ENOENT) {
            const char *comp = strrchr(dir, '/');
            comp = comp ? comp + 1 : dir;
            if (mkdirat(parent, comp, dir_mode) == 0 || errno == EEXIST)
                next = openat2_retry(rootfd, dir, flags, 0, how);
        }
        dir[end] = saved;
        if (next < 0)
            return -1;
        close(parent);
        parent = next;
    }
    return steal_fd(&parent);
}

int
bx_open_parent_in_root(int rootfd, const char *path, enum bx_resolve resolve, mode_t dir_mode,
                       char *leaf, size_t leaf_size, struct bx_err *err)
{
    if (!path || !leaf)
        return bx_err_set(err, BX_EINVAL, "open parent: no path");
    char dir[4096];
    int rc = split_leaf(skip_slashes(path), dir, sizeof(dir), leaf, leaf_size, err);
    if (rc < 0)
        return rc;
    int fd = open_dir_creating(rootfd, dir, resolve_flags(resolve), dir_mode);
    return fd >= 0 ? fd : open_error(errno, dir, resolve, err);
}
