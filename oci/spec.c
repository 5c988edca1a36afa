/* The OCI runtime config.json of one execution, and docker's environment merge: see
 * oci/spec.h.
 *
 * Everything is validated before anything is built, so that a NULL from jansson while building
 * can only mean that memory ran out.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "oci/spec.h"

#define SPEC_OCI_VERSION "1.0.2"
#define SPEC_CONFIG_NAME "config.json"
#define SPEC_CPU_PERIOD 100000  /* µs, the kernel's default CFS period */
#define SPEC_CPU_MIN_QUOTA 1000 /* µs, the smallest quota the kernel accepts */
#define SPEC_HOSTNAME_MAX 64    /* HOST_NAME_MAX */
#define SPEC_SIZE_OPT_MAX 32    /* "size=" and a uint64 */
#define SPEC_OUTPUT_DEST "/output"

/* What the sandbox mounts itself: no uploaded file may sit on or under these, except under
 * /tmp, whose tmpfs is mounted before the files. */
static const char *const spec_reserved_dirs[] = {"/proc", "/dev", "/sys", SPEC_OUTPUT_DEST, NULL};

/* runc's defaults (libcontainer/specconv/example.go). */
static const char *const spec_masked_paths[] = {
    "/proc/acpi",
    "/proc/asound",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/sys/firmware",
    "/proc/scsi",
    "/sys/devices/virtual/tpm",
    NULL,
};
static const char *const spec_readonly_paths[] = {
    "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
};

static const char *const spec_namespaces[] = {"pid", "ipc", "uts", "mount", "network", NULL};

static const char *const spec_caps_sets[] = {"bounding",  "effective", "inheritable",
                                             "permitted", "ambient",   NULL};

/* The mounts every sandbox gets before /tmp, in order (runc's defaults, less the cgroup fs). */
struct spec_mount {
    const char *destination;
    const char *type;
    const char *source;
    const char *const *options;
};

static const char *const spec_opts_proc[] = {"nosuid", "noexec", "nodev", NULL};
static const char *const spec_opts_dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k",
                                            NULL};
static const char *const spec_opts_pts[] = {"nosuid",    "noexec", "newinstance", "ptmxmode=0666",
                                            "mode=0620", "gid=5",  NULL};
static const char *const spec_opts_shm[] = {"nosuid",    "noexec",      "nodev",
                                            "mode=1777", "size=65536k", NULL};
static const char *const spec_opts_mqueue[] = {"nosuid", "noexec", "nodev", NULL};
static const char *const spec_opts_sys[] = {"nosuid", "noexec", "nodev", "ro", NULL};
static const char *const spec_opts_file[] = {"rbind", "ro", "nosuid", "nodev", NULL};
static const char *const spec_opts_output[] = {"rbind", "rw", "nosuid", "nodev", NULL};

static const struct spec_mount spec_fixed_mounts[] = {
    {"/proc", "proc", "proc", spec_opts_proc},
    {"/dev", "tmpfs", "tmpfs", spec_opts_dev},
    {"/dev/pts", "devpts", "devpts", spec_opts_pts},
    {"/dev/shm", "tmpfs", "shm", spec_opts_shm},
    {"/dev/mqueue", "mqueue", "mqueue", spec_opts_mqueue},
    {"/sys", "sysfs", "sysfs", spec_opts_sys},
};

/* ---- validation ---- */

/* Strict UTF-8 (no overlong forms, no surrogates, nothing above U+10FFFF): a JSON string can
 * carry nothing else, and jansson refuses it. */
static bool
spec_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t c = *p, min;
        size_t n;
        if (c < 0x80) {
            p++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            n = 1, min = 0x80, c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, min = 0x800, c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, min = 0x10000, c &= 0x07;
        } else {
            return false;
        }
        /* A NUL among the continuation bytes fails the test before anything past it is read. */
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[i] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        p += n + 1;
    }
    return true;
}

/* Checks the components of a path, absolute or relative: no ".." ever; with `clean`, also no
 * empty or "." component and no trailing slash ("/" itself is clean). */
