/* Unit tests of boxer-shim's pieces that need no sandbox: the command line, output capping,
 * the exit record and its status mapping, the pids mapping, telling a live shim from its pid. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/fs.h"
#include "shim/launch.h"
#include "shim_internal.h"

#define ARGV(...) ((char *[]){"boxer-shim", __VA_ARGS__, NULL})
#define ARGC(...) ((int)(sizeof((char *[]){"boxer-shim", __VA_ARGS__}) / sizeof(char *)))
#define PARSE(opts, err, ...) shim_opts_parse(ARGC(__VA_ARGS__), ARGV(__VA_ARGS__), (opts), (err))

static void
test_args_full(void **state)
{
    (void)state;
    struct shim_opts o;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(PARSE(&o, &err, "start", "--id", "boxer-1", "--bundle", "/b", "--state", "/s",
                           "--runsc", "/usr/bin/runsc", "--runsc-flag=--platform=ptrace",
                           "--runsc-flag", "--network=none", "--wall-clock-ms", "1500",
                           "--output-limit", "10", "--memory-bytes", "67108864", "--cpu-millicores",
                           "500", "--pids", "32", "--linger-secs", "0", "--log-level", "debug"),
                     0);
    assert_false(o.foreground);
    assert_string_equal(o.exec_id, "boxer-1");
    assert_string_equal(o.bundle, "/b");
    assert_string_equal(o.state_dir, "/s");
    assert_string_equal(o.runsc, "/usr/bin/runsc");
    assert_int_equal(o.n_runsc_flags, 2);
    assert_string_equal(o.runsc_flags[0], "--platform=ptrace");
    assert_string_equal(o.runsc_flags[1], "--network=none");
    assert_int_equal(o.wall_clock_ms, 1500);
    assert_int_equal(o.output_limit_bytes, 10);
    assert_int_equal(o.memory_bytes, 67108864);
    assert_int_equal(o.cpu_millicores, 500);
    assert_int_equal(o.pids_limit, 32);
    assert_int_equal(o.linger_s, 0);
    assert_false(o.ignore_cgroups);
    assert_false(o.remove_state);
}

static void
test_args_defaults(void **state)
{
    (void)state;
    struct shim_opts o;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(PARSE(&o, &err, "run", "--id", "x", "--bundle", "/b", "--state", "/s",
                           "--ignore-cgroups", "--remove-state"),
                     0);
    assert_true(o.foreground);
    assert_true(o.ignore_cgroups);
    assert_true(o.remove_state);
    assert_string_equal(o.runsc, "runsc");
    assert_null(o.runsc_root);
    assert_int_equal(o.wall_clock_ms, 0);
    assert_int_equal(o.output_limit_bytes, 0);
    assert_int_equal(o.linger_s, SHIM_DEFAULT_LINGER_S);
}

static void
test_args_invalid(void **state)
{
    (void)state;
    struct shim_opts o;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(PARSE(&o, &err, "stop", "--id", "x"), BX_EINVAL);
    assert_non_null(strstr(err.msg, "unknown command"));
    assert_int_equal(PARSE(&o, &err, "start", "--id", "x", "--bundle", "/b"), BX_EINVAL);
    assert_non_null(strstr(err.msg, "required"));
    assert_int_equal(PARSE(&o, &err, "start", "--id", "../x", "--bundle", "/b", "--state", "/s"),
                     BX_EINVAL);
    assert_non_null(strstr(err.msg, "--id"));
    assert_int_equal(PARSE(&o, &err, "start", "--id", "x", "--bundle", "b", "--state", "/s"),
                     BX_EINVAL);
    assert_non_null(strstr(err.msg, "absolute"));
    assert_int_equal(PARSE(&o, &err, "start", "--id", "x", "--bundle", "/b", "--state", "/s",
                           "--wall-clock-ms", "-5"),
                     BX_EINVAL);
    assert_non_null(strstr(err.msg, "--wall-clock-ms"));
    assert_int_equal(
        PARSE(&o, &err, "start", "--id", "x", "--bundle", "/b", "--state", "/s", "--pids", "12abc"),
        BX_EINVAL);
    assert_int_equal(PARSE(&o, &err, "start", "--id", "x", "--bundle", "/b", "--state", "/s",
                           "--runsc-flag", "platform=ptrace"),
                     BX_EINVAL);
    assert_int_equal(
        PARSE(&o, &err, "start", "--id", "x", "--bundle", "/b", "--state", "/s", "--bogus"),
        BX_EINVAL);
    assert_int_equal(
        PARSE(&o, &err, "start", "--id", "x", "--bundle", "/b", "--state", "/s", "extra"),
        BX_EINVAL);
    char longdir[200];
    memset(longdir, 'a', sizeof(longdir) - 1);
    longdir[0] = '/';
    longdir[sizeof(longdir) - 1] = '\0';
    assert_int_equal(PARSE(&o, &err, "start", "--id", "x", "--bundle", "/b", "--state", longdir),
                     BX_EINVAL);
    assert_non_null(strstr(err.msg, "socket"));
}

/* The template of this test's scratch files and directories, under $TMPDIR. */
static void
temp_name(char *path, size_t size)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(path, size, "%s/boxer-shim-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
}

