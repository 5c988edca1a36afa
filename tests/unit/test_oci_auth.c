/* Unit tests of oci/auth.c: WWW-Authenticate challenges and docker config.json credentials. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oci/auth.h"

/* ---- challenges ---- */

struct challenge_case {
    const char *header;
    enum oci_auth_scheme scheme;
    const char *realm, *service, *scope;
};

static const struct challenge_case good_challenges[] = {
    /* Docker Hub */
    {"Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
     "scope=\"repository:library/python:pull\"",
     OCI_AUTH_BEARER, "https://auth.docker.io/token", "registry.docker.io",
     "repository:library/python:pull"},
    /* ghcr.io */
    {"Bearer realm=\"https://ghcr.io/token\",service=\"ghcr.io\","
     "scope=\"repository:user/image:pull\"",
     OCI_AUTH_BEARER, "https://ghcr.io/token", "ghcr.io", "repository:user/image:pull"},
    /* quay.io, no scope */
    {"Bearer realm=\"https://quay.io/v2/auth\",service=\"quay.io\"", OCI_AUTH_BEARER,
     "https://quay.io/v2/auth", "quay.io", ""},
    /* docker-registry with auth.htpasswd */
    {"Basic realm=\"basic-realm\"", OCI_AUTH_BASIC, "basic-realm", "", ""},
    {"Basic", OCI_AUTH_BASIC, "", "", ""},
    {"basic REALM=Registry", OCI_AUTH_BASIC, "Registry", "", ""},
    /* case-insensitive scheme and names, bare tokens */
    {"bEaReR REALM=\"https://a/token\", Service=registry.example.com", OCI_AUTH_BEARER,
     "https://a/token", "registry.example.com", ""},
    /* blanks around everything, '=' with blanks around it, empty list elements */
    {"  Bearer   realm = \"https://a/t\" ,  service =\t\"s\" ,, ", OCI_AUTH_BEARER, "https://a/t",
     "s", ""},
    {"Bearer ,realm=\"https://a/t\",,scope=\"x\",", OCI_AUTH_BEARER, "https://a/t", "", "x"},
    /* commas and blanks inside quotes, escapes */
    {"Bearer realm=\"https://a/t\",scope=\"repository:a/b:pull,push repository:c:pull\"",
     OCI_AUTH_BEARER, "https://a/t", "", "repository:a/b:pull,push repository:c:pull"},
    {"Bearer realm=\"https://a/t\",service=\"a\\\"b\\\\c\\d\"", OCI_AUTH_BEARER, "https://a/t",
     "a\"b\\cd", ""},
    /* unknown parameters are skipped, quoted or not */
    {"Bearer realm=\"https://a/t\",error=\"insufficient_scope\",foo=bar,service=s", OCI_AUTH_BEARER,
     "https://a/t", "s", ""},
    /* several challenges in one header: Bearer first, then Basic, others skipped */
    {"Basic realm=\"r\", Bearer realm=\"https://a/t\",service=\"s\"", OCI_AUTH_BEARER,
     "https://a/t", "s", ""},
    {"Negotiate YIIBgAYGKwYBBQUCoIIBdDCCAXCgMDAuBgkqhkiC9xIBAgIGCSqGSIb3EgECAgYKKwYBBAGCNwICHg==,"
     " Basic realm=\"r\"",
     OCI_AUTH_BASIC, "r", "", ""},
    {"Digest realm=\"d\", nonce=\"abc\", qop=\"auth,auth-int\", Basic realm=\"b\"", OCI_AUTH_BASIC,
     "b", "", ""},
    {"Bearer realm=\"HTTP://127.0.0.1:5001/auth\"", OCI_AUTH_BEARER, "HTTP://127.0.0.1:5001/auth",
     "", ""},
};

static void
test_challenge_parse(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good_challenges) / sizeof(good_challenges[0]); i++) {
        const struct challenge_case *c = &good_challenges[i];
        struct oci_challenge ch;
        struct bx_err err = BX_ERR_INIT;
        if (oci_challenge_parse(c->header, &ch, &err) != 0)
            fail_msg("case %zu: %s", i, err.msg);
        assert_int_equal(ch.scheme, c->scheme);
        assert_string_equal(ch.realm, c->realm);
        assert_string_equal(ch.service, c->service);
        assert_string_equal(ch.scope, c->scope);
    }
}

