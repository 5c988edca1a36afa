/* Unit tests of oci/ref.c: Docker's reference grammar and normalisation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "oci/ref.h"

#define HEX64 "26c68657ccce2cb0a31b330cb0be2b5e108d467f641c62e13ab40cbec258c68d"
#define DIGEST "sha256:" HEX64

struct valid_case {
    const char *in;
    const char *domain, *path, *tag, *digest;
};

static const struct valid_case valid_cases[] = {
    /* Docker's documentation (docker pull, docker image tag). */
    {"ubuntu:22.04", "docker.io", "library/ubuntu", "22.04", ""},
    {"debian", "docker.io", "library/debian", "latest", ""},
    {"docker/welcome-to-docker", "docker.io", "docker/welcome-to-docker", "latest", ""},
    {"myregistry.local:5000/testing/test-image", "myregistry.local:5000", "testing/test-image",
     "latest", ""},
    {"ubuntu@" DIGEST, "docker.io", "library/ubuntu", "", DIGEST},
    {"registry.example.com/username/repo", "registry.example.com", "username/repo", "latest", ""},
    {"myfedora/httpd:version1.0", "docker.io", "myfedora/httpd", "version1.0", ""},
    {"myregistryhost:5000/fedora/httpd:version1.0", "myregistryhost:5000", "fedora/httpd",
     "version1.0", ""},
    /* The header's examples. */
    {"python:3.12-slim", "docker.io", "library/python", "3.12-slim", ""},
    {"python", "docker.io", "library/python", "latest", ""},
    {"ghcr.io/org/tool@" DIGEST, "ghcr.io", "org/tool", "", DIGEST},
    {"127.0.0.1:5000/a/b:1", "127.0.0.1:5000", "a/b", "1", ""},
    {"localhost/x", "localhost", "x", "latest", ""},
    {"index.docker.io/x", "docker.io", "library/x", "latest", ""},
    /* Normalisation. */
    {"docker.io/python", "docker.io", "library/python", "latest", ""},
    {"docker.io/library/python:3", "docker.io", "library/python", "3", ""},
    {"index.docker.io/library/ubuntu", "docker.io", "library/ubuntu", "latest", ""},
    {"registry-1.docker.io/python", "registry-1.docker.io", "python", "latest", ""},
    {"ghcr.io/org/tool:v1@" DIGEST, "ghcr.io", "org/tool", "v1", DIGEST},
    {"localhost:5000/x/y/z:tag", "localhost:5000", "x/y/z", "tag", ""},
    {"localhost", "docker.io", "library/localhost", "latest", ""},
    {"localhost:5000", "docker.io", "library/localhost", "5000", ""},
    {"[::1]:5000/foo:bar", "[::1]:5000", "foo", "bar", ""},
    {"[2001:db8::1]/foo", "[2001:db8::1]", "foo", "latest", ""},
    {"example.com:443/a", "example.com:443", "a", "latest", ""},
    {"sub-domain.example.com/a__b/c-d--e/f.g_h:T.a-g_1", "sub-domain.example.com",
     "a__b/c-d--e/f.g_h", "T.a-g_1", ""},
    /* An upper-case first component can only be a host name (Docker's splitDockerDomain). */
    {"Foo/bar", "Foo", "bar", "latest", ""},
    {"a", "docker.io", "library/a", "latest", ""},
    {"x:_tag", "docker.io", "library/x", "_tag", ""},
    {"a0/b1/c2/d3/e4", "docker.io", "a0/b1/c2/d3/e4", "latest", ""},
};

static void
test_ref_valid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const struct valid_case *c = &valid_cases[i];
        struct oci_ref ref;
        struct bx_err err = BX_ERR_INIT;
        int rc = oci_ref_parse(c->in, &ref, &err);
        if (rc != 0)
            fail_msg("'%s': %s", c->in, err.msg);
        assert_string_equal(ref.domain, c->domain);
        assert_string_equal(ref.path, c->path);
        assert_string_equal(ref.tag, c->tag);
        assert_string_equal(ref.digest, c->digest);
    }
}

struct invalid_case {
    const char *in;
    int code;
    const char *msg; /* a part of the message */
};

