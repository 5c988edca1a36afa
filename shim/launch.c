/* One execution through a boxer-shim (see shim/launch.h). */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "api/shim_rpc.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "shim/launch.h"
#include "shim_internal.h"

void
shim_exec_id_new(char *buf, size_t size)
{
    unsigned char b[16];
    ssize_t n;
    while ((n = getrandom(b, sizeof(b), 0)) < 0 && errno == EINTR)
        ;
    if (n != (ssize_t)sizeof(b))
        abort(); /* no randomness: ids could collide */
    b[6] = (b[6] & 0x0f) | 0x40, b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(buf, size,
             "boxer-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

void
shim_launch_shim_path(char *buf, size_t size)
{
    const char *env = getenv("BOXER_SHIM");
    if (env && *env) {
        snprintf(buf, size, "%s", env);
        return;
    }
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *dir = dirname(self);
        snprintf(buf, size, "%s/boxer-shim", dir);
        if (access(buf, X_OK) == 0)
            return;
        snprintf(buf, size, "%s/../shim/boxer-shim", dir);
        if (access(buf, X_OK) == 0)
            return;
    }
    snprintf(buf, size, "boxer-shim");
}

void
shim_launch_path(const struct shim_launch *l, const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", l->dir, name);
}

static int
launch_dirs(const struct shim_launch_opts *o, struct shim_launch *l, struct bx_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/run", o->home);
    if (bx_mkdir_p(AT_FDCWD, path, 0711, err) < 0)
        return err->code;
    snprintf(l->exec_id, sizeof(l->exec_id), "%s", o->exec_id);
    if ((size_t)snprintf(l->dir, sizeof(l->dir), "%s/run/%s", o->home, o->exec_id) >=
        sizeof(l->dir))
        return bx_err_set(err, BX_EINVAL, "home path too long");
    if (mkdir(l->dir, 0711) < 0)
        return bx_err_sys(err, BX_EEXIST, errno, "create %s", l->dir);
    l->created = true;
    static const char *const subdirs[] = {"view",         "view/upper", "view/work",
                                          SHIM_VIEW_NAME, "bundle",     "output"};
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(*subdirs); i++) {
        shim_launch_path(l, subdirs[i], path, sizeof(path));
        if (mkdir(path, i == 5 ? 0700 : 0711) < 0)
            return bx_err_sys(err, BX_EIO, errno, "create %s", path);
    }
    shim_launch_path(l, "output", path, sizeof(path));
    if (chown(path, OCI_SPEC_NOBODY, OCI_SPEC_NOBODY) < 0)
        return bx_err_sys(err, BX_EIO, errno, "chown %s", path);
    return 0;
}

