/* Where an entry really is in the root: see oci_root_parent_open() in oci/unpack_internal.h.
 *
 * A layer may name one place by several paths ("lib/x" and "usr/lib/x" when lib -> usr/lib), but
 * whiteouts must know whether a file is the layer's own whatever path named it, so the set of
 * added paths holds canonical paths (no symlink in them), as containerd's unpacker does. Most
 * entries have none in their parent: one openat2 with RESOLVE_NO_SYMLINKS proves it and the
 * path is its own canonical form. Otherwise the parent is resolved under RESOLVE_IN_ROOT and its
 * canonical path read back from the kernel (/proc/self/fd), relative to the root's.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "unpack_internal.h"

/* The absolute path of `fd` into buf, or -1. */
static ssize_t
fd_path(int fd, char *buf, size_t size)
{
    char proc[64];
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(proc, buf, size);
    if (n <= 0 || (size_t)n >= size || buf[0] != '/')
        return -1;
    buf[n] = '\0';
    return n;
}

void
oci_root_init(struct oci_root *root, int rootfd)
{
    root->fd = rootfd;
    ssize_t n = fd_path(rootfd, root->path, sizeof(root->path));
    /* "/" as the root is kept as "" so that "<root>/<rest>" matches every path below it. */
    root->path_len = n < 0 ? 0 : (size_t)n == 1 ? 0 : (size_t)n;
    root->path_known = n > 0;
}

/* Writes the path of the directory `dirfd` relative to the root into out; -1 when unknown. */
static int
dir_canon(const struct oci_root *root, int dirfd, char *out, size_t size)
{
    char abs[PATH_MAX];
    if (!root->path_known || fd_path(dirfd, abs, sizeof(abs)) < 0 ||
        strncmp(abs, root->path, root->path_len) != 0)
        return -1;
    const char *rest = abs + root->path_len;
    if (*rest != '\0' && *rest != '/')
        return -1;
    while (*rest == '/')
        rest++;
    int n = snprintf(out, size, "%s", *rest ? rest : ".");
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

int
oci_root_parent_open(const struct oci_root *root, const char *path, mode_t dir_mode, char *leaf,
                     size_t leaf_size, char *canon, size_t canon_size, struct bx_err *err)
{
    int fd = bx_open_parent_in_root(root->fd, path, BX_RESOLVE_NO_SYMLINKS, dir_mode, leaf,
                                    leaf_size, err);
    if (fd >= 0) {
        int n = snprintf(canon, canon_size, "%s", path);
        if (n < 0 || (size_t)n >= canon_size) {
            close(fd);
            return bx_err_set(err, BX_ETOOBIG, "path too long");
        }
        return fd;
    }
    /* A symlink on the way (or another failure, which this resolution reports as it should). */
    fd = bx_open_parent_in_root(root->fd, path, BX_RESOLVE_IN_ROOT, dir_mode, leaf, leaf_size, err);
    if (fd < 0)
        return fd;
    char dir[OCI_UNPACK_PATH_MAX + 1];
    int n = -1;
    if (dir_canon(root, fd, dir, sizeof(dir)) == 0)
        n = strcmp(dir, ".") == 0 ? snprintf(canon, canon_size, "%s", leaf)
                                  : snprintf(canon, canon_size, "%s/%s", dir, leaf);
    else /* no /proc: the path as named, which only whiteouts through symlinks see differ */
        n = snprintf(canon, canon_size, "%s", path);
    if (n < 0 || (size_t)n >= canon_size) {
        close(fd);
        return bx_err_set(err, BX_ETOOBIG, "path too long");
    }
    return fd;
}