static const struct invalid_case invalid_cases[] = {
    {"", BX_EINVAL, "empty"},
    {"Python", BX_EINVAL, "must be lowercase"},
    {"docker.io/Library/python", BX_EINVAL, "must be lowercase"},
    {"ghcr.io/Org/tool", BX_EINVAL, "must be lowercase"},
    {"python:", BX_EINVAL, "missing tag after ':'"},
    {"python@", BX_EINVAL, "missing digest after '@'"},
    {"python:3.12@", BX_EINVAL, "missing digest after '@'"},
    {"python:-bad", BX_EINVAL, "invalid tag '-bad'"},
    {"python:a:b", BX_EINVAL, "invalid tag 'a:b'"},
    {"python:.x", BX_EINVAL, "invalid tag"},
    {"a//b", BX_EINVAL, "empty component"},
    {"a/", BX_EINVAL, "empty component"},
    {"/a", BX_EINVAL, "empty component"},
    {"a..b", BX_EINVAL, "invalid repository name component 'a..b'"},
    {"a___b", BX_EINVAL, "invalid repository name component"},
    {"-a", BX_EINVAL, "invalid repository name component '-a'"},
    {"a-", BX_EINVAL, "invalid repository name component 'a-'"},
    {"ghcr.io/-/x", BX_EINVAL, "invalid repository name component '-'"},
    {"a b", BX_EINVAL, "invalid character ' '"},
    {"a$b", BX_EINVAL, "invalid character '$'"},
    {"a\nb", BX_EINVAL, "invalid character 0x0a"},
    {"python@sha256:abc", BX_EINVAL, "invalid sha256 digest"},
    {"python@sha256:" HEX64 "0", BX_EINVAL, "invalid sha256 digest"},
    {"python@sha256:26C68657CCCE2CB0A31B330CB0BE2B5E108D467F641C62E13AB40CBEC258C68D", BX_EINVAL,
     "invalid sha256 digest"},
    {"python@sha512:" HEX64 HEX64, BX_EUNSUPPORTED, "unsupported digest algorithm 'sha512'"},
    {"python@md5", BX_EINVAL, "invalid digest"},
    {"python@" DIGEST "@" DIGEST, BX_EINVAL, "invalid sha256 digest"},
    {"ghcr.io/", BX_EINVAL, "missing repository name"},
    {"ghcr.io:99999/x", BX_EINVAL, "invalid port '99999'"},
    {"ghcr.io:/x", BX_EINVAL, "invalid port ''"},
    {"ghcr.io:0/x", BX_EINVAL, "invalid port '0'"},
    {"ex_ample.com/a", BX_EINVAL, "invalid registry host 'ex_ample.com'"},
    {"-ex.com/a", BX_EINVAL, "invalid registry host"},
    {"ex..com/a", BX_EINVAL, "invalid registry host"},
    {"[::1/x", BX_EINVAL, "unterminated IPv6"},
    {"[zz::1]:5000/x", BX_EINVAL, "invalid registry host"},
    {"[::1]x/y", BX_EINVAL, "invalid registry"},
    {"[1:2:3:4:5:6:7:8:9]/y", BX_EINVAL, "invalid registry host"},
    {HEX64, BX_EINVAL, "image id"},
    {":tag", BX_EINVAL, "missing repository name"},
    {"@" DIGEST, BX_EINVAL, "missing repository name"},
};

static void
test_ref_invalid(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(invalid_cases) / sizeof(invalid_cases[0]); i++) {
        const struct invalid_case *c = &invalid_cases[i];
        struct oci_ref ref;
        struct bx_err err = BX_ERR_INIT;
        int rc = oci_ref_parse(c->in, &ref, &err);
        if (rc != c->code || err.code != c->code || !strstr(err.msg, c->msg))
            fail_msg("'%s': got %d '%s', want %d '...%s...'", c->in, rc, err.msg, c->code, c->msg);
        assert_string_equal(ref.domain, "");
    }
}

static void
test_ref_null_is_invalid(void **state)
{
    (void)state;
    struct oci_ref ref;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(oci_ref_parse(NULL, &ref, &err), BX_EINVAL);
}

