/* Unit tests of oci/spec.c: the runtime config.json of one execution and the env merge. */
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "oci/spec.h"

static const char *const test_args[] = {"python3", "-c", "print(42)", NULL};
static const char *const test_env[] = {"PATH=/usr/bin:/bin", "LANG=C.UTF-8", NULL};

static void
opts_default(struct oci_spec_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->rootfs = "/var/lib/boxer/run/boxer-1/rootfs";
    o->hostname = "boxer-0f8e2c1a-5b7d-4e3f-9a6b-1c2d3e4f5a6b";
    o->args = test_args;
    o->env = test_env;
    o->uid = OCI_SPEC_NOBODY;
    o->gid = OCI_SPEC_NOBODY;
}

static json_t *
build_ok(const struct oci_spec_opts *o)
{
    struct bx_err err = BX_ERR_INIT;
    json_t *spec = NULL;
    int rc = oci_spec_build(o, &spec, &err);
    if (rc != 0)
        fail_msg("oci_spec_build: %s", err.msg);
    assert_non_null(spec);
    return spec;
}

static json_t *
get(json_t *spec, const char *dotted)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", dotted);
    json_t *cur = spec;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        cur = json_object_get(cur, k);
    return cur;
}

static json_int_t
get_int(json_t *spec, const char *dotted)
{
    json_t *v = get(spec, dotted);
    if (!json_is_integer(v))
        fail_msg("%s is not an integer", dotted);
    return json_integer_value(v);
}

static void
assert_strings(json_t *array, const char *const *want)
{
    assert_true(json_is_array(array));
    size_t n = 0;
    while (want[n])
        n++;
    assert_int_equal(json_array_size(array), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(array, i)), want[i]);
}

static bool
has_string(json_t *array, const char *s)
{
    size_t i;
    json_t *v;
    json_array_foreach (array, i, v) {
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    }
    return false;
}

static json_t *
mount_at(json_t *spec, const char *destination)
{
    size_t i;
    json_t *m;
    json_array_foreach (json_object_get(spec, "mounts"), i, m) {
        if (strcmp(json_string_value(json_object_get(m, "destination")), destination) == 0)
            return m;
    }
    return NULL;
}

static const char *
mount_dest(json_t *spec, size_t i)
{
    json_t *m = json_array_get(json_object_get(spec, "mounts"), i);
    return json_string_value(json_object_get(m, "destination"));
}

/* ---- the spec ---- */

static void
test_spec_defaults_are_hardened(void **state)
{
    (void)state;
    struct oci_spec_opts o;
    opts_default(&o);
    json_auto_t *spec = build_ok(&o);

    assert_string_equal(json_string_value(get(spec, "ociVersion")), "1.0.2");
    assert_true(json_is_false(get(spec, "process.terminal")));
    assert_int_equal(get_int(spec, "process.user.uid"), 65534);
    assert_int_equal(get_int(spec, "process.user.gid"), 65534);
    assert_int_equal(json_array_size(get(spec, "process.user.additionalGids")), 0);
    assert_strings(get(spec, "process.args"), test_args);
    assert_strings(get(spec, "process.env"), test_env);
    assert_string_equal(json_string_value(get(spec, "process.cwd")), "/");
    assert_true(json_is_true(get(spec, "process.noNewPrivileges")));

    json_t *caps = get(spec, "process.capabilities");
    assert_int_equal(json_object_size(caps), 5);
    static const char *const sets[] = {"bounding", "effective", "inheritable", "permitted",
                                       "ambient"};
    for (size_t i = 0; i < 5; i++) {
        json_t *set = json_object_get(caps, sets[i]);
        assert_true(json_is_array(set));
        assert_int_equal(json_array_size(set), 0);
    }

    json_t *rl = get(spec, "process.rlimits");
    assert_int_equal(json_array_size(rl), 2);
    assert_string_equal(json_string_value(get(json_array_get(rl, 0), "type")), "RLIMIT_NOFILE");
    assert_int_equal(get_int(json_array_get(rl, 0), "soft"), OCI_SPEC_DEFAULT_NOFILE);
    assert_int_equal(get_int(json_array_get(rl, 0), "hard"), OCI_SPEC_DEFAULT_NOFILE);
    assert_string_equal(json_string_value(get(json_array_get(rl, 1), "type")), "RLIMIT_CORE");
    assert_int_equal(get_int(json_array_get(rl, 1), "soft"), 0);
    assert_int_equal(get_int(json_array_get(rl, 1), "hard"), 0);

    assert_string_equal(json_string_value(get(spec, "root.path")), o.rootfs);
    assert_true(json_is_true(get(spec, "root.readonly")));
    assert_string_equal(json_string_value(get(spec, "hostname")), o.hostname);
}

