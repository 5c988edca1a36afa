/* The cgroup a shim owns for its execution: limits written before runsc starts, the whole
 * sandbox (sentry, gofer, ptrace stubs) in it, and the OOM counter outliving the sandbox.
 *
 * cgroup v2 (a unified /sys/fs/cgroup) or v1 (memory, pids, cpu and cpuacct hierarchies, also
 * in the hybrid layout); the cgroup is boxer/<exec_id>-<hash> in each.
 *
 * Who puts the sandbox in: on v1, when the bundle's spec names the cgroup, runsc itself (it
 * joins a cgroup that exists and writes no limits into it; it makes and removes the same path
 * in the hierarchies the shim leaves alone). `runsc run` then stays outside, so its own
 * start-up is not charged to the sandbox's CPU quota: 4-9% of a limited run (hack/bench/shim.md).
 * Otherwise (v2, or a bundle without that path) the shim moves `runsc run` in before exec and
 * starts it with --ignore-cgroups.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "shim_internal.h"

#define CGROUP_ROOT "/sys/fs/cgroup"
#define CPU_PERIOD_US 100000

/* Under the ptrace platform the host counts threads: `runsc run`, the gofer and the sentry take
 * 37-48 with an idle program, and each guest process adds about 7.6 (50 guest sleeps: 417).
 * A guest task gets 12 host threads of room over a base of 64: a program within its pids limit
 * never reaches the host limit, and a fork bomb is stopped near it. */
uint64_t
shim_cgroup_host_pids(uint64_t guest_tasks)
{
    return 64 + 12 * guest_tasks;
}

static int
write_str(const char *dir, const char *file, const char *value)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = bx_write_all(fd, value, strlen(value));
    int e = errno;
    close(fd);
    errno = e;
    return rc;
}

static int
write_u64(const char *dir, const char *file, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return write_str(dir, file, buf);
}

static int
read_text(const char *dir, const char *file, char *buf, size_t size)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, size - 1);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

static uint64_t
read_u64(const char *dir, const char *file)
{
    char buf[64];
    if (read_text(dir, file, buf, sizeof(buf)) < 0)
        return 0;
    return strtoull(buf, NULL, 10);
}

/* The value of `key` in a "key value" file (memory.events, memory.oom_control, cpu.stat). */
static uint64_t
read_keyed(const char *dir, const char *file, const char *key)
{
    char buf[4096];
    if (read_text(dir, file, buf, sizeof(buf)) < 0)
        return 0;
    size_t klen = strlen(key);
    for (char *line = buf; line && *line; line = strchr(line, '\n'), line = line ? line + 1 : NULL)
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ')
            return strtoull(line + klen + 1, NULL, 10);
    return 0;
}

void
shim_cgroup_name(const char *exec_id, const char *state_dir, char *buf, size_t size)
{
    /* FNV-1a of the state directory: the same id in two homes gets two cgroups. */
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)state_dir; *p; p++)
        h = (h ^ *p) * 16777619u;
    snprintf(buf, size, "%s-%08x", exec_id, h);
}

/* Makes <base>/boxer/<id>, remembering it for destroy. */
static int
make_dir(struct shim_cgroup *cg, const char *base, const char *id, struct bx_err *err)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/boxer", base);
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return bx_err_sys(err, BX_ERUNTIME, errno, "cgroup: mkdir %s", path);
    snprintf(path, sizeof(path), "%s/boxer/%s", base, id);
    if (mkdir(path, 0755) < 0)
        return bx_err_sys(err, BX_ERUNTIME, errno, "cgroup: mkdir %s", path);
    snprintf(cg->paths[cg->n_paths++], sizeof(cg->paths[0]), "%s", path);
    char procs[300];
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", path);
    int fd = open(procs, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return bx_err_sys(err, BX_ERUNTIME, errno, "cgroup: open %s", procs);
    cg->procs_fds[cg->n_procs_fds++] = fd;
    return 0;
}

static int
limits_v2(const char *dir, const struct shim_opts *o, struct bx_err *err)
{
    char buf[64];
    if (o->memory_bytes &&
        (write_u64(dir, "memory.max", o->memory_bytes + SHIM_SANDBOX_MEMORY_ALLOWANCE) < 0 ||
         (write_str(dir, "memory.swap.max", "0") < 0 && errno != ENOENT)))
        return bx_err_sys(err, BX_ERUNTIME, errno, "cgroup: memory limit");
    if (o->pids_limit && write_u64(dir, "pids.max", shim_cgroup_host_pids(o->pids_limit)) < 0)
        return bx_err_sys(err, BX_ERUNTIME, errno, "cgroup: pids limit");
    snprintf(buf, sizeof(buf), "%" PRIu64 " %d", o->cpu_millicores * CPU_PERIOD_US / 1000,
             CPU_PERIOD_US);
    if (o->cpu_millicores && write_str(dir, "cpu.max", buf) < 0)
        return bx_err_sys(err, BX_ERUNTIME, errno, "cgroup: cpu limit");
    return 0;
}

