/* boxerctl run --image IMAGE [limits] -- CMD...: one execution without boxerd. Pulls the image,
 * makes the run directory (an overlay view of the shared rootfs, the bundle, /output), starts a
 * boxer-shim, waits for the exit, prints the output, deletes the execution and exits with the
 * command's exit code. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <openssl/rand.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "api/shim_rpc.h"
#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/runsc.h"
#include "ctl_internal.h"
#include "oci/spec.h"
#include "shim_internal.h"

#define RUN_MAX_ENV 256

extern char **environ;

struct run_req {
    const char *image;
    const char *cwd;
    const char *env[RUN_MAX_ENV + 1];
    size_t n_env;
    struct bx_limits limits;
    uint64_t output_limit;
    bool keep;
    bool runsc_debug;
    char id[64];
    char **cmd;
};

struct run_ctx {
    char dir[PATH_MAX];    /* <home>/run/<id> */
    char merged[PATH_MAX]; /* the overlay view: root.path */
    bool created; /* dir is ours to remove */
    bool mounted;
    int use_fd; /* the image's use lock, held until the run is gone */
};

static const char run_usage[] =
    "usage: boxerctl run --image IMAGE [options] -- CMD [ARG...]\n"
    "  --memory MB  --cpus N  --timeout SECS  --pids N  --nofile N   limits (0: configured "
    "default)\n"
    "  --env KEY=VALUE (repeatable)  --cwd DIR  --output-limit BYTES  --id ID\n"
    "  --keep (leave the run directory)  --runsc-debug\n";

static void
run_make_id(char *id, size_t size)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        for (size_t i = 0; i < sizeof(b); i++)
            b[i] = (unsigned char)random();
    b[6] = (b[6] & 0x0f) | 0x40, b[8] = (b[8] & 0x3f) | 0x80;
    snprintf(id, size,
             "boxer-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
             b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
             b[14], b[15]);
}

static int
run_parse_num(const char *name, const char *s, double *out)
{
    char *end = NULL;
    double v = strtod(s, &end);
    if (!*s || *end || v < 0) {
        fprintf(stderr, "boxerctl run: --%s: not a non-negative number: %s\n", name, s);
        return -1;
    }
    *out = v;
    return 0;
}