/* The whole name "domain/path" may have 255 characters, counting the "library/" Docker adds. */
static void
test_ref_length(void **state)
{
    (void)state;
    char in[600], path[300];
    struct oci_ref ref;
    struct bx_err err = BX_ERR_INIT;
    memset(path, 'a', 245);
    path[245] = '\0';
    snprintf(in, sizeof(in), "org/%.*s", 241, path); /* docker.io/org/<241> is 255 long */
    assert_int_equal(oci_ref_parse(in, &ref, &err), 0);
    assert_int_equal(strlen(ref.domain) + 1 + strlen(ref.path), 255);
    snprintf(in, sizeof(in), "org/%.*s", 242, path);
    assert_int_equal(oci_ref_parse(in, &ref, &err), BX_EINVAL);
    assert_non_null(strstr(err.msg, "256 characters long, more than 255"));
    /* One component: "docker.io/library/" is 18 of the 255. */
    snprintf(in, sizeof(in), "%.*s", 237, path);
    assert_int_equal(oci_ref_parse(in, &ref, &err), 0);
    snprintf(in, sizeof(in), "%.*s", 238, path);
    assert_int_equal(oci_ref_parse(in, &ref, &err), BX_EINVAL);
    /* Tags: 128 characters at most. */
    char tag[200];
    memset(tag, 't', 129);
    tag[129] = '\0';
    snprintf(in, sizeof(in), "x:%.128s", tag);
    assert_int_equal(oci_ref_parse(in, &ref, &err), 0);
    assert_int_equal(strlen(ref.tag), 128);
    snprintf(in, sizeof(in), "x:%s", tag);
    assert_int_equal(oci_ref_parse(in, &ref, &err), BX_EINVAL);
    assert_non_null(strstr(err.msg, "invalid tag"));
    /* A very long input is refused without trouble, and the message stays readable. */
    char big[5000];
    memset(big, 'b', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(oci_ref_parse(big, &ref, &err), BX_EINVAL);
    assert_true(strlen(err.msg) < 200);
}

static void
test_ref_format_roundtrip(void **state)
{
    (void)state;
    static const struct {
        const char *in, *canonical;
    } cases[] = {
        {"python", "docker.io/library/python:latest"},
        {"python:3.12-slim", "docker.io/library/python:3.12-slim"},
        {"ghcr.io/org/tool@" DIGEST, "ghcr.io/org/tool@" DIGEST},
        {"ghcr.io/org/tool:v1@" DIGEST, "ghcr.io/org/tool:v1@" DIGEST},
        {"[::1]:5000/foo:bar", "[::1]:5000/foo:bar"},
        {"index.docker.io/x", "docker.io/library/x:latest"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct oci_ref ref, again;
        struct bx_err err = BX_ERR_INIT;
        char buf[512];
        assert_int_equal(oci_ref_parse(cases[i].in, &ref, &err), 0);
        int n = oci_ref_format(&ref, buf, sizeof(buf));
        assert_int_equal(n, (int)strlen(cases[i].canonical));
        assert_string_equal(buf, cases[i].canonical);
        assert_int_equal(oci_ref_parse(buf, &again, &err), 0);
        assert_memory_equal(&ref, &again, sizeof(ref));
    }
    /* Like snprintf: the length needed, the output cut. */
    struct oci_ref ref;
    struct bx_err err = BX_ERR_INIT;
    char small[10];
    assert_int_equal(oci_ref_parse("python", &ref, &err), 0);
    assert_int_equal(oci_ref_format(&ref, small, sizeof(small)), 31);
    assert_string_equal(small, "docker.io");
}

static void
test_ref_api_host(void **state)
{
    (void)state;
    struct oci_ref ref;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(oci_ref_parse("python", &ref, &err), 0);
    assert_string_equal(oci_ref_api_host(&ref), "registry-1.docker.io");
    assert_int_equal(oci_ref_parse("index.docker.io/library/python", &ref, &err), 0);
    assert_string_equal(oci_ref_api_host(&ref), "registry-1.docker.io");
    assert_int_equal(oci_ref_parse("127.0.0.1:5000/a/b:1", &ref, &err), 0);
    assert_string_equal(oci_ref_api_host(&ref), "127.0.0.1:5000");
    assert_int_equal(oci_ref_parse("[::1]:5000/a", &ref, &err), 0);
    assert_string_equal(oci_ref_api_host(&ref), "[::1]:5000");
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ref_valid),
        cmocka_unit_test(test_ref_invalid),
        cmocka_unit_test(test_ref_null_is_invalid),
        cmocka_unit_test(test_ref_length),
        cmocka_unit_test(test_ref_format_roundtrip),
        cmocka_unit_test(test_ref_api_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
