/* The spare shim: a `boxer-shim spare` started ahead of the next run, so that a run does not
 * wait for the shim's exec and loading (~10 ms). It reads the arguments of `start` from a
 * socket (its stdin); the launch that takes it sends them and closes the socket, and from then
 * on it is that run's shim, with no fork: it answers "ok" or "error: ..." on its stdout (a pipe)
 * once its status socket is ready, and stays the launcher's child, reaped by shim_launch_reap().
 * Closing the socket without sending lets it go (it exits 0); so does the caller's death. One
 * spare at a time; a launch that finds none starts one for itself and takes it at once.
 *
 * A linked spare (`spare --linked`, for a caller that waits for the run itself: boxerctl run)
 * makes no gRPC while it waits, and the socket is not closed after the arguments but shut down
 * for writing: it stays the run's link (shim_main). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "shim/launch.h"
#include "shim_internal.h"

struct spare {
    pid_t pid;    /* 0: none */
    bool linked;  /* `spare --linked` */
    int fd;       /* our end of its stdin (a socket: a dead spare gives EPIPE, not SIGPIPE) */
    int ready_fd; /* the read end of its stdout */
};

static pthread_mutex_t spare_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool enabled;
    char path[PATH_MAX]; /* the boxer-shim it runs */
    bool linked;         /* spares are linked ones */
    struct spare s;      /* the one waiting, if any */
} spare = {.s = {.fd = -1, .ready_fd = -1}};

/* Returns its wait status (0 if it cannot be had). */
static int
reap(pid_t pid)
{
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    return ws;
}

/* Closes what is left of our ends and reaps it (a spare let go, or failed, exits at once);
 * returns its wait status. */
static int
spare_release(struct spare *s)
{
    if (!s->pid)
        return 0;
    if (s->fd >= 0)
        close(s->fd);
    if (s->ready_fd >= 0)
        close(s->ready_fd);
    int ws = reap(s->pid);
    *s = (struct spare){.fd = -1, .ready_fd = -1};
    return ws;
}