static void
test_spec_linux_defaults(void **state)
{
    (void)state;
    struct oci_spec_opts o;
    opts_default(&o);
    json_auto_t *spec = build_ok(&o);

    /* Fresh namespaces: exactly these five, none joined by path, no user namespace. */
    json_t *ns = get(spec, "linux.namespaces");
    static const char *const want[] = {"pid", "ipc", "uts", "mount", "network"};
    assert_int_equal(json_array_size(ns), 5);
    for (size_t i = 0; i < 5; i++) {
        json_t *n = json_array_get(ns, i);
        assert_string_equal(json_string_value(json_object_get(n, "type")), want[i]);
        assert_null(json_object_get(n, "path"));
    }
    assert_null(get(spec, "linux.resources"));
    assert_null(get(spec, "linux.cgroupsPath"));
    json_t *masked = get(spec, "linux.maskedPaths");
    assert_true(has_string(masked, "/proc/kcore"));
    assert_true(has_string(masked, "/proc/keys"));
    assert_true(has_string(masked, "/sys/firmware"));
    json_t *ro = get(spec, "linux.readonlyPaths");
    assert_true(has_string(ro, "/proc/sys"));
    assert_true(has_string(ro, "/proc/sysrq-trigger"));
}

static void
test_spec_fixed_mounts(void **state)
{
    (void)state;
    struct oci_spec_opts o;
    opts_default(&o);
    json_auto_t *spec = build_ok(&o);

    static const char *const order[] = {"/proc",       "/dev", "/dev/pts", "/dev/shm",
                                        "/dev/mqueue", "/sys", "/tmp"};
    assert_int_equal(json_array_size(get(spec, "mounts")), 7);
    for (size_t i = 0; i < 7; i++)
        assert_string_equal(mount_dest(spec, i), order[i]);

    json_t *proc = mount_at(spec, "/proc");
    assert_string_equal(json_string_value(get(proc, "type")), "proc");
    json_t *dev = mount_at(spec, "/dev");
    assert_string_equal(json_string_value(get(dev, "type")), "tmpfs");
    static const char *const dev_opts[] = {"nosuid", "strictatime", "mode=755", "size=65536k",
                                           NULL};
    assert_strings(get(dev, "options"), dev_opts);
    json_t *shm = mount_at(spec, "/dev/shm");
    assert_true(has_string(get(shm, "options"), "size=65536k"));
    json_t *sys = mount_at(spec, "/sys");
    assert_string_equal(json_string_value(get(sys, "type")), "sysfs");
    static const char *const sys_opts[] = {"nosuid", "noexec", "nodev", "ro", NULL};
    assert_strings(get(sys, "options"), sys_opts);
    json_t *tmp = mount_at(spec, "/tmp");
    assert_string_equal(json_string_value(get(tmp, "type")), "tmpfs");
    static const char *const tmp_opts[] = {"nosuid", "nodev", "mode=1777", "size=67108864", NULL};
    assert_strings(get(tmp, "options"), tmp_opts);
    assert_null(mount_at(spec, "/output"));
}

