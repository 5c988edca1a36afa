/* The OCI runtime config.json of one execution, hardened for code nobody trusts:
 *
 * - the image's rootfs shared read-only; the process as uid/gid 65534 with no capabilities, no
 *   new privileges, and rlimits (RLIMIT_NOFILE from the limits, RLIMIT_CORE 0);
 * - fresh pid, ipc, uts, mount and network namespaces (the network namespace has only loopback);
 *   hostname = the exec id;
 * - tmpfs /dev and /tmp with size caps, read-only sysfs, proc, masked and read-only paths as
 *   runc's defaults;
 * - read-only bind mounts for uploaded files at their paths (parent directories missing in the
 *   image work), and a writable /output bound from a host directory;
 * - cgroup resources from the limits (memory, cpu quota, pids) under a cgroups path.
 *
 * Pure functions over their inputs, thread-safe.
 */
#ifndef BOXER_OCI_SPEC_H
#define BOXER_OCI_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"

#define OCI_SPEC_NOBODY 65534
#define OCI_SPEC_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

struct oci_spec_file {
    const char *host_path;      /* absolute path of the file on the host */
    const char *container_path; /* absolute, clean path inside the sandbox */
};

struct oci_spec_opts {
    const char *rootfs;          /* absolute host path of the read-only rootfs */
    const char *hostname;        /* the exec id */
    const char *const *args;     /* NULL-terminated, at least one */
    const char *const *env;      /* NULL-terminated "KEY=VALUE", already merged */
    const char *cwd;             /* absolute; NULL is "/" */
    uint32_t uid, gid;           /* normally OCI_SPEC_NOBODY */
    double cpu_cores;            /* 0: no cpu limit */
    uint64_t memory_bytes;       /* 0: no memory limit */
    int64_t pids_limit;          /* 0: no pids limit (already mapped to host threads) */
    uint64_t nofile;             /* RLIMIT_NOFILE soft and hard; 0: 1024 */
    const char *cgroups_path;    /* NULL: no cgroupsPath */
    const struct oci_spec_file *files;
    size_t n_files;
    const char *output_dir;      /* host directory bound read-write at /output; NULL: none */
    uint64_t tmp_bytes;          /* size of the /tmp tmpfs; 0: 64 MiB */
};

/* Builds the spec. BX_EINVAL names a bad option (relative path, no args, ...). The caller
 * decrefs *out. */
int oci_spec_build(const struct oci_spec_opts *opts, json_t **out, struct bx_err *err);

/* Builds the spec and writes it atomically as config.json in the bundle directory. */
int oci_spec_write(int bundle_dirfd, const struct oci_spec_opts *opts, struct bx_err *err);

/* Merges environments as `docker run` does: the image's Env, overridden key by key by the
 * request's, in order, with PATH set to OCI_SPEC_DEFAULT_PATH when neither has one. Each entry
 * must be "KEY=VALUE" with a non-empty KEY free of '=' (BX_EINVAL otherwise). Returns a
 * NULL-terminated array the caller frees with oci_env_free(). */
int oci_env_merge(const char *const *image_env, const char *const *request_env, char ***out,
                  struct bx_err *err);
void oci_env_free(char **env);

#endif