static bool
spec_components_ok(const char *p, bool clean)
{
    if (p[0] == '/' && p[1] == '\0')
        return true;
    for (const char *c = p[0] == '/' ? p + 1 : p;; c++) {
        const char *end = strchrnul(c, '/');
        size_t len = (size_t)(end - c);
        if (len == 2 && c[0] == '.' && c[1] == '.')
            return false;
        if (clean && (len == 0 || (len == 1 && c[0] == '.')))
            return false;
        if (!*end)
            return true;
        c = end;
    }
}

/* An absolute path, shorter than PATH_MAX and valid UTF-8, whose components pass
 * spec_components_ok(). */
static bool
spec_path_ok(const char *p, bool clean)
{
    return p && p[0] == '/' && strlen(p) < PATH_MAX && spec_utf8_valid(p) &&
           spec_components_ok(p, clean);
}

/* What an error message may quote of a string the caller gave: not bytes that would make the
 * message invalid UTF-8 (it may end up in a JSON reply). */
static const char *
spec_quotable(const char *s)
{
    return !s ? "(null)" : spec_utf8_valid(s) ? s : "(not UTF-8)";
}

/* Whether `p` is `dir` or lies under it. */
static bool
spec_path_under(const char *p, const char *dir)
{
    size_t n = strlen(dir);
    if (n == 1)
        return true; /* everything is under "/" */
    return strncmp(p, dir, n) == 0 && (p[n] == '\0' || p[n] == '/');
}

/* A non-empty "KEY=VALUE" whose KEY is non-empty; returns the length of KEY, or 0. */
static size_t
spec_env_key_len(const char *e)
{
    const char *eq = strchr(e, '=');
    return eq ? (size_t)(eq - e) : 0;
}

static int
spec_strings_validate(const char *what, const char *const *v, bool env, struct bx_err *err)
{
    for (size_t i = 0; v && v[i]; i++) {
        if (!spec_utf8_valid(v[i]))
            return bx_err_set(err, BX_EINVAL, "%s[%zu] is not valid UTF-8", what, i);
        /* The entry itself may be a secret: only its position is named. */
        if (env && spec_env_key_len(v[i]) == 0)
            return bx_err_set(err, BX_EINVAL, "%s[%zu] is not KEY=VALUE", what, i);
    }
    return 0;
}

bool
oci_spec_hostname_valid(const char *h)
{
    if (!h || !*h || strlen(h) > SPEC_HOSTNAME_MAX || *h == '-' || *h == '.')
        return false;
    for (const char *c = h; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
              *c == '-' || *c == '.' || *c == '_'))
            return false;
    return true;
}

static int
spec_hostname_validate(const char *h, struct bx_err *err)
{
    if (!h || !*h || strlen(h) > SPEC_HOSTNAME_MAX)
        return bx_err_set(err, BX_EINVAL, "hostname must have 1 to %d characters",
                          SPEC_HOSTNAME_MAX);
    if (!oci_spec_hostname_valid(h))
        return bx_err_set(err, BX_EINVAL, "hostname '%.64s' has a character it may not have",
                          spec_quotable(h));
    return 0;
}

/* Byte order, except that '/' sorts before every other byte: a path is then followed directly by
 * the paths under it, so comparing neighbours finds every overlap. */
static int
spec_path_cmp(const void *a, const void *b)
{
    const unsigned char *x = *(const unsigned char *const *)a;
    const unsigned char *y = *(const unsigned char *const *)b;
    for (;; x++, y++) {
        unsigned cx = *x == '/' ? 1u : *x ? *x + 1u : 0u;
        unsigned cy = *y == '/' ? 1u : *y ? *y + 1u : 0u;
        if (cx != cy)
            return cx < cy ? -1 : 1;
        if (cx == 0)
            return 0;
    }
}

static int
spec_file_validate(const struct oci_spec_file *f, size_t i, struct bx_err *err)
{
    const char *dst = f->container_path;
    if (!spec_path_ok(f->host_path, false))
        return bx_err_set(err, BX_EINVAL, "files[%zu]: host path must be absolute", i);
    if (!spec_path_ok(dst, true) || strcmp(dst, "/") == 0)
        return bx_err_set(err, BX_EINVAL, "files[%zu]: '%.200s' is not a clean absolute path", i,
                          spec_quotable(dst));
    bool reserved = strcmp(dst, "/tmp") == 0;
    for (const char *const *r = spec_reserved_dirs; *r && !reserved; r++)
        reserved = spec_path_under(dst, *r);
    if (reserved)
        return bx_err_set(err, BX_EINVAL, "files[%zu]: '%.200s' is reserved", i, dst);
    return 0;
}