static void
test_spec_limits(void **state)
{
    (void)state;
    struct oci_spec_opts o;
    opts_default(&o);
    o.memory_bytes = 256ull << 20;
    o.cpu_cores = 1.5;
    o.pids_limit = 640;
    o.nofile = 256;
    o.nproc = 64;
    o.cgroups_path = "/boxer/boxer-1";
    o.tmp_bytes = 1 << 20;
    o.cwd = "/workspace";
    o.uid = 1000;
    o.gid = 1001;
    json_auto_t *spec = build_ok(&o);

    assert_int_equal(get_int(spec, "linux.resources.memory.limit"), 256 << 20);
    assert_int_equal(get_int(spec, "linux.resources.cpu.quota"), 150000);
    assert_int_equal(get_int(spec, "linux.resources.cpu.period"), 100000);
    assert_int_equal(get_int(spec, "linux.resources.pids.limit"), 640);
    assert_string_equal(json_string_value(get(spec, "linux.cgroupsPath")), "/boxer/boxer-1");
    json_t *nofile = json_array_get(get(spec, "process.rlimits"), 0);
    assert_int_equal(get_int(nofile, "soft"), 256);
    assert_int_equal(get_int(nofile, "hard"), 256);
    json_t *nproc = json_array_get(get(spec, "process.rlimits"), 2);
    assert_string_equal(json_string_value(get(nproc, "type")), "RLIMIT_NPROC");
    assert_int_equal(get_int(nproc, "soft"), 64);
    assert_int_equal(get_int(nproc, "hard"), 64);
    assert_true(has_string(get(mount_at(spec, "/tmp"), "options"), "size=1048576"));
    assert_string_equal(json_string_value(get(spec, "process.cwd")), "/workspace");
    assert_int_equal(get_int(spec, "process.user.uid"), 1000);
    assert_int_equal(get_int(spec, "process.user.gid"), 1001);
}

static void
test_spec_resources_only_when_set(void **state)
{
    (void)state;
    struct oci_spec_opts o;
    static const char *const keys[] = {"memory", "cpu", "pids"};
    for (int which = 0; which < 3; which++) {
        opts_default(&o);
        if (which == 0)
            o.memory_bytes = 64 << 20;
        else if (which == 1)
            o.cpu_cores = 0.01; /* the smallest: a 1 ms quota */
        else
            o.pids_limit = 1;
        json_auto_t *spec = build_ok(&o);
        json_t *r = get(spec, "linux.resources");
        assert_int_equal(json_object_size(r), 1);
        /* RLIMIT_NOFILE and RLIMIT_CORE only: no RLIMIT_NPROC unless asked */
        assert_int_equal(json_array_size(get(spec, "process.rlimits")), 2);
        assert_non_null(json_object_get(r, keys[which]));
        if (which == 1)
            assert_int_equal(get_int(r, "cpu.quota"), 1000);
    }
}

static void
test_spec_files_and_output(void **state)
{
    (void)state;
    struct oci_spec_opts o;
    opts_default(&o);
    const struct oci_spec_file files[] = {
        {"/home/boxer/files/workspace/sub/script.sh", "/workspace/sub/script.sh"},
        {"/home/boxer/files/tmp/in.txt", "/tmp/in.txt"},
        {"/home/boxer/files/a/b-x", "/a/b-x"},
        {"/home/boxer/files/a/b", "/a/b"},
    };
    o.files = files;
    o.n_files = 4;
    o.output_dir = "/home/boxer/run/boxer-1/output";
    json_auto_t *spec = build_ok(&o);

    /* After the sandbox's own mounts: /output, then the files in the order given. */
    assert_int_equal(json_array_size(get(spec, "mounts")), 7 + 1 + 4);
    assert_string_equal(mount_dest(spec, 6), "/tmp");
    assert_string_equal(mount_dest(spec, 7), "/output");
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(mount_dest(spec, 8 + i), files[i].container_path);

    json_t *out = mount_at(spec, "/output");
    assert_string_equal(json_string_value(get(out, "type")), "bind");
    assert_string_equal(json_string_value(get(out, "source")), o.output_dir);
    static const char *const out_opts[] = {"rbind", "rw", "nosuid", "nodev", NULL};
    assert_strings(get(out, "options"), out_opts);

    static const char *const file_opts[] = {"rbind", "ro", "nosuid", "nodev", NULL};
    for (size_t i = 0; i < 4; i++) {
        json_t *m = mount_at(spec, files[i].container_path);
        assert_non_null(m);
        assert_string_equal(json_string_value(get(m, "type")), "bind");
        assert_string_equal(json_string_value(get(m, "source")), files[i].host_path);
        assert_strings(get(m, "options"), file_opts);
    }
}

