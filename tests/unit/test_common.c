/* Unit tests of common/: errors, logging, path cleaning and resolution, fs helpers. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/err.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/runsc.h"

/* A fresh temporary directory per test, removed by the teardown. */
struct tmp {
    char path[PATH_MAX];
    int fd;
};

static int
tmp_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    assert_non_null(t);
    snprintf(t->path, sizeof(t->path), "%s/boxer-test.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(t->path));
    t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(t->fd >= 0);
    *state = t;
    return 0;
}

static int
tmp_teardown(void **state)
{
    struct tmp *t = *state;
    close(t->fd);
    struct bx_err err = BX_ERR_INIT;
    int rc = bx_rm_rf(AT_FDCWD, t->path, &err);
    free(t);
    return rc;
}

static void
write_at(int dirfd, const char *name, const char *content)
{
    int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
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

/* ---- errors ---- */

static void
test_err_set_and_prefix(void **state)
{
    (void)state;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(bx_err_set(&err, BX_ENET, "HTTP %d", 503), BX_ENET);
    assert_int_equal(bx_err_prefix(&err, "fetch blob %s", "sha256:ab"), BX_ENET);
    assert_int_equal(bx_err_prefix(&err, "pull %s", "python:3.12-slim"), BX_ENET);
    assert_string_equal(err.msg, "pull python:3.12-slim: fetch blob sha256:ab: HTTP 503");
    assert_string_equal(bx_err_code_name(err.code), "network");
    bx_err_clear(&err);
    assert_int_equal(err.code, 0);
    assert_string_equal(err.msg, "");
}

static void
test_err_prefix_unset_is_internal(void **state)
{
    (void)state;
    struct bx_err err = BX_ERR_INIT;
    /* A callee that forgot to set the error must not make the caller report success. */
    assert_int_equal(bx_err_prefix(&err, "step"), BX_EINTERNAL);
    assert_string_equal(err.msg, "step: unknown error");
}

static void
test_err_sys_and_errno_map(void **state)
{
    (void)state;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(bx_err_sys(&err, BX_EIO, ENOSPC, "write %s", "x"), BX_EIO);
    assert_int_equal(err.sys_errno, ENOSPC);
    assert_string_equal(err.msg, "write x: No space left on device");
    assert_int_equal(bx_err_from_errno(ENOENT), BX_ENOENT);
    assert_int_equal(bx_err_from_errno(EEXIST), BX_EEXIST);
    assert_int_equal(bx_err_from_errno(ELOOP), BX_EPERM);
    assert_int_equal(bx_err_from_errno(EIO), BX_EIO);
    assert_int_equal(bx_err_set(NULL, BX_EINVAL, "no error object"), BX_EINVAL);
}

static void
test_err_message_truncates(void **state)
{
    (void)state;
    struct bx_err err = BX_ERR_INIT;
    char big[1000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    bx_err_set(&err, BX_EINVAL, "%s", big);
    bx_err_prefix(&err, "%s", big);
    assert_int_equal(strlen(err.msg), BX_ERR_MSG_MAX - 1);
}

/* ---- logging ---- */

static char *
log_capture(void (*fn)(void))
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    bx_log_set_fd(p[1]);
    fn();
    bx_log_set_fd(STDERR_FILENO);
    close(p[1]);
    static char buf[8192];
    size_t n = 0;
    ssize_t r;
    while ((r = read(p[0], buf + n, sizeof(buf) - 1 - n)) > 0)
        n += (size_t)r;
    close(p[0]);
    buf[n] = '\0';
    return buf;
}

static void
log_some(void)
{
    bx_log_init("testprog", BX_LOG_INFO);
    bx_log_set_req("r-1");
    bx_log_set_exec("boxer-42");
    char q[64];
    bx_log_info("pulled image", "image=%s bytes=%d", bx_log_quote(q, sizeof(q), "a b\"c"), 12);
    bx_log_debug("not shown");
    bx_log_set_exec(NULL);
    bx_log_set_req(NULL);
    bx_log_warn("two\nlines");
}

static void
test_log_format(void **state)
{
    (void)state;
    const char *out = log_capture(log_some);
    const char *second = strchr(out, '\n');
    assert_non_null(second);
    assert_true(strncmp(out, "ts=", 3) == 0);
    assert_non_null(strstr(out, " level=info prog=testprog req=r-1 exec=boxer-42 "
                                "msg=\"pulled image\" image=\"a b\\\"c\" bytes=12\n"));
    assert_null(strstr(out, "not shown"));
    /* A value with a newline cannot forge a second line. */
    assert_non_null(strstr(second + 1, "level=warn prog=testprog msg=\"two\\nlines\"\n"));
    assert_null(strstr(second + 1, "exec="));
    assert_int_equal(strlen(second + 1), strcspn(second + 1, "\n") + 1);
}

static void
test_log_levels(void **state)
{
    (void)state;
    enum bx_log_level l;
    assert_int_equal(bx_log_level_parse("debug", &l), 0);
    assert_int_equal(l, BX_LOG_DEBUG);
    assert_int_equal(bx_log_level_parse("loud", &l), -1);
    bx_log_set_level(BX_LOG_WARN);
    assert_false(bx_log_enabled(BX_LOG_INFO));
    assert_true(bx_log_enabled(BX_LOG_ERROR));
    bx_log_set_level(BX_LOG_INFO);
    char q[8];
    assert_string_equal(bx_log_quote(q, sizeof(q), "plain"), "plain");
    assert_string_equal(bx_log_quote(q, sizeof(q), ""), "\"\"");
    bx_log_quote(q, sizeof(q), "a long value with spaces");
    assert_true(strlen(q) < sizeof(q));
}

/* ---- path cleaning ---- */

static void
test_path_clean(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"", "."},
        {"/", "."},
        {"a", "a"},
        {"/a//b/./c/", "a/b/c"},
        {"a/../b", "b"},
        {"../../etc/passwd", "etc/passwd"},
        {"a/b/../../..", "."},
        {"./.hidden/..x", ".hidden/..x"},
        {"workspace/script.py", "workspace/script.py"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char out[64];
        struct bx_err err = BX_ERR_INIT;
        assert_int_equal(bx_path_clean(cases[i].in, false, out, sizeof(out), &err), 0);
        assert_string_equal(out, cases[i].out);
    }
    char out[8];
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(bx_path_clean("a/../b", true, out, sizeof(out), &err), BX_EINVAL);
    assert_int_equal(bx_path_clean("a/..b", true, out, sizeof(out), &err), 0);
    assert_string_equal(out, "a/..b");
    assert_int_equal(bx_path_clean("abcdefgh", false, out, sizeof(out), &err), BX_ETOOBIG);
}

