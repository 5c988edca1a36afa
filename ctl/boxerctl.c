/* boxerctl: a ctr-like tool to inspect and drive Boxer's images and single shims without
 * boxerd. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "ctl_internal.h"
#include "oci/manifest.h"
#include "oci/spec.h"
#include "oci/store_config.h"
#include "shim/launch.h"

static const char usage[] =
    "usage: boxerctl [options] COMMAND [ARGS...]\n"
    "\n"
    "Commands:\n"
    "  pull IMAGE        pull an image into the cache (a progress line on a terminal)\n"
    "  images            list the cached images\n"
    "  rmi IMAGE...      forget images; their content goes at the next gc\n"
    "  gc                remove cached content no image needs\n"
    "  run --image IMAGE [limits] -- CMD...   run CMD in a sandbox; exits with its exit code\n"
    "  ps                the executions under home/run and their state\n"
    "  state ID          one execution's state and exit record\n"
    "  wait ID           wait for an execution to exit; exits with its exit code\n"
    "  kill ID [SIGNAL]  send a signal (default KILL) to the sandbox\n"
    "  logs ID [--stderr]  the output kept so far\n"
    "  delete ID         remove the sandbox; the shim exits\n"
    "\n"
    "Options:\n"
    "  --config FILE     configuration file (default $BOXER_CONFIG, else ~/.boxer/config.json)\n"
    "  --home DIR        Boxer's home directory (default: the configuration's home)\n"
    "  --platform OS/ARCH  image platform (default: the configuration's, linux/amd64)\n"
    "  --json            machine-readable output\n"
    "  --log-level LEVEL error, warn, info or debug (default warn)\n"
    "  -h, --help        this text\n";

struct command {
    const char *name;
    int (*fn)(struct ctl *c, int argc, char **argv);
};

static const struct command commands[] = {
    {"pull", ctl_cmd_pull},   {"images", ctl_cmd_images}, {"rmi", ctl_cmd_rmi},
    {"gc", ctl_cmd_gc},       {"run", ctl_cmd_run},       {"ps", ctl_cmd_ps},
    {"state", ctl_cmd_state}, {"wait", ctl_cmd_wait},     {"kill", ctl_cmd_kill},
    {"logs", ctl_cmd_logs},   {"delete", ctl_cmd_delete},
};

int
ctl_fail(const struct bx_err *err)
{
    fprintf(stderr, "boxerctl: %s\n", err->msg[0] ? err->msg : bx_err_code_name(err->code));
    return 1;
}

const char *
ctl_human_bytes(uint64_t n, char *buf, size_t size)
{
    static const char *units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = (double)n;
    size_t u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

int
ctl_run_dir(const struct ctl *c, const char *id, char *buf, size_t size, struct bx_err *err)
{
    if (!oci_spec_hostname_valid(id))
        return bx_err_set(err, BX_EINVAL, "not an execution id: %.80s", id);
    if ((size_t)snprintf(buf, size, "%s/run/%s", c->config.home, id) >= size)
        return bx_err_set(err, BX_EINVAL, "home path too long");
    return 0;
}

int
ctl_open_store(struct ctl *c, struct bx_err *err)
{
    if (c->store)
        return 0;
    return oci_store_open_config(&c->config, c->platform, &c->registry, &c->store, err);
}

static void
ctl_release(struct ctl *c)
{
    oci_store_close(c->store);
    oci_registry_free(c->registry);
    bx_config_release(&c->config);
}

/* After the global options: the configuration, then the command. */
static int
ctl_dispatch(struct ctl *c, const char *config_path, const char *home, int argc, char **argv)
{
    struct bx_err err = BX_ERR_INIT;
    if (bx_config_load(config_path, &c->config, &err) < 0)
        return ctl_fail(&err);
    if (home) {
        free(c->config.home);
        char cwd[4096];
        if (home[0] == '/')
            c->config.home = strdup(home);
        else if (getcwd(cwd, sizeof(cwd)) && asprintf(&c->config.home, "%s/%s", cwd, home) < 0)
            c->config.home = NULL;
        if (!c->config.home) {
            bx_err_set(&err, BX_EINVAL, "cannot use home '%s'", home);
            bx_config_release(&c->config);
            return ctl_fail(&err);
        }
    }
    const char *name = argv[0];
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(name, commands[i].name) == 0) {
            int status = commands[i].fn(c, argc, argv);
            ctl_release(c);
            return status;
        }
    }
    fprintf(stderr, "boxerctl: unknown command '%s'\n%s", name, usage);
    ctl_release(c);
    return 2;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"config", required_argument, NULL, 'c'},
        {"home", required_argument, NULL, 'H'},
        {"platform", required_argument, NULL, 'p'},
        {"json", no_argument, NULL, 'j'},
        {"log-level", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct ctl c = {0};
    const char *config_path = NULL, *home = NULL;
    enum bx_log_level level = BX_LOG_WARN;
    int opt;
    /* '+': options end at the command, which has options of its own. */
    while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            config_path = optarg;
            break;
        case 'H':
            home = optarg;
            break;
        case 'p':
            c.platform = optarg;
            break;
        case 'j':
            c.json = true;
            break;
        case 'l':
            if (bx_log_level_parse(optarg, &level) < 0) {
                fprintf(stderr, "boxerctl: unknown log level '%s'\n", optarg);
                return 2;
            }
            break;
        case 'h':
            fputs(usage, stdout);
            return 0;
        default:
            fputs(usage, stderr);
            return 2;
        }
    }
    if (optind >= argc) {
        fputs(usage, stderr);
        return 2;
    }
    bx_log_init("boxerctl", level);
    /* run's shim (a linked spare, shim/spare.c) is exec'd and loads while the configuration is
     * read, the image resolved and the bundle written; it is let go if the run does not take it. */
    bool run = strcmp(argv[optind], "run") == 0;
    if (run)
        shim_launch_spare_enable(NULL, true);
    int status = ctl_dispatch(&c, config_path, home, argc - optind, argv + optind);
    if (run)
        shim_launch_spare_disable();
    return status;
}