static int
create_v2(struct shim_cgroup *cg, const struct shim_opts *o, struct bx_err *err)
{
    cg->v2 = true;
    /* Controllers must be enabled down the path; an error means they already are or cannot
     * be, which the limit writes below then report. */
    (void)write_str(CGROUP_ROOT, "cgroup.subtree_control", "+memory +pids +cpu");
    char name[128];
    shim_cgroup_name(o->exec_id, o->state_dir, name, sizeof(name));
    int rc = make_dir(cg, CGROUP_ROOT, name, err);
    if (rc < 0)
        return rc;
    (void)write_str(CGROUP_ROOT "/boxer", "cgroup.subtree_control", "+memory +pids +cpu");
    return limits_v2(cg->paths[0], o, err);
}

static int
create_v1(struct shim_cgroup *cg, const struct shim_opts *o, struct bx_err *err)
{
    static const char *const ctrls[] = {"memory", "pids", "cpu", "cpuacct"};
    for (size_t i = 0; i < 4; i++) {
        char base[64];
        snprintf(base, sizeof(base), CGROUP_ROOT "/%s", ctrls[i]);
        char real[PATH_MAX];
        /* cpu and cpuacct may be one hierarchy ("cpu,cpuacct" with two symlinks). */
        if (!realpath(base, real))
            return bx_err_sys(err, BX_ERUNTIME, errno, "cgroup: no %s hierarchy", ctrls[i]);
        bool seen = false;
        for (size_t j = 0; j < cg->n_paths; j++)
            seen |= strncmp(cg->paths[j], real, strlen(real)) == 0;
        if (seen)
            continue;
        char name[128];
        shim_cgroup_name(o->exec_id, o->state_dir, name, sizeof(name));
        int rc = make_dir(cg, real, name, err);
        if (rc < 0)
            return rc;
        const char *dir = cg->paths[cg->n_paths - 1];
        if (i == 0 && o->memory_bytes) {
            uint64_t limit = o->memory_bytes + SHIM_SANDBOX_MEMORY_ALLOWANCE;
            if (write_u64(dir, "memory.limit_in_bytes", limit) < 0 ||
                (write_u64(dir, "memory.memsw.limit_in_bytes", limit) < 0 && errno != ENOENT))
                return bx_err_sys(err, BX_ERUNTIME, errno, "cgroup: memory limit");
        } else if (i == 1 && o->pids_limit &&
                   write_u64(dir, "pids.max", shim_cgroup_host_pids(o->pids_limit)) < 0) {
            return bx_err_sys(err, BX_ERUNTIME, errno, "cgroup: pids limit");
        } else if (i == 2 && o->cpu_millicores &&
                   (write_u64(dir, "cpu.cfs_period_us", CPU_PERIOD_US) < 0 ||
                    write_u64(dir, "cpu.cfs_quota_us", o->cpu_millicores * CPU_PERIOD_US / 1000) <
                        0)) {
            return bx_err_sys(err, BX_ERUNTIME, errno, "cgroup: cpu limit");
        }
    }
    return 0;
}

int
shim_cgroup_create(struct shim_cgroup *cg, const struct shim_opts *o, struct bx_err *err)
{
    memset(cg, 0, sizeof(*cg));
    shim_cgroup_name(o->exec_id, o->state_dir, cg->name, sizeof(cg->name));
    struct stat st;
    int rc = stat(CGROUP_ROOT "/cgroup.controllers", &st) == 0 ? create_v2(cg, o, err)
                                                               : create_v1(cg, o, err);
    if (rc < 0) {
        shim_cgroup_destroy(cg);
        return bx_err_prefix(err, "limits");
    }
    return 0;
}

void
shim_cgroup_adopt(struct shim_cgroup *cg, const char *bundle)
{
    char path[PATH_MAX], want[160];
    snprintf(path, sizeof(path), "%s/config.json", bundle);
    snprintf(want, sizeof(want), "/boxer/%s", cg->name);
    json_error_t jerr;
    json_t *spec = cg->v2 ? NULL : json_load_file(path, 0, &jerr);
    const char *named =
        json_string_value(json_object_get(json_object_get(spec, "linux"), "cgroupsPath"));
    cg->by_runsc = named && strcmp(named, want) == 0;
    json_decref(spec);
}

