/* boxerctl run --image IMAGE [limits] -- CMD...: one execution without boxerd. Pulls the image,
 * makes the run directory (an overlay view of the shared rootfs, the bundle, /output), starts a
 * boxer-shim, waits for the exit, prints the output, deletes the execution and exits with the
 * command's exit code.
 *
 * The shim is linked (shim/launch.h): boxerctl waits on the link and deletes by closing it, so
 * it starts no gRPC, and a boxerctl killed mid-run takes its sandbox with it. Its status socket
 * serves `boxerctl state/kill/...` from elsewhere as for any shim. */
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/runsc.h"
#include "ctl_internal.h"
#include "oci/spec.h"
#include "shim/launch.h"
#include "shim_internal.h"

#define RUN_MAX_ENV 256

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

static const char run_usage[] =
    "usage: boxerctl run --image IMAGE [options] -- CMD [ARG...]\n"
    "  --memory MB  --cpus N  --timeout SECS  --pids N  --nofile N   limits (0: configured "
    "default)\n"
    "  --env KEY=VALUE (repeatable)  --cwd DIR  --output-limit BYTES  --id ID\n"
    "  --keep (leave the run directory)  --runsc-debug\n";

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
        {"image", required_argument, NULL, 'i'},
        {"memory", required_argument, NULL, 'm'},
        {"cpus", required_argument, NULL, 'c'},
        {"timeout", required_argument, NULL, 't'},
        {"pids", required_argument, NULL, 'p'},
        {"nofile", required_argument, NULL, 'n'},
        {"env", required_argument, NULL, 'e'},
        {"cwd", required_argument, NULL, 'w'},
        {"output-limit", required_argument, NULL, 'o'},
        {"id", required_argument, NULL, 'I'},
        {"keep", no_argument, NULL, 'k'},
        {"runsc-debug", no_argument, NULL, 'd'},
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
        case 'i':
            r->image = optarg;
            break;
        case 'm':
            r->limits.memory_mb = v ? (int64_t)v : r->limits.memory_mb;
            break;
        case 'c':
            r->limits.cpu_cores = v ? v : r->limits.cpu_cores;
            break;
        case 't':
            r->limits.wall_clock_secs = v ? (int64_t)v : r->limits.wall_clock_secs;
            break;
        case 'p':
            r->limits.pids_limit = v ? (int64_t)v : r->limits.pids_limit;
            break;
        case 'n':
            r->limits.nofile = v ? (int64_t)v : r->limits.nofile;
            break;
        case 'o':
            r->output_limit = (uint64_t)v;
            break;
        case 'w':
            r->cwd = optarg;
            break;
        case 'I':
            snprintf(r->id, sizeof(r->id), "%s", optarg);
            break;
        case 'k':
            r->keep = true;
            break;
        case 'd':
            r->runsc_debug = true;
            break;
        case 'e':
            if (r->n_env == RUN_MAX_ENV || !strchr(optarg, '=')) {
                fprintf(stderr, "boxerctl run: --env: KEY=VALUE, at most %d\n", RUN_MAX_ENV);
                return -1;
            }
            r->env[r->n_env++] = optarg;
            break;
        default:
            fputs(run_usage, stderr);
            return -1;
        }
    }
    if (!r->image || optind >= argc) {
        fputs(run_usage, stderr);
        return -1;
    }
    r->cmd = argv + optind;
    if (!r->id[0])
        shim_exec_id_new(r->id, sizeof(r->id));
    return 0;
}

/* The run directory: <dir>/{view/{upper,work,merged},bundle,output}, traversable by runsc's
 * unprivileged sandbox; /output belongs to the sandbox's user. */

/* boxer-shim: $BOXER_SHIM, else beside boxerctl (installed), else the build tree's, else PATH. */