struct bad_challenge {
    const char *header;
    int rc;
    const char *msg;
};

static void
test_challenge_malformed(void **state)
{
    (void)state;
    char long_realm[700];
    snprintf(long_realm, sizeof(long_realm), "Bearer realm=\"https://%0600d\"", 0);
    const struct bad_challenge cases[] = {
        {"", BX_EINVAL, "empty challenge"},
        {" , ,", BX_EINVAL, "empty challenge"},
        {"Negotiate", BX_EUNSUPPORTED, "unsupported authentication scheme 'Negotiate'"},
        {"Digest realm=\"d\", nonce=\"n\"", BX_EUNSUPPORTED, "'Digest'"},
        {"Bearer service=\"s\"", BX_EINVAL, "Bearer challenge without a realm"},
        {"Bearer", BX_EINVAL, "without a realm"},
        {"Bearer realm=\"ftp://a/t\"", BX_EINVAL, "is not an http(s) URL"},
        {"Bearer realm=\"/token\"", BX_EINVAL, "is not an http(s) URL"},
        {"Bearer realm=\"https://a/t", BX_EINVAL, "unterminated quote"},
        {"Bearer realm=\"https://a/t\\", BX_EINVAL, "unterminated quote"},
        {"Bearer realm=", BX_EINVAL, "has no value"},
        {"Bearer realm=,service=s", BX_EINVAL, "realm has no value"},
        {"Bearer realm=\"https://a/t\" service=\"s\"", BX_EINVAL, "expected ','"},
        {"Bearer realm=\"https://a/t\"garbage", BX_EINVAL, "expected ','"},
        {"Bearer realm=\"https://a/t\",realm=\"https://b/t\"", BX_EINVAL, "realm appears twice"},
        {"Bearer realm=\"https://a/t\",SCOPE=a,scope=b", BX_EINVAL, "scope appears twice"},
        {"Bearer realm=\"https://a/\nt\"", BX_EINVAL, "control character"},
        {"Bearer realm=\"https://a/t\",service=\"a\\\x01\"", BX_EINVAL, "control character"},
        {"=foo", BX_EINVAL, "expected an authentication scheme"},
        {"\"Bearer\" realm=x", BX_EINVAL, "expected an authentication scheme"},
        {"Bearer=x", BX_EINVAL, "malformed authentication scheme"},
        {"Bearer realm", BX_EINVAL, "malformed challenge parameter"},
        {"Bearer @x", BX_EINVAL, "malformed challenge parameter"},
        {"Bearer realm=\"https://a/t\", @", BX_EINVAL, "expected an authentication scheme"},
        {"Bearer realm=a b", BX_EINVAL, "expected ','"},
        {long_realm, BX_EINVAL, "realm is too long"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct oci_challenge ch;
        struct bx_err err = BX_ERR_INIT;
        int rc = oci_challenge_parse(cases[i].header, &ch, &err);
        if (rc != cases[i].rc || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %d '%s', want %d '...%s...'", i, rc, err.msg, cases[i].rc,
                     cases[i].msg);
        assert_int_equal(ch.scheme, OCI_AUTH_NONE);
        assert_string_equal(ch.realm, "");
    }
    struct oci_challenge ch;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(oci_challenge_parse(NULL, &ch, &err), BX_EINVAL);
    char *huge = malloc(20000);
    assert_non_null(huge);
    memset(huge, 'B', 19999);
    huge[19999] = '\0';
    assert_int_equal(oci_challenge_parse(huge, &ch, &err), BX_EINVAL);
    assert_non_null(strstr(err.msg, "longer than"));
    free(huge);
}

/* ---- docker config.json ---- */

struct config_case {
    const char *body;
    const char *domain;
    const char *username, *password;
};

static const struct config_case good_configs[] = {
    {"{\"auths\":{\"127.0.0.1:5000\":{\"auth\":\"dXNlcjpwYXNz\"}}}", "127.0.0.1:5000", "user",
     "pass"},
    /* the password may hold ':' */
    {"{\"auths\":{\"ghcr.io\":{\"auth\":\"YWxpY2U6czNjcjpldA==\"}}}", "ghcr.io", "alice",
     "s3cr:et"},
    /* unpadded base64, and NULs after the password, as docker trims them */
    {"{\"auths\":{\"ghcr.io\":{\"auth\":\"YWxpY2U6czNjcjpldA\"}}}", "ghcr.io", "alice", "s3cr:et"},
    {"{\"auths\":{\"ghcr.io\":{\"auth\":\"Ym9iOnB3AAA=\"}}}", "ghcr.io", "bob", "pw"},
    /* docker login's key for Docker Hub, and the spellings of Docker Hub */
    {"{\"auths\":{\"https://index.docker.io/v1/\":{\"auth\":\"aHViOmh1YnBhc3M=\"}}}", "docker.io",
     "hub", "hubpass"},
    {"{\"auths\":{\"docker.io\":{\"auth\":\"aHViOmh1YnBhc3M=\"}}}", "docker.io", "hub", "hubpass"},
    {"{\"auths\":{\"https://registry-1.docker.io/v2/\":{\"auth\":\"aHViOmh1YnBhc3M=\"}}}",
     "docker.io", "hub", "hubpass"},
    {"{\"auths\":{\"index.docker.io\":{\"auth\":\"aHViOmh1YnBhc3M=\"}}}", "docker.io", "hub",
     "hubpass"},
    /* schemes and paths around the host, case-insensitive host names */
    {"{\"auths\":{\"https://ghcr.io\":{\"auth\":\"YTpi\"}}}", "ghcr.io", "a", "b"},
    {"{\"auths\":{\"http://127.0.0.1:5000/v2/\":{\"auth\":\"YTpi\"}}}", "127.0.0.1:5000", "a", "b"},
    {"{\"auths\":{\"GHCR.IO\":{\"auth\":\"YTpi\"}}}", "ghcr.io", "a", "b"},
    /* the exact key wins over a converted one */
    {"{\"auths\":{\"https://ghcr.io/"
     "\":{\"auth\":\"Z2hjcjpB\"},\"ghcr.io\":{\"auth\":\"Z2hjcjpC\"}}}",
     "ghcr.io", "ghcr", "B"},
    /* an empty entry (credentials in a helper) does not hide another one */
    {"{\"auths\":{\"ghcr.io\":{},\"https://ghcr.io/v1/\":{\"auth\":\"YTpi\"}}}", "ghcr.io", "a",
     "b"},
    /* username and password fields; identity tokens */
    {"{\"auths\":{\"quay.io\":{\"username\":\"robot+x\",\"password\":\"p@ss\"}}}", "quay.io",
     "robot+x", "p@ss"},
    {"{\"auths\":{\"quay.io\":{\"username\":\"u\"}}}", "quay.io", "u", ""},
    {"{\"auths\":{\"myacr.azurecr.io\":{\"auth\":\"YTpi\",\"identitytoken\":\"eyJhbGciOi\"}}}",
     "myacr.azurecr.io", OCI_IDENTITY_TOKEN_USER, "eyJhbGciOi"},
    /* "auth" wins over username/password; other members are ignored */
    {"{\"auths\":{\"x.io\":{\"auth\":\"YTpi\",\"username\":\"c\",\"password\":\"d\","
     "\"email\":\"e@x\"}},\"credHelpers\":{\"y.io\":\"pass\"},\"psFormat\":\"table\"}",
     "x.io", "a", "b"},
};

static void
test_docker_config_lookup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(good_configs) / sizeof(good_configs[0]); i++) {
        const struct config_case *c = &good_configs[i];
        struct oci_credentials cred;
        struct bx_err err = BX_ERR_INIT;
        if (oci_docker_config_lookup(c->body, strlen(c->body), c->domain, &cred, &err) != 0)
            fail_msg("case %zu: %s", i, err.msg);
        assert_string_equal(cred.username, c->username);
        assert_string_equal(cred.password, c->password);
    }
}

