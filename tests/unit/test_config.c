/* Unit tests of common/config: defaults, every field, load order, errors with lines. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/config.h"
#include "common/fs.h"

static void
test_defaults(void **state)
{
    (void)state;
    struct bx_config c;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(bx_config_parse("{}", 2, "t", &c, &err), 0);
    assert_string_equal(c.platform, "systrap");
    assert_string_equal(c.listen_addr, ":8080");
    assert_null(c.runsc_path);
    assert_false(c.ignore_cgroups);
    assert_int_equal(c.output_limit_bytes, 10485760);
    assert_int_equal(c.upload_limit_bytes, 10485760);
    assert_true(c.defaults.cpu_cores == 1.0);
    assert_int_equal(c.defaults.memory_mb, 256);
    assert_int_equal(c.defaults.wall_clock_secs, 30);
    assert_int_equal(c.defaults.pids_limit, 64);
    assert_int_equal(c.defaults.nofile, 256);
    assert_int_equal(c.max.memory_mb, BX_UNLIMITED);
    assert_true(strlen(c.home) > 7);
    assert_string_equal(c.home + strlen(c.home) - 7, "/.boxer");
    bx_config_release(&c);
}

static void
test_all_fields(void **state)
{
    (void)state;
    const char *text =
        "{\"home\": \"/srv/boxer\", \"runsc_path\": \"/usr/bin/runsc\","
        " \"platform\": \"ptrace\", \"listen_addr\": \"127.0.0.1:9000\","
        " \"ignore_cgroups\": true, \"output_limit_bytes\": 100,"
        " \"upload_limit_bytes\": 200,"
        " \"defaults\": {\"cpu_cores\": 0.5, \"memory_mb\": null,"
        "   \"wall_clock_secs\": 5, \"pids_limit\": 10, \"nofile\": 64},"
        " \"max_limits\": {\"memory_mb\": 1024},"
        " \"registry_mirrors\": {\"docker.io\": [\"http://127.0.0.1:5000\","
        "   \"https://mirror.example\"]},"
        " \"insecure_registries\": [\"127.0.0.1:5000\"],"
        " \"registry_auth\": {\"ghcr.io\": {\"username\": \"u\", \"password\": \"p\"}},"
        " \"max_concurrent_runs\": 3, \"image_tag_ttl_secs\": 60,"
        " \"something_new\": 1}";
    struct bx_config c;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(bx_config_parse(text, strlen(text), "t", &c, &err), 0);
    assert_string_equal(c.home, "/srv/boxer");
    assert_string_equal(c.runsc_path, "/usr/bin/runsc");
    assert_string_equal(c.platform, "ptrace");
    assert_string_equal(c.listen_addr, "127.0.0.1:9000");
    assert_true(c.ignore_cgroups);
    assert_int_equal(c.output_limit_bytes, 100);
    assert_int_equal(c.upload_limit_bytes, 200);
    assert_true(c.defaults.cpu_cores == 0.5);
    assert_int_equal(c.defaults.memory_mb, BX_UNLIMITED);
    assert_int_equal(c.defaults.wall_clock_secs, 5);
    assert_int_equal(c.max.memory_mb, 1024);
    assert_int_equal(c.n_mirrors, 2);
    assert_string_equal(c.mirrors[0].domain, "docker.io");
    assert_string_equal(c.mirrors[0].url, "http://127.0.0.1:5000");
    assert_string_equal(c.mirrors[1].url, "https://mirror.example");
    assert_int_equal(c.n_insecure, 1);
    assert_string_equal(c.insecure_registries[0], "127.0.0.1:5000");
    assert_int_equal(c.n_auth, 1);
    assert_string_equal(c.registry_auth[0].registry, "ghcr.io");
    assert_string_equal(c.registry_auth[0].password, "p");
    assert_int_equal(c.max_concurrent_runs, 3);
    assert_int_equal(c.image_tag_ttl_secs, 60);
    bx_config_release(&c);
}

static void
test_errors_name_file_and_line(void **state)
{
    (void)state;
    struct bx_config c;
    struct bx_err err = BX_ERR_INIT;
    const char *broken = "{\n  \"platform\": \"ptrace\",\n  \"home\": \n}";
    assert_int_equal(bx_config_parse(broken, strlen(broken), "/etc/b.json", &c, &err), BX_EINVAL);
    assert_non_null(strstr(err.msg, "/etc/b.json line 4"));
    static const char *bad[] = {
        "[]",
        "{\"ignore_cgroups\": \"yes\"}",
        "{\"output_limit_bytes\": -1}",
        "{\"defaults\": {\"memory_mb\": \"big\"}}",
        "{\"defaults\": {\"cpu_cores\": -2}}",
        "{\"registry_mirrors\": {\"docker.io\": \"http://x\"}}",
        "{\"registry_auth\": {\"x\": {\"username\": 1}}}",
        "{\"insecure_registries\": [1]}",
        "{\"home\": \"relative/dir\"}",
        "{\"platform\": \"a\", \"platform\": \"b\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        bx_err_clear(&err);
        assert_int_equal(bx_config_parse(bad[i], strlen(bad[i]), "t", &c, &err), BX_EINVAL);
        assert_non_null(strstr(err.msg, "config t"));
    }
    bx_err_clear(&err);
    const char *typed = "{\"defaults\": {\"memory_mb\": \"big\"}}";
    bx_config_parse(typed, strlen(typed), "t", &c, &err);
    assert_string_equal(err.msg, "config t: 'defaults.memory_mb' must be a non-negative integer "
                                 "or null");
}

static void
test_load_order(void **state)
{
    (void)state;
    char dir[PATH_MAX];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/boxer-config.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(bx_mkdir_p(dfd, ".boxer", 0755, &err), 0);
    const char *home_cfg = "{\"platform\": \"kvm\", \"home\": \"~/data\"}";
    const char *env_cfg = "{\"platform\": \"ptrace\"}";
    int boxer = openat(dfd, ".boxer", O_RDONLY | O_DIRECTORY);
    assert_int_equal(
        bx_write_file_atomic(boxer, "config.json", home_cfg, strlen(home_cfg), 0644, &err), 0);
    close(boxer);
    assert_int_equal(bx_write_file_atomic(dfd, "env.json", env_cfg, strlen(env_cfg), 0644, &err),
                     0);
    char *old_home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;
    setenv("HOME", dir, 1);
    unsetenv("BOXER_CONFIG");

    struct bx_config c;
    assert_int_equal(bx_config_load(NULL, &c, &err), 0);
    assert_string_equal(c.platform, "kvm");
    char want[PATH_MAX + 16];
    snprintf(want, sizeof(want), "%s/data", dir);
    assert_string_equal(c.home, want);
    bx_config_release(&c);

    char env_path[PATH_MAX + 16];
    snprintf(env_path, sizeof(env_path), "%s/env.json", dir);
    setenv("BOXER_CONFIG", env_path, 1);
    assert_int_equal(bx_config_load(NULL, &c, &err), 0);
    assert_string_equal(c.platform, "ptrace");
    assert_string_equal(c.path, env_path);
    bx_config_release(&c);

    /* An explicit file wins, and must exist. */
    char missing[PATH_MAX + 16];
    snprintf(missing, sizeof(missing), "%s/missing.json", dir);
    assert_int_equal(bx_config_load(missing, &c, &err), BX_ENOENT);
    unsetenv("BOXER_CONFIG");

    /* No file at all: the built-in defaults. */
    assert_int_equal(unlinkat(dfd, ".boxer/config.json", 0), 0);
    assert_int_equal(bx_config_load(NULL, &c, &err), 0);
    assert_string_equal(c.platform, "systrap");
    assert_null(c.path);
    bx_config_release(&c);

    if (old_home)
        setenv("HOME", old_home, 1);
    free(old_home);
    close(dfd);
    assert_int_equal(bx_rm_rf(AT_FDCWD, dir, &err), 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_all_fields),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_load_order),
    };
    return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