/* Copies the file `name` of the run directory to `out_fd`. */
static void
run_copy_output(const struct shim_launch *l, const char *name, int out_fd)
{
    char path[PATH_MAX], buf[65536];
    shim_launch_path(l, name, path, sizeof(path));
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

/* The launch options of a request: image defaults, merged environment, limits. */
static void
run_launch_opts(struct ctl *c, const struct run_req *r, const struct oci_image *img, char **env,
                struct shim_launch_opts *o)
{
    const char *wd =
        img->config.working_dir && *img->config.working_dir ? img->config.working_dir : "/";
    const char *runsc = c->config.runsc_path ? c->config.runsc_path : "runsc";
    bool fell_back;
    const char *plat =
        bx_runsc_platform_cached(runsc, c->config.platform, c->config.home, &fell_back);
    if (fell_back)
        bx_log_info("runsc lacks the configured platform; using ptrace", "platform=%s",
                    c->config.platform);
    const struct bx_limits *l = &r->limits;
    *o = (struct shim_launch_opts){
        .home = c->config.home,
        .exec_id = r->id,
        .rootfs = img->rootfs,
        .args = (const char *const *)r->cmd,
        .env = (const char *const *)env,
        .cwd = r->cwd ? r->cwd : wd,
        .nofile = l->nofile > 0 ? (uint64_t)l->nofile : 0,
        .runsc = runsc,
        .platform = plat,
        .wall_clock_ms = l->wall_clock_secs > 0 ? (uint64_t)l->wall_clock_secs * 1000 : 0,
        .output_limit = r->output_limit,
        .memory_bytes = l->memory_mb > 0 ? (uint64_t)l->memory_mb << 20 : 0,
        .cpu_millicores = l->cpu_cores > 0 ? (uint64_t)(l->cpu_cores * 1000 + 0.5) : 0,
        .pids = l->pids_limit > 0 ? (uint64_t)l->pids_limit : 0,
        .ignore_cgroups = c->config.ignore_cgroups,
        .runsc_debug = r->runsc_debug,
        .log_level = c->config.log_level,
        /* boxerctl exits when it closed the link; the shim removes the run directory. */
        .shim_removes = !r->keep,
        .linked = true,
    };
}

int
ctl_cmd_run(struct ctl *c, int argc, char **argv)
{
    struct run_req r = {0};
    if (run_parse(c, argc, argv, &r) < 0)
        return 2;
    /* The spare (started by main) loads meanwhile; the launch hands it its arguments. */
    struct bx_err err = BX_ERR_INIT;
    struct oci_image img = {0};
    if (ctl_open_store(c, &err) < 0 ||
        oci_store_pull(c->store, r.image, NULL, NULL, &img, &err) < 0)
        return ctl_fail(&err);
    cleanup_close int use_fd = oci_store_use(c->store, img.digest, &err);
    char **env = NULL;
    struct shim_launch_opts o;
    struct shim_launch l = {0};
    Boxer__Shim__V1__ExitRecord *rec = NULL;
    int rc = use_fd < 0 ? err.code : 0;
    if (rc == 0)
        rc = oci_env_merge((const char *const *)img.config.env, r.n_env ? r.env : NULL, &env, &err);
    if (rc == 0) {
        run_launch_opts(c, &r, &img, env, &o);
        rc = shim_launch_prepare(&o, &l, &err);
    }
    if (rc == 0)
        rc = shim_launch_start(&o, &l, &err);
    if (rc == 0)
        rc = shim_launch_wait(&l, -1, &rec, &err);
    int status = 1;
    if (rc < 0) {
        ctl_fail(&err);
    } else {
        run_copy_output(&l, SHIM_STDOUT_NAME, STDOUT_FILENO);
        run_copy_output(&l, SHIM_STDERR_NAME, STDERR_FILENO);
        status = run_report(&r, rec);
        boxer__shim__v1__exit_record__free_unpacked(rec, NULL);
    }
    l.keep_client = true; /* boxerctl exits when this returns: init reaps the shim */
    shim_launch_teardown(&l, r.keep);
    oci_env_free(env);
    oci_image_release(&img);
    return status;
}
