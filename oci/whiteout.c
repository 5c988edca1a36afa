/* Whiteouts of OCI layers: see oci_whiteout_apply() in oci/unpack_internal.h.
 *
 * A whiteout removes what the lower layers left and nothing the same layer created, whatever the
 * order of the tar. It is applied when it is read: the entries the layer wrote before it are in
 * the set and survive, the ones after it are written after it. Removing a directory that the
 * layer also wrote into keeps the directory and the layer's entries in it and removes the rest
 * (overlayfs shows an opaque directory's new subdirectory with the layer's content only).
 * Directories are walked with a stack of set nodes, each reopened from the root by its path, so
 * neither the call depth nor the open descriptors grow with the depth of the tree. A directory
 * is walked at most once per layer (by its inode, whatever name led to it): once emptied, all
 * it holds is the layer's own, so repeated markers or many symlinks to one big directory cost
 * nothing more, and a layer's whiteouts cost time proportional to the tree, not to its square.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "unpack_internal.h"

/* The directories of a walk still to be pruned, as set nodes. */
struct prune_stack {
    uint32_t *nodes;
    size_t n, cap;
};

static int
stack_push(struct prune_stack *st, uint32_t node, struct bx_err *err)
{
    if (st->n == st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 64;
        uint32_t *n = reallocarray(st->nodes, ncap, sizeof(*n));
        if (!n)
            return bx_err_set(err, BX_ENOMEM, "whiteout: out of memory");
        st->nodes = n;
        st->cap = ncap;
    }
    st->nodes[st->n++] = node;
    return 0;
}

static bool
is_dot_or_dotdot(const char *n)
{
    return n[0] == '.' && (n[1] == '\0' || (n[1] == '.' && n[2] == '\0'));
}

/* Whether `name` in `dirfd` is a directory (not following a symlink); -1 with errno on error. */
static int
is_dir_at(int dirfd, const char *name, unsigned char d_type)
{
    if (d_type != DT_UNKNOWN)
        return d_type == DT_DIR;
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return -1;
    return S_ISDIR(st.st_mode);
}

/* Removes every entry of the directory `dirfd` (whose set node is `node`, maybe NONE) that the
 * set does not hold; pushes the held subdirectories, to be pruned in turn. */
static int
prune_dir(const struct oci_pathset *added, int dirfd, uint32_t node, struct prune_stack *st,
          struct bx_err *err)
{
    cleanup_dir DIR *d = bx_opendir_at(dirfd, ".");
    if (!d)
        return bx_err_sys(err, BX_EIO, errno, "whiteout: open directory");
    struct dirent *de;
    while ((errno = 0, de = readdir(d)) != NULL) {
        if (is_dot_or_dotdot(de->d_name))
            continue;
        uint32_t child = oci_pathset_child(added, node, de->d_name);
        if (child == OCI_PATHSET_NONE) {
            int rc = bx_rm_rf(dirfd, de->d_name, err);
            if (rc < 0)
                return bx_err_prefix(err, "whiteout");
            continue;
        }
        int dir = is_dir_at(dirfd, de->d_name, de->d_type);
        if (dir < 0 && errno != ENOENT)
            return bx_err_sys(err, BX_EIO, errno, "whiteout: stat '%s'", de->d_name);
        if (dir > 0 && stack_push(st, child, err) < 0)
            return err->code;
    }
    if (errno != 0)
        return bx_err_sys(err, BX_EIO, errno, "whiteout: read directory");
    return 0;
}

/* Prunes the directory `dirfd` unless this layer emptied it already: then all that is in it and
 * below it is the layer's own. */
static int
prune_once(const struct oci_pathset *added, struct oci_inoset *emptied, int dirfd, uint32_t node,
           struct prune_stack *st, struct bx_err *err)
{
    struct stat sb;
    if (fstat(dirfd, &sb) < 0)
        return bx_err_sys(err, BX_EIO, errno, "whiteout: stat directory");
    int fresh = oci_inoset_add(emptied, sb.st_dev, sb.st_ino, err);
    if (fresh <= 0)
        return fresh;
    return prune_dir(added, dirfd, node, st, err);
}