static void
test_spec_accepts_edges(void **state)
{
    (void)state;
    struct oci_spec_opts o;
    opts_default(&o);
    static const char *const utf8_args[] = {"echo", "h\xc3\xa9llo \xe2\x9c\x93 \xf0\x9f\x98\x80",
                                            NULL};
    o.args = utf8_args;
    o.env = NULL;
    o.hostname = "a234567890123456789012345678901234567890123456789012345678901234"; /* 64 */
    o.nofile = OCI_SPEC_MAX_NOFILE;
    o.cpu_cores = OCI_SPEC_MAX_CPU_CORES;
    o.cgroups_path = "boxer/boxer-1"; /* relative: runsc puts it under its own cgroup */
    o.rootfs = "/srv//boxer/rootfs/"; /* host paths need not be clean, only free of ".." */
    json_auto_t *spec = build_ok(&o);
    assert_strings(get(spec, "process.args"), utf8_args);
    assert_int_equal(json_array_size(get(spec, "process.env")), 0);
    assert_int_equal(get_int(spec, "linux.resources.cpu.quota"),
                     (json_int_t)OCI_SPEC_MAX_CPU_CORES * 100000);
}

/* Each bad_*() makes the i-th bad variant of the default options in its area and returns what
 * the error message must mention, or NULL past its last variant. */

static const char *
bad_strings(int i, struct oci_spec_opts *o)
{
    static const char *const no_args[] = {NULL};
    static const char *const empty_arg0[] = {"", NULL};
    static const char *const bad_utf8[] = {"echo", "\xff", NULL};
    static const char *const overlong[] = {"echo", "\xc0\xaf", NULL};
    static const char *const surrogate[] = {"echo", "\xed\xa0\x80", NULL};
    static const char *const cut_short[] = {"echo", "\xe2\x9c", NULL};
    static const char *const env_no_eq[] = {"PATH=/bin", "SECRET_TOKEN_abc", NULL};
    static const char *const env_no_key[] = {"=value", NULL};
    static const char *const hostname_65 =
        "a2345678901234567890123456789012345678901234567890123456789012345";
    static const char *const *const ok = test_args;
    static const struct {
        const char *const *args, *const *env;
        const char *hostname, *want;
    } cases[] = {
        {NULL, NULL, "h", "args"},
        {no_args, NULL, "h", "args"},
        {empty_arg0, NULL, "h", "args"},
        {bad_utf8, NULL, "h", "args[1] is not valid UTF-8"},
        {overlong, NULL, "h", "UTF-8"},
        {surrogate, NULL, "h", "UTF-8"},
        {cut_short, NULL, "h", "UTF-8"},
        {ok, env_no_eq, "h", "env[1] is not KEY=VALUE"},
        {ok, env_no_key, "h", "env[0] is not KEY=VALUE"},
        {ok, NULL, NULL, "hostname"},
        {ok, NULL, "", "hostname"},
        {ok, NULL, hostname_65, "hostname"},
        {ok, NULL, "a/b", "hostname"},
        {ok, NULL, "-x", "hostname"},
        {ok, NULL, "a b", "hostname"},
    };
    if ((size_t)i >= sizeof(cases) / sizeof(cases[0]))
        return NULL;
    o->args = cases[i].args;
    o->env = cases[i].env;
    o->hostname = cases[i].hostname;
    return cases[i].want;
}