static int
run_parse(struct ctl *c, int argc, char **argv, struct run_req *r)
{
    static const struct option opts[] = {
        {"image", required_argument, NULL, 'i'},  {"memory", required_argument, NULL, 'm'},
        {"cpus", required_argument, NULL, 'c'},   {"timeout", required_argument, NULL, 't'},
        {"pids", required_argument, NULL, 'p'},   {"nofile", required_argument, NULL, 'n'},
        {"env", required_argument, NULL, 'e'},    {"cwd", required_argument, NULL, 'w'},
        {"output-limit", required_argument, NULL, 'o'}, {"id", required_argument, NULL, 'I'},
        {"keep", no_argument, NULL, 'k'},         {"runsc-debug", no_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    r->limits = c->config.defaults;
    r->output_limit = c->config.output_limit_bytes;
    double v = 0;
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
        const char *name = opt == '?' ? "" : opts[0].name;
        for (const struct option *o = opts; o->name; o++)
            if (o->val == opt)
                name = o->name;
        if (strchr("mctpno", opt) && run_parse_num(name, optarg, &v) < 0)
            return -1;
        switch (opt) {
        case 'i': r->image = optarg; break;
        case 'm': r->limits.memory_mb = v ? (int64_t)v : r->limits.memory_mb; break;
        case 'c': r->limits.cpu_cores = v ? v : r->limits.cpu_cores; break;
        case 't': r->limits.wall_clock_secs = v ? (int64_t)v : r->limits.wall_clock_secs; break;
        case 'p': r->limits.pids_limit = v ? (int64_t)v : r->limits.pids_limit; break;
        case 'n': r->limits.nofile = v ? (int64_t)v : r->limits.nofile; break;
        case 'o': r->output_limit = (uint64_t)v; break;
        case 'w': r->cwd = optarg; break;
        case 'I': snprintf(r->id, sizeof(r->id), "%s", optarg); break;
        case 'k': r->keep = true; break;
        case 'd': r->runsc_debug = true; break;
        case 'e':
            if (r->n_env == RUN_MAX_ENV || !strchr(optarg, '=')) {
                fprintf(stderr, "boxerctl run: --env: KEY=VALUE, at most %d\n", RUN_MAX_ENV);
                return -1;
            }
            r->env[r->n_env++] = optarg;
            break;
        default: fputs(run_usage, stderr); return -1;
        }
    }
    if (!r->image || optind >= argc) {
        fputs(run_usage, stderr);
        return -1;
    }
    r->cmd = argv + optind;
    if (!r->id[0])
        run_make_id(r->id, sizeof(r->id));
    return 0;
}

/* The run directory: <dir>/{view/{upper,work,merged},bundle,output}, traversable by runsc's
 * unprivileged sandbox; /output belongs to the sandbox's user. */
static int
run_make_dirs(struct ctl *c, const struct run_req *r, const struct oci_image *img,
              struct run_ctx *x, struct bx_err *err)
{
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/run", c->config.home);
    if (bx_mkdir_p(AT_FDCWD, path, 0711, err) < 0 || ctl_run_dir(c, r->id, x->dir,
                                                                   sizeof(x->dir), err) < 0)
        return err->code;
    if (mkdir(x->dir, 0711) < 0)
        return bx_err_sys(err, BX_EEXIST, errno, "create %s", x->dir);
    x->created = true;
    static const char *const subdirs[] = {"view", "view/upper", "view/work", "view/merged",
                                          "bundle", "output"};
    for (size_t i = 0; i < sizeof(subdirs) / sizeof(*subdirs); i++) {
        snprintf(path, sizeof(path), "%s/%s", x->dir, subdirs[i]);
        if (mkdir(path, i == 5 ? 0700 : 0711) < 0)
            return bx_err_sys(err, BX_EIO, errno, "create %s", path);
    }
    snprintf(path, sizeof(path), "%s/output", x->dir);
    if (chown(path, OCI_SPEC_NOBODY, OCI_SPEC_NOBODY) < 0)
        return bx_err_sys(err, BX_EIO, errno, "chown %s", path);
    /* runsc's gofer makes missing mount points inside root.path: the shared rootfs is only
     * ever the lower layer of a per-run overlay. */
    char opts[3 * PATH_MAX + 64];
    snprintf(x->merged, sizeof(x->merged), "%s/view/merged", x->dir);
    snprintf(opts, sizeof(opts), "lowerdir=%s,upperdir=%s/view/upper,workdir=%s/view/work",
             img->rootfs, x->dir, x->dir);
    if (mount("overlay", x->merged, "overlay", MS_NOSUID | MS_NODEV, opts) < 0)
        return bx_err_sys(err, BX_ERUNTIME, errno, "mount the run's view of %s", img->rootfs);
    x->mounted = true;
    return 0;
}

static int
run_write_spec(const struct run_req *r, const struct oci_image *img, const struct run_ctx *x,
               struct bx_err *err)
{
    char **env = NULL;
    const char *const *req_env = r->n_env ? r->env : NULL;
    if (oci_env_merge((const char *const *)img->config.env, req_env, &env, err) < 0)
        return err->code;
    char out[PATH_MAX], bundle[PATH_MAX];
    snprintf(out, sizeof(out), "%s/output", x->dir);
    snprintf(bundle, sizeof(bundle), "%s/bundle", x->dir);
    const char *wd = img->config.working_dir && *img->config.working_dir
                         ? img->config.working_dir : "/";
    struct oci_spec_opts so = {
        .rootfs = x->merged,
        .hostname = r->id,
        .args = (const char *const *)r->cmd,
        .env = (const char *const *)env,
        .cwd = r->cwd ? r->cwd : wd,
        .uid = OCI_SPEC_NOBODY,
        .gid = OCI_SPEC_NOBODY,
        .nofile = r->limits.nofile > 0 ? (uint64_t)r->limits.nofile : 0,
        .output_dir = out,
    };
    /* Limits are the shim's (its own cgroup); the spec carries none. */
    cleanup_close int bfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = bfd < 0 ? bx_err_sys(err, BX_EIO, errno, "open %s", bundle)
                     : oci_spec_write(bfd, &so, err);
    oci_env_free(env);
    return rc;
}

/* boxer-shim: $BOXER_SHIM, else beside boxerctl (installed), else the build tree's, else PATH. */
static void
run_shim_path(char *buf, size_t size)
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

static void
fmt_arg(char *buf, size_t size, const char *name, uint64_t v)
{
    snprintf(buf, size, "--%s=%llu", name, (unsigned long long)v);
}

static int
run_start_shim(struct ctl *c, const struct run_req *r, const struct run_ctx *x,
               struct bx_err *err)
{
    char shim[PATH_MAX], bundle[PATH_MAX], wall[64], out[64], mem[64], cpu[64], pids[64];
    char platform[96];
    run_shim_path(shim, sizeof(shim));
    snprintf(bundle, sizeof(bundle), "%s/bundle", x->dir);
    const char *runsc = c->config.runsc_path ? c->config.runsc_path : "runsc";
    bool fell_back;
    const char *plat =
        bx_runsc_platform_cached(runsc, c->config.platform, c->config.home, &fell_back);
    if (fell_back)
        bx_log_info("runsc lacks the configured platform; using ptrace", "platform=%s",
                    c->config.platform);
    snprintf(platform, sizeof(platform), "--runsc-flag=--platform=%s", plat);
    const struct bx_limits *l = &r->limits;
    fmt_arg(wall, sizeof(wall), "wall-clock-ms",
            l->wall_clock_secs > 0 ? (uint64_t)l->wall_clock_secs * 1000 : 0);
    fmt_arg(out, sizeof(out), "output-limit", r->output_limit);
    fmt_arg(mem, sizeof(mem), "memory-bytes",
            l->memory_mb > 0 ? (uint64_t)l->memory_mb << 20 : 0);
    fmt_arg(cpu, sizeof(cpu), "cpu-millicores",
            l->cpu_cores > 0 ? (uint64_t)(l->cpu_cores * 1000 + 0.5) : 0);
    fmt_arg(pids, sizeof(pids), "pids", l->pids_limit > 0 ? (uint64_t)l->pids_limit : 0);
    const char *argv[32] = {shim, "start", "--id", r->id, "--bundle", bundle, "--state", x->dir,
                            "--runsc", runsc, platform, "--runsc-flag=--network=none", wall, out,
                            mem, cpu, pids, "--log-level", c->config.log_level ? c->config.log_level : "info"};
    size_t n = 19;
    if (c->config.ignore_cgroups)
        argv[n++] = "--ignore-cgroups";
    if (r->runsc_debug)
        argv[n++] = "--runsc-debug";
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, shim, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        return bx_err_sys(err, BX_ERUNTIME, rc, "start %s", shim);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
        return bx_err_set(err, BX_ERUNTIME, "boxer-shim failed to start (see above)");
    return 0;
}

/* Copies the file `name` of the run directory to `out_fd`. */
static void
run_copy_output(const struct run_ctx *x, const char *name, int out_fd)
{
    char path[PATH_MAX], buf[65536];
    snprintf(path, sizeof(path), "%s/%s", x->dir, name);
    cleanup_close int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    ssize_t n;
    while (fd >= 0 && (n = read(fd, buf, sizeof(buf))) > 0)
        if (bx_write_all(out_fd, buf, (size_t)n) < 0)
            return;
}

static int
run_report(const struct run_req *r, const Boxer__Shim__V1__ExitRecord *rec)
{
    if (rec->runtime_error && *rec->runtime_error) {
        fprintf(stderr, "boxerctl: %s: %s\n", r->id, rec->runtime_error);
        return 125;
    }
    if (rec->timed_out)
        fprintf(stderr, "boxerctl: %s: wall clock of %lld s exceeded\n", r->id,
                (long long)r->limits.wall_clock_secs);
    if (rec->oom_killed)
        fprintf(stderr, "boxerctl: %s: killed for memory (limit %lld MB)\n", r->id,
                (long long)r->limits.memory_mb);
    if (rec->stdout_overflow || rec->stderr_overflow)
        fprintf(stderr, "boxerctl: %s: %s over the output limit of %llu bytes; stopped\n", r->id,
                rec->stdout_overflow ? "stdout" : "stderr", (unsigned long long)r->output_limit);
    return rec->exit_code < 0 || rec->exit_code > 255 ? 255 : rec->exit_code;
}

static int
run_wait_and_delete(const struct run_req *r, const struct run_ctx *x,
                    Boxer__Shim__V1__ExitRecord **rec, struct bx_err *err)
{
    char sock[PATH_MAX];
    snprintf(sock, sizeof(sock), "%s/%s", x->dir, SHIM_SOCKET_NAME);
    struct shim_rpc_client *cl = NULL;
    int rc = shim_rpc_client_open(sock, &cl, err);
    if (rc == 0)
        rc = shim_rpc_client_wait(cl, r->id, -1, rec, err);
    Boxer__Shim__V1__ExitRecord *ignored = NULL;
    struct bx_err derr = BX_ERR_INIT;
    if (cl && shim_rpc_client_delete(cl, r->id, 30000, &ignored, &derr) < 0)
        bx_log_warn("delete failed", "exec=%s error=\"%s\"", r->id, derr.msg);
    if (ignored)
        boxer__shim__v1__exit_record__free_unpacked(ignored, NULL);
    shim_rpc_client_close(cl);
    return rc;
}

static void
run_teardown(const struct run_req *r, struct run_ctx *x)
{
    /* Only left when the shim died before its cleanup. */
    if (x->created)
        shim_cgroup_remove_stale(r->id);
    if (x->mounted && umount2(x->merged, MNT_DETACH) < 0)
        bx_log_warn("cannot unmount the run's view", "path=%s errno=%d", x->merged, errno);
    struct bx_err err = BX_ERR_INIT;
    if (!r->keep && x->created && bx_rm_rf(AT_FDCWD, x->dir, &err) < 0)
        bx_log_warn("cannot remove the run directory", "error=\"%s\"", err.msg);
    if (x->use_fd >= 0)
        close(x->use_fd);
}

int
ctl_cmd_run(struct ctl *c, int argc, char **argv)
{
    struct run_req r = {0};
    if (run_parse(c, argc, argv, &r) < 0)
        return 2;
    struct bx_err err = BX_ERR_INIT;
    struct oci_image img = {0};
    struct run_ctx x = {.use_fd = -1};
    if (ctl_open_store(c, &err) < 0 || oci_store_pull(c->store, r.image, NULL, NULL, &img, &err) < 0)
        return ctl_fail(&err);
    x.use_fd = oci_store_use(c->store, img.digest, &err);
    Boxer__Shim__V1__ExitRecord *rec = NULL;
    int rc = x.use_fd < 0 ? err.code : 0;
    if (rc == 0)
        rc = run_make_dirs(c, &r, &img, &x, &err);
    if (rc == 0)
        rc = run_write_spec(&r, &img, &x, &err);
    if (rc == 0)
        rc = run_start_shim(c, &r, &x, &err);
    if (rc == 0)
        rc = run_wait_and_delete(&r, &x, &rec, &err);
    int status = 1;
    if (rc < 0) {
        ctl_fail(&err);
    } else {
        run_copy_output(&x, SHIM_STDOUT_NAME, STDOUT_FILENO);
        run_copy_output(&x, SHIM_STDERR_NAME, STDERR_FILENO);
        status = run_report(&r, rec);
        boxer__shim__v1__exit_record__free_unpacked(rec, NULL);
    }
    run_teardown(&r, &x);
    oci_image_release(&img);
    return status;
}