/* ---- resolution under a root ---- */

static void
test_open_in_root_clamps_symlinks(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(mkdirat(t->fd, "root", 0755), 0);
    int root = openat(t->fd, "root", O_RDONLY | O_DIRECTORY);
    assert_true(root >= 0);
    assert_int_equal(symlinkat("/etc", root, "hostetc"), 0);
    assert_int_equal(symlinkat("/loop", root, "loop"), 0);
    assert_int_equal(symlinkat("../../../../..", root, "up"), 0);
    write_at(t->fd, "outside", "secret");
    struct bx_err err = BX_ERR_INIT;

    /* /etc inside the root does not exist: the host's /etc/passwd is never reached. */
    assert_int_equal(bx_open_in_root(root, "hostetc/passwd", O_RDONLY, 0, BX_RESOLVE_IN_ROOT, &err),
                     BX_ENOENT);
    /* "loop -> /loop" points at itself inside the root. */
    assert_int_equal(bx_open_in_root(root, "loop/x", O_RDONLY, 0, BX_RESOLVE_IN_ROOT, &err),
                     BX_EPERM);
    /* "up" climbs no higher than the root: the file lands inside. */
    int fd =
        bx_open_in_root(root, "/up/../outside", O_WRONLY | O_CREAT, 0600, BX_RESOLVE_IN_ROOT, &err);
    assert_true(fd >= 0);
    close(fd);
    assert_true(exists_at(root, "outside"));
    char *content = NULL;
    assert_int_equal(bx_read_file(t->fd, "outside", 64, &content, NULL, &err), 0);
    assert_string_equal(content, "secret");
    free(content);

    /* Without symlinks, neither symlinks nor ".." above the root are allowed. */
    assert_int_equal(
        bx_open_in_root(root, "hostetc/passwd", O_RDONLY, 0, BX_RESOLVE_NO_SYMLINKS, &err),
        BX_EPERM);
    assert_int_equal(bx_open_in_root(root, "../outside", O_RDONLY, 0, BX_RESOLVE_NO_SYMLINKS, &err),
                     BX_EPERM);
    fd = bx_open_in_root(root, "outside", O_RDONLY, 0, BX_RESOLVE_NO_SYMLINKS, &err);
    assert_true(fd >= 0);
    close(fd);
    close(root);
}

