/* The one file that knows runsc's command line. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "common/runsc.h"
#include "shim_internal.h"

#define RUNSC_HELPER_TIMEOUT_MS 10000

/* runsc gets a fixed environment: nothing of the caller's leaks into the sandbox's supervisor,
 * and TMPDIR (where runsc makes the sandbox's chroot) is one it can always traverse. */
static char *const runsc_env[] = {
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "TMPDIR=/tmp",
    "GOTRACEBACK=single",
    NULL,
};

/* argv of `runsc <global flags> <words...>`; returns the count. */
static size_t
runsc_argv(const struct shim_opts *o, bool runsc_cgroups, const char **argv, size_t max,
           char *root_flag, size_t root_size, char *debug_flag, size_t debug_size,
           const char *const *words)
{
    size_t n = 0;
    argv[n++] = o->runsc;
    if (o->runsc_root)
        snprintf(root_flag, root_size, "--root=%s", o->runsc_root);
    else
        snprintf(root_flag, root_size, "--root=%s/%s", o->state_dir, SHIM_RUNSC_ROOT_NAME);
    argv[n++] = root_flag;
    for (size_t i = 0; i < o->n_runsc_flags && n < max - 8; i++)
        argv[n++] = o->runsc_flags[i];
    /* The shim owns the cgroup (see cgroup.c): runsc either puts the sandbox into it, the one
     * the spec names, or must not move the sandbox out of the one `runsc run` starts in. */
    if (!runsc_cgroups)
        argv[n++] = "--ignore-cgroups";
    if (o->runsc_debug) {
        snprintf(debug_flag, debug_size, "--debug-log=%s/runsc-debug/", o->state_dir);
        argv[n++] = "--debug";
        argv[n++] = debug_flag;
    }
    for (size_t i = 0; words[i] && n < max - 1; i++)
        argv[n++] = words[i];
    argv[n] = NULL;
    return n;
}

/* In the child, before exec: only async-signal-safe calls. Reports errno on `errfd`. */
static void __attribute__((noreturn))
child_exec(const struct shim_cgroup *cg, pid_t parent, int out_w, int err_w, int errfd,
           const char *path, const char **argv)
{
    int e = 0;
    sigset_t none;
    sigemptyset(&none);
    for (int s = 1; s < NSIG; s++)
        signal(s, SIG_DFL);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Attached runsc kills its sandbox when it dies; it dies with the shim. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
        _exit(127);
    if (cg && !cg->by_runsc && shim_cgroup_join_self(cg) < 0)
        e = errno;
    int devnull = open("/dev/null", O_RDONLY);
    if (!e && (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_w, 1) < 0 || dup2(err_w, 2) < 0))
        e = errno;
    if (!e) {
        execve(path, (char *const *)argv, runsc_env);
        e = errno;
    }
    (void)!write(errfd, &e, sizeof(e));
    _exit(127);
}

static int
make_pipe(int fds[2], struct bx_err *err)
{
    if (pipe2(fds, O_CLOEXEC) < 0)
        return bx_err_sys(err, BX_EIO, errno, "pipe");
    return 0;
}

int
shim_runsc_run(const struct shim_opts *o, const struct shim_cgroup *cg, pid_t *pid, int *stdout_fd,
               int *stderr_fd, struct bx_err *err)
{
    const char *argv[SHIM_MAX_RUNSC_FLAGS + 16];
    char root_flag[512], debug_flag[512], bundle_flag[512];
    snprintf(bundle_flag, sizeof(bundle_flag), "--bundle=%s", o->bundle);
    const char *words[] = {"run", bundle_flag, o->exec_id, NULL};
    runsc_argv(o, cg && cg->by_runsc, argv, sizeof(argv) / sizeof(*argv), root_flag,
               sizeof(root_flag), debug_flag, sizeof(debug_flag), words);

    /* The PATH search is done here, not by execvpe in the child: one lookup instead of a failed
     * exec per PATH entry, and only execve after vfork. A path that is not an executable file is
     * exec'd as given, for exec's own error (EACCES, ENOENT). */
    char path[PATH_MAX];
    if (!bx_runsc_find(o->runsc, path, sizeof(path))) {
        if (!strchr(o->runsc, '/'))
            return bx_err_sys(err, BX_ERUNTIME, ENOENT, "start %s", o->runsc);
        snprintf(path, sizeof(path), "%s", o->runsc);
    }
    int out[2], errp[2], status[2];
    if (make_pipe(out, err) < 0)
        return err->code;
    if (make_pipe(errp, err) < 0 || make_pipe(status, err) < 0) {
        close(out[0]), close(out[1]);
        return err->code;
    }
    pid_t parent = getpid();
    /* vfork: the child borrows the shim's memory until its exec (it only makes system calls,
     * and the shim has no signal handlers that could run in it), so nothing is copied: a fork
     * took 1.5-2 ms here before the child's first system call, on the way to every run. */
    pid_t child = vfork();
    if (child == 0)
        child_exec(cg, parent, out[1], errp[1], status[1], path, argv);
    int fork_errno = errno;
    close(out[1]), close(errp[1]), close(status[1]);
    int child_errno = 0;
    ssize_t n = child > 0 ? read(status[0], &child_errno, sizeof(child_errno)) : 0;
    close(status[0]);
    if (child < 0 || n > 0) {
        close(out[0]), close(errp[0]);
        if (child > 0)
            waitpid(child, NULL, 0);
        return bx_err_sys(err, BX_ERUNTIME, child < 0 ? fork_errno : child_errno, "start %s",
                          o->runsc);
    }
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    *pid = child;
    *stdout_fd = out[0];
    *stderr_fd = errp[0];
    return 0;
}

