/* The spare shim: a `boxer-shim spare` started ahead of the next run, so that a run does not
 * wait for the shim's exec and loading (~10 ms). It reads the arguments of `start` from a pipe;
 * the launch that takes it writes them and closes the pipe, and from then on it is that run's
 * `boxer-shim start`. Closing the pipe without writing lets it go (it exits 0); so does the
 * caller's death. One spare at a time; a launch that finds none spawns its shim as before. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/log.h"
#include "shim/launch.h"
#include "shim_internal.h"

static pthread_mutex_t spare_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    bool enabled;
    char path[PATH_MAX]; /* the boxer-shim it runs */
    pid_t pid;           /* 0: none waiting */
    int fd;              /* the write end of its stdin */
} spare = {.fd = -1};

/* Starts a spare; [spare_mu] held. */
static void
spare_spawn_locked(void)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        return;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[0], 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    char *const argv[] = {spare.path, "spare", NULL};
    pid_t pid;
    int rc = posix_spawnp(&pid, spare.path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[0]);
    if (rc != 0) {
        bx_log_warn("cannot start a spare shim", "path=%s errno=%d", spare.path, rc);
        close(p[1]);
        return;
    }
    spare.pid = pid;
    spare.fd = p[1];
}

static void
reap(pid_t pid)
{
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

void
shim_launch_spare_enable(const char *shim_path)
{
    pthread_mutex_lock(&spare_mu);
    if (shim_path)
        snprintf(spare.path, sizeof(spare.path), "%s", shim_path);
    else
        shim_launch_shim_path(spare.path, sizeof(spare.path));
    spare.enabled = true;
    if (!spare.pid)
        spare_spawn_locked();
    pthread_mutex_unlock(&spare_mu);
}

void
shim_launch_spare_refill(void)
{
    pthread_mutex_lock(&spare_mu);
    if (spare.enabled && !spare.pid)
        spare_spawn_locked();
    pthread_mutex_unlock(&spare_mu);
}

void
shim_launch_spare_disable(void)
{
    pthread_mutex_lock(&spare_mu);
    spare.enabled = false;
    pid_t pid = spare.pid;
    if (pid) {
        close(spare.fd); /* it reads EOF and exits */
        spare.pid = 0;
        spare.fd = -1;
    }
    pthread_mutex_unlock(&spare_mu);
    if (pid)
        reap(pid);
}

pid_t
shim_launch_spare_take(const char *shim_path, const char *const *args)
{
    pthread_mutex_lock(&spare_mu);
    pid_t pid = spare.pid;
    int fd = spare.fd;
    bool same = pid && strcmp(spare.path, shim_path) == 0;
    if (same) {
        spare.pid = 0;
        spare.fd = -1;
    }
    pthread_mutex_unlock(&spare_mu);
    if (!same)
        return 0;
    /* The arguments, NUL-separated; a pipe holds them whole (its 64 KiB are far more). */
    char buf[SHIM_SPARE_MAX_BYTES];
    size_t len = 0;
    bool fits = true;
    for (size_t i = 0; args[i] && fits; i++) {
        size_t n = strlen(args[i]) + 1;
        fits = len + n <= sizeof(buf);
        if (fits)
            memcpy(buf + len, args[i], n), len += n;
    }
    ssize_t w = fits ? write(fd, buf, len) : -1;
    int saved = fits ? errno : E2BIG;
    close(fd);
    if (w == (ssize_t)len)
        return pid;
    /* It died before it was needed, or the arguments do not fit: let it go. */
    bx_log_warn("the spare shim could not be used; starting one", "pid=%d errno=%d", (int)pid,
                saved);
    reap(pid);
    return 0;
}
