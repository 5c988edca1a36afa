/* Unit tests of the layer unpacker (oci/unpack.c, whiteout.c, pathset.c).
 *
 * Every layer is built here with libarchive's writer, into a file of the test's temporary
 * directory. Each test unpacks into `root/` and has a sibling `outside/` whose content, like the
 * host's /etc, must be unchanged when the test ends (the teardown checks it).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <archive.h>
#include <archive_entry.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "oci/unpack.h"

#define MIB (1024 * 1024)
/* A name no host has in /etc: the tests try to make it there through the root. */
#define HOST_ETC_PROBE "/etc/boxer-unpack-test"

struct tmp {
    char path[PATH_MAX];
    int fd;      /* the temporary directory */
    int root;    /* root/: where layers go */
    int outside; /* outside/: must not change */
    unsigned layers;
    struct stat secret_st, outside_st, passwd_st;
};

static void
write_at(int dirfd, const char *name, const char *content, mode_t mode)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    assert_true(fd >= 0);
    assert_int_equal(bx_write_all(fd, content, strlen(content)), 0);
    close(fd);
}

static bool
exists_at(int dirfd, const char *name)
{
    struct stat st;
    return fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static struct stat
lstat_at(int dirfd, const char *name)
{
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        fail_msg("'%s' missing: %s", name, strerror(errno));
    return st;
}

/* Asserts that `name` is a regular file (not reached through a symlink) holding `content`. */
static void
assert_file(int dirfd, const char *name, const char *content)
{
    char *buf = NULL;
    struct bx_err err = BX_ERR_INIT;
    if (bx_read_file(dirfd, name, 1 << 20, &buf, NULL, &err) != 0)
        fail_msg("read '%s': %s", name, err.msg);
    assert_string_equal(buf, content);
    free(buf);
}

static size_t
count_entries(int dirfd, const char *name)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    assert_true(fd >= 0);
    DIR *d = fdopendir(fd);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0;
    closedir(d);
    return n;
}

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the temporary directory, `outside/` and the host's /etc ---- */

static int
tmp_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(t->path, sizeof(t->path), "%s/boxer-test.XXXXXX", base);
    assert_non_null(mkdtemp(t->path));
    t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->fd >= 0);
    assert_int_equal(mkdirat(t->fd, "root", 0755), 0);
    assert_int_equal(mkdirat(t->fd, "outside", 0755), 0);
    t->root = openat(t->fd, "root", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    t->outside = openat(t->fd, "outside", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->root >= 0 && t->outside >= 0);
    write_at(t->outside, "secret", "secret\n", 0600);
    assert_int_equal(mkdirat(t->outside, "dir", 0755), 0);
    write_at(t->outside, "dir/file", "file\n", 0644);
    t->secret_st = lstat_at(t->outside, "secret");
    t->outside_st = lstat_at(t->fd, "outside");
    t->passwd_st = lstat_at(AT_FDCWD, "/etc/passwd");
    *state = t;
    return 0;
}

