/* The OCI runtime config.json of one execution, hardened for code nobody trusts:
 *
 * - the image's rootfs shared read-only; the process as uid/gid 65534 with no capabilities, no
 *   new privileges, and rlimits (RLIMIT_NOFILE from the limits, RLIMIT_CORE 0);
 * - fresh pid, ipc, uts, mount and network namespaces (the network namespace has only loopback);
 *   hostname = the exec id;
 * - tmpfs /dev and /tmp with size caps, read-only sysfs, proc, masked and read-only paths as
 *   runc's defaults;
 * - read-only bind mounts for uploaded files at their paths (parent directories missing in the
 *   image work, given a per-run view of the rootfs: see oci_spec_build()), and a writable /output
 *   bound from a host directory (runsc checks permissions as the sandbox's uid: the directory
 *   must be owned by uid:gid, mode 0700 is enough; what the sandbox creates there is owned by
 *   uid:gid on the host, symlinks included);
 * - cgroup resources from the limits (memory, cpu quota, pids) under a cgroups path.
 *
 * oci_spec_build() and oci_env_merge() are pure functions of their inputs; all are thread-safe.
 */
#ifndef BOXER_OCI_SPEC_H
#define BOXER_OCI_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/err.h"

#define OCI_SPEC_NOBODY 65534
#define OCI_SPEC_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define OCI_SPEC_DEFAULT_NOFILE 1024
#define OCI_SPEC_MAX_NOFILE 1048576 /* the kernel's default fs.nr_open */
#define OCI_SPEC_DEFAULT_TMP_BYTES ((uint64_t)64 << 20)
#define OCI_SPEC_MAX_CPU_CORES 4096

struct oci_spec_file {
    const char *host_path;      /* absolute path of the file on the host */
    const char *container_path; /* absolute, clean path inside the sandbox */
};

/* Paths inside the sandbox (cwd, container_path) must be absolute and clean: no empty, "." or
 * ".." component, no trailing slash. Host paths must be absolute without "..". Every string
 * must be valid UTF-8 (JSON carries nothing else). */
struct oci_spec_opts {
    const char *rootfs;       /* absolute host path of the root file system; see below */
    const char *hostname;     /* the exec id: 1-64 of [A-Za-z0-9._-], not starting with - or . */
    const char *const *args;  /* NULL-terminated, at least one, args[0] non-empty */
    const char *const *env;   /* NULL-terminated "KEY=VALUE", already merged; NULL: empty */
    const char *cwd;          /* absolute; NULL is "/" */
    uint32_t uid, gid;        /* normally OCI_SPEC_NOBODY; (uint32_t)-1 is refused */
    double cpu_cores;         /* 0: no cpu limit; else 0.01 to OCI_SPEC_MAX_CPU_CORES, as a CFS
                               * quota over a 100 ms period */
    uint64_t memory_bytes;    /* 0: no memory limit */
    int64_t pids_limit;       /* 0: no pids limit (already mapped to host threads); < 0 refused */
    uint64_t nofile;          /* RLIMIT_NOFILE soft and hard; 0: OCI_SPEC_DEFAULT_NOFILE; at
                               * most OCI_SPEC_MAX_NOFILE */
    uint64_t nproc;           /* RLIMIT_NPROC soft and hard: the guest's own limit on its tasks
                               * (gVisor enforces it; fork fails with EAGAIN); 0: none */
    const char *cgroups_path; /* NULL: no cgroupsPath; relative paths are resolved by runsc
                               * against its own cgroup; no ".." */
    /* Bound read-only at their container paths, after /tmp (so a file may sit in /tmp). None may
     * be on or under /proc, /dev, /sys or /output, nor be /tmp, nor be on or under another. */
    const struct oci_spec_file *files;
    size_t n_files;
    const char *output_dir; /* host directory bound read-write at /output; NULL: none */
    uint64_t tmp_bytes;     /* size of the /tmp tmpfs; 0: OCI_SPEC_DEFAULT_TMP_BYTES */
};

/* Builds the spec. BX_EINVAL names a bad option (relative path, no args, ...). The caller
 * decrefs *out, which is NULL after an error.
 *
 * `rootfs` must be a per-run view of the image (an overlay mount whose lower layer is the shared
 * rootfs), never the shared rootfs itself, whenever a bind mount destination (a file's container
 * path, /output) or the cwd does not exist in the image: runsc 0.0~20221219's gofer creates
 * those (directories and an empty file) on the host, inside `rootfs`, before it remounts it
 * read-only. On a read-only host mount the run fails instead. The sandbox itself only ever sees
 * a read-only root; its own mount points (/proc, /dev, /sys, /tmp) need nothing on the host.
 * An overlay view costs about 1 ms to mount and unmount; hack/spec-check.sh shows the recipe. */
/* Whether `h` is a valid hostname for a run: 1-64 of [A-Za-z0-9._-], not starting with - or .
 * Boxer's exec ids follow the same rule (they are also path components). */
bool oci_spec_hostname_valid(const char *h);

int oci_spec_build(const struct oci_spec_opts *opts, json_t **out, struct bx_err *err);

/* Builds the spec and writes it atomically as config.json (mode 0600: the environment may hold
 * secrets) in the bundle directory. */
int oci_spec_write(int bundle_dirfd, const struct oci_spec_opts *opts, struct bx_err *err);

/* Merges environments as `docker run` does: the image's Env, overridden key by key by the
 * request's. A key keeps the place where it first appeared and takes the value of its last
 * occurrence (in the image or the request); OCI_SPEC_DEFAULT_PATH comes first when neither has a
 * PATH. Each entry must be "KEY=VALUE" with a non-empty KEY (KEY ends at the first '='),
 * BX_EINVAL otherwise, naming the entry's position, never its content. Either input may be NULL.
 * Returns a NULL-terminated array the caller frees with oci_env_free(). Costs n log n. */
int oci_env_merge(const char *const *image_env, const char *const *request_env, char ***out,
                  struct bx_err *err);
void oci_env_free(char **env);

#endif