static void
test_open_parent_creates_inside(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(mkdirat(t->fd, "root", 0755), 0);
    int root = openat(t->fd, "root", O_RDONLY | O_DIRECTORY);
    assert_int_equal(mkdirat(root, "real", 0755), 0);
    assert_int_equal(symlinkat("/real", root, "abs"), 0);
    assert_int_equal(symlinkat("/etc", root, "etc"), 0);
    struct bx_err err = BX_ERR_INIT;
    char leaf[256];

    int dir = bx_open_parent_in_root(root, "d1/d2/file", BX_RESOLVE_IN_ROOT, 0755, leaf,
                                     sizeof(leaf), &err);
    assert_true(dir >= 0);
    assert_string_equal(leaf, "file");
    write_at(dir, leaf, "x");
    close(dir);
    assert_true(exists_at(root, "d1/d2/file"));

    /* Through an absolute symlink: created under the root's /real, never the host's. */
    dir = bx_open_parent_in_root(root, "abs/sub/f", BX_RESOLVE_IN_ROOT, 0755, leaf, sizeof(leaf),
                                 &err);
    assert_true(dir >= 0);
    close(dir);
    assert_true(exists_at(root, "real/sub"));
    assert_false(exists_at(AT_FDCWD, "/real"));

    /* A symlink to a directory missing in the root: an error, nothing made on the host. */
    assert_true(bx_open_parent_in_root(root, "etc/boxer-test-new/f", BX_RESOLVE_IN_ROOT, 0755, leaf,
                                       sizeof(leaf), &err) < 0);
    assert_false(exists_at(AT_FDCWD, "/etc/boxer-test-new"));

    /* Without symlinks, the parent may not go through one. */
    assert_int_equal(bx_open_parent_in_root(root, "abs/sub/g", BX_RESOLVE_NO_SYMLINKS, 0755, leaf,
                                            sizeof(leaf), &err),
                     BX_EPERM);
    /* Paths that name no entry. */
    const char *bad[] = {"", "/", ".", "a/..", "a/.", "//"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(
            bx_open_parent_in_root(root, bad[i], BX_RESOLVE_IN_ROOT, 0, leaf, sizeof(leaf), &err),
            BX_EINVAL);
    /* Without dir_mode nothing is created. */
    assert_int_equal(
        bx_open_parent_in_root(root, "nope/f", BX_RESOLVE_IN_ROOT, 0, leaf, sizeof(leaf), &err),
        BX_ENOENT);
    assert_false(exists_at(root, "nope"));
    close(root);
}

/* ---- mkdir -p, rm -rf ---- */

static void
test_mkdir_p(void **state)
{
    struct tmp *t = *state;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(bx_mkdir_p(t->fd, "a/b//c/", 0750, &err), 0);
    assert_int_equal(bx_mkdir_p(t->fd, "a/b/c", 0750, &err), 0);
    struct stat st;
    assert_int_equal(fstatat(t->fd, "a/b/c", &st, 0), 0);
    assert_true(S_ISDIR(st.st_mode));

    char abs[PATH_MAX];
    snprintf(abs, sizeof(abs), "%s/x/y", t->path);
    assert_int_equal(bx_mkdir_p(-1, abs, 0755, &err), 0);
    assert_true(exists_at(t->fd, "x/y"));

    /* A symlinked component is refused, and nothing is created where it points. */
    assert_int_equal(mkdirat(t->fd, "target", 0755), 0);
    assert_int_equal(symlinkat("target", t->fd, "link"), 0);
    assert_int_equal(bx_mkdir_p(t->fd, "link/new", 0755, &err), BX_EPERM);
    assert_non_null(strstr(err.msg, "symlink"));
    assert_false(exists_at(t->fd, "target/new"));
    /* A file in the way. */
    write_at(t->fd, "file", "");
    assert_true(bx_mkdir_p(t->fd, "file/sub", 0755, &err) < 0);
}

static void
test_rm_rf_never_follows(void **state)
{
    struct tmp *t = *state;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(bx_mkdir_p(t->fd, "keep", 0755, &err), 0);
    write_at(t->fd, "keep/precious", "x");
    assert_int_equal(bx_mkdir_p(t->fd, "victim/d/e", 0755, &err), 0);
    write_at(t->fd, "victim/d/e/f", "x");
    write_at(t->fd, "victim/top", "x");
    assert_int_equal(symlinkat("../keep", t->fd, "victim/d/tokeep"), 0);
    assert_int_equal(symlinkat("/", t->fd, "victim/root"), 0);
    /* A locked directory is still removed. */
    assert_int_equal(bx_mkdir_p(t->fd, "victim/locked/inner", 0755, &err), 0);
    assert_int_equal(fchmodat(t->fd, "victim/locked", 0, 0), 0);

    assert_int_equal(bx_rm_rf(t->fd, "victim", &err), 0);
    assert_false(exists_at(t->fd, "victim"));
    assert_true(exists_at(t->fd, "keep/precious"));
    /* Missing is fine; a symlink is removed itself. */
    assert_int_equal(bx_rm_rf(t->fd, "victim", &err), 0);
    assert_int_equal(symlinkat("keep", t->fd, "ln"), 0);
    assert_int_equal(bx_rm_rf(t->fd, "ln", &err), 0);
    assert_false(exists_at(t->fd, "ln"));
    assert_true(exists_at(t->fd, "keep/precious"));
}

/* Two listings of one directory fd each see every entry (a dup() would share the offset). */
static void
test_opendir_at_own_offset(void **state)
{
    struct tmp *t = *state;
    write_at(t->fd, "a", "x");
    write_at(t->fd, "b", "x");
    assert_int_equal(symlinkat(".", t->fd, "ln"), 0);
    for (int i = 0; i < 2; i++) {
        DIR *d = bx_opendir_at(t->fd, ".");
        assert_non_null(d);
        size_t n = 0;
        while (readdir(d) != NULL)
            n++;
        assert_int_equal(n, 5); /* ".", "..", a, b, ln */
        closedir(d);
    }
    assert_null(bx_opendir_at(t->fd, "ln"));
    assert_true(errno == ENOTDIR || errno == ELOOP);
}

static void
test_rm_rf_deep_tree(void **state)
{
    struct tmp *t = *state;
    struct bx_err err = BX_ERR_INIT;
    /* Deeper than PATH_MAX allows to name: only *at calls can make or remove it. */
    int fd = openat(t->fd, ".", O_RDONLY | O_DIRECTORY);
    assert_int_equal(mkdirat(t->fd, "deep", 0755), 0);
    int cur = openat(t->fd, "deep", O_RDONLY | O_DIRECTORY);
    close(fd);
    for (int i = 0; i < 3000; i++) {
        assert_int_equal(mkdirat(cur, "dddddddd", 0755), 0);
        if (i % 500 == 0)
            write_at(cur, "file", "x");
        int next = openat(cur, "dddddddd", O_RDONLY | O_DIRECTORY);
        assert_true(next >= 0);
        close(cur);
        cur = next;
    }
    close(cur);
    assert_int_equal(bx_rm_rf(t->fd, "deep", &err), 0);
    assert_false(exists_at(t->fd, "deep"));
}

/* ---- atomic writes, bounded reads ---- */

static size_t
count_entries(int dirfd)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY);
    DIR *d = fdopendir(fd);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        n += de->d_name[0] != '.' || (de->d_name[1] && strcmp(de->d_name, "..") != 0);
    closedir(d);
    return n;
}

