/* boxerd: the Boxer REST API. POST /run pulls an image and runs a command in a gVisor sandbox
 * through a boxer-shim; /files is the file store; /healthz, /swagger, /openapi.json.
 *
 *   boxerd [--config FILE] [--listen ADDR] [--log-level LEVEL] [--shutdown-grace-secs N]
 *
 * SIGTERM or SIGINT: stop accepting, let the runs in flight finish within the grace period,
 * stop the rest through their shims, answer, exit 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/shim_rpc.h"
#include "common/fs.h"
#include "common/log.h"
#include "common/runsc.h"
#include "httpd_internal.h"
#include "oci/store_config.h"
#include "shim/launch.h"

struct args {
    const char *config;
    const char *listen;
    const char *log_level;
    int grace_s;
};

static const char usage[] =
    "usage: boxerd [--config FILE] [--listen ADDR] [--log-level LEVEL] [--shutdown-grace-secs N]\n"
    "  --config FILE   configuration (default $BOXER_CONFIG, else ~/.boxer/config.json)\n"
    "  --listen ADDR   overrides listen_addr (\":8080\", \"127.0.0.1:8080\", \"[::1]:8080\")\n"
    "  --log-level L   error, warn, info, debug (default: the configuration's, info)\n"
    "  --shutdown-grace-secs N  on SIGTERM, how long runs in flight may finish (default 30)\n";

static int
parse_args(int argc, char **argv, struct args *a)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"listen", required_argument, NULL, 'l'},
        {"log-level", required_argument, NULL, 'v'},
        {"shutdown-grace-secs", required_argument, NULL, 'g'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    *a = (struct args){.grace_s = 30};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            a->config = optarg;
            break;
        case 'l':
            a->listen = optarg;
            break;
        case 'v':
            a->log_level = optarg;
            break;
        case 'g':
            a->grace_s = atoi(optarg);
            break;
        case 'h':
            fputs(usage, stdout);
            exit(0);
        default:
            fputs(usage, stderr);
            return -1;
        }
    }
    if (optind != argc) {
        fputs(usage, stderr);
        return -1;
    }
    return 0;
}

/* An installed asset: $VAR, else beside the build tree's binary (../api/NAME), else the
 * install prefix's share/boxer/NAME. "" when none exists. */
static void
find_asset(const char *var, const char *name, const char *must_hold, char *out, size_t size)
{
    char cand[3][PATH_MAX] = {{0}};
    const char *env = getenv(var);
    if (env && *env)
        snprintf(cand[0], sizeof(cand[0]), "%s", env);
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        char *dir = dirname(self);
        snprintf(cand[1], sizeof(cand[1]), "%s/../api/%s", dir, name);
        snprintf(cand[2], sizeof(cand[2]), "%s/../share/boxer/%s", dir, name);
    }
    out[0] = '\0';
    for (size_t i = 0; i < 3; i++) {
        char probe[PATH_MAX + 64];
        snprintf(probe, sizeof(probe), "%s%s%s", cand[i], must_hold ? "/" : "",
                 must_hold ? must_hold : "");
        char real[PATH_MAX];
        if (cand[i][0] && access(probe, R_OK) == 0 && realpath(cand[i], real) &&
            strlen(real) < size) {
            snprintf(out, size, "%s", real);
            return;
        }
    }
    out[0] = '\0';
}

static int
prepare_home(struct boxerd *d, struct bx_err *err)
{
    char path[PATH_MAX];
    if (bx_mkdir_p(AT_FDCWD, d->config.home, 0711, err) < 0)
        return err->code;
    snprintf(path, sizeof(path), "%s/run", d->config.home);
    if (bx_mkdir_p(AT_FDCWD, path, 0711, err) < 0)
        return err->code;
    snprintf(d->files_dir, sizeof(d->files_dir), "%s/files", d->config.home);
    if (bx_mkdir_p(AT_FDCWD, d->files_dir, 0755, err) < 0)
        return err->code;
    d->files_fd = open(d->files_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d->files_fd < 0)
        return bx_err_sys(err, BX_EIO, errno, "open %s", d->files_dir);
    return 0;
}

static int
boxerd_open(struct boxerd *d, const struct args *a, struct bx_err *err)
{
    if (bx_config_load(a->config, &d->config, err) < 0)
        return err->code;
    if (a->listen) {
        free(d->config.listen_addr);
        d->config.listen_addr = strdup(a->listen);
    }
    enum bx_log_level level = BX_LOG_INFO;
    const char *lvl = a->log_level ? a->log_level : d->config.log_level;
    if (lvl && bx_log_level_parse(lvl, &level) < 0)
        return bx_err_set(err, BX_EINVAL, "unknown log level: %s", lvl);
    bx_log_set_level(level);
    if (prepare_home(d, err) < 0)
        return err->code;
    d->runsc = d->config.runsc_path ? d->config.runsc_path : "runsc";
    bool fell_back = false;
    d->platform = bx_runsc_platform(d->runsc, d->config.platform, &fell_back);
    if (fell_back)
        bx_log_warn("runsc lacks the configured platform; using ptrace instead",
                    "platform=%s runsc=%s", d->config.platform, d->runsc);
    find_asset("BOXER_SWAGGER_DIR", "swagger-ui", "index.html", d->swagger_dir,
               sizeof(d->swagger_dir));
    find_asset("BOXER_OPENAPI", "openapi.json", NULL, d->openapi_path, sizeof(d->openapi_path));
    if (oci_store_open_config(&d->config, NULL, &d->registry, &d->store, err) < 0)
        return err->code;
    reconcile_runs(d);
    shim_launch_spare_enable(NULL, false);
    if (executor_new(d, &d->exec, err) < 0 || server_start(d, err) < 0)
        return err->code;
    return 0;
}

static void
boxerd_close(struct boxerd *d, int grace_s)
{
    d->stopping = true;
    if (d->mhd)
        MHD_quiesce_daemon(d->mhd); /* no new connections */
    executor_shutdown(d->exec, grace_s);
    d->exec = NULL;
    shim_launch_spare_disable();
    server_stop(d);
    oci_store_close(d->store);
    oci_registry_free(d->registry);
    if (d->files_fd > 0)
        close(d->files_fd);
    bx_config_release(&d->config);
}

int
main(int argc, char **argv)
{
    struct args a;
    if (parse_args(argc, argv, &a) < 0)
        return 2;
    bx_log_init("boxerd", BX_LOG_INFO);
    /* Signals are taken by sigwait below; every thread inherits the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM), sigaddset(&set, SIGINT), sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    static struct boxerd d;
    d.files_fd = -1;
    struct bx_err err = BX_ERR_INIT;
    /* gRPC for the daemon's life: each run's shim client then finds it started. */
    shim_rpc_hold();
    if (boxerd_open(&d, &a, &err) < 0) {
        bx_log_error("cannot start", "error=\"%s\"", err.msg);
        fprintf(stderr, "boxerd: %s\n", err.msg);
        boxerd_close(&d, 0);
        shim_rpc_release();
        return 1;
    }
    bx_log_info("listening", "addr=%s home=%s platform=%s swagger=%s", d.config.listen_addr,
                d.config.home, d.platform, d.swagger_dir[0] ? "installed" : "missing");
    int sig = 0;
    while (sigwait(&set, &sig) == 0 && sig == SIGHUP)
        ;
    bx_log_info("stopping", "signal=%d grace_s=%d", sig, a.grace_s);
    boxerd_close(&d, a.grace_s);
    shim_rpc_release();
    bx_log_info("stopped");
    return 0;
}