/* Prunes the directory `dirfd` with set node `node`, then every held subdirectory below it. */
static int
prune_tree(const struct oci_root *root, const struct oci_pathset *added, struct oci_inoset *emptied,
           int dirfd, uint32_t node, struct bx_err *err)
{
    struct prune_stack st = {NULL, 0, 0};
    int rc = prune_once(added, emptied, dirfd, node, &st, err);
    while (rc == 0 && st.n > 0) {
        char path[OCI_UNPACK_PATH_MAX + 1];
        rc = oci_pathset_path(added, st.nodes[--st.n], path, sizeof(path), err);
        if (rc < 0)
            break;
        /* Set paths are canonical: no symlink on the way, or something changed under it. */
        const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
        cleanup_close int fd =
            bx_open_in_root(root->fd, path, flags, 0, BX_RESOLVE_NO_SYMLINKS, err);
        if (fd < 0) {
            /* Gone or no longer a directory: nothing of the lower layers is left in it. */
            rc = (fd == BX_ENOENT || fd == BX_EPERM) ? 0 : fd;
            continue;
        }
        rc = prune_once(added, emptied, fd, st.nodes[st.n], &st, err);
    }
    free(st.nodes);
    return rc;
}

/* ".wh..wh..opq": empties the directory that holds `marker` of what the lower layers put there. */
static int
whiteout_opaque(const struct oci_root *root, const struct oci_pathset *added,
                struct oci_inoset *emptied, const char *marker, struct bx_err *err)
{
    char leaf[NAME_MAX + 1], canon[OCI_UNPACK_PATH_MAX + 1];
    cleanup_close int fd =
        oci_root_parent_open(root, marker, 0, leaf, sizeof(leaf), canon, sizeof(canon), err);
    if (fd < 0)
        return fd == BX_ENOENT ? 0 : fd;
    char *slash = strrchr(canon, '/'); /* canon is "<directory>/.wh..wh..opq" */
    if (slash)
        *slash = '\0';
    else
        strcpy(canon, ".");
    return prune_tree(root, added, emptied, fd, oci_pathset_find(added, canon), err);
}

/* ".wh.<name>": removes `target` as the lower layers left it. */
static int
whiteout_remove(const struct oci_root *root, const struct oci_pathset *added,
                struct oci_inoset *emptied, const char *target, struct bx_err *err)
{
    char leaf[NAME_MAX + 1], canon[OCI_UNPACK_PATH_MAX + 1];
    cleanup_close int pfd =
        oci_root_parent_open(root, target, 0, leaf, sizeof(leaf), canon, sizeof(canon), err);
    if (pfd < 0)
        return pfd == BX_ENOENT ? 0 : pfd;
    uint32_t node = oci_pathset_find(added, canon);
    if (node == OCI_PATHSET_NONE) {
        int rc = bx_rm_rf(pfd, leaf, err);
        return rc < 0 ? bx_err_prefix(err, "whiteout") : 0;
    }
    /* The layer wrote this path or below it: keep it, prune a directory's lower content. */
    cleanup_close int fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    return prune_tree(root, added, emptied, fd, node, err);
}

int
oci_whiteout_apply(const struct oci_root *root, const struct oci_pathset *added,
                   struct oci_inoset *emptied, const char *path, struct bx_err *err)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (strncmp(base, OCI_WHITEOUT_PREFIX, OCI_WHITEOUT_PREFIX_LEN) != 0)
        return bx_err_set(err, BX_EINVAL, "not a whiteout");
    if (strcmp(base, OCI_WHITEOUT_OPAQUE) == 0)
        return whiteout_opaque(root, added, emptied, path, err);

    const char *name = base + OCI_WHITEOUT_PREFIX_LEN;
    if (strcmp(name, "..") == 0)
        return bx_err_set(err, BX_EPERM, "whiteout of '..' would leave its directory");
    if (name[0] == '\0' || strcmp(name, ".") == 0)
        return bx_err_set(err, BX_EINVAL, "whiteout names no entry");
    char target[OCI_UNPACK_PATH_MAX + 1];
    int dir_len = slash ? (int)(slash - path) : 0;
    int n = snprintf(target, sizeof(target), "%.*s%s%s", dir_len, path, slash ? "/" : "", name);
    if (n < 0 || (size_t)n >= sizeof(target))
        return bx_err_set(err, BX_ETOOBIG, "whiteout: path too long");
    return whiteout_remove(root, added, emptied, target, err);
}
