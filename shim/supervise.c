/* The shim's life: start runsc, read its output into capped files, enforce the wall clock,
 * record the exit, serve the status socket, and clean up on Delete or after the linger time.
 *
 * Threads: the main thread runs an epoll loop and is the only one that starts or reaps
 * processes; the RPC server's thread answers calls and hands Kill and Delete to the main thread
 * through an eventfd, waiting on a condition variable for the outcome.
 *
 * A linked shim (a spare taken by `boxerctl run`) also has its launcher's socket in the loop:
 * the launcher learns of the exit from it and deletes the execution by closing it, so that it
 * needs no gRPC of its own and the sandbox does not outlive it.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "shim_internal.h"
#include "supervise_internal.h"

int64_t
shim_now_ms(clockid_t clock)
{
    struct timespec ts;
    clock_gettime(clock, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
open_output(struct shim *s, const char *name, struct shim_output *o, struct bx_err *err)
{
    int fd = openat(s->state_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
    if (fd < 0)
        return bx_err_sys(err, BX_EIO, errno, "create %s", name);
    *o = (struct shim_output){.fd = fd, .cap = s->o->output_limit_bytes};
    return 0;
}

static int
epoll_add(struct shim *s, int fd, uint64_t tag, struct bx_err *err)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return bx_err_sys(err, BX_EIO, errno, "epoll");
    return 0;
}

void
shim_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGCHLD), sigaddset(set, SIGTERM), sigaddset(set, SIGINT);
    sigaddset(set, SIGHUP);
}

/* Files, signals and limits: everything before runsc starts. */
static int
shim_prepare(struct shim *s, struct bx_err *err)
{
    s->state_fd = open(s->o->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->state_fd < 0)
        return bx_err_sys(err, BX_EIO, errno, "open %s", s->o->state_dir);
    char pid[32];
    snprintf(pid, sizeof(pid), "%d\n", (int)getpid());
    if (bx_write_file_replace(s->state_fd, SHIM_PID_NAME, pid, strlen(pid), 0644, err) < 0 ||
        open_output(s, SHIM_STDOUT_NAME, &s->out, err) < 0 ||
        open_output(s, SHIM_STDERR_NAME, &s->err, err) < 0)
        return err->code;
    sigset_t set;
    shim_signals(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    s->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    s->epfd = epoll_create1(EPOLL_CLOEXEC);
    s->cmd_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    s->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (s->sfd < 0 || s->epfd < 0 || s->cmd_fd < 0 || s->tfd < 0)
        return bx_err_sys(err, BX_EIO, errno, "event fds");
    if (epoll_add(s, s->sfd, TAG_SIGNAL, err) < 0 || epoll_add(s, s->cmd_fd, TAG_CMD, err) < 0 ||
        epoll_add(s, s->tfd, TAG_TIMER, err) < 0)
        return err->code;
    /* The launcher sends nothing after the arguments: only its closing (EPOLLHUP) is watched. */
    struct epoll_event hup = {.events = 0, .data.u64 = TAG_LINK};
    if (s->link_fd >= 0 && epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->link_fd, &hup) < 0)
        return bx_err_sys(err, BX_EIO, errno, "epoll");
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return bx_err_sys(err, BX_EIO, errno, "become a subreaper");
    if (!s->o->ignore_cgroups) {
        if (shim_cgroup_create(&s->cg, s->o, err) < 0)
            return err->code;
        shim_cgroup_adopt(&s->cg, s->o->bundle);
        s->have_cg = true;
    }
    return 0;
}

static void
timer_arm(struct shim *s, int64_t in_ms)
{
    struct itimerspec its = {0};
    if (in_ms > 0) {
        its.it_value.tv_sec = in_ms / 1000;
        its.it_value.tv_nsec = (in_ms % 1000) * 1000000;
    }
    timerfd_settime(s->tfd, 0, &its, NULL);
}

/* The next moment the loop must wake for: the wall clock, the kill escalation, the drain bound
 * after runsc exited, or the linger time. */
