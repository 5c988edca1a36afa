/* mkdir -p, rm -rf, atomic writes and bounded reads that never follow symlinks: see
 * common/fs.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"

int
bx_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int
bx_mkdir_p(int dirfd, const char *path, mode_t mode, struct bx_err *err)
{
    if (!path || !*path)
        return bx_err_set(err, BX_EINVAL, "mkdir: empty path");
    cleanup_close int cur = -1;
    if (path[0] == '/' || dirfd == AT_FDCWD)
        cur = open(path[0] == '/' ? "/" : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    else
        cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    if (cur < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "mkdir %s", path);
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *start = p;
        while (*p && *p != '/')
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0)
            break;
        char comp[NAME_MAX + 1];
        if (len > NAME_MAX)
            return bx_err_set(err, BX_ETOOBIG, "mkdir %s: component too long", path);
        memcpy(comp, start, len);
        comp[len] = '\0';
        const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
        int next = openat(cur, comp, flags);
        if (next < 0 && errno == ENOENT) {
            if (mkdirat(cur, comp, mode) < 0 && errno != EEXIST)
                return bx_err_sys(err, bx_err_from_errno(errno), errno, "mkdir %s", path);
            next = openat(cur, comp, flags);
        }
        if (next < 0) {
            struct stat st;
            if ((errno == ELOOP || errno == ENOTDIR) &&
                fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                return bx_err_set(err, BX_EPERM, "mkdir %s: '%s' is a symlink", path, comp);
            return bx_err_sys(err, bx_err_from_errno(errno), errno, "mkdir %s", path);
        }
        close(cur);
        cur = next;
    }
    return 0;
}

/* One directory on the way down in bx_rm_rf(): its identity, to check the way back up. */
struct rm_level {
    dev_t dev;
    ino_t ino;
};

/* Opens the directory `name` in `parent` for removal, making it searchable if it is not. */
static int
rm_open_dir(int parent, const char *name)
{
    const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
    int fd = openat(parent, name, flags);
    if (fd < 0 && errno == EACCES && fchmodat(parent, name, 0700, 0) == 0)
        fd = openat(parent, name, flags);
    return fd;
}

DIR *
bx_opendir_at(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        errno = e;
    }
    return d;
}

/* Removes what it can of the entries of `dir` without descending. Sets *child to the name of a
 * non-empty subdirectory to descend into ("" when none is left). Returns 0 or -1 with errno. */
static int
rm_scan(int dir, char *child, size_t child_size)
{
    child[0] = '\0';
    cleanup_dir DIR *d = bx_opendir_at(dir, ".");
    if (!d)
        return -1;
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0')))
            continue;
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            if (fstatat(dir, n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT)
                    continue;
                return -1;
            }
            is_dir = S_ISDIR(st.st_mode);
        }
        if (!is_dir) {
            if (unlinkat(dir, n, 0) < 0 && errno != ENOENT)
                return -1;
            continue;
        }
        if (unlinkat(dir, n, AT_REMOVEDIR) == 0 || errno == ENOENT)
            continue;
        if (errno != ENOTEMPTY && errno != EEXIST)
            return -1;
        snprintf(child, child_size, "%s", n);
        return 0;
    }
    return errno ? -1 : 0;
}

static int
rm_same(int fd, const struct rm_level *want)
{
    struct stat st;
    return fstat(fd, &st) == 0 && st.st_dev == want->dev && st.st_ino == want->ino;
}

/* Empties the directory `top` (a directory fd it takes over) without recursion, so that neither
 * the stack nor the number of open descriptors grows with the depth of the tree. Going back up
 * opens ".." and checks it is the directory that was left, so a concurrent rename cannot lead
 * the walk elsewhere. Returns 0 or -1 with errno set. */
static int
rm_empty_dir(int top)
{
    cleanup_close int cur = top;
    cleanup_free struct rm_level *stack = NULL;
    size_t depth = 0, cap = 0;
    struct stat st;
    if (fstat(cur, &st) < 0)
        return -1;
    for (;;) {
        char child[NAME_MAX + 1];
        if (rm_scan(cur, child, sizeof(child)) < 0)
            return -1;
        if (child[0]) {
            int next = rm_open_dir(cur, child);
            if (next < 0)
                return -1;
            if (depth == cap) {
                size_t ncap = cap ? cap * 2 : 64;
                struct rm_level *n = realloc(stack, ncap * sizeof(*n));
                if (!n) {
                    close(next);
                    return -1;
                }
                stack = n;
                cap = ncap;
            }
            stack[depth++] = (struct rm_level){st.st_dev, st.st_ino};
            close(cur);
            cur = next;
            if (fstat(cur, &st) < 0)
                return -1;
            continue;
        }
        if (depth == 0)
            return 0;
        /* This directory is empty now; the parent's next scan removes it. */
        int up = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (up < 0)
            return -1;
        depth--;
        if (!rm_same(up, &stack[depth])) {
            close(up);
            errno = EXDEV;
            return -1;
        }
        close(cur);
        cur = up;
        if (fstat(cur, &st) < 0)
            return -1;
    }
}