static void
test_write_file_atomic(void **state)
{
    struct tmp *t = *state;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(bx_write_file_atomic(t->fd, "exit.json", "{\"a\":1}", 7, 0640, &err), 0);
    assert_int_equal(bx_write_file_atomic(t->fd, "exit.json", "{}", 2, 0600, &err), 0);
    char *buf = NULL;
    size_t len = 0;
    assert_int_equal(bx_read_file(t->fd, "exit.json", 100, &buf, &len, &err), 0);
    assert_int_equal(len, 2);
    assert_string_equal(buf, "{}");
    free(buf);
    struct stat st;
    assert_int_equal(fstatat(t->fd, "exit.json", &st, 0), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    /* No temporary file is left behind. */
    assert_int_equal(count_entries(t->fd), 1);

    const char *bad[] = {"", ".", "..", "a/b"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(bx_write_file_atomic(t->fd, bad[i], "x", 1, 0600, &err), BX_EINVAL);
    /* Writing over a directory fails and cleans up. */
    assert_int_equal(mkdirat(t->fd, "dir", 0755), 0);
    assert_true(bx_write_file_atomic(t->fd, "dir", "x", 1, 0600, &err) < 0);
    assert_non_null(strstr(err.msg, "rename"));
    assert_int_equal(count_entries(t->fd), 2);
}

static void
test_read_file_bounds(void **state)
{
    struct tmp *t = *state;
    struct bx_err err = BX_ERR_INIT;
    write_at(t->fd, "f", "0123456789");
    char *buf = NULL;
    assert_int_equal(bx_read_file(t->fd, "f", 9, &buf, NULL, &err), BX_ETOOBIG);
    assert_null(buf);
    assert_int_equal(bx_read_file(t->fd, "f", 10, &buf, NULL, &err), 0);
    assert_string_equal(buf, "0123456789");
    free(buf);
    buf = NULL;
    assert_int_equal(symlinkat("f", t->fd, "ln"), 0);
    assert_int_equal(bx_read_file(t->fd, "ln", 100, &buf, NULL, &err), BX_EPERM);
    assert_int_equal(bx_read_file(t->fd, ".", 100, &buf, NULL, &err), BX_EINVAL);
    assert_int_equal(bx_read_file(t->fd, "missing", 100, &buf, NULL, &err), BX_ENOENT);
    /* A fifo is not read (and does not block). */
    assert_int_equal(mkfifoat(t->fd, "fifo", 0600), 0);
    assert_int_equal(bx_read_file(t->fd, "fifo", 100, &buf, NULL, &err), BX_EINVAL);
    assert_null(buf);
}

/* runsc is looked up as exec would: a path, or a name in PATH; the answer is the real path. */
static void
test_runsc_find(void **state)
{
    (void)state;
    char out[PATH_MAX], tiny[4];
    char real[PATH_MAX];
    assert_non_null(realpath("/bin/sh", real));
    assert_true(bx_runsc_find("/bin/sh", out, sizeof(out)));
    assert_string_equal(out, real); /* the real path, symlinks resolved */
    assert_true(bx_runsc_find("sh", out, sizeof(out)));
    assert_true(out[0] == '/');
    assert_int_equal(access(out, X_OK), 0);
    assert_false(bx_runsc_find("/tmp", out, sizeof(out))); /* a directory is not a program */
    assert_false(bx_runsc_find("boxer-no-such-program", out, sizeof(out)));
    assert_false(bx_runsc_find("/nonexistent/runsc", out, sizeof(out)));
    assert_false(bx_runsc_find("/etc/passwd", out, sizeof(out))); /* not executable */
    assert_false(bx_runsc_find("sh", tiny, sizeof(tiny)));        /* does not fit */
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_err_set_and_prefix),
        cmocka_unit_test(test_err_prefix_unset_is_internal),
        cmocka_unit_test(test_err_sys_and_errno_map),
        cmocka_unit_test(test_err_message_truncates),
        cmocka_unit_test(test_log_format),
        cmocka_unit_test(test_log_levels),
        cmocka_unit_test(test_path_clean),
        cmocka_unit_test_setup_teardown(test_open_in_root_clamps_symlinks, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_open_parent_creates_inside, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_mkdir_p, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_rm_rf_never_follows, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_rm_rf_deep_tree, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_opendir_at_own_offset, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_runsc_find),
        cmocka_unit_test_setup_teardown(test_write_file_atomic, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_read_file_bounds, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests_name("common", tests, NULL, NULL);
}