/* A new scratch directory (its path in dir), opened. */
static int
temp_dir(char *dir, size_t size)
{
    temp_name(dir, size);
    assert_non_null(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dfd >= 0);
    return dfd;
}

static int
memfd(void)
{
    char path[PATH_MAX];
    temp_name(path, sizeof(path));
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    return fd;
}

static uint64_t
file_size(int fd)
{
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    return (uint64_t)st.st_size;
}

static void
test_output_cap(void **state)
{
    (void)state;
    struct bx_err err = BX_ERR_INIT;
    /* exactly the cap: kept, no overflow */
    struct shim_output o = {.fd = memfd(), .cap = 10};
    assert_int_equal(shim_output_take(&o, "12345", 5, &err), 0);
    assert_int_equal(shim_output_take(&o, "67890", 5, &err), 0);
    assert_false(o.overflow);
    assert_int_equal(o.kept, 10);
    /* one byte over: flagged, still the first 10 bytes */
    assert_int_equal(shim_output_take(&o, "x", 1, &err), 0);
    assert_true(o.overflow);
    assert_int_equal(o.kept, 10);
    assert_int_equal(file_size(o.fd), 10);
    char buf[16] = {0};
    assert_int_equal(pread(o.fd, buf, sizeof(buf), 0), 10);
    assert_string_equal(buf, "1234567890");
    close(o.fd);
    /* a chunk that straddles the cap */
    o = (struct shim_output){.fd = memfd(), .cap = 4};
    assert_int_equal(shim_output_take(&o, "abcdef", 6, &err), 0);
    assert_true(o.overflow);
    assert_int_equal(file_size(o.fd), 4);
    close(o.fd);
    /* no cap */
    o = (struct shim_output){.fd = memfd(), .cap = 0};
    char big[100000];
    memset(big, 'y', sizeof(big));
    assert_int_equal(shim_output_take(&o, big, sizeof(big), &err), 0);
    assert_false(o.overflow);
    assert_int_equal(file_size(o.fd), sizeof(big));
    close(o.fd);
}

static void
test_record_roundtrip(void **state)
{
    (void)state;
    struct shim_record r = {
        .exit_code = 137,
        .signal = 9,
        .timed_out = true,
        .oom_killed = false,
        .stdout_overflow = true,
        .stderr_overflow = false,
        .limits_enforced = true,
        .started_unix_ms = 1795435172000,
        .finished_unix_ms = 1795435173234,
        .wall_ms = 1234,
        .pid = 4242,
        .stdout_bytes = 10485760,
        .stderr_bytes = 3,
    };
    snprintf(r.runtime_error, sizeof(r.runtime_error), "runsc: \"quoted\"\nline");
    char dir[PATH_MAX];
    int dfd = temp_dir(dir, sizeof(dir));
    struct bx_err err = BX_ERR_INIT;
    struct shim_record back;
    assert_int_equal(shim_record_read(dfd, &back, &err), BX_ENOENT);
    assert_int_equal(shim_record_write(dfd, &r, &err), 0);
    assert_int_equal(shim_record_read(dfd, &back, &err), 0);
    assert_memory_equal(&r, &back, sizeof(r));
    assert_int_equal(
        bx_write_file_atomic(dfd, SHIM_RECORD_NAME, "{\"exit_code\": \"x\"}", 18, 0644, &err), 0);
    assert_int_equal(shim_record_read(dfd, &back, &err), BX_EINVAL);
    close(dfd);
    assert_int_equal(bx_rm_rf(AT_FDCWD, dir, &err), 0);
}

