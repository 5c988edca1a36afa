/* oci_spec_emit: writes the config.json that oci_spec_write() makes for the options given on the
 * command line into a bundle directory, so that scripts can run it with the real runsc
 * (hack/spec-check.sh).
 *
 *   oci_spec_emit --bundle DIR --rootfs DIR --hostname NAME [options] -- ARGS...
 *     [--uid N] [--gid N] [--cwd DIR] [--env K=V]...
 *     [--image-env K=V]... [--memory BYTES] [--cpu CORES] [--pids N] [--nofile N]
 *     [--cgroup PATH] [--file HOST_PATH:CONTAINER_PATH]... [--output DIR] [--tmp BYTES]
 *
 * --image-env and --env go through oci_env_merge() (image, then request).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "oci/spec.h"

#define EMIT_MAX_LIST 64

struct emit_lists {
    const char *bundle;
    const char *env[EMIT_MAX_LIST + 1], *image_env[EMIT_MAX_LIST + 1];
    size_t n_env, n_image_env;
    struct oci_spec_file files[EMIT_MAX_LIST];
};

static int
emit_u64(const char *s, uint64_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

static int
emit_push(const char **list, size_t *n, const char *s)
{
    if (*n >= EMIT_MAX_LIST)
        return -1;
    list[(*n)++] = s;
    return 0;
}

static int
emit_file(struct oci_spec_opts *o, struct emit_lists *l, char *arg)
{
    char *colon = strchr(arg, ':');
    if (!colon || o->n_files >= EMIT_MAX_LIST)
        return -1;
    *colon = '\0';
    l->files[o->n_files++] = (struct oci_spec_file){arg, colon + 1};
    return 0;
}

static int
emit_option(int c, char *arg, struct oci_spec_opts *o, struct emit_lists *l)
{
    uint64_t v = 0;
    switch (c) {
    case 'b':
        l->bundle = arg;
        return 0;
    case 'r':
        o->rootfs = arg;
        return 0;
    case 'h':
        o->hostname = arg;
        return 0;
    case 'c':
        o->cwd = arg;
        return 0;
    case 'g':
        o->cgroups_path = arg;
        return 0;
    case 'o':
        o->output_dir = arg;
        return 0;
    case 'e':
        return emit_push(l->env, &l->n_env, arg);
    case 'E':
        return emit_push(l->image_env, &l->n_image_env, arg);
    case 'f':
        return emit_file(o, l, arg);
    case 'C':
        o->cpu_cores = strtod(arg, NULL);
        return 0;
    default:
        break;
    }
    if (emit_u64(arg, &v) < 0)
        return -1;
    switch (c) {
    case 'u':
        o->uid = (uint32_t)v;
        return 0;
    case 'G':
        o->gid = (uint32_t)v;
        return 0;
    case 'm':
        o->memory_bytes = v;
        return 0;
    case 'p':
        o->pids_limit = (int64_t)v;
        return 0;
    case 'n':
        o->nofile = v;
        return 0;
    case 't':
        o->tmp_bytes = v;
        return 0;
    default:
        return -1;
    }
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"bundle", required_argument, NULL, 'b'},
        {"rootfs", required_argument, NULL, 'r'},
        {"hostname", required_argument, NULL, 'h'},
        {"uid", required_argument, NULL, 'u'},
        {"gid", required_argument, NULL, 'G'},
        {"cwd", required_argument, NULL, 'c'},
        {"env", required_argument, NULL, 'e'},
        {"image-env", required_argument, NULL, 'E'},
        {"memory", required_argument, NULL, 'm'},
        {"cpu", required_argument, NULL, 'C'},
        {"pids", required_argument, NULL, 'p'},
        {"nofile", required_argument, NULL, 'n'},
        {"cgroup", required_argument, NULL, 'g'},
        {"file", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"tmp", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    struct emit_lists lists = {0};
    struct oci_spec_opts o = {.uid = OCI_SPEC_NOBODY, .gid = OCI_SPEC_NOBODY};
    int c;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1)
        if (emit_option(c, optarg, &o, &lists) < 0) {
            fprintf(stderr, "oci_spec_emit: bad option (see the source's header)\n");
            return 2;
        }
    if (!lists.bundle || optind >= argc) {
        fprintf(stderr, "usage: oci_spec_emit --bundle DIR [options] -- ARGS...\n");
        return 2;
    }
    const char *bundle = lists.bundle;
    o.args = (const char *const *)&argv[optind];
    o.files = lists.files;
    struct bx_err err = BX_ERR_INIT;
    char **env = NULL;
    if (oci_env_merge(lists.image_env, lists.env, &env, &err) < 0) {
        fprintf(stderr, "oci_spec_emit: %s\n", err.msg);
        return 1;
    }
    o.env = (const char *const *)env;
    cleanup_close int dirfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = dirfd < 0 ? bx_err_sys(&err, BX_EIO, errno, "open %s", bundle)
                       : oci_spec_write(dirfd, &o, &err);
    oci_env_free(env);
    if (rc < 0) {
        fprintf(stderr, "oci_spec_emit: %s\n", err.msg);
        return 1;
    }
    return 0;
}