static const char *
bad_paths(int i, struct oci_spec_opts *o)
{
    static const struct {
        const char *rootfs, *cwd, *output_dir, *cgroups_path, *want;
    } cases[] = {
        {"var/lib/rootfs", NULL, NULL, NULL, "rootfs"},
        {"/var/lib/../rootfs", NULL, NULL, NULL, "rootfs"},
        {NULL, "workspace", NULL, NULL, "cwd"},
        {NULL, "/a/../b", NULL, NULL, "cwd"},
        {NULL, "/a/", NULL, NULL, "cwd"},
        {NULL, "/a//b", NULL, NULL, "cwd"},
        {NULL, "/a/./b", NULL, NULL, "cwd"},
        {NULL, NULL, "output", NULL, "output"},
        {NULL, NULL, "/run/x/../../etc", NULL, "output"},
        {NULL, NULL, NULL, "", "cgroups"},
        {NULL, NULL, NULL, "boxer/../../escape", "cgroups"},
    };
    if (i == 0) {
        o->rootfs = NULL;
        return "rootfs";
    }
    if (--i >= (int)(sizeof(cases) / sizeof(cases[0])))
        return NULL;
    o->rootfs = cases[i].rootfs ? cases[i].rootfs : o->rootfs;
    o->cwd = cases[i].cwd;
    o->output_dir = cases[i].output_dir;
    o->cgroups_path = cases[i].cgroups_path;
    return cases[i].want;
}

static const char *
bad_files(int i, struct oci_spec_opts *o)
{
    static const struct oci_spec_file one[][1] = {
        {{"/h/a", "rel/a"}},     {{"/h/a", "/"}},
        {{"/h/a", "/a/./b"}},    {{"/h/a", "/a/../etc/passwd"}},
        {{"/h/a", "/a/b/"}},     {{"/h/a", "/a//b"}},
        {{"/h/a", NULL}},        {{"/h/a", "/proc/self/attr"}},
        {{"/h/a", "/dev"}},      {{"/h/a", "/sys/fs/x"}},
        {{"/h/a", "/output/x"}}, {{"/h/a", "/output"}},
        {{"/h/a", "/tmp"}},      {{"h/a", "/a"}},
        {{NULL, "/a"}},          {{"/h/../etc/shadow", "/a"}},
    };
    static const char *const want_one[] = {
        "files[0]",  "files[0]",  "not a clean absolute path",
        "files[0]",  "files[0]",  "files[0]",
        "files[0]",  "reserved",  "reserved",
        "reserved",  "reserved",  "reserved",
        "reserved",  "host path", "host path",
        "host path",
    };
    static const struct oci_spec_file dup[] = {{"/h/a", "/a/b"}, {"/h/b", "/a/b"}};
    /* "/a/b-x" sorts between "/a/b" and "/a/b/c" in byte order. */
    static const struct oci_spec_file nested[] = {
        {"/h/a", "/a/b/c"}, {"/h/b", "/a/b-x"}, {"/h/c", "/a/b"}};
    size_t n_one = sizeof(one) / sizeof(one[0]);
    if ((size_t)i < n_one) {
        o->files = one[i];
        o->n_files = 1;
        return want_one[i];
    }
    switch ((size_t)i - n_one) {
    case 0:
        o->files = dup, o->n_files = 2;
        return "overlaps";
    case 1:
        o->files = nested, o->n_files = 3;
        return "'/a/b/c' overlaps '/a/b'";
    case 2:
        o->files = NULL, o->n_files = 1;
        return "files";
    default:
        return NULL;
    }
}

static const char *
bad_limits(int i, struct oci_spec_opts *o)
{
    switch (i) {
    case 0:
        o->cpu_cores = -1;
        return "cpu_cores";
    case 1:
        o->cpu_cores = NAN;
        return "cpu_cores";
    case 2:
        o->cpu_cores = INFINITY;
        return "cpu_cores";
    case 3:
        o->cpu_cores = 0.004;
        return "at least 0.01";
    case 4:
        o->cpu_cores = OCI_SPEC_MAX_CPU_CORES + 1;
        return "cpu_cores";
    case 5:
        o->pids_limit = -1;
        return "pids";
    case 6:
        o->nofile = OCI_SPEC_MAX_NOFILE + 1;
        return "nofile";
    case 7:
        o->uid = UINT32_MAX;
        return "uid";
    case 8:
        o->gid = UINT32_MAX;
        return "gid";
    case 9:
        o->memory_bytes = (uint64_t)INT64_MAX + 1;
        return "memory";
    case 10:
        o->tmp_bytes = UINT64_MAX;
        return "/tmp";
    case 11:
        o->nproc = (uint64_t)INT64_MAX + 1;
        return "nproc";
    default:
        return NULL;
    }
}

