/* Applying an image layer to a root file system: see oci/unpack.h.
 *
 * Names. An entry's name is cleaned lexically (leading "/" and "./", repeated slashes and "."
 * components go). A ".." component anywhere, in a name or a hardlink target, is refused with
 * BX_EPERM instead of being clamped: no image builder writes one, and a layer that does is
 * hostile or broken, so it fails loudly rather than landing somewhere its author did not mean.
 * Names longer than OCI_UNPACK_PATH_MAX are BX_EINVAL.
 *
 * Resolution. The parent of every entry is opened with the kernel's RESOLVE_IN_ROOT, so symlinks
 * that lower layers (or earlier entries) made are followed as if the root were "/" and can never
 * lead out of it. The entry itself is then made with *at calls on (parent fd, leaf) that never
 * follow the leaf: whatever is at the leaf is removed first (a directory stays when the entry is
 * a directory). Hardlink targets are resolved the same way, so a link can only name a file
 * inside the root.
 *
 * Whiteouts are in whiteout.c. They need the set of paths this layer made (pathset.c), each
 * recorded where it really is, with no symlink in its path (rootpath.c), so that a whiteout
 * knows the layer's own files whichever name, through whichever symlink, reaches them.
 *
 * Memory holds the path set, the set of emptied directories and the list of directory times, all
 * proportional to the number of entries; file content streams through libarchive's buffers.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "archive_internal.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "oci/unpack.h"
#include "unpack_internal.h"

#define LAYER_READ_BLOCK (64 * 1024)

/* A directory's times, set once the layer is done: creating its children changes them. */
struct dir_time {
    uint32_t node; /* in the path set */
    struct timespec times[2];
};

struct layer_unpack {
    struct oci_root root;
    uint64_t max_bytes, max_entries; /* 0 for no limit */
    struct oci_unpack_stats *stats;
    bool chown;                /* only root may give files away; others keep their own uid */
    struct oci_pathset added;  /* canonical paths this layer made */
    struct oci_inoset emptied; /* directories its whiteouts emptied */
    struct dir_time *dirs;
    size_t n_dirs, cap_dirs;
    char canon[OCI_UNPACK_PATH_MAX + 1]; /* where the entry being made really is */
};

/* What an entry asks for, besides its type and content. */
struct entry_meta {
    uid_t uid;
    gid_t gid;
    mode_t perm;
    struct timespec times[2]; /* atime, mtime as utimensat() takes them */
};

enum entry_kind {
    ENTRY_NORMAL,
    ENTRY_WHITEOUT,   /* ".wh.<name>" or ".wh..wh..opq" */
    ENTRY_AUFS_META,  /* ".wh..wh.<other>" or below one: AUFS bookkeeping, never extracted */
    ENTRY_BAD_PARENT, /* "a/.wh.b/c": a whiteout used as a directory */
};

static void
layer_unpack_release(struct layer_unpack *u)
{
    oci_pathset_release(&u->added);
    oci_inoset_release(&u->emptied);
    free(u->dirs);
}

/* A libarchive failure: the stream is corrupt or truncated, unless reading it failed. */
static int
archive_fail(struct archive *a, const char *what, struct bx_err *err)
{
    const char *msg = archive_error_string(a);
    int e = archive_errno(a);
    int code = e == ENOMEM ? BX_ENOMEM : (e == EIO || e == EBADF) ? BX_EIO : BX_EINVAL;
    return bx_err_set(err, code, "%s: %s", what, msg ? msg : "unknown libarchive error");
}

/* Only the compressions of OCI layers: archive_read_support_filter_all() would also accept
 * formats that libarchive decodes by running an external program (lrzip, lzop, grzip), and a
 * filter that answers ARCHIVE_WARN is such a program, so it is refused too. */
/* Where a layer's bytes come from: a file descriptor or a caller's reader. */
struct layer_source {
    oci_layer_read_fn read;
    void *ctx;
    char buf[LAYER_READ_BLOCK];
};

static ssize_t
fd_read(void *ctx, void *buf, size_t size)
{
    for (;;) {
        ssize_t r = read(*(int *)ctx, buf, size);
        if (r >= 0 || errno != EINTR)
            return r;
    }
}