static void
timer_update(struct shim *s)
{
    int64_t now = shim_now_ms(CLOCK_MONOTONIC), next = 0;
    int64_t cands[] = {s->wall_deadline, s->drain_until, s->linger_until, s->kill_retry_at};
    for (size_t i = 0; i < sizeof(cands) / sizeof(*cands); i++)
        if (cands[i] && (!next || cands[i] < next))
            next = cands[i];
    timer_arm(s, next ? (next > now ? next - now : 1) : 0);
}

static int
shim_start_runsc(struct shim *s, struct bx_err *err)
{
    s->started_unix_ms = shim_now_ms(CLOCK_REALTIME);
    s->started_mono_ms = shim_now_ms(CLOCK_MONOTONIC);
    int rc = shim_runsc_run(s->o, s->have_cg ? &s->cg : NULL, &s->runsc_pid, &s->out_pipe,
                            &s->err_pipe, err);
    if (rc < 0)
        return rc;
    if (epoll_add(s, s->out_pipe, TAG_STDOUT, err) < 0 ||
        epoll_add(s, s->err_pipe, TAG_STDERR, err) < 0)
        return err->code;
    if (s->o->wall_clock_ms)
        s->wall_deadline = s->started_mono_ms + (int64_t)s->o->wall_clock_ms;
    s->status = BOXER__SHIM__V1__STATUS__STATUS_RUNNING;
    timer_update(s);
    /* cgroup: who put the sandbox into the limits' cgroup (shim_cgroup_adopt) */
    bx_log_info("runsc started", "pid=%d cgroup=%s", (int)s->runsc_pid,
                !s->have_cg      ? "none"
                : s->cg.by_runsc ? "runsc"
                                 : "shim");
    return 0;
}

/* Stops the sandbox at once (timeout, output overflow, Delete, SIGTERM): `runsc kill --all`,
 * then the runsc process itself, whose death takes the sandbox with it. */
void
shim_stop_sandbox(struct shim *s, const char *why)
{
    if (s->exited || s->stopping)
        return;
    s->stopping = true;
    bx_log_info("stopping the sandbox", "reason=%s", why);
    struct bx_err err = BX_ERR_INIT;
    if (shim_runsc_kill(s->o, SIGKILL, true, &err) < 0)
        bx_log_debug("runsc kill failed", "error=\"%s\"", err.msg);
    kill(s->runsc_pid, SIGKILL);
}

/* Reads what a pipe holds now (at most 1 MiB per wake-up, so one stream cannot starve the
 * other). */
static void
shim_read_pipe(struct shim *s, int *fd, struct shim_output *o, bool is_stderr)
{
    char buf[65536];
    for (int round = 0; round < 16 && *fd >= 0; round++) {
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            return;
        if (n <= 0) {
            epoll_ctl(s->epfd, EPOLL_CTL_DEL, *fd, NULL);
            close(*fd);
            *fd = -1;
            o->eof = true;
            return;
        }
        if (is_stderr)
            shim_tail_append(s->stderr_tail, sizeof(s->stderr_tail), &s->tail_len, buf, (size_t)n);
        struct bx_err err = BX_ERR_INIT;
        if (shim_output_take(o, buf, (size_t)n, &err) < 0)
            bx_log_error("cannot keep the output", "error=\"%s\"", err.msg);
        if (o->overflow)
            shim_stop_sandbox(s, is_stderr ? "stderr over its limit" : "stdout over its limit");
    }
}

static void
shim_on_signal(struct shim *s)
{
    struct signalfd_siginfo si;
    while (read(s->sfd, &si, sizeof(si)) == sizeof(si)) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT || si.ssi_signo == SIGHUP) {
            bx_log_info("signal received", "signal=%u", si.ssi_signo);
            s->terminate = true;
            pthread_mutex_lock(&s->mu);
            s->done = s->record_done; /* after the exit: clean up and go */
            pthread_mutex_unlock(&s->mu);
            shim_stop_sandbox(s, "the shim was asked to terminate");
        }
    }
    int ws;
    pid_t pid;
    while ((pid = waitpid(-1, &ws, WNOHANG)) > 0) {
        if (pid == s->runsc_pid && !s->exited) {
            s->exited = true;
            s->wait_status = ws;
            s->finished_mono_ms = shim_now_ms(CLOCK_MONOTONIC);
            s->finished_unix_ms = shim_now_ms(CLOCK_REALTIME);
            /* The sandbox dies with runsc; its end of the pipes closes within moments. */
            s->drain_until = s->finished_mono_ms + 2000;
        }
    }
}