static void
test_spec_rejects_bad_options(void **state)
{
    (void)state;
    static const char *(*const areas[])(int, struct oci_spec_opts *) = {bad_strings, bad_paths,
                                                                        bad_files, bad_limits};
    int n = 0;
    for (size_t a = 0; a < sizeof(areas) / sizeof(areas[0]); a++) {
        for (int i = 0;; i++) {
            struct oci_spec_opts o;
            opts_default(&o);
            const char *want = areas[a](i, &o);
            if (!want)
                break;
            struct bx_err err = BX_ERR_INIT;
            json_t *spec = (json_t *)&err; /* must be reset to NULL */
            int rc = oci_spec_build(&o, &spec, &err);
            if (rc != BX_EINVAL || spec != NULL || !strstr(err.msg, want))
                fail_msg("area %zu variant %d: rc=%d msg='%s', want '%s'", a, i, rc, err.msg, want);
            assert_null(strstr(err.msg, "SECRET")); /* an env entry is never echoed */
            n++;
        }
    }
    assert_int_equal(n, 15 + 12 + 19 + 12);
    struct bx_err err = BX_ERR_INIT;
    json_t *spec = NULL;
    assert_int_equal(oci_spec_build(NULL, &spec, &err), BX_EINVAL);
    assert_null(spec);
}

static void
test_spec_write(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s/boxer-test.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    assert_non_null(mkdtemp(dir));
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true(dirfd >= 0);

    struct oci_spec_opts o;
    opts_default(&o);
    struct bx_err err = BX_ERR_INIT;
    /* A bad option writes nothing. */
    o.args = NULL;
    assert_int_equal(oci_spec_write(dirfd, &o, &err), BX_EINVAL);
    struct stat st;
    assert_int_equal(fstatat(dirfd, "config.json", &st, 0), -1);

    opts_default(&o);
    o.memory_bytes = 1 << 30;
    assert_int_equal(oci_spec_write(dirfd, &o, &err), 0);
    assert_int_equal(fstatat(dirfd, "config.json", &st, 0), 0);
    assert_int_equal(st.st_mode & 07777, 0600); /* the environment may hold secrets */

    char *text = NULL;
    size_t len = 0;
    assert_int_equal(bx_read_file(dirfd, "config.json", 1 << 20, &text, &len, &err), 0);
    assert_true(len > 0 && text[len - 1] == '\n');
    json_error_t jerr;
    json_auto_t *written = json_loads(text, 0, &jerr);
    free(text);
    assert_non_null(written);
    json_auto_t *built = build_ok(&o);
    assert_true(json_equal(written, built));

    close(dirfd);
    assert_int_equal(bx_rm_rf(AT_FDCWD, dir, &err), 0);
}

/* ---- env merge ---- */

static void
assert_merge(const char *const *image, const char *const *request, const char *const *want)
{
    struct bx_err err = BX_ERR_INIT;
    char **env = NULL;
    if (oci_env_merge(image, request, &env, &err) != 0)
        fail_msg("oci_env_merge: %s", err.msg);
    size_t n = 0;
    while (env[n])
        n++;
    size_t n_want = 0;
    while (want[n_want])
        n_want++;
    for (size_t i = 0; i < n && i < n_want; i++)
        if (strcmp(env[i], want[i]) != 0)
            fail_msg("env[%zu] = '%s', want '%s'", i, env[i], want[i]);
    assert_int_equal(n, n_want);
    oci_env_free(env);
}

static void
test_env_request_overrides_image(void **state)
{
    (void)state;
    const char *const image[] = {"PATH=/img/bin", "LANG=C", "HOME=/root", NULL};
    const char *const request[] = {"LANG=en_US.UTF-8", "NEW=1", NULL};
    const char *const want[] = {"PATH=/img/bin", "LANG=en_US.UTF-8", "HOME=/root", "NEW=1", NULL};
    assert_merge(image, request, want);
}