static void
test_record_status(void **state)
{
    (void)state;
    struct shim_record r = {0};
    shim_record_set_status(&r, 42 << 8, "");
    assert_int_equal(r.exit_code, 42);
    assert_int_equal(r.signal, 0);
    /* runsc reports a program ended by SIGTERM as 143 */
    shim_record_set_status(&r, 143 << 8, NULL);
    assert_int_equal(r.exit_code, 143);
    assert_int_equal(r.signal, SIGTERM);
    /* runsc itself killed */
    shim_record_set_status(&r, SIGKILL, NULL);
    assert_int_equal(r.exit_code, 137);
    assert_int_equal(r.signal, SIGKILL);
    /* runsc's own failure */
    shim_record_set_status(&r, 128 << 8,
                           "program output\nrunning container: creating container: cannot "
                           "create sandbox: EOF\n");
    assert_int_equal(r.exit_code, 128);
    assert_string_equal(r.runtime_error,
                        "runsc: running container: creating container: cannot create sandbox: EOF");
    /* a program that is not there is the program's failure, not runsc's */
    shim_record_set_status(&r, 128 << 8,
                           "running container: starting container: starting root container: "
                           "starting sandbox: creating process: failed to load /nope: no such "
                           "file or directory\n");
    assert_int_equal(r.exit_code, 127);
    assert_string_equal(r.runtime_error, "");
    shim_record_set_status(&r, 128 << 8,
                           "running container: starting container: creating process: failed to "
                           "load /etc/passwd: permission denied\n");
    assert_int_equal(r.exit_code, 126);
    /* 128 without runsc's line is the program's own status */
    shim_record_set_status(&r, 128 << 8, "exit 128\n");
    assert_int_equal(r.exit_code, 128);
    assert_string_equal(r.runtime_error, "");
    assert_int_equal(r.signal, 0);
}

static void
test_host_pids(void **state)
{
    (void)state;
    /* Measured under ptrace: 37-48 threads idle, about 7.6 per guest process (50 -> 417). */
    assert_true(shim_cgroup_host_pids(0) >= 48);
    assert_true(shim_cgroup_host_pids(50) >= 417);
    assert_true(shim_cgroup_host_pids(64) < 64 * 16);
}

/* The tail of a stream (runsc's last lines): the last size - 1 bytes, whatever the pieces. */
static void
test_tail(void **state)
{
    (void)state;
    char tail[8];
    size_t len = 0;
    shim_tail_append(tail, sizeof(tail), &len, "abc", 3);
    assert_string_equal(tail, "abc");
    shim_tail_append(tail, sizeof(tail), &len, "defgh", 5);
    assert_string_equal(tail, "bcdefgh");
    assert_int_equal(len, 7);
    shim_tail_append(tail, sizeof(tail), &len, "0123456789", 10);
    assert_string_equal(tail, "3456789");
    shim_tail_append(tail, sizeof(tail), &len, "", 0);
    assert_string_equal(tail, "3456789");
}

/* A shim's launcher reaps it, so between its exit and the reaping it is a zombie that still
 * bears the name: shim_pid_alive() must call it gone, as it does a process of another name. */
static void
test_pid_alive(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    int dfd = temp_dir(dir, sizeof(dir));
    struct bx_err err = BX_ERR_INIT;
    char buf[32];
    int ready[2], go[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(go), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char c;
        close(ready[0]), close(go[1]); /* so that the parent's close is the end of go */
        prctl(PR_SET_NAME, "boxer-shim");
        (void)!write(ready[1], "r", 1);
        (void)!read(go[0], &c, 1);
        _exit(0);
    }
    close(ready[1]), close(go[0]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    /* no pid file, then this test's own pid (another name) */
    assert_int_equal(shim_pid_alive(dfd), 0);
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
    assert_int_equal(bx_write_file_atomic(dfd, SHIM_PID_NAME, buf, (size_t)n, 0644, &err), 0);
    assert_int_equal(shim_pid_alive(dfd), 0);
    n = snprintf(buf, sizeof(buf), "%d\n", (int)pid);
    assert_int_equal(bx_write_file_atomic(dfd, SHIM_PID_NAME, buf, (size_t)n, 0644, &err), 0);
    assert_int_equal(shim_pid_alive(dfd), pid);
    close(go[1]); /* it exits: a zombie until reaped */
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
    assert_int_equal(shim_pid_alive(dfd), 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(shim_pid_alive(dfd), 0);
    close(ready[0]);
    close(dfd);
    assert_int_equal(bx_rm_rf(AT_FDCWD, dir, &err), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_args_full),
        cmocka_unit_test(test_args_defaults),
        cmocka_unit_test(test_args_invalid),
        cmocka_unit_test(test_output_cap),
        cmocka_unit_test(test_record_roundtrip),
        cmocka_unit_test(test_record_status),
        cmocka_unit_test(test_host_pids),
        cmocka_unit_test(test_pid_alive),
        cmocka_unit_test(test_tail),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
