/* Unit tests of boxerd's request validation, store paths and output encoding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "httpd_internal.h"

static struct bx_config cfg;

static int
setup(void **state)
{
    (void)state;
    struct bx_err err = BX_ERR_INIT;
    const char *text = "{\"defaults\": {\"cpu_cores\": 1.0, \"memory_mb\": 256, "
                       "\"wall_clock_secs\": 30, \"pids_limit\": 64, \"nofile\": 256}, "
                       "\"max_limits\": {\"memory_mb\": 1024, \"wall_clock_secs\": 300}}";
    return bx_config_parse(text, strlen(text), "test", &cfg, &err);
}

static int
teardown(void **state)
{
    (void)state;
    bx_config_release(&cfg);
    return 0;
}

static int
parse(const char *body, struct run_request *r, struct bx_err *err)
{
    return run_request_parse(body, strlen(body), &cfg, r, err);
}

static void
test_run_request_full(void **state)
{
    (void)state;
    struct run_request r;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(parse("{\"image\": \"python:3.12-slim\", \"cmd\": [\"python3\", \"-c\", "
                           "\"print(42)\"], \"env\": [\"A=1\"], \"cwd\": \"/w\", \"limits\": "
                           "{\"memory_mb\": 128, \"cpu_cores\": 0.5, \"wall_clock_secs\": 0}, "
                           "\"files\": [\"workspace//script.py\"], \"persist\": true, "
                           "\"network\": \"none\", \"unknown\": 1}",
                           &r, &err),
                     0);
    assert_string_equal(r.image, "python:3.12-slim");
    assert_string_equal(r.cmd[2], "print(42)");
    assert_null(r.cmd[3]);
    assert_string_equal(r.env[0], "A=1");
    assert_string_equal(r.cwd, "/w");
    assert_int_equal(r.limits.memory_mb, 128);
    assert_true(r.limits.cpu_cores == 0.5);
    assert_int_equal(r.limits.wall_clock_secs, 30); /* 0 is the default */
    assert_int_equal(r.limits.pids_limit, 64);
    assert_string_equal(r.files[0], "workspace/script.py");
    assert_true(r.persist);
    run_request_release(&r);
}

static void
expect_400(const char *body, const char *needle)
{
    struct run_request r;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(parse(body, &r, &err), BX_EINVAL);
    if (!strstr(err.msg, needle))
        fail_msg("\"%s\": message \"%s\" lacks \"%s\"", body, err.msg, needle);
}

static void
test_run_request_invalid(void **state)
{
    (void)state;
    expect_400("{bad", "invalid JSON");
    expect_400("[]", "JSON object");
    expect_400("{\"cmd\": [\"x\"]}", "image");
    expect_400("{\"image\": \"\", \"cmd\": [\"x\"]}", "image");
    expect_400("{\"image\": \"Bad:Ref:x\", \"cmd\": [\"x\"]}", "invalid image reference");
    expect_400("{\"image\": \"busybox\"}", "cmd is required");
    expect_400("{\"image\": \"busybox\", \"cmd\": []}", "at least 1");
    expect_400("{\"image\": \"busybox\", \"cmd\": \"ls\"}", "array");
    expect_400("{\"image\": \"busybox\", \"cmd\": [1]}", "cmd[0] must be a string");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"\"]}", "cmd[0]");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"env\": [\"NOEQUALS\"]}", "KEY=VALUE");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"cwd\": \"rel\"}", "absolute");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"limits\": {\"memory_mb\": -1}}",
               "negative");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"limits\": {\"memory_mb\": 1.5}}",
               "integer");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"limits\": {\"memory_mb\": 2048}}",
               "maximum of 1024");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"limits\": [1]}", "object");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"files\": [\"../x\"]}", "files[0]");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"files\": [\"/etc/passwd\"]}",
               "relative");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"persist\": \"yes\"}", "boolean");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"network\": \"bridge\"}", "none");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"ls\"], \"image\": \"x\"}", "duplicate");
    /* NUL bytes and invalid UTF-8 never reach a C string */
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"a\\u0000b\"]}", "invalid JSON");
    expect_400("{\"image\": \"busybox\", \"cmd\": [\"\xff\xfe\"]}", "invalid JSON");
}

static void
test_store_paths(void **state)
{
    (void)state;
    char out[256];
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(store_path_check("workspace/./a//b.py", true, out, sizeof(out), &err), 0);
    assert_string_equal(out, "workspace/a/b.py");
    assert_int_equal(store_path_check("output/x/y", false, out, sizeof(out), &err), 0);
    assert_int_equal(store_path_check("output/x/y", true, out, sizeof(out), &err), BX_EINVAL);
    assert_int_equal(store_path_check("output", true, out, sizeof(out), &err), BX_EINVAL);
    assert_int_equal(store_path_check("outputs/x", true, out, sizeof(out), &err), 0);
    assert_int_equal(store_path_check("../x", false, out, sizeof(out), &err), BX_EINVAL);
    assert_int_equal(store_path_check("a/../../x", false, out, sizeof(out), &err), BX_EINVAL);
    assert_int_equal(store_path_check("/abs", false, out, sizeof(out), &err), BX_EINVAL);
    assert_int_equal(store_path_check("", false, out, sizeof(out), &err), BX_EINVAL);
    assert_int_equal(store_path_check(".", false, out, sizeof(out), &err), BX_EINVAL);
}

static void
check_bytes(const char *in, size_t len, const char *want)
{
    json_t *j = reply_bytes_string(in, len);
    assert_non_null(j);
    assert_int_equal(json_string_length(j), strlen(want));
    assert_memory_equal(json_string_value(j), want, strlen(want));
    json_decref(j);
}

static void
test_bytes_string(void **state)
{
    (void)state;
    check_bytes("42\n", 3, "42\n");
    check_bytes("h\xc3\xa9", 3, "h\xc3\xa9"); /* valid UTF-8 kept */
    check_bytes("a\xff"
                "b",
                3,
                "a\xef\xbf\xbd"
                "b");                                                       /* invalid byte */
    check_bytes("\xc3", 1, "\xef\xbf\xbd");                                 /* truncated sequence */
    check_bytes("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");                 /* overlong */
    check_bytes("\xed\xa0\x80", 3, "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"); /* surrogate */
    json_t *nul = reply_bytes_string("a\0b", 3);
    assert_int_equal(json_string_length(nul), 3);
    char *dumped = json_dumps(nul, JSON_ENCODE_ANY);
    assert_string_equal(dumped, "\"a\\u0000b\"");
    free(dumped);
    json_decref(nul);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_run_request_full),
        cmocka_unit_test(test_run_request_invalid),
        cmocka_unit_test(test_store_paths),
        cmocka_unit_test(test_bytes_string),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