static void
test_env_default_path(void **state)
{
    (void)state;
    const char *const image[] = {"A=1", "path=/lower/case/is/another/key", NULL};
    const char *const request[] = {"B=2", NULL};
    const char *const want[] = {OCI_SPEC_DEFAULT_PATH, "A=1", "path=/lower/case/is/another/key",
                                "B=2", NULL};
    assert_merge(image, request, want);
    const char *const only_default[] = {OCI_SPEC_DEFAULT_PATH, NULL};
    assert_merge(NULL, NULL, only_default);
    /* A PATH from the request alone is enough, and stays where it is. */
    const char *const req_path[] = {"X=1", "PATH=/opt/bin", NULL};
    assert_merge(NULL, req_path, req_path);
    /* The request's PATH replaces the image's in place. */
    const char *const img_path[] = {"A=1", "PATH=/img", "B=2", NULL};
    const char *const new_path[] = {"PATH=/req", NULL};
    const char *const want_path[] = {"A=1", "PATH=/req", "B=2", NULL};
    assert_merge(img_path, new_path, want_path);
}

static void
test_env_duplicates_and_values(void **state)
{
    (void)state;
    /* A key keeps its first place and takes its last value, wherever the copies are. */
    const char *const image[] = {"PATH=/bin", "A=1", "B=2", "A=3", NULL};
    const char *const request[] = {"B=4", "C=x=y", "B=5", "E=", "AB=6", NULL};
    const char *const want[] = {"PATH=/bin", "A=3", "B=5", "C=x=y", "E=", "AB=6", NULL};
    assert_merge(image, request, want);
}

static void
test_env_rejects_bad_entries(void **state)
{
    (void)state;
    const char *const good[] = {"A=1", NULL};
    const char *const no_eq[] = {"A=1", "SECRET_TOKEN_abc", NULL};
    const char *const no_key[] = {"=SECRET", NULL};
    struct bx_err err = BX_ERR_INIT;
    char **env = (char **)&err; /* must be reset to NULL */
    assert_int_equal(oci_env_merge(no_eq, good, &env, &err), BX_EINVAL);
    assert_null(env);
    assert_string_equal(err.msg, "image env[1] is not KEY=VALUE");
    assert_int_equal(oci_env_merge(good, no_key, &env, &err), BX_EINVAL);
    assert_null(env);
    assert_string_equal(err.msg, "env[0] is not KEY=VALUE");
    oci_env_free(NULL);
}

static void
test_env_many_entries(void **state)
{
    (void)state;
    /* 20000 entries over 5000 keys, each set four times: the merge sorts rather than scans. */
    enum { N = 20000, KEYS = 5000 };
    char **request = calloc(N + 1, sizeof(*request));
    assert_non_null(request);
    for (int i = 0; i < N; i++)
        assert_true(asprintf(&request[i], "K%d=%d", i % KEYS, i) > 0);
    struct bx_err err = BX_ERR_INIT;
    char **env = NULL;
    assert_int_equal(oci_env_merge(NULL, (const char *const *)request, &env, &err), 0);
    assert_string_equal(env[0], OCI_SPEC_DEFAULT_PATH);
    for (int k = 0; k < KEYS; k++) {
        char want[32];
        snprintf(want, sizeof(want), "K%d=%d", k, k + (N - KEYS));
        assert_string_equal(env[1 + k], want);
    }
    assert_null(env[1 + KEYS]);
    oci_env_free(env);
    for (int i = 0; i < N; i++)
        free(request[i]);
    free(request);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_defaults_are_hardened),
        cmocka_unit_test(test_spec_linux_defaults),
        cmocka_unit_test(test_spec_fixed_mounts),
        cmocka_unit_test(test_spec_limits),
        cmocka_unit_test(test_spec_resources_only_when_set),
        cmocka_unit_test(test_spec_files_and_output),
        cmocka_unit_test(test_spec_accepts_edges),
        cmocka_unit_test(test_spec_rejects_bad_options),
        cmocka_unit_test(test_spec_write),
        cmocka_unit_test(test_env_request_overrides_image),
        cmocka_unit_test(test_env_default_path),
        cmocka_unit_test(test_env_duplicates_and_values),
        cmocka_unit_test(test_env_rejects_bad_entries),
        cmocka_unit_test(test_env_many_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