static int
launch_mount(const struct shim_launch_opts *o, struct shim_launch *l, struct bx_err *err)
{
    char opts[3 * PATH_MAX + 64];
    shim_launch_path(l, SHIM_VIEW_NAME, l->merged, sizeof(l->merged));
    snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/view/upper,workdir=%s/view/work",
             o->rootfs, l->dir, l->dir);
    if (mount("overlay", l->merged, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
        return bx_err_sys(err, BX_ERUNTIME, errno, "mount the run's view of %s", o->rootfs);
    l->mounted = true;
    return 0;
}

int
shim_launch_prepare_dirs(const struct shim_launch_opts *o, struct shim_launch *l,
                         struct bx_err *err)
{
    memset(l, 0, sizeof(*l));
    l->link_fd = -1;
    if (launch_dirs(o, l, err) < 0 || launch_mount(o, l, err) < 0)
        return err->code;
    return 0;
}

int
shim_launch_prepare(const struct shim_launch_opts *o, struct shim_launch *l, struct bx_err *err)
{
    int rc = shim_launch_prepare_dirs(o, l, err);
    return rc < 0 ? rc : shim_launch_write_bundle(o, l, err);
}

int
shim_launch_write_bundle(const struct shim_launch_opts *o, const struct shim_launch *l,
                         struct bx_err *err)
{
    char out[PATH_MAX], bundle[PATH_MAX];
    shim_launch_path(l, "output", out, sizeof(out));
    shim_launch_path(l, "bundle", bundle, sizeof(bundle));
    struct oci_spec_opts so = {
        .rootfs = l->merged,
        .hostname = o->exec_id,
        .args = o->args,
        .env = o->env,
        .cwd = o->cwd,
        .uid = OCI_SPEC_NOBODY,
        .gid = OCI_SPEC_NOBODY,
        .nofile = o->nofile,
        .nproc = o->pids,
        .files = o->files,
        .n_files = o->n_files,
        .output_dir = out,
    };
    /* The limits are the shim's, in its own cgroup: the spec carries none but the guest's own
     * task limit (RLIMIT_NPROC = the pids limit), which keeps a fork bomb off the host limit,
     * and the cgroup's path, for runsc to put the sandbox into (shim_cgroup_adopt). */
    char cg_name[128], cg_path[160];
    shim_cgroup_name(o->exec_id, l->dir, cg_name, sizeof(cg_name));
    snprintf(cg_path, sizeof(cg_path), "/boxer/%s", cg_name);
    so.cgroups_path = o->ignore_cgroups ? NULL : cg_path;
    cleanup_close int bfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (bfd < 0)
        return bx_err_sys(err, BX_EIO, errno, "open %s", bundle);
    return oci_spec_write(bfd, &so, err);
}

static void
fmt_u64(char *buf, size_t size, const char *name, uint64_t v)
{
    snprintf(buf, size, "--%s=%llu", name, (unsigned long long)v);
}

int
shim_launch_start(const struct shim_launch_opts *o, struct shim_launch *l, struct bx_err *err)
{
    char shim[PATH_MAX], bundle[PATH_MAX], wall[64], out[64], mem[64], cpu[64], pids[64];
    char platform[96];
    if (o->shim_path)
        snprintf(shim, sizeof(shim), "%s", o->shim_path);
    else
        shim_launch_shim_path(shim, sizeof(shim));
    shim_launch_path(l, "bundle", bundle, sizeof(bundle));
    snprintf(platform, sizeof(platform), "--runsc-flag=--platform=%s",
             o->platform ? o->platform : "ptrace");
    fmt_u64(wall, sizeof(wall), "wall-clock-ms", o->wall_clock_ms);
    fmt_u64(out, sizeof(out), "output-limit", o->output_limit);
    fmt_u64(mem, sizeof(mem), "memory-bytes", o->memory_bytes);
    fmt_u64(cpu, sizeof(cpu), "cpu-millicores", o->cpu_millicores);
    fmt_u64(pids, sizeof(pids), "pids", o->pids);
    const char *argv[32] = {shim,
                            "start",
                            "--id",
                            o->exec_id,
                            "--bundle",
                            bundle,
                            "--state",
                            l->dir,
                            "--runsc",
                            o->runsc ? o->runsc : "runsc",
                            platform,
                            "--runsc-flag=--network=none",
                            wall,
                            out,
                            mem,
                            cpu,
                            pids,
                            "--log-level",
                            o->log_level ? o->log_level : "info"};
    size_t n = 19;
    if (o->ignore_cgroups)
        argv[n++] = "--ignore-cgroups";
    if (o->runsc_debug)
        argv[n++] = "--runsc-debug";
    if (o->shim_removes)
        argv[n++] = "--remove-state";
    argv[n] = NULL;
    if (shim_launch_spare_start(shim, argv + 1, o->linked, &l->shim_pid, &l->link_fd, err) < 0)
        return err->code;
    l->started = true;
    l->linked = o->linked;
    l->shim_removes = o->shim_removes;
    return 0;
}

pid_t
shim_pid_alive(int dirfd)
{
    char buf[32] = {0}, stat[128] = {0}, path[64];
    cleanup_close int fd = openat(dirfd, SHIM_PID_NAME, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
        return 0;
    pid_t pid = (pid_t)atoi(buf);
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    cleanup_close int sfd = pid > 0 ? open(path, O_RDONLY | O_CLOEXEC) : -1;
    if (sfd < 0 || read(sfd, stat, sizeof(stat) - 1) <= 0)
        return 0;
    /* "PID (boxer-shim) S ...": a zombie (a shim of ours not reaped yet) is no shim. */
    const char *name = strchr(stat, '(');
    if (!name || strncmp(name, "(boxer-shim) ", 13) != 0)
        return 0;
    return name[13] == 'Z' || name[13] == 'X' ? 0 : pid;
}

int
shim_wait_exit(struct shim_rpc_client *cl, const char *dir, const char *exec_id, int timeout_ms,
               Boxer__Shim__V1__ExitRecord **rec, struct bx_err *err)
{
    int64_t deadline = timeout_ms >= 0 ? shim_now_ms(CLOCK_MONOTONIC) + timeout_ms : 0;
    cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    for (;;) {
        int left = -1;
        if (deadline) {
            int64_t l = deadline - shim_now_ms(CLOCK_MONOTONIC);
            if (l <= 0)
                return bx_err_set(err, BX_ETIMEDOUT, "Wait: no exit within %d ms", timeout_ms);
            left = (int)l;
        }
        int rc = shim_rpc_client_wait(cl, exec_id, left, rec, err);
        /* A shim busy with many connections can fail a handshake: while it lives, try again. */
        if (rc != BX_ENET || dfd < 0 || !shim_pid_alive(dfd))
            return rc;
        nanosleep(&(struct timespec){0, 100 * 1000 * 1000}, NULL);
    }
}

/* The client of the run's shim, connected on first use. */
static int
launch_client(struct shim_launch *l, struct bx_err *err)
{
    if (l->cl)
        return 0;
    char sock[PATH_MAX];
    shim_launch_path(l, SHIM_SOCKET_NAME, sock, sizeof(sock));
    return shim_rpc_client_open(sock, &l->cl, err);
}

/* The exit record from the run directory, as the status API's message. */
static int
launch_read_record(const struct shim_launch *l, Boxer__Shim__V1__ExitRecord **rec,
                   struct bx_err *err)
{
    cleanup_close int dfd = open(l->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return bx_err_sys(err, BX_EIO, errno, "open %s", l->dir);
    struct shim_record r;
    if (shim_record_read(dfd, &r, err) < 0)
        return err->code;
    Boxer__Shim__V1__ExitRecord pb;
    shim_record_to_pb(&r, &pb);
    /* A copy of its own, freed as a Wait's answer is. */
    uint8_t buf[2048];
    size_t len = boxer__shim__v1__exit_record__get_packed_size(&pb);
    if (len > sizeof(buf))
        return bx_err_set(err, BX_EINTERNAL, "exit record of %zu bytes", len);
    boxer__shim__v1__exit_record__pack(&pb, buf);
    *rec = boxer__shim__v1__exit_record__unpack(NULL, len, buf);
    return *rec ? 0 : bx_err_set(err, BX_ENOMEM, "exit record");
}

/* A linked shim's wait: its "exit" line on the link, then the record it wrote before. */
static int
launch_link_wait(struct shim_launch *l, int timeout_ms, Boxer__Shim__V1__ExitRecord **rec,
                 struct bx_err *err)
{
    int64_t deadline = timeout_ms >= 0 ? shim_now_ms(CLOCK_MONOTONIC) + timeout_ms : 0;
    char line[16];
    size_t len = 0;
    const size_t want = strlen(SHIM_LINK_EXIT);
    while (len < want) {
        int left = -1;
        if (deadline && (left = (int)(deadline - shim_now_ms(CLOCK_MONOTONIC))) <= 0)
            return bx_err_set(err, BX_ETIMEDOUT, "Wait: no exit within %d ms", timeout_ms);
        struct pollfd p = {.fd = l->link_fd, .events = POLLIN};
        int n = poll(&p, 1, left);
        if (n < 0 && errno != EINTR)
            return bx_err_sys(err, BX_EIO, errno, "poll the shim's link");
        if (n <= 0)
            continue;
        ssize_t r = read(l->link_fd, line + len, want - len);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0)
            break;
        len += (size_t)r;
    }
    if (len != want || memcmp(line, SHIM_LINK_EXIT, want) != 0) {
        /* It died (SIGKILL?) before it said so: a record it wrote still tells the exit. */
        l->link_lost = true;
        if (launch_read_record(l, rec, err) == 0)
            return 0;
        /* Not its log's path: the teardown removes the run directory unless asked to keep it. */
        return bx_err_set(err, BX_ERUNTIME, "boxer-shim died before the execution ended");
    }
    return launch_read_record(l, rec, err);
}

int
shim_launch_wait(struct shim_launch *l, int timeout_ms, Boxer__Shim__V1__ExitRecord **rec,
                 struct bx_err *err)
{
    if (l->linked)
        return launch_link_wait(l, timeout_ms, rec, err);
    if (launch_client(l, err) < 0)
        return err->code;
    return shim_wait_exit(l->cl, l->dir, l->exec_id, timeout_ms, rec, err);
}

/* Tells the shim to delete the sandbox (it kills one still running) and exit; 0 when it did. */
static int
launch_delete(struct shim_launch *l)
{
    Boxer__Shim__V1__ExitRecord *rec = NULL;
    struct bx_err err = BX_ERR_INIT;
    if (launch_client(l, &err) < 0 ||
        shim_rpc_client_delete(l->cl, l->exec_id, 30000, &rec, &err) < 0)
        bx_log_warn("delete failed", "exec=%s error=\"%s\"", l->exec_id, err.msg);
    if (rec)
        boxer__shim__v1__exit_record__free_unpacked(rec, NULL);
    return err.code;
}

/* Closes a linked shim's link, which deletes the execution. Unless the shim removes the run
 * directory, the shim is waited for: it still cleans up in there. A shim that died is reaped and
 * its leftovers (cgroup, run directory) are the teardown's. */
static void
launch_unlink(struct shim_launch *l)
{
    close(l->link_fd);
    l->link_fd = -1;
    if (l->shim_removes && !l->link_lost) {
        l->mounted = l->created = false; /* the shim's now */
        if (!l->keep_client)
            shim_launch_reap(l->shim_pid);
    } else {
        while (waitpid(l->shim_pid, NULL, 0) < 0 && errno == EINTR)
            ;
        shim_cgroup_remove_stale(l->exec_id, l->dir);
    }
    l->shim_pid = 0;
    l->started = false;
}

void
shim_launch_teardown(struct shim_launch *l, bool keep)
{
    if (l->started && l->linked) {
        launch_unlink(l);
    } else if (l->started) {
        if (launch_delete(l) == 0 && l->shim_removes)
            l->mounted = l->created = false; /* the shim's now */
        /* Only left when the shim died before its cleanup. */
        shim_cgroup_remove_stale(l->exec_id, l->dir);
        /* A caller that exits right after this (keep_client) leaves its shim to init. */
        if (!l->keep_client)
            shim_launch_reap(l->shim_pid);
        l->shim_pid = 0;
        l->started = false;
    }
    if (!l->keep_client) {
        shim_rpc_client_close(l->cl);
        l->cl = NULL;
    }
    if (l->mounted && umount2(l->merged, MNT_DETACH) < 0)
        bx_log_warn("cannot unmount the run's view", "path=%s errno=%d", l->merged, errno);
    l->mounted = false;
    struct bx_err err = BX_ERR_INIT;
    if (!keep && l->created && bx_rm_rf(AT_FDCWD, l->dir, &err) < 0)
        bx_log_warn("cannot remove the run directory", "error=\"%s\"", err.msg);
    l->created = false;
}
