/* The shim's command line: `boxer-shim start|run --id ID --bundle DIR --state DIR [options]`. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "oci/spec.h"
#include "shim_internal.h"

enum {
    OPT_ID = 256,
    OPT_BUNDLE,
    OPT_STATE,
    OPT_RUNSC,
    OPT_RUNSC_ROOT,
    OPT_RUNSC_FLAG,
    OPT_WALL_CLOCK_MS,
    OPT_OUTPUT_LIMIT,
    OPT_MEMORY,
    OPT_CPU_MILLIS,
    OPT_PIDS,
    OPT_IGNORE_CGROUPS,
    OPT_RUNSC_DEBUG,
    OPT_LINGER,
    OPT_LOG_LEVEL,
    OPT_REMOVE_STATE,
};

static const struct option long_opts[] = {
    {"id", required_argument, NULL, OPT_ID},
    {"bundle", required_argument, NULL, OPT_BUNDLE},
    {"state", required_argument, NULL, OPT_STATE},
    {"runsc", required_argument, NULL, OPT_RUNSC},
    {"runsc-root", required_argument, NULL, OPT_RUNSC_ROOT},
    {"runsc-flag", required_argument, NULL, OPT_RUNSC_FLAG},
    {"wall-clock-ms", required_argument, NULL, OPT_WALL_CLOCK_MS},
    {"output-limit", required_argument, NULL, OPT_OUTPUT_LIMIT},
    {"memory-bytes", required_argument, NULL, OPT_MEMORY},
    {"cpu-millicores", required_argument, NULL, OPT_CPU_MILLIS},
    {"pids", required_argument, NULL, OPT_PIDS},
    {"ignore-cgroups", no_argument, NULL, OPT_IGNORE_CGROUPS},
    {"runsc-debug", no_argument, NULL, OPT_RUNSC_DEBUG},
    {"linger-secs", required_argument, NULL, OPT_LINGER},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"remove-state", no_argument, NULL, OPT_REMOVE_STATE},
    {NULL, 0, NULL, 0},
};

static int
parse_u64(const char *name, const char *s, uint64_t *out, struct bx_err *err)
{
    char *end = NULL;
    errno = 0;
    if (!*s || *s == '-' || *s == '+')
        return bx_err_set(err, BX_EINVAL, "--%s: not a non-negative integer: %.64s", name, s);
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return bx_err_set(err, BX_EINVAL, "--%s: not a non-negative integer: %.64s", name, s);
    *out = v;
    return 0;
}

static int
parse_one(int c, const char *arg, struct shim_opts *o, struct bx_err *err)
{
    const char *name = "";
    for (const struct option *lo = long_opts; lo->name; lo++)
        if (lo->val == c)
            name = lo->name;
    switch (c) {
    case OPT_ID:
        o->exec_id = arg;
        return 0;
    case OPT_BUNDLE:
        o->bundle = arg;
        return 0;
    case OPT_STATE:
        o->state_dir = arg;
        return 0;
    case OPT_RUNSC:
        o->runsc = arg;
        return 0;
    case OPT_RUNSC_ROOT:
        o->runsc_root = arg;
        return 0;
    case OPT_RUNSC_FLAG:
        if (o->n_runsc_flags == SHIM_MAX_RUNSC_FLAGS)
            return bx_err_set(err, BX_EINVAL, "--runsc-flag: at most %d", SHIM_MAX_RUNSC_FLAGS);
        if (strncmp(arg, "--", 2) != 0)
            return bx_err_set(err, BX_EINVAL, "--runsc-flag: must start with --: %.64s", arg);
        o->runsc_flags[o->n_runsc_flags++] = arg;
        return 0;
    case OPT_WALL_CLOCK_MS:
        return parse_u64(name, arg, &o->wall_clock_ms, err);
    case OPT_OUTPUT_LIMIT:
        return parse_u64(name, arg, &o->output_limit_bytes, err);
    case OPT_MEMORY:
        return parse_u64(name, arg, &o->memory_bytes, err);
    case OPT_CPU_MILLIS:
        return parse_u64(name, arg, &o->cpu_millicores, err);
    case OPT_PIDS:
        return parse_u64(name, arg, &o->pids_limit, err);
    case OPT_IGNORE_CGROUPS:
        o->ignore_cgroups = true;
        return 0;
    case OPT_RUNSC_DEBUG:
        o->runsc_debug = true;
        return 0;
    case OPT_LINGER:
        return parse_u64(name, arg, &o->linger_s, err);
    case OPT_LOG_LEVEL:
        o->log_level = arg;
        return 0;
    case OPT_REMOVE_STATE:
        o->remove_state = true;
        return 0;
    default:
        return bx_err_set(err, BX_EINVAL, "unknown option");
    }
}

static int
check_required(const struct shim_opts *o, struct bx_err *err)
{
    if (!o->exec_id || !o->bundle || !o->state_dir)
        return bx_err_set(err, BX_EINVAL, "--id, --bundle and --state are required");
    /* The container id is also the hostname and a path component. */
    if (!oci_spec_hostname_valid(o->exec_id))
        return bx_err_set(err, BX_EINVAL,
                          "--id: 1-64 of [A-Za-z0-9._-], not starting with - or .: %.80s",
                          o->exec_id);
    if (o->bundle[0] != '/' || o->state_dir[0] != '/' || (o->runsc_root && o->runsc_root[0] != '/'))
        return bx_err_set(err, BX_EINVAL, "--bundle, --state and --runsc-root must be absolute");
    /* A unix socket path holds at most 107 bytes. */
    if (strlen(o->state_dir) + 1 + strlen(SHIM_SOCKET_NAME) > 107)
        return bx_err_set(err, BX_EINVAL, "--state: too long for a unix socket path (%zu bytes)",
                          strlen(o->state_dir));
    if (o->cpu_millicores > 1000000 || o->pids_limit > 1000000)
        return bx_err_set(err, BX_EINVAL, "--cpu-millicores or --pids out of range");
    return 0;
}

int
shim_opts_parse(int argc, char **argv, struct shim_opts *o, struct bx_err *err)
{
    memset(o, 0, sizeof(*o));
    o->runsc = "runsc";
    o->linger_s = SHIM_DEFAULT_LINGER_S;
    o->log_level = "info";
    if (argc < 2)
        return bx_err_set(err, BX_EINVAL,
                          "usage: boxer-shim start|run --id ID --bundle DIR "
                          "--state DIR [options]");
    if (strcmp(argv[1], "start") == 0)
        o->foreground = false;
    else if (strcmp(argv[1], "run") == 0)
        o->foreground = true;
    else
        return bx_err_set(err, BX_EINVAL, "unknown command: %.64s (start or run)", argv[1]);
    optind = 2;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
        if (c == '?' || c == ':')
            return bx_err_set(err, BX_EINVAL, "unknown option or missing value: %.64s",
                              argv[optind - 1]);
        int rc = parse_one(c, optarg, o, err);
        if (rc < 0)
            return rc;
    }
    if (optind != argc)
        return bx_err_set(err, BX_EINVAL, "unexpected argument: %.64s", argv[optind]);
    return check_required(o, err);
}