static la_ssize_t
source_read(struct archive *a, void *ud, const void **buf)
{
    struct layer_source *src = ud;
    ssize_t r = src->read(src->ctx, src->buf, sizeof(src->buf));
    if (r < 0) {
        archive_set_error(a, errno ? errno : EIO, "the layer's stream failed");
        return -1;
    }
    *buf = src->buf;
    return r;
}

static int
layer_open(struct layer_source *src, struct archive **out, struct bx_err *err)
{
    cleanup_archive_read struct archive *a = archive_read_new();
    if (!a)
        return bx_err_set(err, BX_ENOMEM, "layer: out of memory");
    if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
        archive_read_support_filter_zstd(a) != ARCHIVE_OK)
        return bx_err_set(err, BX_EUNSUPPORTED, "layer: libarchive lacks built-in gzip or zstd");
    /* The tar reader reads ustar, pax and GNU tar. */
    if (archive_read_support_format_tar(a) != ARCHIVE_OK)
        return archive_fail(a, "layer", err);
    if (archive_read_open(a, src, NULL, source_read, NULL) != ARCHIVE_OK)
        return archive_fail(a, "read layer", err);
    *out = steal_ptr(&a);
    return 0;
}

/* Cleans an entry name or hardlink target into out (OCI_UNPACK_PATH_MAX + 1 bytes). */
static int
path_clean(const char *raw, char *out, size_t size, struct bx_err *err)
{
    if (!raw)
        return bx_err_set(err, BX_EINVAL, "entry has no name");
    if (strnlen(raw, OCI_UNPACK_PATH_MAX + 1) > OCI_UNPACK_PATH_MAX)
        return bx_err_set(err, BX_EINVAL, "name longer than %d bytes", OCI_UNPACK_PATH_MAX);
    for (const char *p = raw; *p;) {
        const char *end = strchrnul(p, '/');
        if (end - p == 2 && p[0] == '.' && p[1] == '.')
            return bx_err_set(err, BX_EPERM, "'..' is not allowed in layer paths");
        p = *end ? end + 1 : end;
    }
    return bx_path_clean(raw, true, out, size, err);
}

static bool
has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

/* Tells whiteouts and AUFS metadata from ordinary entries by the components of `path`. */
static enum entry_kind
entry_kind(const char *path)
{
    for (const char *p = path;;) {
        const char *end = strchrnul(p, '/');
        size_t len = (size_t)(end - p);
        if (has_prefix(p, len, OCI_WHITEOUT_PREFIX)) {
            bool last = *end == '\0';
            bool opaque = last && strcmp(p, OCI_WHITEOUT_OPAQUE) == 0;
            if (has_prefix(p, len, OCI_WHITEOUT_META_PREFIX) && !opaque)
                return ENTRY_AUFS_META;
            return last ? ENTRY_WHITEOUT : ENTRY_BAD_PARENT;
        }
        if (*end == '\0')
            return ENTRY_NORMAL;
        p = end + 1;
    }
}

static struct timespec
entry_time(time_t sec, long nsec, bool is_set)
{
    if (!is_set)
        return (struct timespec){0, UTIME_OMIT};
    return (struct timespec){sec, (nsec >= 0 && nsec < 1000000000L) ? nsec : 0};
}

static int
entry_meta_get(struct archive_entry *e, struct entry_meta *m, struct bx_err *err)
{
    int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
    /* (uid_t)-1 would mean "leave the owner" to chown: refuse it with the rest. */
    if (uid < 0 || uid >= UINT32_MAX || gid < 0 || gid >= UINT32_MAX)
        return bx_err_set(err, BX_EINVAL, "owner %" PRId64 ":%" PRId64 " out of range", uid, gid);
    m->uid = (uid_t)uid;
    m->gid = (gid_t)gid;
    m->perm = archive_entry_perm(e) & 07777;
    m->times[1] = entry_time(archive_entry_mtime(e), archive_entry_mtime_nsec(e),
                             archive_entry_mtime_is_set(e));
    m->times[0] = archive_entry_atime_is_set(e)
                      ? entry_time(archive_entry_atime(e), archive_entry_atime_nsec(e), true)
                      : m->times[1];
    return 0;
}