int
shim_cgroup_join_self(const struct shim_cgroup *cg)
{
    for (size_t i = 0; i < cg->n_procs_fds; i++)
        if (write(cg->procs_fds[i], "0", 1) != 1)
            return -1;
    return 0;
}

/* The directory of the hierarchy holding `file` (v1), or the one directory (v2). */
static const char *
dir_for(const struct shim_cgroup *cg, const char *file)
{
    for (size_t i = 0; i < cg->n_paths; i++) {
        char path[320];
        snprintf(path, sizeof(path), "%s/%s", cg->paths[i], file);
        if (access(path, F_OK) == 0)
            return cg->paths[i];
    }
    return NULL;
}

bool
shim_cgroup_oom_killed(const struct shim_cgroup *cg)
{
    const char *file = cg->v2 ? "memory.events" : "memory.oom_control";
    const char *dir = dir_for(cg, file);
    return dir && read_keyed(dir, file, "oom_kill") > 0;
}

void
shim_cgroup_stats(const struct shim_cgroup *cg, uint64_t *mem, uint64_t *mem_limit,
                  uint64_t *cpu_ns, uint64_t *pids, uint64_t *pids_limit)
{
    const char *d;
    *mem = *mem_limit = *cpu_ns = *pids = *pids_limit = 0;
    if (cg->v2) {
        d = cg->n_paths ? cg->paths[0] : NULL;
        if (!d)
            return;
        *mem = read_u64(d, "memory.current");
        *mem_limit = read_u64(d, "memory.max");
        *cpu_ns = read_keyed(d, "cpu.stat", "usage_usec") * 1000;
    } else {
        if ((d = dir_for(cg, "memory.usage_in_bytes")) != NULL) {
            *mem = read_u64(d, "memory.usage_in_bytes");
            *mem_limit = read_u64(d, "memory.limit_in_bytes");
        }
        if ((d = dir_for(cg, "cpuacct.usage")) != NULL)
            *cpu_ns = read_u64(d, "cpuacct.usage");
    }
    if ((d = dir_for(cg, "pids.current")) != NULL) {
        *pids = read_u64(d, "pids.current");
        *pids_limit = read_u64(d, "pids.max"); /* "max" reads as 0: unlimited */
    }
}

/* SIGKILLs every process left in `dir`; returns how many there were. */
static int
kill_all(const char *dir)
{
    char buf[8192];
    if (read_text(dir, "cgroup.procs", buf, sizeof(buf)) < 0)
        return 0;
    int n = 0;
    for (char *p = buf; *p;) {
        char *end = NULL;
        long pid = strtol(p, &end, 10);
        if (end == p)
            break;
        if (pid > 0 && kill((pid_t)pid, SIGKILL) == 0)
            n++;
        p = end + (*end == '\n');
    }
    return n;
}

/* SIGKILLs what is in the cgroup `dir` and removes it. Processes that are still exiting (a
 * sandbox that just lost its runsc) keep it busy for a moment: up to 5 s. */
static void
remove_dir(const char *dir)
{
    for (int tries = 0; tries < 500; tries++) {
        kill_all(dir);
        if (rmdir(dir) == 0 || errno == ENOENT)
            return;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    bx_log_warn("cannot remove the cgroup", "path=%s", dir);
}

/* Removes boxer/<name> wherever it is: the root (v2) and every hierarchy under it (v1), those
 * runsc made too when it placed the sandbox itself and was killed before its own cleanup. */
static void
remove_everywhere(const char *name)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), CGROUP_ROOT "/boxer/%s", name);
    if (access(path, F_OK) == 0)
        remove_dir(path);
    DIR *d = opendir(CGROUP_ROOT);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), CGROUP_ROOT "/%s/boxer/%s", e->d_name, name);
        if (access(path, F_OK) == 0)
            remove_dir(path);
    }
    if (d)
        closedir(d);
}

void
shim_cgroup_destroy(struct shim_cgroup *cg)
{
    for (size_t i = 0; i < cg->n_procs_fds; i++)
        close(cg->procs_fds[i]);
    cg->n_procs_fds = 0;
    for (size_t i = 0; i < cg->n_paths; i++)
        remove_dir(cg->paths[i]);
    if (cg->by_runsc && cg->n_paths)
        remove_everywhere(cg->name);
    cg->n_paths = 0;
}

void
shim_cgroup_remove_stale(const char *exec_id, const char *state_dir)
{
    char name[128];
    shim_cgroup_name(exec_id, state_dir, name, sizeof(name));
    remove_everywhere(name);
}