/* Each file on its own, then no two on the same path or one under another (sorted, so that
 * many files cost n log n). */
static int
spec_files_validate(const struct oci_spec_opts *o, struct bx_err *err)
{
    if (o->n_files == 0)
        return 0;
    if (!o->files)
        return bx_err_set(err, BX_EINVAL, "files: %zu announced, none given", o->n_files);
    for (size_t i = 0; i < o->n_files; i++) {
        int rc = spec_file_validate(&o->files[i], i, err);
        if (rc < 0)
            return rc;
    }
    cleanup_free const char **sorted = calloc(o->n_files, sizeof(*sorted));
    if (!sorted)
        return bx_err_set(err, BX_ENOMEM, "out of memory");
    for (size_t i = 0; i < o->n_files; i++)
        sorted[i] = o->files[i].container_path;
    qsort(sorted, o->n_files, sizeof(*sorted), spec_path_cmp);
    for (size_t i = 1; i < o->n_files; i++)
        if (spec_path_under(sorted[i], sorted[i - 1]))
            return bx_err_set(err, BX_EINVAL, "files: '%.100s' overlaps '%.100s'", sorted[i],
                              sorted[i - 1]);
    return 0;
}

/* The CFS quota of `cores` (>= 0, finite, bounded), rounded to the nearest µs. */
static int64_t
spec_cpu_quota(double cores)
{
    return (int64_t)(cores * SPEC_CPU_PERIOD + 0.5);
}

static int
spec_limits_validate(const struct oci_spec_opts *o, struct bx_err *err)
{
    if (!isfinite(o->cpu_cores) || o->cpu_cores < 0 || o->cpu_cores > OCI_SPEC_MAX_CPU_CORES)
        return bx_err_set(err, BX_EINVAL, "cpu_cores must be between 0 and %d",
                          OCI_SPEC_MAX_CPU_CORES);
    if (o->cpu_cores > 0 && spec_cpu_quota(o->cpu_cores) < SPEC_CPU_MIN_QUOTA)
        return bx_err_set(err, BX_EINVAL, "cpu_cores must be at least %.2f",
                          (double)SPEC_CPU_MIN_QUOTA / SPEC_CPU_PERIOD);
    if (o->memory_bytes > INT64_MAX)
        return bx_err_set(err, BX_EINVAL, "memory limit too large");
    if (o->pids_limit < 0)
        return bx_err_set(err, BX_EINVAL, "pids limit may not be negative");
    if (o->nproc > INT64_MAX)
        return bx_err_set(err, BX_EINVAL, "nproc limit too large");
    if (o->nofile > OCI_SPEC_MAX_NOFILE)
        return bx_err_set(err, BX_EINVAL, "nofile may be at most %d", OCI_SPEC_MAX_NOFILE);
    if (o->tmp_bytes > INT64_MAX)
        return bx_err_set(err, BX_EINVAL, "/tmp size too large");
    if (o->uid == UINT32_MAX || o->gid == UINT32_MAX)
        return bx_err_set(err, BX_EINVAL, "uid and gid may not be %" PRIu32, UINT32_MAX);
    return 0;
}