static void
shim_on_timer(struct shim *s)
{
    uint64_t ticks;
    (void)!read(s->tfd, &ticks, sizeof(ticks));
    int64_t now = shim_now_ms(CLOCK_MONOTONIC);
    if (s->wall_deadline && now >= s->wall_deadline && !s->exited) {
        s->wall_deadline = 0;
        s->timed_out = true;
        shim_stop_sandbox(s, "wall clock exceeded");
    }
    if (s->kill_retry_at && now >= s->kill_retry_at)
        shim_kill_now(s);
    if (s->drain_until && now >= s->drain_until) {
        s->drain_until = 0;
        if (s->out_pipe >= 0)
            shim_read_pipe(s, &s->out_pipe, &s->out, false);
        if (s->err_pipe >= 0)
            shim_read_pipe(s, &s->err_pipe, &s->err, true);
        /* Whoever still holds the pipes is not the program we ran. */
        for (int *fd = &s->out_pipe; fd; fd = fd == &s->out_pipe ? &s->err_pipe : NULL)
            if (*fd >= 0) {
                epoll_ctl(s->epfd, EPOLL_CTL_DEL, *fd, NULL);
                close(*fd);
                *fd = -1;
            }
    }
    if (s->linger_until && now >= s->linger_until) {
        bx_log_info("nobody deleted the execution within the linger time; cleaning up");
        s->linger_until = 0;
        s->lingered = true;
        pthread_mutex_lock(&s->mu);
        s->done = true;
        pthread_mutex_unlock(&s->mu);
    }
}

/* The linked launcher closed its socket: it is done with the execution (or died), which is then
 * deleted, the sandbox stopped first if it still runs. */
static void
shim_on_link_closed(struct shim *s)
{
    epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->link_fd, NULL);
    close(s->link_fd);
    s->link_fd = -1;
    s->link_closed = true;
    bx_log_info("the launcher closed its link; deleting");
    pthread_mutex_lock(&s->mu);
    s->delete_requested = true;
    pthread_mutex_unlock(&s->mu);
    shim_on_command(s);
}