int
bx_rm_rf(int dirfd, const char *name, struct bx_err *err)
{
    if (!name || !*name)
        return bx_err_set(err, BX_EINVAL, "remove: empty path");
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "remove %s", name);
    }
    if (!S_ISDIR(st.st_mode)) {
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
            return bx_err_sys(err, bx_err_from_errno(errno), errno, "remove %s", name);
        return 0;
    }
    int fd = rm_open_dir(dirfd, name);
    if (fd < 0 || rm_empty_dir(fd) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "remove %s", name);
    if (unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "remove %s", name);
    return 0;
}

/* fsync of a directory given as a dirfd, where AT_FDCWD means the working directory. */
static int
fsync_dir(int dirfd)
{
    if (dirfd != AT_FDCWD)
        return fsync(dirfd);
    cleanup_close int fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd < 0 ? -1 : fsync(fd);
}

static int
write_file_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                   bool durable, struct bx_err *err)
{
    static atomic_uint counter;
    if (!name || !*name || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return bx_err_set(err, BX_EINVAL, "atomic write: '%s' is not a file name", name);
    char tmp[NAME_MAX + 1];
    int n = snprintf(tmp, sizeof(tmp), ".%.200s.tmp.%d.%u", name, (int)getpid(),
                     atomic_fetch_add(&counter, 1));
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return bx_err_set(err, BX_ETOOBIG, "atomic write %s: name too long", name);
    cleanup_close int fd =
        openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "atomic write %s: create", name);
    const char *step = NULL;
    if (bx_write_all(fd, data, len) < 0)
        step = "write";
    else if (fchmod(fd, mode & 07777) < 0)
        step = "chmod";
    else if (durable && fsync(fd) < 0)
        step = "fsync";
    else if (renameat(dirfd, tmp, dirfd, name) < 0)
        step = "rename";
    if (step) {
        int saved = errno;
        unlinkat(dirfd, tmp, 0);
        return bx_err_sys(err, bx_err_from_errno(saved), saved, "atomic write %s: %s", name, step);
    }
    if (durable && fsync_dir(dirfd) < 0)
        return bx_err_sys(err, BX_EIO, errno, "atomic write %s: fsync directory", name);
    return 0;
}

int
bx_write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                     struct bx_err *err)
{
    return write_file_replace(dirfd, name, data, len, mode, true, err);
}

int
bx_write_file_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                      struct bx_err *err)
{
    return write_file_replace(dirfd, name, data, len, mode, false, err);
}

int
bx_read_file(int dirfd, const char *name, size_t max_size, char **out, size_t *out_len,
             struct bx_err *err)
{
    cleanup_close int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "read %s", name);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return bx_err_sys(err, BX_EIO, errno, "read %s", name);
    if (!S_ISREG(st.st_mode))
        return bx_err_set(err, BX_EINVAL, "read %s: not a regular file", name);
    if ((uintmax_t)st.st_size > max_size)
        return bx_err_set(err, BX_ETOOBIG, "read %s: %jd bytes, more than the %zu allowed", name,
                          (intmax_t)st.st_size, max_size);
    /* The file may grow while it is read: never read more than max_size. */
    size_t cap = (size_t)st.st_size + 1;
    cleanup_free char *buf = malloc(cap);
    if (!buf)
        return bx_err_set(err, BX_ENOMEM, "read %s: out of memory", name);
    size_t len = 0;
    for (;;) {
        if (len + 1 == cap) {
            if (len >= max_size) {
                char probe;
                ssize_t r = read(fd, &probe, 1);
                if (r == 0)
                    break;
                return bx_err_set(err, BX_ETOOBIG, "read %s: more than the %zu bytes allowed", name,
                                  max_size);
            }
            size_t ncap = cap * 2 > max_size + 1 ? max_size + 1 : cap * 2;
            char *n = realloc(buf, ncap);
            if (!n)
                return bx_err_set(err, BX_ENOMEM, "read %s: out of memory", name);
            buf = n;
            cap = ncap;
        }
        ssize_t r = read(fd, buf + len, cap - 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return bx_err_sys(err, BX_EIO, errno, "read %s", name);
        if (r == 0)
            break;
        len += (size_t)r;
    }
    buf[len] = '\0';
    if (out_len)
        *out_len = len;
    *out = steal_ptr(&buf);
    return 0;
}