static int
spec_validate(const struct oci_spec_opts *o, struct bx_err *err)
{
    if (!o)
        return bx_err_set(err, BX_EINVAL, "no options");
    if (!spec_path_ok(o->rootfs, false))
        return bx_err_set(err, BX_EINVAL, "rootfs must be an absolute path");
    if (!o->args || !o->args[0] || !o->args[0][0])
        return bx_err_set(err, BX_EINVAL, "args: a command is required");
    if (o->cwd && !spec_path_ok(o->cwd, true))
        return bx_err_set(err, BX_EINVAL, "cwd '%.200s' is not a clean absolute path",
                          spec_quotable(o->cwd));
    if (o->output_dir && !spec_path_ok(o->output_dir, false))
        return bx_err_set(err, BX_EINVAL, "output directory must be an absolute path");
    if (o->cgroups_path &&
        (!*o->cgroups_path || strlen(o->cgroups_path) >= PATH_MAX ||
         !spec_utf8_valid(o->cgroups_path) || !spec_components_ok(o->cgroups_path, false)))
        return bx_err_set(err, BX_EINVAL, "cgroups path '%.200s' is not valid",
                          spec_quotable(o->cgroups_path));
    int rc = spec_hostname_validate(o->hostname, err);
    if (rc == 0)
        rc = spec_strings_validate("args", o->args, false, err);
    if (rc == 0)
        rc = spec_strings_validate("env", o->env, true, err);
    if (rc == 0)
        rc = spec_limits_validate(o, err);
    if (rc == 0)
        rc = spec_files_validate(o, err);
    return rc;
}

/* ---- building; every function returns NULL only when memory ran out ---- */

static json_t *
spec_string_array(const char *const *v)
{
    json_auto_t *a = json_array();
    if (!a)
        return NULL;
    for (size_t i = 0; v && v[i]; i++)
        if (json_array_append_new(a, json_string(v[i])) < 0)
            return NULL;
    return steal_ptr(&a);
}

static json_t *
spec_process(const struct oci_spec_opts *o)
{
    json_auto_t *args = spec_string_array(o->args);
    json_auto_t *env = spec_string_array(o->env);
    json_auto_t *caps = json_object();
    if (!args || !env || !caps)
        return NULL;
    for (const char *const *set = spec_caps_sets; *set; set++)
        if (json_object_set_new(caps, *set, json_array()) < 0)
            return NULL;
    json_int_t nofile = (json_int_t)(o->nofile ? o->nofile : OCI_SPEC_DEFAULT_NOFILE);
    json_auto_t *rlimits = json_pack("[{s:s, s:I, s:I}, {s:s, s:I, s:I}]", "type", "RLIMIT_NOFILE",
                                     "hard", nofile, "soft", nofile, "type", "RLIMIT_CORE", "hard",
                                     (json_int_t)0, "soft", (json_int_t)0);
    if (!rlimits)
        return NULL;
    /* The guest's task limit inside the sandbox. The host cgroup's pids limit alone is no good
     * against a fork bomb: when it refuses a thread the sentry itself needs, runsc's sandbox
     * dies (exit 2, no message), where a guest over RLIMIT_NPROC sees its fork fail. */
    json_int_t nproc = (json_int_t)o->nproc;
    if (nproc && json_array_append_new(rlimits, json_pack("{s:s, s:I, s:I}", "type", "RLIMIT_NPROC",
                                                          "hard", nproc, "soft", nproc)) < 0)
        return NULL;
    return json_pack("{s:b, s:{s:I, s:I, s:[]}, s:O, s:O, s:s, s:O, s:b, s:O}", "terminal", 0,
                     "user", "uid", (json_int_t)o->uid, "gid", (json_int_t)o->gid, "additionalGids",
                     "args", args, "env", env, "cwd", o->cwd ? o->cwd : "/", "capabilities", caps,
                     "noNewPrivileges", 1, "rlimits", rlimits);
}

static int
spec_mount_append(json_t *mounts, const char *destination, const char *type, const char *source,
                  const char *const *options)
{
    json_auto_t *opts = spec_string_array(options);
    if (!opts)
        return -1;
    return json_array_append_new(mounts,
                                 json_pack("{s:s, s:s, s:s, s:O}", "destination", destination,
                                           "type", type, "source", source, "options", opts));
}