/* Tells the linked launcher that the exit record is written. */
static void
shim_link_say_exit(struct shim *s)
{
    if (s->link_fd >= 0 &&
        send(s->link_fd, SHIM_LINK_EXIT, strlen(SHIM_LINK_EXIT), MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
        bx_log_debug("cannot tell the launcher of the exit", "errno=%d", errno);
}

static void
shim_dispatch(struct shim *s, uint64_t tag)
{
    switch (tag) {
    case TAG_SIGNAL:
        shim_on_signal(s);
        break;
    case TAG_TIMER:
        shim_on_timer(s);
        break;
    case TAG_CMD:
        shim_on_command(s);
        break;
    case TAG_STDOUT:
        shim_read_pipe(s, &s->out_pipe, &s->out, false);
        break;
    case TAG_STDERR:
        shim_read_pipe(s, &s->err_pipe, &s->err, true);
        break;
    case TAG_LINK:
        shim_on_link_closed(s);
        break;
    }
}

/* Runs the loop until `until` says stop. */
static void
shim_loop(struct shim *s, bool (*until)(const struct shim *))
{
    while (!until(s)) {
        timer_update(s);
        struct epoll_event evs[8];
        int n = epoll_wait(s->epfd, evs, 8, -1);
        if (n < 0 && errno != EINTR) {
            bx_log_error("epoll_wait failed", "errno=%d", errno);
            s->done = true;
            return;
        }
        for (int i = 0; i < n; i++)
            shim_dispatch(s, evs[i].data.u64);
    }
}

static bool
execution_over(const struct shim *s)
{
    return s->exited && s->out_pipe < 0 && s->err_pipe < 0;
}

static bool
shim_finished(const struct shim *s)
{
    pthread_mutex_lock((pthread_mutex_t *)&s->mu);
    bool done = s->done;
    pthread_mutex_unlock((pthread_mutex_t *)&s->mu);
    return done;
}

static void
shim_drop_cgroup(struct shim *s)
{
    pthread_mutex_lock(&s->mu);
    bool have = s->have_cg;
    s->have_cg = false; /* Stats stops reading it */
    pthread_mutex_unlock(&s->mu);
    if (have)
        shim_cgroup_destroy(&s->cg);
}

/* The exit record, from runsc's status and what the shim saw; written, then served. */
static void
shim_finish_record(struct shim *s)
{
    struct shim_record *r = &s->record;
    memset(r, 0, sizeof(*r));
    shim_record_set_status(r, s->wait_status, s->stderr_tail);
    r->timed_out = s->timed_out;
    r->stdout_overflow = s->out.overflow;
    r->stderr_overflow = s->err.overflow;
    r->stdout_bytes = s->out.kept;
    r->stderr_bytes = s->err.kept;
    r->limits_enforced = s->have_cg;
    r->oom_killed = s->have_cg && shim_cgroup_oom_killed(&s->cg);
    if (r->oom_killed || (s->stopping && !r->runtime_error[0])) {
        r->exit_code = 128 + SIGKILL;
        r->signal = SIGKILL;
    }
    r->started_unix_ms = s->started_unix_ms;
    r->finished_unix_ms = s->finished_unix_ms;
    r->wall_ms = s->finished_mono_ms - s->started_mono_ms;
    r->pid = (int32_t)s->runsc_pid;
    struct bx_err err = BX_ERR_INIT;
    if (shim_record_write(s->state_fd, r, &err) < 0)
        bx_log_error("cannot write the exit record", "error=\"%s\"", err.msg);
    shim_drop_cgroup(s);
    bx_log_info("exited", "exit_code=%d signal=%d timed_out=%d oom=%d wall_ms=%lld", r->exit_code,
                r->signal, r->timed_out, r->oom_killed, (long long)r->wall_ms);
    shim_service_post_exit(s);
}

/* `runsc run` removes its container's state when it exits normally; a sandbox that was killed
 * with it leaves state behind. In the shim's own root nothing else lives and the sandbox's
 * processes are gone (killed with runsc, and with the cgroup), so removing the root is enough:
 * `runsc delete --force` would spend its 5 s deadline trying to stop a sandbox that is no more.
 * Done as soon as the execution is over, while the caller reads the output, so that its Delete
 * finds nothing left to do. A shared root (--runsc-root) is runsc's to clean, at the Delete. */
static void
shim_remove_runsc_root(struct shim *s)
{
    if (s->o->runsc_root || s->root_removed)
        return;
    s->root_removed = true;
    struct bx_err err = BX_ERR_INIT;
    if (bx_rm_rf(s->state_fd, SHIM_RUNSC_ROOT_NAME, &err) < 0)
        bx_log_warn("cannot remove runsc's state", "error=\"%s\"", err.msg);
}

/* Removes the sandbox's state: runsc's, the cgroup, the socket and pid file. The output and the
 * exit record stay for the caller, who owns the state directory. */
void
shim_cleanup_state(struct shim *s)
{
    if (s->cleaned)
        return;
    s->cleaned = true;
    struct bx_err err = BX_ERR_INIT;
    if (s->runsc_pid > 0 && s->o->runsc_root && shim_runsc_delete(s->o, &err) < 0)
        bx_log_debug("runsc delete failed", "error=\"%s\"", err.msg);
    shim_remove_runsc_root(s);
    shim_drop_cgroup(s);
    unlinkat(s->state_fd, SHIM_PID_NAME, 0);
}

static void
shim_release(struct shim *s)
{
    int fds[] = {s->out_pipe, s->err_pipe, s->sfd,    s->epfd,     s->cmd_fd,
                 s->tfd,      s->out.fd,   s->err.fd, s->state_fd, s->link_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(*fds); i++)
        if (fds[i] >= 0)
            close(fds[i]);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

/* --remove-state: once the execution was deleted, or nobody deleted it within the linger time,
 * its caller is done with the run directory: the view it mounted is unmounted and the directory
 * removed here, after Delete was answered, so that the caller does not wait for either. Not after
 * SIGTERM: a caller may still be reading the output. */
static void
shim_remove_state_dir(const struct shim *s)
{
    if (!s->o->remove_state || !(s->delete_ready || s->lingered))
        return;
    struct bx_err err = BX_ERR_INIT;
    if (shim_run_dir_remove(s->o->state_dir, &err) < 0)
        bx_log_warn("cannot remove the run directory", "error=\"%s\"", err.msg);
}

static void
ready_say(int *ready_fd, const char *what, const char *msg)
{
    if (*ready_fd < 0)
        return;
    dprintf(*ready_fd, "%s%s%s\n", what, msg ? ": " : "", msg ? msg : "");
    close(*ready_fd);
    *ready_fd = -1;
}

int
shim_main(const struct shim_opts *o, int ready_fd, struct shim_rpc_server *prepared, int link_fd)
{
    struct shim s = {.o = o,
                     .state_fd = -1,
                     .out_pipe = -1,
                     .err_pipe = -1,
                     .sfd = -1,
                     .epfd = -1,
                     .cmd_fd = -1,
                     .tfd = -1,
                     .out.fd = -1,
                     .err.fd = -1,
                     .srv = prepared,
                     .link_fd = link_fd};
    pthread_mutex_init(&s.mu, NULL);
    pthread_cond_init(&s.cv, NULL);
    s.status = BOXER__SHIM__V1__STATUS__STATUS_CREATED;
    struct bx_err err = BX_ERR_INIT;
    /* The options, since `ps` shows only "boxer-shim spare" for a shim that was a spare. */
    bx_log_info("starting",
                "wall_clock_ms=%llu output_limit=%llu memory_bytes=%llu "
                "cpu_millicores=%llu pids=%llu ignore_cgroups=%d remove_state=%d",
                (unsigned long long)o->wall_clock_ms, (unsigned long long)o->output_limit_bytes,
                (unsigned long long)o->memory_bytes, (unsigned long long)o->cpu_millicores,
                (unsigned long long)o->pids_limit, o->ignore_cgroups, o->remove_state);
    /* runsc is started before the socket is served: a spare prepared the server's gRPC part
     * while it waited for its arguments; otherwise it is made when the first client comes. */
    if (shim_prepare(&s, &err) < 0 || shim_start_runsc(&s, &err) < 0 ||
        shim_service_start(&s, &err) < 0) {
        bx_log_error("start-up failed", "error=\"%s\"", err.msg);
        ready_say(&ready_fd, "error", err.msg);
        if (s.runsc_pid > 0)
            kill(s.runsc_pid, SIGKILL), waitpid(s.runsc_pid, NULL, 0);
        shim_service_stop(&s);
        shim_cleanup_state(&s);
        shim_release(&s);
        return 1;
    }
    ready_say(&ready_fd, "ok", NULL);
    shim_loop(&s, execution_over);
    shim_finish_record(&s);
    shim_link_say_exit(&s);
    shim_remove_runsc_root(&s);
    s.linger_until = s.terminate ? 0 : shim_now_ms(CLOCK_MONOTONIC) + (int64_t)o->linger_s * 1000;
    /* A Delete may already have been answered (and set done): never clear it. */
    pthread_mutex_lock(&s.mu);
    s.done = s.done || s.terminate;
    pthread_mutex_unlock(&s.mu);
    shim_loop(&s, shim_finished);
    shim_service_stop(&s);
    shim_cleanup_state(&s);
    /* Its own CPU time, runsc's not included: what supervising one execution costs. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    bx_log_info("shim exits", "user_ms=%ld sys_ms=%ld",
                ru.ru_utime.tv_sec * 1000 + ru.ru_utime.tv_usec / 1000,
                ru.ru_stime.tv_sec * 1000 + ru.ru_stime.tv_usec / 1000);
    shim_release(&s);
    shim_remove_state_dir(&s);
    return 0;
}