static int
spare_spawn(const char *path, bool linked, struct spare *s)
{
    int sv[2], p[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return errno;
    if (pipe2(p, O_CLOEXEC) < 0) {
        int e = errno;
        close(sv[0]), close(sv[1]);
        return e;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    /* The shim outlives its caller: it must not keep the caller's descriptors (sockets of
     * other clients, files) open. */
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    char *const argv[] = {(char *)path, "spare", linked ? "--linked" : NULL, NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]), close(p[1]);
    if (rc != 0) {
        close(sv[0]), close(p[0]);
        return rc;
    }
    *s = (struct spare){.pid = pid, .linked = linked, .fd = sv[0], .ready_fd = p[0]};
    return 0;
}

/* Starts the spare if none waits; [spare_mu] held. */
static void
spare_fill_locked(void)
{
    if (!spare.enabled || spare.s.pid)
        return;
    int rc = spare_spawn(spare.path, spare.linked, &spare.s);
    if (rc != 0)
        bx_log_warn("cannot start a spare shim", "path=%s errno=%d", spare.path, rc);
}

void
shim_launch_spare_enable(const char *shim_path, bool linked)
{
    pthread_mutex_lock(&spare_mu);
    spare.linked = linked;
    if (shim_path)
        snprintf(spare.path, sizeof(spare.path), "%s", shim_path);
    else
        shim_launch_shim_path(spare.path, sizeof(spare.path));
    spare.enabled = true;
    spare_fill_locked();
    pthread_mutex_unlock(&spare_mu);
}

void
shim_launch_spare_refill(void)
{
    pthread_mutex_lock(&spare_mu);
    spare_fill_locked();
    pthread_mutex_unlock(&spare_mu);
}

void
shim_launch_spare_disable(void)
{
    pthread_mutex_lock(&spare_mu);
    spare.enabled = false;
    struct spare s = spare.s;
    spare.s = (struct spare){.fd = -1, .ready_fd = -1};
    pthread_mutex_unlock(&spare_mu);
    spare_release(&s); /* it reads EOF and exits */
}

/* The arguments, NUL-separated, as the spare reads them: their length, or 0 if they do not fit. */
static size_t
spare_pack(const char *const *args, char *buf, size_t size)
{
    size_t len = 0;
    for (size_t i = 0; args[i]; i++) {
        size_t n = strlen(args[i]) + 1;
        if (len + n > size)
            return 0;
        memcpy(buf + len, args[i], n), len += n;
    }
    return len;
}

/* Sends them and closes the socket (a linked spare's is shut down for writing and kept): 0, or
 * an errno (EPIPE: the spare is dead). */
static int
spare_send(struct spare *s, const char *buf, size_t len)
{
    int rc = 0;
    for (size_t off = 0; off < len && rc == 0;) {
        ssize_t w = send(s->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EINTR)
            rc = errno;
    }
    if (s->linked && rc == 0 && shutdown(s->fd, SHUT_WR) < 0)
        rc = errno;
    if (!s->linked || rc != 0) {
        close(s->fd);
        s->fd = -1;
    }
    return rc;
}

/* Its ready line, without the newline, in buf; "" when it died without one. */
static void
spare_ready_line(struct spare *s, char *buf, size_t size)
{
    size_t len = 0;
    while (len < size - 1) {
        ssize_t n = read(s->ready_fd, buf + len, size - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
        if (memchr(buf + len - (size_t)n, '\n', (size_t)n))
            break;
    }
    buf[len] = '\0';
    buf[strcspn(buf, "\n")] = '\0';
    close(s->ready_fd);
    s->ready_fd = -1;
}

int
shim_launch_spare_start(const char *shim_path, const char *const *args, bool linked, pid_t *pid,
                        int *link_fd, struct bx_err *err)
{
    *pid = 0;
    *link_fd = -1;
    char buf[SHIM_SPARE_MAX_BYTES];
    size_t len = spare_pack(args, buf, sizeof(buf));
    if (len == 0)
        return bx_err_set(err, BX_EINVAL, "boxer-shim's arguments exceed %d bytes",
                          SHIM_SPARE_MAX_BYTES);
    pthread_mutex_lock(&spare_mu);
    struct spare s = {.fd = -1, .ready_fd = -1};
    if (spare.s.pid && spare.s.linked == linked && strcmp(spare.path, shim_path) == 0) {
        s = spare.s;
        spare.s = (struct spare){.fd = -1, .ready_fd = -1};
    }
    pthread_mutex_unlock(&spare_mu);
    int rc;
    if (s.pid && (rc = spare_send(&s, buf, len)) != 0) {
        bx_log_warn("the spare shim could not be used; starting one", "pid=%d errno=%d", (int)s.pid,
                    rc);
        spare_release(&s); /* it died before it was needed */
    }
    if (!s.pid) {
        if ((rc = spare_spawn(shim_path, linked, &s)) != 0)
            return bx_err_sys(err, BX_ERUNTIME, rc, "start %s", shim_path);
        if ((rc = spare_send(&s, buf, len)) != 0) {
            spare_release(&s);
            return bx_err_sys(err, BX_ERUNTIME, rc, "hand boxer-shim its arguments");
        }
    }
    char line[512];
    spare_ready_line(&s, line, sizeof(line));
    if (strcmp(line, "ok") == 0) {
        *pid = s.pid;
        *link_fd = s.fd; /* -1 unless linked */
        return 0;
    }
    int ws = spare_release(&s); /* it exits after its error */
    /* Not its log's path: the caller removes the run directory unless asked to keep it. */
    if (strncmp(line, "error: ", 7) == 0)
        return bx_err_set(err, BX_ERUNTIME, "boxer-shim failed to start: %s", line + 7);
    return bx_err_set(err, BX_ERUNTIME, "boxer-shim died during start-up (%s %d)",
                      WIFSIGNALED(ws) ? "killed by signal" : "exit status",
                      WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
}

static void *
reaper(void *arg)
{
    reap((pid_t)(intptr_t)arg);
    return NULL;
}

void
shim_launch_reap(pid_t pid)
{
    if (pid <= 0)
        return;
    pid_t r;
    while ((r = waitpid(pid, NULL, WNOHANG)) < 0 && errno == EINTR)
        ;
    if (r != 0)
        return; /* reaped, or not ours */
    /* Still cleaning up after its Delete: a thread waits for it, the caller goes on. */
    pthread_t t;
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&a, 64 * 1024);
    if (pthread_create(&t, &a, reaper, (void *)(intptr_t)pid) != 0)
        reap(pid);
    pthread_attr_destroy(&a);
}