static json_t *
spec_mounts(const struct oci_spec_opts *o)
{
    json_auto_t *mounts = json_array();
    if (!mounts)
        return NULL;
    for (size_t i = 0; i < sizeof(spec_fixed_mounts) / sizeof(spec_fixed_mounts[0]); i++) {
        const struct spec_mount *m = &spec_fixed_mounts[i];
        if (spec_mount_append(mounts, m->destination, m->type, m->source, m->options) < 0)
            return NULL;
    }
    char size[SPEC_SIZE_OPT_MAX];
    snprintf(size, sizeof(size), "size=%" PRIu64,
             o->tmp_bytes ? o->tmp_bytes : OCI_SPEC_DEFAULT_TMP_BYTES);
    const char *const tmp_opts[] = {"nosuid", "nodev", "mode=1777", size, NULL};
    if (spec_mount_append(mounts, "/tmp", "tmpfs", "tmpfs", tmp_opts) < 0)
        return NULL;
    if (o->output_dir &&
        spec_mount_append(mounts, SPEC_OUTPUT_DEST, "bind", o->output_dir, spec_opts_output) < 0)
        return NULL;
    for (size_t i = 0; i < o->n_files; i++)
        if (spec_mount_append(mounts, o->files[i].container_path, "bind", o->files[i].host_path,
                              spec_opts_file) < 0)
            return NULL;
    return steal_ptr(&mounts);
}

/* Sets *out to the resources object, or to NULL when no limit is set. */
static int
spec_resources(const struct oci_spec_opts *o, json_t **out)
{
    *out = NULL;
    if (o->memory_bytes == 0 && o->cpu_cores == 0 && o->pids_limit == 0)
        return 0;
    json_auto_t *r = json_object();
    if (!r)
        return -1;
    if (o->memory_bytes &&
        json_object_set_new(r, "memory", json_pack("{s:I}", "limit", (json_int_t)o->memory_bytes)))
        return -1;
    if (o->cpu_cores > 0) {
        json_int_t quota = (json_int_t)spec_cpu_quota(o->cpu_cores);
        if (json_object_set_new(
                r, "cpu",
                json_pack("{s:I, s:I}", "quota", quota, "period", (json_int_t)SPEC_CPU_PERIOD)))
            return -1;
    }
    if (o->pids_limit &&
        json_object_set_new(r, "pids", json_pack("{s:I}", "limit", (json_int_t)o->pids_limit)))
        return -1;
    *out = steal_ptr(&r);
    return 0;
}

static json_t *
spec_linux(const struct oci_spec_opts *o)
{
    json_auto_t *ns = json_array();
    json_auto_t *masked = spec_string_array(spec_masked_paths);
    json_auto_t *ro = spec_string_array(spec_readonly_paths);
    json_auto_t *resources = NULL;
    if (!ns || !masked || !ro || spec_resources(o, &resources) < 0)
        return NULL;
    for (const char *const *t = spec_namespaces; *t; t++)
        if (json_array_append_new(ns, json_pack("{s:s}", "type", *t)) < 0)
            return NULL;
    json_auto_t *linux_ =
        json_pack("{s:O, s:O, s:O}", "namespaces", ns, "maskedPaths", masked, "readonlyPaths", ro);
    if (!linux_)
        return NULL;
    if (resources && json_object_set(linux_, "resources", resources) < 0)
        return NULL;
    if (o->cgroups_path &&
        json_object_set_new(linux_, "cgroupsPath", json_string(o->cgroups_path)) < 0)
        return NULL;
    return steal_ptr(&linux_);
}

int
oci_spec_build(const struct oci_spec_opts *opts, json_t **out, struct bx_err *err)
{
    *out = NULL;
    int rc = spec_validate(opts, err);
    if (rc < 0)
        return bx_err_prefix(err, "runtime spec");
    json_auto_t *process = spec_process(opts);
    json_auto_t *mounts = spec_mounts(opts);
    json_auto_t *linux_ = spec_linux(opts);
    if (!process || !mounts || !linux_)
        return bx_err_set(err, BX_ENOMEM, "runtime spec: out of memory");
    json_t *spec =
        json_pack("{s:s, s:O, s:{s:s, s:b}, s:s, s:O, s:O}", "ociVersion", SPEC_OCI_VERSION,
                  "process", process, "root", "path", opts->rootfs, "readonly", 1, "hostname",
                  opts->hostname, "mounts", mounts, "linux", linux_);
    if (!spec)
        return bx_err_set(err, BX_ENOMEM, "runtime spec: out of memory");
    *out = spec;
    return 0;
}