static bool
same_stat(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && a->st_nlink == b->st_nlink && a->st_size == b->st_size &&
           a->st_mode == b->st_mode && a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
           a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

/* Whether nothing outside the root changed: outside/ as setup made it, the host's /etc/passwd
 * untouched (not linked, not written) and no probe file in the host's /etc. */
static bool
outside_unchanged(const struct tmp *t)
{
    struct stat st;
    bool ok = fstatat(t->outside, "secret", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
              same_stat(&st, &t->secret_st);
    ok = ok && fstatat(t->fd, "outside", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
         same_stat(&st, &t->outside_st);
    ok = ok && lstat("/etc/passwd", &st) == 0 && same_stat(&st, &t->passwd_st);
    ok = ok && lstat(HOST_ETC_PROBE, &st) < 0 && errno == ENOENT;
    char *buf = NULL;
    struct bx_err err = BX_ERR_INIT;
    ok = ok && bx_read_file(t->outside, "secret", 64, &buf, NULL, &err) == 0 &&
         strcmp(buf, "secret\n") == 0;
    free(buf);
    ok = ok && count_entries(t->outside, ".") == 2 && count_entries(t->outside, "dir") == 1;
    return ok && fstatat(t->outside, "dir/file", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           st.st_nlink == 1 && st.st_size == 5;
}

static int
tmp_teardown(void **state)
{
    struct tmp *t = *state;
    bool ok = outside_unchanged(t);
    if (!ok)
        fprintf(stderr, "FAIL: something outside the root changed\n");
    close(t->root);
    close(t->outside);
    close(t->fd);
    struct bx_err err = BX_ERR_INIT;
    int rc = bx_rm_rf(AT_FDCWD, t->path, &err);
    free(t);
    return ok ? rc : -1;
}

/* ---- building layers ---- */

enum layer_filter { LAYER_NONE, LAYER_GZIP, LAYER_ZSTD };

struct ent {
    const char *name;
    mode_t type;      /* AE_IFREG when 0 */
    const char *data; /* a file's content, a symlink's or a hardlink's target */
    mode_t perm;      /* 0644, or 0755 for a directory, when 0 */
    int64_t uid, gid;
    time_t mtime; /* 1000000000 when 0 */
    bool hardlink;
};

/* A writer of a pax layer into a new file of the test directory, whose fd is put in *fd. */
static struct archive *
writer_open(struct tmp *t, enum layer_filter filter, int *fd)
{
    char name[32];
    snprintf(name, sizeof(name), "layer-%u", t->layers++);
    *fd = openat(t->fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(*fd >= 0);
    /* Names are UTF-8 here, as image builders write them; libarchive converts from the locale's
     * charset, so writers run in C.UTF-8 (the unpacker keeps the process's "C"). */
    static locale_t utf8 = (locale_t)0;
    if (!utf8)
        utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
    assert_non_null(utf8);
    uselocale(utf8);
    struct archive *w = archive_write_new();
    assert_non_null(w);
    assert_int_equal(archive_write_set_format_pax_restricted(w), ARCHIVE_OK);
    int r = filter == LAYER_GZIP   ? archive_write_add_filter_gzip(w)
            : filter == LAYER_ZSTD ? archive_write_add_filter_zstd(w)
                                   : archive_write_add_filter_none(w);
    assert_int_equal(r, ARCHIVE_OK);
    if (filter == LAYER_GZIP)
        assert_int_equal(archive_write_set_filter_option(w, "gzip", "compression-level", "1"),
                         ARCHIVE_OK);
    assert_int_equal(archive_write_open_fd(w, *fd), ARCHIVE_OK);
    return w;
}

/* Finishes the layer and rewinds its file for reading; returns the fd. */
static int
writer_close(struct archive *w, int fd)
{
    assert_int_equal(archive_write_close(w), ARCHIVE_OK);
    archive_write_free(w);
    uselocale(LC_GLOBAL_LOCALE);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

static void
ent_write(struct archive *w, const struct ent *e)
{
    struct archive_entry *ae = archive_entry_new();
    mode_t type = e->type ? e->type : AE_IFREG;
    archive_entry_set_pathname(ae, e->name);
    archive_entry_set_filetype(ae, type);
    archive_entry_set_perm(ae, e->perm ? e->perm : type == AE_IFDIR ? 0755 : 0644);
    archive_entry_set_uid(ae, e->uid);
    archive_entry_set_gid(ae, e->gid);
    archive_entry_set_mtime(ae, e->mtime ? e->mtime : 1000000000, 0);
    size_t len = 0;
    if (e->hardlink)
        archive_entry_set_hardlink(ae, e->data);
    else if (type == AE_IFLNK)
        archive_entry_set_symlink(ae, e->data);
    else if (type == AE_IFREG && e->data)
        len = strlen(e->data);
    if (type == AE_IFCHR || type == AE_IFBLK)
        archive_entry_set_rdev(ae, makedev(1, 3));
    archive_entry_set_size(ae, (la_int64_t)len);
    if (archive_write_header(w, ae) != ARCHIVE_OK)
        fail_msg("write header '%s': %s", e->name, archive_error_string(w));
    if (len)
        assert_int_equal(archive_write_data(w, e->data, len), (ssize_t)len);
    archive_entry_free(ae);
}

static int
layer_make(struct tmp *t, enum layer_filter filter, const struct ent *ents, size_t n)
{
    int fd = -1;
    struct archive *w = writer_open(t, filter, &fd);
    for (size_t i = 0; i < n; i++)
        ent_write(w, &ents[i]);
    return writer_close(w, fd);
}

static int
unpack_with(struct tmp *t, enum layer_filter filter, const struct ent *ents, size_t n,
            const struct oci_unpack_limits *limits, struct oci_unpack_stats *stats,
            struct bx_err *err)
{
    int fd = layer_make(t, filter, ents, n);
    int rc = oci_layer_unpack(t->root, fd, limits, stats, err);
    close(fd);
    return rc;
}

#define N_ENTS(ents) (sizeof(ents) / sizeof((ents)[0]))
#define UNPACK(t, ents, err) unpack_with((t), LAYER_GZIP, (ents), N_ENTS(ents), NULL, NULL, (err))

/* Unpacks a layer of the one entry `e`. */
static int
unpack_one(struct tmp *t, struct ent e, struct bx_err *err)
{
    bx_err_clear(err);
    return unpack_with(t, LAYER_GZIP, &e, 1, NULL, NULL, err);
}

/* ---- a normal layer ---- */

static void
test_normal_layer(void **state)
{
    struct tmp *t = *state;
    const struct ent layer[] = {
        {.name = "./", .type = AE_IFDIR},
        {.name = "./etc/", .type = AE_IFDIR, .perm = 02775, .uid = 42, .gid = 43, .mtime = 1111},
        {.name = "./etc/hosts",
         .data = "127.0.0.1 localhost\n",
         .uid = 1234,
         .gid = 5678,
         .mtime = 1222222222},
        {.name = "usr/bin/su", .data = "#!/bin/sh\n", .perm = 04755},
        {.name = "usr/bin/sg", .data = "x", .perm = 02711, .gid = 7},
        {.name = "etc/localtime",
         .type = AE_IFLNK,
         .data = "/usr/share/zoneinfo/UTC",
         .uid = 3,
         .gid = 4,
         .mtime = 1333333333},
        {.name = "etc/hosts.link", .data = "etc/hosts", .hardlink = true},
        {.name = "empty", .data = ""},
        {.name = "caf\xc3\xa9/na\xc3\xafve.txt", .data = "utf8"},
        {.name = "etc/late", .data = "written after etc/ was made"},
    };
    struct oci_unpack_stats stats = {0, 0, 0};
    struct bx_err err = BX_ERR_INIT;
    int rc = unpack_with(t, LAYER_GZIP, layer, N_ENTS(layer), NULL, &stats, &err);
    if (rc != 0)
        fail_msg("unpack: %s", err.msg);
    assert_int_equal(stats.entries, N_ENTS(layer));
    assert_int_equal(stats.bytes, 20 + 10 + 1 + 4 + 27);
    assert_int_equal(stats.skipped, 0);

    struct stat st = lstat_at(t->root, "etc");
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 07777, 02775);
    bool root = geteuid() == 0;
    if (root)
        assert_true(st.st_uid == 42 && st.st_gid == 43);
    /* Set after etc/late and etc/hosts.link were made in it. */
    assert_int_equal(st.st_mtim.tv_sec, 1111);

    assert_file(t->root, "etc/hosts", "127.0.0.1 localhost\n");
    st = lstat_at(t->root, "etc/hosts");
    assert_int_equal(st.st_mode & 07777, 0644);
    assert_int_equal(st.st_mtim.tv_sec, 1222222222);
    assert_int_equal(st.st_nlink, 2);
    if (root)
        assert_true(st.st_uid == 1234 && st.st_gid == 5678);
    assert_int_equal(lstat_at(t->root, "etc/hosts.link").st_ino, st.st_ino);

    assert_int_equal(lstat_at(t->root, "usr/bin/su").st_mode & 07777, 04755);
    st = lstat_at(t->root, "usr/bin/sg");
    assert_int_equal(st.st_mode & 07777, 02711);
    if (root)
        assert_int_equal(st.st_gid, 7);
    /* Parents that have no entry of their own are made 0755. */
    assert_int_equal(lstat_at(t->root, "usr/bin").st_mode & 07777, 0755);

    st = lstat_at(t->root, "etc/localtime");
    assert_true(S_ISLNK(st.st_mode));
    assert_int_equal(st.st_mtim.tv_sec, 1333333333);
    if (root)
        assert_true(st.st_uid == 3 && st.st_gid == 4);
    char target[64] = "";
    assert_true(readlinkat(t->root, "etc/localtime", target, sizeof(target) - 1) > 0);
    assert_string_equal(target, "/usr/share/zoneinfo/UTC");

    assert_file(t->root, "empty", "");
    assert_file(t->root, "caf\xc3\xa9/na\xc3\xafve.txt", "utf8");
    assert_file(t->root, "etc/late", "written after etc/ was made");
    assert_int_equal(count_entries(t->root, "."), 4);
}

static void
test_compressions(void **state)
{
    struct tmp *t = *state;
    static const struct {
        enum layer_filter filter;
        const char *name;
        unsigned char magic[4];
        size_t magic_len;
    } cases[] = {
        {LAYER_NONE, "plain", {0}, 0},
        {LAYER_GZIP, "gzip", {0x1f, 0x8b}, 2},
        {LAYER_ZSTD, "zstd", {0x28, 0xb5, 0x2f, 0xfd}, 4},
    };
    for (size_t i = 0; i < N_ENTS(cases); i++) {
        char dir[64], file[80];
        snprintf(dir, sizeof(dir), "%s/", cases[i].name);
        snprintf(file, sizeof(file), "%s/data", cases[i].name);
        const struct ent layer[] = {
            {.name = dir, .type = AE_IFDIR},
            {.name = file, .data = cases[i].name},
        };
        int fd = layer_make(t, cases[i].filter, layer, N_ENTS(layer));
        unsigned char head[4] = {0};
        assert_int_equal(pread(fd, head, sizeof(head), 0), (ssize_t)sizeof(head));
        if (cases[i].magic_len)
            assert_memory_equal(head, cases[i].magic, cases[i].magic_len);
        struct bx_err err = BX_ERR_INIT;
        if (oci_layer_unpack(t->root, fd, NULL, NULL, &err) != 0)
            fail_msg("%s: %s", cases[i].name, err.msg);
        close(fd);
        assert_file(t->root, file, cases[i].name);
    }
}

/* ---- names and links that try to leave the root ---- */

static void
test_dotdot_refused(void **state)
{
    struct tmp *t = *state;
    const struct ent bad[] = {
        {.name = "../escape", .data = "x"},
        {.name = "a/../../escape", .data = "x"},
        {.name = "./../outside/secret", .data = "pwned"},
        {.name = "/../outside/secret", .data = "pwned"},
        {.name = "..", .type = AE_IFDIR},
        {.name = "a/..", .type = AE_IFDIR},
        {.name = "a/b/../c", .data = "even inside the root"},
        {.name = "hl", .data = "../../outside/secret", .hardlink = true},
        {.name = "h2", .data = "a/../../outside/secret", .hardlink = true},
    };
    struct bx_err err = BX_ERR_INIT;
    for (size_t i = 0; i < N_ENTS(bad); i++) {
        assert_int_equal(unpack_one(t, bad[i], &err), BX_EPERM);
        char want[128]; /* the writer adds a '/' to directory names */
        snprintf(want, sizeof(want), "layer entry '%s", bad[i].name);
        if (strncmp(err.msg, want, strlen(want)) != 0)
            fail_msg("message '%s' does not start with '%s'", err.msg, want);
        assert_non_null(strstr(err.msg, "'..'"));
    }
    /* Refused before anything was made. */
    assert_int_equal(count_entries(t->root, "."), 0);
    assert_false(exists_at(t->fd, "escape"));
    assert_true(outside_unchanged(t));
}

static void
test_absolute_paths(void **state)
{
    struct tmp *t = *state;
    const struct ent layer[] = {
        {.name = "/", .type = AE_IFDIR},
        {.name = "/abs/file", .data = "abs"},
        {.name = "//double//slash", .data = "ds"},
        {.name = "/./dot/./file", .data = "dot"},
        {.name = HOST_ETC_PROBE, .data = "inside"},
    };
    struct bx_err err = BX_ERR_INIT;
    if (UNPACK(t, layer, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    assert_file(t->root, "abs/file", "abs");
    assert_file(t->root, "double/slash", "ds");
    assert_file(t->root, "dot/file", "dot");
    assert_file(t->root, HOST_ETC_PROBE + 1, "inside");
    assert_true(outside_unchanged(t));
}

static void
test_symlink_to_etc(void **state)
{
    struct tmp *t = *state;
    struct bx_err err = BX_ERR_INIT;
    /* The root has no /etc yet: the file cannot go anywhere, and the host's /etc is not it. */
    const struct ent l1[] = {
        {.name = "evil", .type = AE_IFLNK, .data = "/etc"},
        {.name = "evil/boxer-unpack-test", .data = "through"},
    };
    assert_int_equal(UNPACK(t, l1, &err), BX_ENOENT);
    assert_non_null(strstr(err.msg, "layer entry 'evil/boxer-unpack-test': "));
    assert_false(exists_at(t->root, "etc"));
    /* With a /etc in the root, it lands there. */
    const struct ent l2[] = {
        {.name = "etc/", .type = AE_IFDIR},
        {.name = "evil/boxer-unpack-test", .data = "through"},
    };
    if (UNPACK(t, l2, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    assert_file(t->root, "etc/boxer-unpack-test", "through");
    /* A directory entry replaces the symlink rather than following it. */
    assert_int_equal(unpack_one(t, (struct ent){.name = "evil/", .type = AE_IFDIR}, &err), 0);
    assert_true(S_ISDIR(lstat_at(t->root, "evil").st_mode));
    assert_int_equal(count_entries(t->root, "evil"), 0);
    assert_true(outside_unchanged(t));
}

/* A file entry at the path of a symlink replaces the symlink, never writes through it. */
static void
test_file_over_symlink(void **state)
{
    struct tmp *t = *state;
    char abs[PATH_MAX + 16];
    snprintf(abs, sizeof(abs), "%s/outside/secret", t->path);
    const struct ent l1[] = {
        {.name = "passwd", .type = AE_IFLNK, .data = "/etc/passwd"},
        {.name = "sec", .type = AE_IFLNK, .data = abs},
        {.name = "rel", .type = AE_IFLNK, .data = "../outside/secret"},
    };
    const struct ent l2[] = {
        {.name = "passwd", .data = "pwned"},
        {.name = "sec", .data = "pwned"},
        {.name = "rel", .data = "pwned", .perm = 0600},
    };
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(UNPACK(t, l1, &err), 0);
    if (UNPACK(t, l2, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    assert_file(t->root, "passwd", "pwned");
    assert_file(t->root, "sec", "pwned");
    assert_file(t->root, "rel", "pwned");
    assert_true(outside_unchanged(t));
}

static void
test_lower_symlink_outside(void **state)
{
    struct tmp *t = *state;
    char abs[PATH_MAX + 16];
    snprintf(abs, sizeof(abs), "%s/outside", t->path);
    const struct ent lower[] = {
        {.name = "up", .type = AE_IFLNK, .data = "/../../outside"},
        {.name = "abs", .type = AE_IFLNK, .data = abs},
        {.name = "rel", .type = AE_IFLNK, .data = "../outside"},
        {.name = "deep", .type = AE_IFLNK, .data = "../../../../../../../../.."},
    };
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(UNPACK(t, lower, &err), 0);
    /* Symlinks resolve as if the root were "/": these name root/outside (missing) and
     * root/<tmp>/outside (missing), so nothing can be written through them. */
    assert_int_equal(unpack_one(t, (struct ent){.name = "up/x", .data = "x"}, &err), BX_ENOENT);
    assert_int_equal(unpack_one(t, (struct ent){.name = "rel/x", .data = "x"}, &err), BX_ENOENT);
    assert_int_equal(unpack_one(t, (struct ent){.name = "abs/x", .data = "x"}, &err), BX_ENOENT);
    assert_int_equal(unpack_one(t, (struct ent){.name = "abs/d/", .type = AE_IFDIR}, &err),
                     BX_ENOENT);
    assert_int_equal(unpack_one(t, (struct ent){.name = "abs/secret", .type = AE_IFDIR}, &err),
                     BX_ENOENT);
    /* "deep" is the root itself: missing directories below it are made inside. */
    assert_int_equal(unpack_one(t, (struct ent){.name = "deep/outside/y", .data = "y"}, &err), 0);
    assert_file(t->root, "outside/y", "y");
    /* Now that root/outside exists, "up" and "rel" lead into it. */
    assert_int_equal(unpack_one(t, (struct ent){.name = "up/x", .data = "up"}, &err), 0);
    assert_int_equal(unpack_one(t, (struct ent){.name = "rel/secret", .data = "rel"}, &err), 0);
    assert_file(t->root, "outside/x", "up");
    assert_file(t->root, "outside/secret", "rel");
    /* A hardlink through them names files in the root, or nothing. */
    assert_int_equal(
        unpack_one(t, (struct ent){.name = "h", .data = "abs/secret", .hardlink = true}, &err),
        BX_ENOENT);
    assert_int_equal(
        unpack_one(t, (struct ent){.name = "h", .data = "up/secret", .hardlink = true}, &err), 0);
    assert_int_equal(lstat_at(t->root, "outside/secret").st_nlink, 2);
    assert_true(outside_unchanged(t));
}

static void
test_hardlink_outside(void **state)
{
    struct tmp *t = *state;
    char abs[PATH_MAX + 16];
    snprintf(abs, sizeof(abs), "%s/outside/secret", t->path);
    struct bx_err err = BX_ERR_INIT;
    struct ent h = {.name = "h", .data = "../../outside/secret", .hardlink = true};
    assert_int_equal(unpack_one(t, h, &err), BX_EPERM);
    h.data = "/etc/passwd";
    assert_int_equal(unpack_one(t, h, &err), BX_ENOENT);
    assert_non_null(strstr(err.msg, "layer entry 'h': hardlink target '/etc/passwd'"));
    h.data = abs;
    assert_int_equal(unpack_one(t, h, &err), BX_ENOENT);
    assert_false(exists_at(t->root, "h"));

    /* With an /etc/passwd in the root, the link is to that one. */
    const struct ent l2[] = {
        {.name = "etc/passwd", .data = "root:x:0:0::/root:/bin/sh\n"},
        {.name = "h", .data = "/etc/passwd", .hardlink = true},
        {.name = "lnk", .type = AE_IFLNK, .data = abs},
        /* A hardlink to a symlink links the symlink itself. */
        {.name = "h-lnk", .data = "lnk", .hardlink = true},
        {.name = "again", .data = "/etc/passwd", .hardlink = true},
        {.name = "again", .data = "etc/passwd", .hardlink = true},
    };
    if (UNPACK(t, l2, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    struct stat st = lstat_at(t->root, "etc/passwd");
    assert_int_equal(st.st_nlink, 3);
    assert_int_equal(lstat_at(t->root, "h").st_ino, st.st_ino);
    assert_true(S_ISLNK(lstat_at(t->root, "h-lnk").st_mode));
    assert_int_equal(lstat_at(t->root, "h-lnk").st_ino, lstat_at(t->root, "lnk").st_ino);
    /* A directory cannot be a hardlink's target. */
    h.name = "hd";
    h.data = "etc";
    assert_int_equal(unpack_one(t, h, &err), BX_EPERM);
    assert_true(outside_unchanged(t));
}

/* ---- whiteouts ---- */

static void
test_whiteout_escapes(void **state)
{
    struct tmp *t = *state;
    char abs[PATH_MAX + 16];
    snprintf(abs, sizeof(abs), "%s/outside", t->path);
    const struct ent lower[] = {
        {.name = "a/keep", .data = "keep"},
        {.name = "l", .type = AE_IFLNK, .data = abs},
        {.name = "l2", .type = AE_IFLNK, .data = "../outside"},
        {.name = "outside/secret", .data = "inner"},
    };
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(UNPACK(t, lower, &err), 0);
    static const struct {
        const char *name;
        int rc;
    } cases[] = {
        {".wh.../../outside/secret", BX_EPERM},
        {"a/.wh...", BX_EPERM},
        {".wh...", BX_EPERM},
        {"a/.wh..", BX_EINVAL},
        {"a/.wh.", BX_EINVAL},
        {"a/.wh.../keep", BX_EINVAL},
        {".wh.x/y", BX_EINVAL},
        /* Through symlinks: resolved in the root like any entry. */
        {"l/.wh.secret", 0},
        {"l/.wh..wh..opq", 0},
        {"l/dir/.wh..wh..opq", 0},
    };
    for (size_t i = 0; i < N_ENTS(cases); i++) {
        int rc = unpack_one(t, (struct ent){.name = cases[i].name}, &err);
        if (rc != cases[i].rc)
            fail_msg("'%s': %d (%s), want %d", cases[i].name, rc, err.msg, cases[i].rc);
        assert_true(outside_unchanged(t));
        assert_file(t->root, "a/keep", "keep");
        assert_file(t->root, "outside/secret", "inner");
    }
    /* l2 leads to root/outside: the whiteout removes the root's file, not the host's. */
    assert_int_equal(unpack_one(t, (struct ent){.name = "l2/.wh.secret"}, &err), 0);
    assert_false(exists_at(t->root, "outside/secret"));
    /* A whiteout of a symlink removes the symlink. */
    assert_int_equal(unpack_one(t, (struct ent){.name = ".wh.l"}, &err), 0);
    assert_false(exists_at(t->root, "l"));
    assert_true(exists_at(t->root, "l2"));
    assert_true(outside_unchanged(t));
}

static void
whiteout_lower_make(struct tmp *t)
{
    const struct ent lower[] = {
        {.name = "a", .data = "a"},
        {.name = "b/x", .data = "x"},
        {.name = "b/sub/y", .data = "y"},
        {.name = "o/lower1", .data = "1"},
        {.name = "o/lowerdir/z", .data = "z"},
        {.name = "o/relower/old", .data = "old"},
        {.name = "keep", .data = "keep"},
        {.name = "lnk", .type = AE_IFLNK, .data = "b"},
        {.name = "d", .data = "lower d"},
    };
    struct bx_err err = BX_ERR_INIT;
    if (UNPACK(t, lower, &err) != 0)
        fail_msg("unpack: %s", err.msg);
}

static void
test_whiteout_semantics(void **state)
{
    struct tmp *t = *state;
    whiteout_lower_make(t);
    /* Same-layer entries survive the layer's whiteouts, before and after them in the tar. */
    const struct ent upper[] = {
        {.name = ".wh.a"},
        {.name = "b/.wh..wh..opq"}, /* emptied, then removed whole */
        {.name = ".wh.b"},
        {.name = "o/", .type = AE_IFDIR, .mtime = 1500000000},
        {.name = "o/before", .data = "before"},
        {.name = "o/relower/", .type = AE_IFDIR},
        {.name = "o/relower/new", .data = "new"},
        {.name = "o/.wh..wh..opq"},
        {.name = "o/after", .data = "after"},
        {.name = "o/newdir/f", .data = "f"},
        {.name = "c", .data = "c"},
        {.name = ".wh.c"},
        {.name = ".wh.d"},
        {.name = "d", .data = "upper d"},
        {.name = ".wh.missing"},
        {.name = "missing/.wh..wh..opq"},
        {.name = ".wh.lnk"},
    };
    struct oci_unpack_stats stats = {0, 0, 0};
    struct bx_err err = BX_ERR_INIT;
    if (unpack_with(t, LAYER_ZSTD, upper, N_ENTS(upper), NULL, &stats, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    assert_int_equal(stats.entries, N_ENTS(upper));
    assert_false(exists_at(t->root, "a"));
    assert_false(exists_at(t->root, "b"));
    assert_false(exists_at(t->root, "lnk"));
    assert_false(exists_at(t->root, "missing"));
    assert_file(t->root, "keep", "keep");
    assert_file(t->root, "c", "c");
    assert_file(t->root, "d", "upper d");
    /* The opaque directory keeps the layer's entries and nothing of the lower layers, also in
     * a lower subdirectory that the layer wrote into. */
    assert_file(t->root, "o/before", "before");
    assert_file(t->root, "o/after", "after");
    assert_file(t->root, "o/newdir/f", "f");
    assert_file(t->root, "o/relower/new", "new");
    assert_int_equal(count_entries(t->root, "o"), 4);
    assert_int_equal(count_entries(t->root, "o/relower"), 1);
    assert_int_equal(lstat_at(t->root, "o").st_mtim.tv_sec, 1500000000);
    /* Whiteout files are never extracted. */
    assert_int_equal(count_entries(t->root, "."), 4); /* keep c d o */

    /* A later layer's whiteouts remove what this one wrote; an opaque root keeps the layer's. */
    const struct ent top[] = {
        {.name = "o/.wh.after"},
        {.name = "new", .data = "new"},
        {.name = ".wh..wh..opq"},
        {.name = "o/kept", .data = "kept"},
    };
    if (UNPACK(t, top, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    assert_int_equal(count_entries(t->root, "."), 2);
    assert_file(t->root, "new", "new");
    assert_file(t->root, "o/kept", "kept");
    assert_int_equal(count_entries(t->root, "o"), 1);
}

/* Many markers, and many symlinks to one big directory: each directory is emptied once, so the
 * layer costs time in proportion to its size, not to its square. */
static void
test_whiteout_repeated(void **state)
{
    struct tmp *t = *state;
    enum { N = 5000 };
    char name[64];
    int fd = -1;
    struct archive *w = writer_open(t, LAYER_GZIP, &fd);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "big/lower-%05d", i);
        ent_write(w, &(struct ent){.name = name, .data = ""});
    }
    ent_write(w, &(struct ent){.name = "big/s1/s2/lower", .data = ""});
    struct bx_err err = BX_ERR_INIT;
    fd = writer_close(w, fd);
    assert_int_equal(oci_layer_unpack(t->root, fd, NULL, NULL, &err), 0);
    close(fd);

    w = writer_open(t, LAYER_GZIP, &fd);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "big/upper-%05d", i);
        ent_write(w, &(struct ent){.name = name, .data = ""});
        snprintf(name, sizeof(name), "alias-%05d", i);
        ent_write(w, &(struct ent){.name = name, .type = AE_IFLNK, .data = "/big"});
    }
    /* The layer's own, however named: through a symlink, or deep below lower directories. */
    ent_write(w, &(struct ent){.name = "alias-00007/via-alias", .data = "v"});
    ent_write(w, &(struct ent){.name = "big/s1/s2/upper", .data = "u"});
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "alias-%05d/.wh..wh..opq", i);
        ent_write(w, &(struct ent){.name = name});
        ent_write(w, &(struct ent){.name = "big/.wh..wh..opq"});
    }
    fd = writer_close(w, fd);
    double t0 = now_s();
    if (oci_layer_unpack(t->root, fd, NULL, NULL, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    close(fd);
    printf("%d opaque markers through %d symlinks to a directory of %d lower and %d new "
           "entries: %.2f s\n",
           2 * N, N, N, N, now_s() - t0);
    assert_int_equal(count_entries(t->root, "big"), N + 2);
    assert_file(t->root, "big/upper-04999", "");
    assert_file(t->root, "big/via-alias", "v");
    assert_file(t->root, "big/s1/s2/upper", "u");
    assert_int_equal(count_entries(t->root, "big/s1/s2"), 1);
    assert_false(exists_at(t->root, "big/lower-00000"));
    assert_int_equal(count_entries(t->root, "."), N + 1);
}

/* ---- entry types and replacements ---- */

static void
test_special_files_skipped(void **state)
{
    struct tmp *t = *state;
    const struct ent layer[] = {
        {.name = "dev/null", .type = AE_IFCHR},
        {.name = "dev/sda", .type = AE_IFBLK},
        {.name = "run/fifo", .type = AE_IFIFO},
        {.name = "dev/ok", .data = "ok"},
        {.name = ".wh..wh.plnk/", .type = AE_IFDIR},
        {.name = ".wh..wh.plnk/123.456", .data = "aufs"},
    };
    struct oci_unpack_stats stats = {0, 0, 0};
    struct bx_err err = BX_ERR_INIT;
    if (unpack_with(t, LAYER_NONE, layer, N_ENTS(layer), NULL, &stats, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    assert_int_equal(stats.skipped, 5);
    assert_int_equal(stats.entries, 6);
    assert_false(exists_at(t->root, "dev/null"));
    assert_false(exists_at(t->root, "dev/sda"));
    assert_false(exists_at(t->root, "run"));
    assert_false(exists_at(t->root, ".wh..wh.plnk"));
    assert_file(t->root, "dev/ok", "ok");
}

static void
test_replace_across_layers(void **state)
{
    struct tmp *t = *state;
    const struct ent l1[] = {
        {.name = "d/", .type = AE_IFDIR},   {.name = "d/f", .data = "f"},
        {.name = "d/sub/g", .data = "g"},   {.name = "s", .type = AE_IFLNK, .data = "d"},
        {.name = "x", .data = "x"},         {.name = "m/", .type = AE_IFDIR, .perm = 0700},
        {.name = "m/keep", .data = "keep"},
    };
    const struct ent l2[] = {
        {.name = "d", .data = "now a file"},
        {.name = "s/", .type = AE_IFDIR},
        {.name = "x/", .type = AE_IFDIR},
        {.name = "x/in", .data = "in"},
        {.name = "m/", .type = AE_IFDIR, .perm = 0751, .uid = 5},
    };
    const struct ent l3[] = {
        {.name = "d/", .type = AE_IFDIR},
        {.name = "d/g", .data = "g"},
        {.name = "x", .type = AE_IFLNK, .data = "/d"},
    };
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(UNPACK(t, l1, &err), 0);
    if (UNPACK(t, l2, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    assert_file(t->root, "d", "now a file");
    assert_true(S_ISDIR(lstat_at(t->root, "s").st_mode));
    assert_int_equal(count_entries(t->root, "s"), 0);
    assert_file(t->root, "x/in", "in");
    /* An existing directory stays, with the new mode and owner. */
    struct stat st = lstat_at(t->root, "m");
    assert_int_equal(st.st_mode & 07777, 0751);
    if (geteuid() == 0)
        assert_int_equal(st.st_uid, 5);
    assert_file(t->root, "m/keep", "keep");
    if (UNPACK(t, l3, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    assert_int_equal(count_entries(t->root, "d"), 1);
    assert_file(t->root, "d/g", "g");
    assert_true(S_ISLNK(lstat_at(t->root, "x").st_mode));
}

static void
test_sparse_file(void **state)
{
    struct tmp *t = *state;
    const size_t size = 8 * MIB, at = 4 * MIB;
    int fd = -1;
    struct archive *w = writer_open(t, LAYER_GZIP, &fd);
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, "sparse");
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_size(ae, (la_int64_t)size);
    archive_entry_sparse_add_entry(ae, (la_int64_t)at, 4096);
    assert_int_equal(archive_write_header(w, ae), ARCHIVE_OK);
    char *buf = calloc(1, size);
    assert_non_null(buf);
    memset(buf + at, 'D', 4096);
    assert_int_equal(archive_write_data(w, buf, size), (ssize_t)size);
    free(buf);
    archive_entry_free(ae);
    fd = writer_close(w, fd);

    struct oci_unpack_limits small = {4 * MIB, 0};
    struct oci_unpack_stats stats = {0, 0, 0};
    struct bx_err err = BX_ERR_INIT;
    /* The logical size counts, holes included. */
    assert_int_equal(oci_layer_unpack(t->root, fd, &small, &stats, &err), BX_ETOOBIG);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    memset(&stats, 0, sizeof(stats));
    if (oci_layer_unpack(t->root, fd, NULL, &stats, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    close(fd);
    assert_int_equal(stats.bytes, size);
    struct stat st = lstat_at(t->root, "sparse");
    assert_int_equal(st.st_size, size);
    int in = openat(t->root, "sparse", O_RDONLY | O_CLOEXEC);
    char probe[3] = {0};
    assert_int_equal(pread(in, probe, 2, (off_t)at - 1), 2);
    assert_memory_equal(probe, "\0D", 2);
    assert_int_equal(pread(in, probe, 2, (off_t)(at + 4095)), 2);
    assert_memory_equal(probe, "D\0", 2);
    close(in);
}

/* ---- bad names and fields ---- */

static void
test_bad_entries(void **state)
{
    struct tmp *t = *state;
    char long_name[5000];
    memset(long_name, 'a', sizeof(long_name) - 1);
    for (size_t i = 100; i < sizeof(long_name) - 1; i += 101)
        long_name[i] = '/';
    long_name[sizeof(long_name) - 1] = '\0';
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(unpack_one(t, (struct ent){.name = long_name, .data = "x"}, &err), BX_EINVAL);
    assert_non_null(strstr(err.msg, "longer than 4096"));
    assert_int_equal(
        unpack_one(t, (struct ent){.name = "uid", .data = "x", .uid = 4294967295LL}, &err),
        BX_EINVAL);
    assert_int_equal(unpack_one(t, (struct ent){.name = "/", .data = "x"}, &err), BX_EINVAL);
    assert_int_equal(unpack_one(t, (struct ent){.name = "./", .type = AE_IFLNK, .data = "x"}, &err),
                     BX_EINVAL);
    assert_int_equal(count_entries(t->root, "."), 0);
}

/* ---- limits and size ---- */

static void
test_many_entries(void **state)
{
    struct tmp *t = *state;
    enum { DIRS = 100, FILES = 999 };
    double t0 = now_s();
    int fd = -1;
    struct archive *w = writer_open(t, LAYER_GZIP, &fd);
    for (int d = 0; d < DIRS; d++) {
        char name[64];
        snprintf(name, sizeof(name), "dir-%03d/", d);
        ent_write(w, &(struct ent){.name = name, .type = AE_IFDIR});
        for (int f = 0; f < FILES; f++) {
            snprintf(name, sizeof(name), "dir-%03d/file-%05d", d, f);
            ent_write(w, &(struct ent){.name = name, .data = f % 10 ? "" : "x"});
        }
    }
    fd = writer_close(w, fd);
    double t1 = now_s();
    struct oci_unpack_stats stats = {0, 0, 0};
    struct bx_err err = BX_ERR_INIT;
    if (oci_layer_unpack(t->root, fd, NULL, &stats, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    close(fd);
    double t2 = now_s();
    printf("100,000 entries: layer built in %.2f s, unpacked in %.2f s\n", t1 - t0, t2 - t1);
    assert_int_equal(stats.entries, DIRS * (FILES + 1));
    assert_int_equal(count_entries(t->root, "."), DIRS);
    assert_int_equal(count_entries(t->root, "dir-042"), FILES);
    assert_file(t->root, "dir-099/file-00990", "x");

    /* Whiteouts against a big lower layer, with a layer that also writes many entries. */
    w = writer_open(t, LAYER_GZIP, &fd);
    for (int f = 0; f < FILES; f += 2) {
        char name[64];
        snprintf(name, sizeof(name), "dir-000/file-%05d", f);
        ent_write(w, &(struct ent){.name = name, .data = "upper"});
    }
    ent_write(w, &(struct ent){.name = "dir-000/.wh..wh..opq"});
    ent_write(w, &(struct ent){.name = ".wh.dir-001"});
    fd = writer_close(w, fd);
    t1 = now_s();
    if (oci_layer_unpack(t->root, fd, NULL, NULL, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    close(fd);
    printf("whiteouts over them: %.3f s\n", now_s() - t1);
    assert_int_equal(count_entries(t->root, "dir-000"), (FILES + 1) / 2);
    assert_false(exists_at(t->root, "dir-001"));
    assert_file(t->root, "dir-000/file-00998", "upper");
}

/* Writes `size` zero bytes as the file `name`, streaming from a small buffer. */
static void
zeros_write(struct archive *w, const char *name, int64_t size)
{
    static char zeros[MIB]; /* in .bss, not in the binary */
    struct archive_entry *ae = archive_entry_new();
    archive_entry_set_pathname(ae, name);
    archive_entry_set_filetype(ae, AE_IFREG);
    archive_entry_set_perm(ae, 0644);
    archive_entry_set_size(ae, size);
    assert_int_equal(archive_write_header(w, ae), ARCHIVE_OK);
    archive_entry_free(ae);
    for (int64_t left = size; left > 0;) {
        size_t n = left < MIB ? (size_t)left : MIB;
        assert_int_equal(archive_write_data(w, zeros, n), (ssize_t)n);
        left -= (int64_t)n;
    }
}

static void
test_gzip_bomb(void **state)
{
    struct tmp *t = *state;
    double t0 = now_s();
    int fd = -1;
    struct archive *w = writer_open(t, LAYER_GZIP, &fd);
    zeros_write(w, "first", 48 * MIB);
    zeros_write(w, "bomb", 1024LL * MIB - 48 * MIB);
    fd = writer_close(w, fd);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    double t1 = now_s();
    struct oci_unpack_limits limits = {64 * MIB, 0};
    struct oci_unpack_stats stats = {0, 0, 0};
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(oci_layer_unpack(t->root, fd, &limits, &stats, &err), BX_ETOOBIG);
    close(fd);
    double t2 = now_s();
    printf("1 GiB of zeros (%jd bytes gzip-compressed): built in %.2f s, refused in %.3f s\n",
           (intmax_t)st.st_size, t1 - t0, t2 - t1);
    assert_string_equal(err.msg,
                        "layer entry 'bomb': image exceeds the maximum size of 67108864 bytes");
    assert_int_equal(stats.bytes, 48 * MIB);
    assert_int_equal(lstat_at(t->root, "first").st_size, 48 * MIB);
    assert_false(exists_at(t->root, "bomb"));
}

static void
test_limits_accumulate(void **state)
{
    struct tmp *t = *state;
    struct oci_unpack_limits limits = {MIB, 5};
    struct oci_unpack_stats stats = {0, 0, 0};
    struct bx_err err = BX_ERR_INIT;
    char big[600 * 1024 + 1];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    const struct ent l1[] = {{.name = "one", .data = big}, {.name = "d/", .type = AE_IFDIR}};
    const struct ent l2[] = {{.name = "two", .data = big}};
    assert_int_equal(unpack_with(t, LAYER_GZIP, l1, 2, &limits, &stats, &err), 0);
    assert_int_equal(unpack_with(t, LAYER_GZIP, l2, 1, &limits, &stats, &err), BX_ETOOBIG);
    assert_non_null(strstr(err.msg, "image exceeds the maximum size of 1048576 bytes"));
    assert_int_equal(stats.bytes, sizeof(big) - 1);
    assert_false(exists_at(t->root, "two"));

    const struct ent l3[] = {
        {.name = "e1", .data = ""},
        {.name = "e2", .data = ""},
        {.name = "e3", .data = ""},
        {.name = "e4", .data = ""},
    };
    memset(&stats, 0, sizeof(stats));
    limits.max_bytes = 0;
    assert_int_equal(unpack_with(t, LAYER_GZIP, l1, 2, &limits, &stats, &err), 0);
    assert_int_equal(unpack_with(t, LAYER_GZIP, l3, 4, &limits, &stats, &err), BX_ETOOBIG);
    assert_string_equal(err.msg, "image exceeds the maximum of 5 entries");
    assert_int_equal(stats.entries, 5);
    assert_true(exists_at(t->root, "e3"));
    assert_false(exists_at(t->root, "e4"));
}

/* ---- broken streams ---- */

static int
layer_bytes(struct tmp *t, const void *data, size_t len)
{
    char name[32];
    snprintf(name, sizeof(name), "raw-%u", t->layers++);
    int fd = openat(t->fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(bx_write_all(fd, data, len), 0);
    assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
    return fd;
}

/* The layer of `ents` with `filter`, cut in half when `cut`, with the byte at `flip` inverted
 * when flip >= 0. */
static int
layer_damaged(struct tmp *t, enum layer_filter filter, const struct ent *ents, size_t n, bool cut,
              off_t flip)
{
    int fd = layer_make(t, filter, ents, n);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    if (cut)
        assert_int_equal(ftruncate(fd, st.st_size / 2), 0);
    if (flip >= 0) {
        unsigned char c;
        assert_int_equal(pread(fd, &c, 1, flip), 1);
        c ^= 0xff;
        assert_int_equal(pwrite(fd, &c, 1, flip), 1);
    }
    return fd;
}

static void
test_corrupt_streams(void **state)
{
    struct tmp *t = *state;
    char data[20000];
    uint32_t x = 1;
    for (size_t i = 0; i < sizeof(data) - 1; i++) {
        x = x * 1103515245u + 12345u; /* incompressible enough to cut in the middle */
        data[i] = (char)('a' + (x >> 16) % 26);
    }
    data[sizeof(data) - 1] = '\0';
    const struct ent ents[] = {{.name = "f", .data = data}, {.name = "g", .data = data}};
    int fds[] = {
        layer_damaged(t, LAYER_GZIP, ents, 2, true, -1),
        layer_damaged(t, LAYER_ZSTD, ents, 2, true, -1),
        layer_damaged(t, LAYER_NONE, ents, 2, true, -1),
        layer_damaged(t, LAYER_NONE, ents, 2, false, 148), /* the header checksum */
        layer_damaged(t, LAYER_GZIP, ents, 2, false, 1000),
        layer_bytes(t, data, 4096),
        layer_bytes(t, "\x1f\x8b\x08\x00garbage", 11),
        layer_bytes(t, "", 0),
    };
    for (size_t i = 0; i < N_ENTS(fds); i++) {
        struct bx_err err = BX_ERR_INIT;
        int rc = oci_layer_unpack(t->root, fds[i], NULL, NULL, &err);
        if (rc != BX_EINVAL)
            fail_msg("stream %zu: %d (%s), want invalid", i, rc, err.msg);
        assert_true(err.msg[0] != '\0');
        close(fds[i]);
    }
}

/* A layer read from a pipe is read to its end, past the tar's end-of-archive blocks. */
static void
test_pipe_read_to_end(void **state)
{
    struct tmp *t = *state;
    const struct ent ents[] = {{.name = "p", .data = "piped"}};
    int fd = layer_make(t, LAYER_NONE, ents, 1);
    char buf[32768];
    ssize_t n = read(fd, buf, sizeof(buf) - 100);
    assert_true(n > 0 && n < (ssize_t)sizeof(buf) - 100);
    close(fd);
    memset(buf + n, 0, 100);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(bx_write_all(p[1], buf, (size_t)n + 100), 0);
    close(p[1]);
    struct bx_err err = BX_ERR_INIT;
    if (oci_layer_unpack(t->root, p[0], NULL, NULL, &err) != 0)
        fail_msg("unpack: %s", err.msg);
    assert_int_equal(read(p[0], buf, 1), 0);
    close(p[0]);
    assert_file(t->root, "p", "piped");
}

#define TMP_TEST(f) cmocka_unit_test_setup_teardown(f, tmp_setup, tmp_teardown)

int
main(void)
{
    umask(022);
    const struct CMUnitTest tests[] = {
        TMP_TEST(test_normal_layer),
        TMP_TEST(test_compressions),
        TMP_TEST(test_dotdot_refused),
        TMP_TEST(test_absolute_paths),
        TMP_TEST(test_symlink_to_etc),
        TMP_TEST(test_file_over_symlink),
        TMP_TEST(test_lower_symlink_outside),
        TMP_TEST(test_hardlink_outside),
        TMP_TEST(test_whiteout_escapes),
        TMP_TEST(test_whiteout_semantics),
        TMP_TEST(test_whiteout_repeated),
        TMP_TEST(test_special_files_skipped),
        TMP_TEST(test_replace_across_layers),
        TMP_TEST(test_sparse_file),
        TMP_TEST(test_bad_entries),
        TMP_TEST(test_many_entries),
        TMP_TEST(test_gzip_bomb),
        TMP_TEST(test_limits_accumulate),
        TMP_TEST(test_corrupt_streams),
        TMP_TEST(test_pipe_read_to_end),
    };
    return cmocka_run_group_tests_name("oci_unpack", tests, NULL, NULL);
}