/* Reads what runsc printed so far into its tail (the pipe is non-blocking). */
static void
helper_read(int fd, char *tail, size_t size, size_t *len)
{
    char buf[512];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
        if (n > 0)
            shim_tail_append(tail, size, len, buf, (size_t)n);
}

/* The last non-empty line of `text`, its newline cut off (in place). */
static const char *
last_line(char *text)
{
    size_t n = strlen(text);
    while (n && (text[n - 1] == '\n' || text[n - 1] == '\r'))
        text[--n] = '\0';
    char *nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

/* Runs `runsc ... words` with posix_spawn (safe with threads) and waits for it, killing it
 * after RUNSC_HELPER_TIMEOUT_MS. What it prints is logged at debug level (one line), and its last
 * line ends the error of a failure. */
static int
runsc_helper(const struct shim_opts *o, const char *const *words, struct bx_err *err)
{
    const char *argv[SHIM_MAX_RUNSC_FLAGS + 16];
    char root_flag[512], debug_flag[512];
    runsc_argv(o, false, argv, sizeof(argv) / sizeof(*argv), root_flag, sizeof(root_flag),
               debug_flag, sizeof(debug_flag), words);
    int out[2];
    if (pipe2(out, O_CLOEXEC) < 0)
        return bx_err_sys(err, BX_ERUNTIME, errno, "runsc %s: pipe", words[0]);
    fcntl(out[0], F_SETFL, O_NONBLOCK);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
    posix_spawn_file_actions_adddup2(&fa, out[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none;
    sigemptyset(&none);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
    pid_t pid;
    int rc = posix_spawnp(&pid, o->runsc, &fa, &attr, (char *const *)argv, runsc_env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(out[1]);
    if (rc != 0) {
        close(out[0]);
        return bx_err_sys(err, BX_ERUNTIME, rc, "runsc %s", words[0]);
    }
    char said[512];
    size_t said_len = 0;
    said[0] = '\0';
    int ws = 0;
    for (int waited = 0;; waited += 5) {
        helper_read(out[0], said, sizeof(said), &said_len);
        pid_t r = waitpid(pid, &ws, WNOHANG);
        if (r == pid)
            break;
        if (r < 0 && errno != EINTR) {
            close(out[0]);
            return bx_err_sys(err, BX_ERUNTIME, errno, "runsc %s: wait", words[0]);
        }
        if (waited == RUNSC_HELPER_TIMEOUT_MS)
            kill(pid, SIGKILL);
        nanosleep(&(struct timespec){0, 5 * 1000 * 1000}, NULL);
    }
    helper_read(out[0], said, sizeof(said), &said_len);
    close(out[0]);
    if (said_len && bx_log_enabled(BX_LOG_DEBUG)) {
        char q[1100];
        bx_log_debug("runsc said", "cmd=%s output=%s", words[0], bx_log_quote(q, sizeof(q), said));
    }
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0) {
        const char *line = last_line(said);
        return bx_err_set(err, BX_ERUNTIME, "runsc %s: exit status %d%s%s", words[0],
                          WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws), *line ? ": " : "",
                          line);
    }
    return 0;
}

int
shim_runsc_kill(const struct shim_opts *o, int sig, bool all, struct bx_err *err)
{
    char signame[16];
    snprintf(signame, sizeof(signame), "%d", sig);
    const char *with_all[] = {"kill", "--all", o->exec_id, signame, NULL};
    const char *one[] = {"kill", o->exec_id, signame, NULL};
    return runsc_helper(o, all ? with_all : one, err);
}

int
shim_runsc_delete(const struct shim_opts *o, struct bx_err *err)
{
    const char *words[] = {"delete", "--force", o->exec_id, NULL};
    return runsc_helper(o, words, err);
}