int
oci_spec_write(int bundle_dirfd, const struct oci_spec_opts *opts, struct bx_err *err)
{
    json_auto_t *spec = NULL;
    int rc = oci_spec_build(opts, &spec, err);
    if (rc < 0)
        return rc;
    cleanup_free char *text = json_dumps(spec, JSON_INDENT(2));
    if (!text)
        return bx_err_set(err, BX_ENOMEM, "runtime spec: out of memory");
    size_t len = strlen(text);
    text[len] = '\n'; /* replaces the NUL: the buffer is not used as a string again */
    rc = bx_write_file_replace(bundle_dirfd, SPEC_CONFIG_NAME, text, len + 1, 0600, err);
    if (rc < 0)
        return bx_err_prefix(err, "write %s", SPEC_CONFIG_NAME);
    return 0;
}

/* ---- environment merge ---- */

/* One entry of the environments being merged. */
struct env_entry {
    const char *entry;
    size_t key_len;
    size_t pos; /* order of appearance: the image's entries, then the request's */
};

static bool
env_same_key(const struct env_entry *x, const struct env_entry *y)
{
    return x->key_len == y->key_len && memcmp(x->entry, y->entry, x->key_len) == 0;
}

/* By key, then by position, so that the copies of a key are neighbours, in order. */
static int
env_entry_cmp(const void *a, const void *b)
{
    const struct env_entry *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->entry, y->entry, n);
    if (c == 0 && x->key_len != y->key_len)
        c = x->key_len < y->key_len ? -1 : 1;
    if (c == 0)
        c = (x->pos > y->pos) - (x->pos < y->pos);
    return c;
}

static size_t
env_count(const char *const *v)
{
    size_t n = 0;
    while (v && v[n])
        n++;
    return n;
}

static int
env_collect(const char *what, const char *const *v, struct env_entry *all, size_t *n,
            struct bx_err *err)
{
    for (size_t i = 0; v && v[i]; i++) {
        size_t key_len = spec_env_key_len(v[i]);
        /* The entry itself may be a secret: only its position is named. */
        if (key_len == 0)
            return bx_err_set(err, BX_EINVAL, "%s[%zu] is not KEY=VALUE", what, i);
        all[*n] = (struct env_entry){v[i], key_len, *n};
        (*n)++;
    }
    return 0;
}

static void
env_freep(char ***env)
{
    oci_env_free(*env);
}

/* Copies the chosen entries in order, behind the default PATH when there is no PATH. */
static char **
env_copy(const char **chosen, size_t n, bool has_path)
{
    __attribute__((cleanup(env_freep))) char **env = calloc(n + 2, sizeof(*env));
    if (!env)
        return NULL;
    size_t m = 0;
    if (!has_path && !(env[m++] = strdup(OCI_SPEC_DEFAULT_PATH)))
        return NULL;
    for (size_t pos = 0; pos < n; pos++)
        if (chosen[pos] && !(env[m++] = strdup(chosen[pos])))
            return NULL;
    return steal_ptr(&env);
}

int
oci_env_merge(const char *const *image_env, const char *const *request_env, char ***out,
              struct bx_err *err)
{
    *out = NULL;
    size_t total = env_count(image_env) + env_count(request_env);
    /* Sorting, not a scan per entry, so that a request with many entries costs n log n. */
    cleanup_free struct env_entry *all = calloc(total + 1, sizeof(*all));
    cleanup_free const char **chosen = calloc(total + 1, sizeof(*chosen));
    if (!all || !chosen)
        return bx_err_set(err, BX_ENOMEM, "env: out of memory");
    size_t n = 0;
    int rc = env_collect("image env", image_env, all, &n, err);
    if (rc == 0)
        rc = env_collect("env", request_env, all, &n, err);
    if (rc < 0)
        return rc;
    qsort(all, n, sizeof(*all), env_entry_cmp);
    bool has_path = false;
    for (size_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && env_same_key(&all[i], &all[j]); j++)
            ;
        /* A key keeps the place where it first appeared and takes its last value. */
        chosen[all[i].pos] = all[j - 1].entry;
        has_path |= all[i].key_len == 4 && memcmp(all[i].entry, "PATH", 4) == 0;
    }
    char **env = env_copy(chosen, n, has_path);
    if (!env)
        return bx_err_set(err, BX_ENOMEM, "env: out of memory");
    *out = env;
    return 0;
}

void
oci_env_free(char **env)
{
    for (size_t i = 0; env && env[i]; i++)
        free(env[i]);
    free(env);
}