struct bad_config {
    const char *body;
    const char *domain;
    int rc;
    const char *msg;
};

static void
test_docker_config_errors(void **state)
{
    (void)state;
    char long_auth[2000];
    int n = snprintf(long_auth, sizeof(long_auth), "{\"auths\":{\"x.io\":{\"auth\":\"dTpw");
    for (int i = 0; i < 400; i++)
        n += snprintf(long_auth + n, sizeof(long_auth) - (size_t)n, "cHBw");
    snprintf(long_auth + n, sizeof(long_auth) - (size_t)n, "\"}}}");
    char long_token[1500];
    n = snprintf(long_token, sizeof(long_token), "{\"auths\":{\"x.io\":{\"identitytoken\":\"");
    memset(long_token + n, 't', 1100);
    snprintf(long_token + n + 1100, sizeof(long_token) - (size_t)n - 1100, "\"}}}");
    const struct bad_config cases[] = {
        {"{}", "ghcr.io", BX_ENOENT, "no credentials for ghcr.io"},
        {"{\"auths\":{}}", "ghcr.io", BX_ENOENT, "no credentials"},
        {"{\"auths\":null}", "ghcr.io", BX_ENOENT, "no credentials"},
        {"{\"auths\":{\"ghcr.io.evil.com\":{\"auth\":\"YTpi\"},\"evil.com/ghcr.io\":{\"auth\":"
         "\"YTpi\"},\"localhost:5000\":{\"auth\":\"YTpi\"}}}",
         "ghcr.io", BX_ENOENT, "no credentials"},
        {"{\"auths\":{\"localhost:5000\":{\"auth\":\"YTpi\"}}}", "localhost", BX_ENOENT,
         "no credentials"},
        {"{\"auths\":{\"https://index.docker.io/v1/\":{}},\"credsStore\":\"desktop\"}", "docker.io",
         BX_ENOENT, "credential helpers are not supported"},
        {"{\"auths\":{\"x.io\":{\"auth\":\"!!!!\"}}}", "x.io", BX_EINVAL,
         "auths[\"x.io\"].auth is not base64 of user:password"},
        {"{\"auths\":{\"x.io\":{\"auth\":\"bm9jb2xvbg==\"}}}", "x.io", BX_EINVAL,
         "not base64 of user:password"},
        {"{\"auths\":{\"x.io\":{\"auth\":\"Om5vdXNlcg==\"}}}", "x.io", BX_EINVAL,
         "empty user name"},
        {"{\"auths\":{\"x.io\":{\"auth\":\"YTpi=\"}}}", "x.io", BX_EINVAL, "not base64"},
        {"{\"auths\":{\"x.io\":{\"auth\":\"YTpiY===\"}}}", "x.io", BX_EINVAL, "not base64"},
        {"{\"auths\":{\"x.io\":{\"auth\":\"Y\"}}}", "x.io", BX_EINVAL, "not base64"},
        {"{\"auths\":{\"x.io\":{\"auth\":7}}}", "x.io", BX_EINVAL,
         "auths[\"x.io\"].auth is not a string"},
        {"{\"auths\":{\"x.io\":\"YTpi\"}}", "x.io", BX_EINVAL, "auths[\"x.io\"] is not an object"},
        {"{\"auths\":[]}", "x.io", BX_EINVAL, "auths is not an object"},
        {"[]", "x.io", BX_EINVAL, "the document is not an object"},
        {long_auth, "x.io", BX_EINVAL, "auth is too long"},
        {long_token, "x.io", BX_EINVAL, "identitytoken is too long"},
        {"{\"auths\":{\"x.io\":{\"auth\":\"secretpw\\q\"}}}", "x.io", BX_EINVAL,
         "not valid JSON (line 1"},
        {"{}", "", BX_EINVAL, "missing registry domain"},
        {"", "x.io", BX_EINVAL, "empty"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct oci_credentials cred;
        struct bx_err err = BX_ERR_INIT;
        int rc = oci_docker_config_lookup(cases[i].body, strlen(cases[i].body), cases[i].domain,
                                          &cred, &err);
        if (rc != cases[i].rc || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %d '%s', want %d '...%s...'", i, rc, err.msg, cases[i].rc,
                     cases[i].msg);
        /* Nothing is left behind, and no credential is quoted. */
        assert_string_equal(cred.username, "");
        assert_string_equal(cred.password, "");
        assert_null(strstr(err.msg, "secretpw"));
        assert_null(strstr(err.msg, "YTpi"));
        assert_null(strstr(err.msg, "!!!!"));
    }
    struct oci_credentials cred;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(oci_docker_config_lookup("{}", 2, NULL, &cred, &err), BX_EINVAL);
    assert_int_equal(oci_docker_config_lookup("{}", (1u << 20) + 1, "x.io", &cred, &err),
                     BX_ETOOBIG);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_challenge_parse),
        cmocka_unit_test(test_challenge_malformed),
        cmocka_unit_test(test_docker_config_lookup),
        cmocka_unit_test(test_docker_config_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