/* Owner, then mode (chown clears setuid and setgid), then times unless the caller defers them. */
static int
meta_apply_fd(const struct layer_unpack *u, int fd, const struct entry_meta *m, bool times,
              struct bx_err *err)
{
    if (u->chown && fchown(fd, m->uid, m->gid) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "chown");
    if (fchmod(fd, m->perm) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "chmod");
    if (times && futimens(fd, m->times) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "set times");
    return 0;
}

/* Checks that `n` more bytes of content keep the image within its limit, then counts them. */
static int
bytes_charge(struct layer_unpack *u, uint64_t n, bool count, struct bx_err *err)
{
    if (u->max_bytes && (u->stats->bytes > u->max_bytes || n > u->max_bytes - u->stats->bytes))
        return bx_err_set(err, BX_ETOOBIG, "image exceeds the maximum size of %" PRIu64 " bytes",
                          u->max_bytes);
    if (count)
        u->stats->bytes += n;
    return 0;
}

/* Opens the parent of the entry at `path` under the root, making missing directories, and notes
 * in u->canon where the entry really is. */
static int
parent_open(struct layer_unpack *u, const char *path, char *leaf, size_t leaf_size,
            struct bx_err *err)
{
    return oci_root_parent_open(&u->root, path, 0755, leaf, leaf_size, u->canon, sizeof(u->canon),
                                err);
}

/* Makes way for a new entry at (pfd, leaf), never following it: removes what is there, except a
 * directory when `keep_dir`. Returns 1 when a directory was kept, 0 when the place is free. */
static int
place_clear(int pfd, const char *leaf, bool keep_dir, struct bx_err *err)
{
    struct stat st;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0) {
        if (errno == ENOENT)
            return 0;
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "stat");
    }
    if (S_ISDIR(st.st_mode))
        return keep_dir ? 1 : bx_rm_rf(pfd, leaf, err);
    if (unlinkat(pfd, leaf, 0) < 0 && errno != ENOENT)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "remove the existing entry");
    return 0;
}

static int
pwrite_all(int fd, const char *buf, size_t len, off_t off)
{
    while (len > 0) {
        ssize_t w = pwrite(fd, buf, len, off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        buf += w;
        len -= (size_t)w;
        off += w;
    }
    return 0;
}

/* Streams the entry's data blocks into fd at their offsets (holes stay holes) and extends the
 * file to `size`. Every byte of the logical size counts against the limit before it is written,
 * holes included, so a sparse entry cannot claim a terabyte for free. */
static int
file_copy(struct layer_unpack *u, struct archive *a, int fd, int64_t size, struct bx_err *err)
{
    int64_t end = 0;
    for (;;) {
        const void *buf = NULL;
        size_t len = 0;
        la_int64_t off = 0;
        int r = archive_read_data_block(a, &buf, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return archive_fail(a, "read", err);
        if (off < 0 || len > (uint64_t)(INT64_MAX - off))
            return bx_err_set(err, BX_EINVAL, "data block at a bad offset");
        int64_t block_end = off + (int64_t)len;
        if (block_end > end) {
            int rc = bytes_charge(u, (uint64_t)(block_end - end), true, err);
            if (rc < 0)
                return rc;
            end = block_end;
        }
        if (len > 0 && pwrite_all(fd, buf, len, (off_t)off) < 0)
            return bx_err_sys(err, bx_err_from_errno(errno), errno, "write");
    }
    if (size > end) {
        int rc = bytes_charge(u, (uint64_t)(size - end), true, err);
        if (rc < 0)
            return rc;
        if (ftruncate(fd, (off_t)size) < 0)
            return bx_err_sys(err, bx_err_from_errno(errno), errno, "truncate");
    }
    return 0;
}

static int
entry_file(struct layer_unpack *u, struct archive *a, struct archive_entry *e, const char *path,
           const struct entry_meta *m, struct bx_err *err)
{
    int64_t size = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
    if (size < 0)
        return bx_err_set(err, BX_EINVAL, "negative size");
    /* Refused before a byte is written when the header already says it is too big. */
    int rc = bytes_charge(u, (uint64_t)size, false, err);
    if (rc < 0)
        return rc;
    char leaf[NAME_MAX + 1];
    cleanup_close int pfd = parent_open(u, path, leaf, sizeof(leaf), err);
    if (pfd < 0)
        return pfd;
    rc = place_clear(pfd, leaf, false, err);
    if (rc < 0)
        return rc;
    const int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    cleanup_close int fd = openat(pfd, leaf, flags, 0600);
    if (fd < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "create");
    rc = file_copy(u, a, fd, size, err);
    if (rc < 0)
        return rc;
    return meta_apply_fd(u, fd, m, true, err);
}

static int
entry_dir(struct layer_unpack *u, const char *path, const struct entry_meta *m, struct bx_err *err)
{
    char leaf[NAME_MAX + 1];
    cleanup_close int pfd = parent_open(u, path, leaf, sizeof(leaf), err);
    if (pfd < 0)
        return pfd;
    int rc = place_clear(pfd, leaf, true, err);
    if (rc < 0)
        return rc;
    if (rc == 0 && mkdirat(pfd, leaf, 0700) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "mkdir");
    cleanup_close int fd = openat(pfd, leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "open directory");
    return meta_apply_fd(u, fd, m, false, err);
}

static int
entry_symlink(struct layer_unpack *u, struct archive_entry *e, const char *path,
              const struct entry_meta *m, struct bx_err *err)
{
    /* The target is stored as it is: it is only ever followed under RESOLVE_IN_ROOT. */
    const char *target = archive_entry_symlink(e);
    if (!target || !*target)
        return bx_err_set(err, BX_EINVAL, "symlink without a target");
    if (strnlen(target, OCI_UNPACK_PATH_MAX + 1) > OCI_UNPACK_PATH_MAX)
        return bx_err_set(err, BX_EINVAL, "symlink target longer than %d bytes",
                          OCI_UNPACK_PATH_MAX);
    char leaf[NAME_MAX + 1];
    cleanup_close int pfd = parent_open(u, path, leaf, sizeof(leaf), err);
    if (pfd < 0)
        return pfd;
    int rc = place_clear(pfd, leaf, false, err);
    if (rc < 0)
        return rc;
    if (symlinkat(target, pfd, leaf) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "symlink");
    if (u->chown && fchownat(pfd, leaf, m->uid, m->gid, AT_SYMLINK_NOFOLLOW) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "chown");
    if (utimensat(pfd, leaf, m->times, AT_SYMLINK_NOFOLLOW) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "set times");
    return 0;
}

/* A hardlink shares its target's inode and so its owner, mode and times: none are applied. */
static int
entry_hardlink(struct layer_unpack *u, const char *path, const char *raw_target, struct bx_err *err)
{
    char target[OCI_UNPACK_PATH_MAX + 1], tleaf[NAME_MAX + 1], leaf[NAME_MAX + 1];
    int rc = path_clean(raw_target, target, sizeof(target), err);
    if (rc < 0)
        return bx_err_prefix(err, "hardlink target '%.100s'", raw_target);
    cleanup_close int tpfd = bx_open_parent_in_root(u->root.fd, target, BX_RESOLVE_IN_ROOT, 0,
                                                    tleaf, sizeof(tleaf), err);
    if (tpfd < 0)
        return bx_err_prefix(err, "hardlink target '%.100s'", raw_target);
    struct stat tst, st;
    if (fstatat(tpfd, tleaf, &tst, AT_SYMLINK_NOFOLLOW) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "hardlink target '%.100s'",
                          raw_target);
    if (S_ISDIR(tst.st_mode))
        return bx_err_set(err, BX_EPERM, "hardlink target '%.100s' is a directory", raw_target);
    cleanup_close int pfd = parent_open(u, path, leaf, sizeof(leaf), err);
    if (pfd < 0)
        return pfd;
    if (fstatat(pfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_dev == tst.st_dev &&
        st.st_ino == tst.st_ino)
        return 0;
    rc = place_clear(pfd, leaf, false, err);
    if (rc < 0)
        return rc;
    if (linkat(tpfd, tleaf, pfd, leaf, 0) < 0)
        return bx_err_sys(err, bx_err_from_errno(errno), errno, "hardlink to '%.100s'", raw_target);
    return 0;
}

static void
entry_skip(struct layer_unpack *u, const char *path, const char *what)
{
    u->stats->skipped++;
    char q[256];
    bx_log_debug("layer entry skipped", "path=%s type=%s", bx_log_quote(q, sizeof(q), path), what);
}

static int
dir_time_record(struct layer_unpack *u, uint32_t node, const struct entry_meta *m,
                struct bx_err *err)
{
    if (u->n_dirs == u->cap_dirs) {
        size_t ncap = u->cap_dirs ? u->cap_dirs * 2 : 256;
        struct dir_time *n = reallocarray(u->dirs, ncap, sizeof(*n));
        if (!n)
            return bx_err_set(err, BX_ENOMEM, "out of memory");
        u->dirs = n;
        u->cap_dirs = ncap;
    }
    u->dirs[u->n_dirs++] = (struct dir_time){node, {m->times[0], m->times[1]}};
    return 0;
}

/* Makes the entry by its type. Returns 1 for a skipped entry, 0 for a made one, or a code. */
static int
entry_by_type(struct layer_unpack *u, struct archive *a, struct archive_entry *e, const char *path,
              const struct entry_meta *m, struct bx_err *err)
{
    const char *hardlink = archive_entry_hardlink(e);
    if (hardlink)
        return entry_hardlink(u, path, hardlink, err);
    mode_t type = archive_entry_filetype(e);
    switch (type) {
    case AE_IFREG:
        return entry_file(u, a, e, path, m, err);
    case AE_IFDIR:
        return entry_dir(u, path, m, err);
    case AE_IFLNK:
        return entry_symlink(u, e, path, m, err);
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO:
    case AE_IFSOCK:
        entry_skip(u, path, type == AE_IFIFO ? "fifo" : type == AE_IFSOCK ? "socket" : "device");
        return 1;
    default:
        return bx_err_set(err, BX_EINVAL, "unknown entry type 0%o", (unsigned)type);
    }
}

/* Makes the entry, then records where it is as made by this layer. */
static int
entry_make(struct layer_unpack *u, struct archive *a, struct archive_entry *e, const char *path,
           struct bx_err *err)
{
    struct entry_meta m;
    int rc = entry_meta_get(e, &m, err);
    if (rc == 0)
        rc = entry_by_type(u, a, e, path, &m, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    uint32_t node = OCI_PATHSET_NONE;
    rc = oci_pathset_add(&u->added, u->canon, &node, err);
    if (rc == 0 && !archive_entry_hardlink(e) && archive_entry_filetype(e) == AE_IFDIR)
        rc = dir_time_record(u, node, &m, err);
    return rc;
}

static int
entry_unpack(struct layer_unpack *u, struct archive *a, struct archive_entry *e, const char *path,
             struct bx_err *err)
{
    switch (entry_kind(path)) {
    case ENTRY_WHITEOUT:
        return oci_whiteout_apply(&u->root, &u->added, &u->emptied, path, err);
    case ENTRY_AUFS_META:
        entry_skip(u, path, "aufs-metadata");
        return 0;
    case ENTRY_BAD_PARENT:
        return bx_err_set(err, BX_EINVAL, "a whiteout name used as a directory");
    case ENTRY_NORMAL:
        break;
    }
    if (strcmp(path, ".") == 0) {
        /* The root's own mode, owner and times are the caller's. */
        if (archive_entry_filetype(e) == AE_IFDIR && !archive_entry_hardlink(e))
            return 0;
        return bx_err_set(err, BX_EINVAL, "names the root but is not a directory");
    }
    return entry_make(u, a, e, path, err);
}

static int
layer_entry(struct layer_unpack *u, struct archive *a, struct archive_entry *e, struct bx_err *err)
{
    if (u->max_entries && u->stats->entries >= u->max_entries)
        return bx_err_set(err, BX_ETOOBIG, "image exceeds the maximum of %" PRIu64 " entries",
                          u->max_entries);
    u->stats->entries++;
    const char *raw = archive_entry_pathname(e);
    char path[OCI_UNPACK_PATH_MAX + 1];
    int rc = path_clean(raw, path, sizeof(path), err);
    if (rc == 0)
        rc = entry_unpack(u, a, e, path, err);
    if (rc < 0)
        return bx_err_prefix(err, "layer entry '%.120s'", raw ? raw : "");
    return 0;
}

/* Sets the times of the layer's directories, in tar order so that the last entry for a path
 * wins. A directory that a later entry replaced is passed over. */
static int
dir_times_apply(const struct layer_unpack *u, struct bx_err *err)
{
    for (size_t i = 0; i < u->n_dirs; i++) {
        char path[OCI_UNPACK_PATH_MAX + 1];
        int rc = oci_pathset_path(&u->added, u->dirs[i].node, path, sizeof(path), err);
        if (rc < 0)
            return rc;
        /* Set paths are canonical: a symlink on the way means a later entry replaced it. */
        const int flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW;
        cleanup_close int fd =
            bx_open_in_root(u->root.fd, path, flags, 0, BX_RESOLVE_NO_SYMLINKS, err);
        if (fd == BX_ENOENT || fd == BX_EPERM)
            continue;
        if (fd < 0)
            return bx_err_prefix(err, "layer entry '%.120s'", path);
        if (futimens(fd, u->dirs[i].times) < 0)
            return bx_err_sys(err, bx_err_from_errno(errno), errno,
                              "layer entry '%.120s': set times", path);
    }
    return 0;
}

/* Reads what follows the tar's end-of-archive blocks, so that a writer on the other side of a
 * pipe (computing a digest, say) sees all of its bytes taken. */
static void
layer_drain(struct layer_source *src)
{
    while (src->read(src->ctx, src->buf, sizeof(src->buf)) > 0)
        ;
}

static int
layer_unpack_source(int rootfd, struct layer_source *src, const struct oci_unpack_limits *limits,
                    struct oci_unpack_stats *stats, struct bx_err *err)
{
    struct oci_unpack_stats own_stats = {0, 0, 0};
    __attribute__((cleanup(layer_unpack_release))) struct layer_unpack u = {
        .max_bytes = limits ? limits->max_bytes : 0,
        .max_entries = limits ? limits->max_entries : 0,
        .stats = stats ? stats : &own_stats,
        .chown = geteuid() == 0,
    };
    oci_root_init(&u.root, rootfd);
    cleanup_archive_read struct archive *a = NULL;
    int rc = layer_open(src, &a, err);
    if (rc < 0)
        return rc;
    for (;;) {
        struct archive_entry *e = NULL;
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
            return archive_fail(a, "read layer", err);
        if (r == ARCHIVE_WARN) {
            char q[256];
            const char *msg = archive_error_string(a);
            bx_log_debug("layer warning", "detail=%s", bx_log_quote(q, sizeof(q), msg ? msg : ""));
        }
        rc = layer_entry(&u, a, e, err);
        if (rc < 0)
            return rc;
    }
    rc = dir_times_apply(&u, err);
    if (rc < 0)
        return rc;
    layer_drain(src);
    return 0;
}

int
oci_layer_unpack(int rootfd, int layer_fd, const struct oci_unpack_limits *limits,
                 struct oci_unpack_stats *stats, struct bx_err *err)
{
    cleanup_free struct layer_source *src = calloc(1, sizeof(*src));
    if (!src)
        return bx_err_set(err, BX_ENOMEM, "layer: out of memory");
    src->read = fd_read;
    src->ctx = &layer_fd;
    return layer_unpack_source(rootfd, src, limits, stats, err);
}

int
oci_layer_unpack_reader(int rootfd, oci_layer_read_fn read_fn, void *ctx,
                        const struct oci_unpack_limits *limits, struct oci_unpack_stats *stats,
                        struct bx_err *err)
{
    cleanup_free struct layer_source *src = calloc(1, sizeof(*src));
    if (!src)
        return bx_err_set(err, BX_ENOMEM, "layer: out of memory");
    src->read = read_fn;
    src->ctx = ctx;
    return layer_unpack_source(rootfd, src, limits, stats, err);
}
