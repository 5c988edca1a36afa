/* Unit tests of oci/manifest.c, oci/index.c and oci/image_config.c: kinds, index selection,
 * manifests, platforms and image configs, with hostile bodies built here as JSON text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "oci/manifest.h"

#define HEX(c) c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c c
#define D_AMD64 "sha256:" HEX("a1")
#define D_ARM64 "sha256:" HEX("a2")
#define D_ARMV7 "sha256:" HEX("a3")
#define D_ATTEST "sha256:" HEX("a4")
#define D_CONFIG "sha256:" HEX("c0")
#define D_L1 "sha256:" HEX("11")
#define D_L2 "sha256:" HEX("22")
#define D_L3 "sha256:" HEX("33")

/* An entry of an index: media type, digest, "os", "architecture", variant or NULL. */
#define ENTRY(mt, d, os, arch)                                                                     \
    "{\"mediaType\":\"" mt "\",\"digest\":\"" d "\",\"size\":1234,"                                \
    "\"platform\":{\"os\":\"" os "\",\"architecture\":\"" arch "\"}}"
#define ENTRY_V(mt, d, os, arch, v)                                                                \
    "{\"mediaType\":\"" mt "\",\"digest\":\"" d "\",\"size\":1234,"                                \
    "\"platform\":{\"os\":\"" os "\",\"architecture\":\"" arch "\",\"variant\":\"" v "\"}}"

/* What Docker Hub serves for an image built by BuildKit with attestations. */
static const char oci_index[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_INDEX
    "\",\"manifests\":[" ENTRY(OCI_MEDIA_TYPE_MANIFEST, D_AMD64, "linux", "amd64") "," ENTRY_V(
        OCI_MEDIA_TYPE_MANIFEST, D_ARM64, "linux", "arm64",
        "v8") "," ENTRY_V(OCI_MEDIA_TYPE_MANIFEST, D_ARMV7, "linux", "arm",
                          "v7") ","
                                "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST
                                "\",\"digest\":\"" D_ATTEST "\",\"size\":566,"
                                "\"annotations\":{\"vnd.docker.reference.digest\":\"" D_AMD64 "\","
                                "\"vnd.docker.reference.type\":\"attestation-manifest\"},"
                                "\"platform\":{\"os\":\"unknown\",\"architecture\":\"unknown\"}}"
                                "]}";

static const char docker_list[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MEDIA_TYPE_LIST
    "\",\"manifests\":[" ENTRY(DOCKER_MEDIA_TYPE_MANIFEST, D_AMD64, "linux", "amd64") "," ENTRY_V(
        DOCKER_MEDIA_TYPE_MANIFEST, D_ARMV7, "linux", "arm",
        "v7") "," ENTRY(DOCKER_MEDIA_TYPE_MANIFEST, D_ARM64, "linux",
                        "arm64") ","
                                 "{\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST
                                 "\",\"digest\":\"" D_ATTEST "\",\"size\":1,"
                                 "\"platform\":{\"os\":\"windows\",\"architecture\":\"amd64\",\"os."
                                 "version\":\"10.0.17763\"}}"
                                 "]}";

#define LAYER(mt, d, size) "{\"mediaType\":\"" mt "\",\"digest\":\"" d "\",\"size\":" size "}"

static const char oci_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\","
    "\"config\":" LAYER(OCI_MEDIA_TYPE_CONFIG, D_CONFIG, "1470") ",\"layers\":[" LAYER(
        OCI_MEDIA_TYPE_LAYER_GZIP, D_L1,
        "29126484") "," LAYER(OCI_MEDIA_TYPE_LAYER_ZSTD, D_L2,
                              "0") "," LAYER(OCI_MEDIA_TYPE_LAYER, D_L3,
                                             "9007199254740993") "],"
                                                                 "\"annotations\":{\"org."
                                                                 "opencontainers.image.created\":"
                                                                 "\"2026-01-01T00:00:00Z\"}}";

static const char docker_manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"" DOCKER_MEDIA_TYPE_MANIFEST "\","
    "\"config\":" LAYER(DOCKER_MEDIA_TYPE_CONFIG, D_CONFIG, "7023") ",\"layers\":[" LAYER(
        DOCKER_MEDIA_TYPE_LAYER_GZIP, D_L1,
        "1") "," LAYER(DOCKER_MEDIA_TYPE_FOREIGN_LAYER, D_L2,
                       "2") "," LAYER(OCI_MEDIA_TYPE_LAYER_NONDIST_GZIP, D_L3,
                                      "3") "," LAYER("application/"
                                                     "vnd.oci.image.layer.nondistributable.v1.tar+"
                                                     "zstd",
                                                     D_L3, "4") "," LAYER("application/"
                                                                          "vnd.docker.image.rootfs."
                                                                          "diff.tar",
                                                                          D_L3, "5") "]}";

static const char schema1[] =
    "{\"schemaVersion\":1,\"name\":\"library/python\",\"tag\":\"3\",\"architecture\":\"amd64\","
    "\"fsLayers\":[{\"blobSum\":\"" D_L1 "\"}],\"history\":[],\"signatures\":[]}";

/* ---- kinds ---- */

struct kind_case {
    const char *content_type;
    const char *body;
    int rc;
    enum oci_manifest_kind kind;
    const char *msg;
};

static void
test_manifest_kind_of(void **state)
{
    (void)state;
    const struct kind_case cases[] = {
        {OCI_MEDIA_TYPE_INDEX, "", 0, OCI_KIND_INDEX, NULL},
        {DOCKER_MEDIA_TYPE_LIST, "", 0, OCI_KIND_INDEX, NULL},
        {OCI_MEDIA_TYPE_MANIFEST, "", 0, OCI_KIND_MANIFEST, NULL},
        {DOCKER_MEDIA_TYPE_MANIFEST, "", 0, OCI_KIND_MANIFEST, NULL},
        {" " OCI_MEDIA_TYPE_INDEX " ; charset=utf-8", "", 0, OCI_KIND_INDEX, NULL},
        {"Application/Vnd.Docker.Distribution.Manifest.V2+JSON", "", 0, OCI_KIND_MANIFEST, NULL},
        {DOCKER_MEDIA_TYPE_SCHEMA1, "", BX_EUNSUPPORTED, 0, "schema 1 manifests are not supported"},
        {DOCKER_MEDIA_TYPE_SCHEMA1_SIGNED, "", BX_EUNSUPPORTED, 0, "schema 1"},
        {"text/html", oci_index, BX_EINVAL, 0, "unknown manifest Content-Type 'text/html'"},
        /* Generic or missing types: the body decides. */
        {"application/json", oci_index, 0, OCI_KIND_INDEX, NULL},
        {"application/json; charset=utf-8", docker_manifest, 0, OCI_KIND_MANIFEST, NULL},
        {"text/plain", docker_list, 0, OCI_KIND_INDEX, NULL},
        {NULL, oci_manifest, 0, OCI_KIND_MANIFEST, NULL},
        {"", oci_manifest, 0, OCI_KIND_MANIFEST, NULL},
        {NULL, schema1, BX_EUNSUPPORTED, 0, "schema 1 manifests are not supported"},
        {NULL, "{\"fsLayers\":[]}", BX_EUNSUPPORTED, 0, "schema 1"},
        {NULL, "{\"schemaVersion\":2,\"manifests\":[]}", 0, OCI_KIND_INDEX, NULL},
        {NULL, "{\"schemaVersion\":2,\"config\":{},\"layers\":[]}", 0, OCI_KIND_MANIFEST, NULL},
        {NULL, "{\"manifests\":[],\"layers\":[]}", BX_EINVAL, 0, "both manifests and layers"},
        {NULL, "{\"schemaVersion\":2}", BX_EINVAL, 0, "neither manifests nor layers"},
        {NULL, "{\"layers\":{}}", BX_EINVAL, 0, "neither"},
        {NULL, "{\"mediaType\":\"application/vnd.oci.image.config.v1+json\"}", BX_EINVAL, 0,
         "unknown manifest mediaType"},
        {NULL, "{\"mediaType\":7}", BX_EINVAL, 0, "mediaType is an integer, not a string"},
        {NULL, "{\"mediaType\":\"" DOCKER_MEDIA_TYPE_SCHEMA1 "\"}", BX_EUNSUPPORTED, 0, "schema 1"},
        {NULL, "[]", BX_EINVAL, 0, "not a JSON object"},
        {NULL, "{", BX_EINVAL, 0, "not valid JSON"},
        {NULL, "", BX_EINVAL, 0, "empty"},
        {NULL, "{\"layers\":[],\"layers\":[]}", BX_EINVAL, 0, "duplicate"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct kind_case *c = &cases[i];
        enum oci_manifest_kind kind = (enum oci_manifest_kind) - 1;
        struct bx_err err = BX_ERR_INIT;
        int rc = oci_manifest_kind_of(c->content_type, c->body, strlen(c->body), &kind, &err);
        if (rc != c->rc || (rc == 0 && kind != c->kind) || (c->msg && !strstr(err.msg, c->msg)))
            fail_msg("case %zu (%s): got %d kind %d '%s'", i, c->content_type, rc, kind, err.msg);
    }
}

/* ---- index selection ---- */

static int
select_str(const char *body, const char *platform, struct oci_descriptor *d, struct bx_err *err)
{
    struct oci_platform want;
    assert_int_equal(oci_platform_parse(platform, &want, err), 0);
    return oci_index_select(body, strlen(body), &want, d, err);
}

static void
test_index_select_oci(void **state)
{
    (void)state;
    static const struct {
        const char *platform, *digest;
    } cases[] = {
        {"linux/amd64", D_AMD64},    {"linux/x86_64", D_AMD64},  {"linux/arm64", D_ARM64},
        {"linux/arm64/v8", D_ARM64}, {"linux/aarch64", D_ARM64}, {"linux/arm/v7", D_ARMV7},
        {"linux/arm", D_ARMV7},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct oci_descriptor d;
        struct bx_err err = BX_ERR_INIT;
        if (select_str(oci_index, cases[i].platform, &d, &err) != 0)
            fail_msg("%s: %s", cases[i].platform, err.msg);
        assert_string_equal(d.digest, cases[i].digest);
        assert_string_equal(d.media_type, OCI_MEDIA_TYPE_MANIFEST);
        assert_int_equal(d.size, 1234);
    }
}

static void
test_index_select_missing_lists_offered(void **state)
{
    (void)state;
    static const char *const missing[] = {"linux/s390x", "linux/arm/v6", "windows/amd64",
                                          "linux/arm64/v9", "unknown/unknown"};
    for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
        struct oci_descriptor d;
        struct bx_err err = BX_ERR_INIT;
        assert_int_equal(select_str(oci_index, missing[i], &d, &err), BX_ENOENT);
        assert_int_equal(err.code, BX_ENOENT);
        assert_non_null(strstr(err.msg, missing[i]));
        assert_non_null(strstr(err.msg, "offers linux/amd64, linux/arm64/v8, linux/arm/v7"));
        assert_null(strstr(err.msg, "unknown/unknown,"));
        assert_string_equal(d.digest, "");
    }
}

static void
test_index_select_docker_list(void **state)
{
    (void)state;
    struct oci_descriptor d;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(select_str(docker_list, "linux/amd64", &d, &err), 0);
    assert_string_equal(d.digest, D_AMD64);
    assert_string_equal(d.media_type, DOCKER_MEDIA_TYPE_MANIFEST);
    /* arm64 listed without a variant serves arm64/v8. */
    assert_int_equal(select_str(docker_list, "linux/arm64/v8", &d, &err), 0);
    assert_string_equal(d.digest, D_ARM64);
    assert_int_equal(select_str(docker_list, "windows/amd64", &d, &err), 0);
    assert_string_equal(d.digest, D_ATTEST);
    assert_int_equal(select_str(docker_list, "linux/ppc64le", &d, &err), BX_ENOENT);
    assert_non_null(strstr(err.msg, "linux/amd64, linux/arm/v7, linux/arm64, windows/amd64"));
}

/* An entry without a variant is preferred when none is asked for; an exact variant when one
 * is. */
static void
test_index_select_prefers(void **state)
{
    (void)state;
    static const char body[] = "{\"schemaVersion\":2,\"manifests\":[" ENTRY_V(
        OCI_MEDIA_TYPE_MANIFEST, D_L1, "linux", "amd64",
        "v3") "," ENTRY_V(OCI_MEDIA_TYPE_MANIFEST, D_ARM64, "linux", "arm64",
                          "v8") "," ENTRY(OCI_MEDIA_TYPE_MANIFEST, D_AMD64, "linux",
                                          "amd64") "," ENTRY(OCI_MEDIA_TYPE_MANIFEST, D_L2, "linux",
                                                             "arm64") ","
        /* a nested index or an entry without a platform is never chosen */
        ENTRY(OCI_MEDIA_TYPE_INDEX, D_L3, "linux",
              "riscv64") ","
                         "{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST "\",\"digest\":\"" D_L3
                         "\",\"size\":1}]}";
    struct oci_descriptor d;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(select_str(body, "linux/amd64", &d, &err), 0);
    assert_string_equal(d.digest, D_AMD64);
    assert_int_equal(select_str(body, "linux/amd64/v3", &d, &err), 0);
    assert_string_equal(d.digest, D_L1);
    assert_int_equal(select_str(body, "linux/arm64", &d, &err), 0);
    assert_string_equal(d.digest, D_L2);
    assert_int_equal(select_str(body, "linux/arm64/v8", &d, &err), 0);
    assert_string_equal(d.digest, D_ARM64);
    assert_int_equal(select_str(body, "linux/riscv64", &d, &err), BX_ENOENT);
}

static void
test_index_select_offered_truncated(void **state)
{
    (void)state;
    char body[8192];
    size_t n = (size_t)snprintf(body, sizeof(body), "{\"schemaVersion\":2,\"manifests\":[");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n,
                              "%s{\"mediaType\":\"%s\",\"digest\":\"%s\",\"size\":1,"
                              "\"platform\":{\"os\":\"linux\",\"architecture\":\"arch%d\"}}",
                              i ? "," : "", OCI_MEDIA_TYPE_MANIFEST, D_L1, i);
    snprintf(body + n, sizeof(body) - n, "]}");
    struct oci_descriptor d;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(select_str(body, "linux/amd64", &d, &err), BX_ENOENT);
    assert_non_null(strstr(err.msg, "linux/arch0, linux/arch1"));
    assert_non_null(strstr(err.msg, ", ..."));

    static const char only_attest[] = "{\"schemaVersion\":2,\"manifests\":[" ENTRY(
        OCI_MEDIA_TYPE_MANIFEST, D_ATTEST, "unknown", "unknown") "]}";
    assert_int_equal(select_str(only_attest, "linux/amd64", &d, &err), BX_ENOENT);
    assert_non_null(strstr(err.msg, "offers no platform"));
}

struct bad_case {
    const char *body;
    int rc;
    const char *msg;
};

static void
test_index_select_hostile(void **state)
{
    (void)state;
    const struct bad_case cases[] = {
        {schema1, BX_EUNSUPPORTED, "schema 1 manifests are not supported"},
        {oci_manifest, BX_EINVAL, "is not an index"},
        {"{\"schemaVersion\":2}", BX_EINVAL, "manifests is missing"},
        {"{\"schemaVersion\":2,\"manifests\":{}}", BX_EINVAL,
         "manifests is an object, not an array"},
        {"{\"schemaVersion\":2,\"manifests\":[1]}", BX_EINVAL, "manifests[0] is an integer"},
        {"{\"schemaVersion\":\"2\",\"manifests\":[]}", BX_EINVAL, "schemaVersion is a string"},
        {"{\"schemaVersion\":3,\"manifests\":[]}", BX_EINVAL, "schemaVersion 3 is not 2"},
        {"{\"schemaVersion\":2,\"manifests\":[" ENTRY(
             OCI_MEDIA_TYPE_MANIFEST, D_AMD64, "linux",
             "amd64") "," ENTRY(OCI_MEDIA_TYPE_MANIFEST, "sha256:xyz", "linux", "arm64") "]}",
         BX_EINVAL, "manifests[1].digest: invalid sha256 digest"},
        {"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST
         "\",\"digest\":\"" D_AMD64 "\",\"size\":-1}]}",
         BX_EINVAL, "manifests[0].size is negative"},
        {"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST
         "\",\"digest\":\"" D_AMD64 "\",\"size\":1,\"platform\":\"linux/amd64\"}]}",
         BX_EINVAL, "manifests[0].platform is a string, not an object"},
        {"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" OCI_MEDIA_TYPE_MANIFEST
         "\",\"digest\":\"" D_AMD64 "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}]}",
         BX_EINVAL, "manifests[0].platform.architecture is missing"},
        {"{\"schemaVersion\":2,\"manifests\":[" ENTRY(OCI_MEDIA_TYPE_MANIFEST, D_AMD64, "linux",
                                                      "amd64amd64amd64amd64amd64amd64amd64") "]}",
         BX_EINVAL, "manifests[0].platform.architecture is 35 characters long"},
        {"{\"schemaVersion\":2,\"manifests\":[],\"manifests\":[]}", BX_EINVAL, "duplicate"},
        {"{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"" D_AMD64 "\",\"size\":1}]}", BX_EINVAL,
         "manifests[0].mediaType is missing"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct oci_descriptor d;
        struct bx_err err = BX_ERR_INIT;
        int rc = select_str(cases[i].body, "linux/amd64", &d, &err);
        if (rc != cases[i].rc || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %d '%s', want '...%s...'", i, rc, err.msg, cases[i].msg);
        assert_string_equal(d.digest, "");
    }
}

static void
test_index_select_too_many(void **state)
{
    (void)state;
    size_t size = 3000 * 256;
    char *body = malloc(size);
    assert_non_null(body);
    size_t n = (size_t)snprintf(body, size, "{\"schemaVersion\":2,\"manifests\":[");
    for (int i = 0; i < 3000; i++)
        n += (size_t)snprintf(body + n, size - n,
                              "%s" ENTRY(OCI_MEDIA_TYPE_MANIFEST, D_L1, "linux", "amd64"),
                              i ? "," : "");
    snprintf(body + n, size - n, "]}");
    struct oci_descriptor d;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(select_str(body, "linux/amd64", &d, &err), BX_ETOOBIG);
    assert_non_null(strstr(err.msg, "3000 manifests, more than"));
    free(body);
}

/* ---- manifests ---- */

static int
parse_str(const char *body, struct oci_manifest *m, struct bx_err *err)
{
    return oci_manifest_parse(body, strlen(body), m, err);
}

static void
test_manifest_parse_oci(void **state)
{
    (void)state;
    struct oci_manifest m;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(parse_str(oci_manifest, &m, &err), 0);
    assert_string_equal(m.config.media_type, OCI_MEDIA_TYPE_CONFIG);
    assert_string_equal(m.config.digest, D_CONFIG);
    assert_int_equal(m.config.size, 1470);
    assert_int_equal(m.n_layers, 3);
    assert_string_equal(m.layers[0].desc.digest, D_L1);
    assert_int_equal(m.layers[0].desc.size, 29126484);
    assert_int_equal(m.layers[0].compression, OCI_COMPRESSION_GZIP);
    assert_int_equal(m.layers[1].compression, OCI_COMPRESSION_ZSTD);
    assert_int_equal(m.layers[1].desc.size, 0);
    assert_int_equal(m.layers[2].compression, OCI_COMPRESSION_NONE);
    assert_true(m.layers[2].desc.size == INT64_C(9007199254740993));
    oci_manifest_release(&m);
    assert_null(m.layers);
    oci_manifest_release(&m);
}

static void
test_manifest_parse_docker(void **state)
{
    (void)state;
    struct oci_manifest m;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(parse_str(docker_manifest, &m, &err), 0);
    assert_string_equal(m.config.media_type, DOCKER_MEDIA_TYPE_CONFIG);
    assert_int_equal(m.n_layers, 5);
    static const enum oci_compression want[] = {OCI_COMPRESSION_GZIP, OCI_COMPRESSION_GZIP,
                                                OCI_COMPRESSION_GZIP, OCI_COMPRESSION_ZSTD,
                                                OCI_COMPRESSION_NONE};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(m.layers[i].compression, want[i]);
        assert_int_equal(m.layers[i].desc.size, (int64_t)i + 1);
    }
    oci_manifest_release(&m);

    /* No mediaType (allowed by OCI) and no layers (FROM scratch with only a CMD). */
    static const char bare[] = "{\"schemaVersion\":2,\"config\":" LAYER(
        OCI_MEDIA_TYPE_CONFIG, D_CONFIG, "2") ",\"layers\":[]}";
    assert_int_equal(parse_str(bare, &m, &err), 0);
    assert_int_equal(m.n_layers, 0);
    assert_null(m.layers);
    oci_manifest_release(&m);
}

#define MANIFEST_WITH_LAYERS(layers)                                                               \
    "{\"schemaVersion\":2,\"config\":" LAYER(OCI_MEDIA_TYPE_CONFIG, D_CONFIG,                      \
                                             "2") ",\"layers\":" layers "}"

static void
test_manifest_parse_hostile(void **state)
{
    (void)state;
    const struct bad_case cases[] = {
        {schema1, BX_EUNSUPPORTED, "schema 1 manifests are not supported"},
        {oci_index, BX_EINVAL, "is not an image manifest"},
        {"{\"config\":{},\"layers\":[]}", BX_EINVAL, "schemaVersion is missing"},
        {"{\"schemaVersion\":2,\"layers\":[]}", BX_EINVAL, "config is missing"},
        {"{\"schemaVersion\":2,\"config\":[],\"layers\":[]}", BX_EINVAL,
         "config is an array, not an object"},
        {"{\"schemaVersion\":2,\"config\":" LAYER(OCI_MEDIA_TYPE_CONFIG, D_CONFIG, "2") "}",
         BX_EINVAL, "layers is missing"},
        {MANIFEST_WITH_LAYERS("{}"), BX_EINVAL, "layers is an object, not an array"},
        {MANIFEST_WITH_LAYERS("[\"" D_L1 "\"]"), BX_EINVAL, "layers[0] is a string"},
        {MANIFEST_WITH_LAYERS("[" LAYER(OCI_MEDIA_TYPE_LAYER_GZIP, D_L1, "1") "," LAYER(
             OCI_MEDIA_TYPE_LAYER_GZIP, "sha256:xyz", "1") "]"),
         BX_EINVAL, "layers[1].digest: invalid sha256 digest"},
        {MANIFEST_WITH_LAYERS("[" LAYER(OCI_MEDIA_TYPE_LAYER_GZIP, "sha256:" HEX("AB"), "1") "]"),
         BX_EINVAL, "layers[0].digest: invalid sha256 digest"},
        {MANIFEST_WITH_LAYERS(
             "[" LAYER(OCI_MEDIA_TYPE_LAYER_GZIP, "sha512:" HEX("ab") HEX("ab"), "1") "]"),
         BX_EUNSUPPORTED, "layers[0].digest: unsupported digest algorithm"},
        {MANIFEST_WITH_LAYERS("[{\"mediaType\":\"" OCI_MEDIA_TYPE_LAYER "\",\"size\":1}]"),
         BX_EINVAL, "layers[0].digest is missing"},
        {MANIFEST_WITH_LAYERS("[" LAYER(OCI_MEDIA_TYPE_LAYER_GZIP, D_L1, "-5") "]"), BX_EINVAL,
         "layers[0].size is negative"},
        {MANIFEST_WITH_LAYERS("[" LAYER(OCI_MEDIA_TYPE_LAYER_GZIP, D_L1, "\"5\"") "]"), BX_EINVAL,
         "layers[0].size is a string, not an integer"},
        {MANIFEST_WITH_LAYERS("[" LAYER(OCI_MEDIA_TYPE_LAYER_GZIP, D_L1, "1.5") "]"), BX_EINVAL,
         "layers[0].size is a number, not an integer"},
        {MANIFEST_WITH_LAYERS("[" LAYER(OCI_MEDIA_TYPE_LAYER_GZIP, D_L1, "1e30") "]"), BX_EINVAL,
         "layers[0].size is a number"},
        {MANIFEST_WITH_LAYERS(
             "[" LAYER(OCI_MEDIA_TYPE_LAYER_GZIP, D_L1, "99999999999999999999999") "]"),
         BX_EINVAL, "not valid JSON"},
        {MANIFEST_WITH_LAYERS("[" LAYER(OCI_MEDIA_TYPE_LAYER_GZIP, D_L1, "null") "]"), BX_EINVAL,
         "layers[0].size is missing"},
        {MANIFEST_WITH_LAYERS("[{\"mediaType\":\"x\",\"mediaType\":\"y\"}]"), BX_EINVAL,
         "duplicate"},
        {MANIFEST_WITH_LAYERS("[" LAYER("application/vnd.in-toto+json", D_L1, "1") "]"),
         BX_EUNSUPPORTED, "layers[0].mediaType 'application/vnd.in-toto+json' is not a supported"},
        {MANIFEST_WITH_LAYERS(
             "[" LAYER("application/vnd.oci.image.layer.v1.tar+gzip\\u0000", D_L1, "1") "]"),
         BX_EINVAL, "not valid JSON"},
        {MANIFEST_WITH_LAYERS("[" LAYER(HEX("mt") HEX("mt") HEX("mt") HEX("mt"), D_L1, "1") "]"),
         BX_EINVAL, "layers[0].mediaType is 256 characters long"},
        {"{\"schemaVersion\":2,\"config\":" LAYER("application/vnd.cncf.helm.config.v1+json",
                                                  D_CONFIG, "2") ",\"layers\":[]}",
         BX_EUNSUPPORTED, "config.mediaType 'application/vnd.cncf.helm.config.v1+json'"},
        {"[]", BX_EINVAL, "not a JSON object"},
        {"", BX_EINVAL, "manifest: body is empty"},
        {"{\"schemaVersion\":2} trailing", BX_EINVAL, "not valid JSON"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct oci_manifest m;
        struct bx_err err = BX_ERR_INIT;
        int rc = parse_str(cases[i].body, &m, &err);
        if (rc != cases[i].rc || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %d '%s', want '...%s...'", i, rc, err.msg, cases[i].msg);
        assert_true(strncmp(err.msg, "manifest", 8) == 0);
        assert_null(m.layers);
        assert_int_equal(m.n_layers, 0);
    }
}

static char *
manifest_with_n_layers(size_t count)
{
    size_t size = 256 + count * 256;
    char *body = malloc(size);
    assert_non_null(body);
    size_t n = (size_t)snprintf(body, size,
                                "{\"schemaVersion\":2,\"config\":" LAYER(
                                    OCI_MEDIA_TYPE_CONFIG, D_CONFIG, "2") ",\"layers\":[");
    for (size_t i = 0; i < count; i++)
        n += (size_t)snprintf(body + n, size - n,
                              "%s" LAYER(OCI_MEDIA_TYPE_LAYER_GZIP, D_L1, "%zu"), i ? "," : "", i);
    snprintf(body + n, size - n, "]}");
    return body;
}

static void
test_manifest_parse_bounds(void **state)
{
    (void)state;
    struct oci_manifest m;
    struct bx_err err = BX_ERR_INIT;
    char *body = manifest_with_n_layers(OCI_MAX_LAYERS);
    assert_int_equal(parse_str(body, &m, &err), 0);
    assert_int_equal(m.n_layers, OCI_MAX_LAYERS);
    oci_manifest_release(&m);
    free(body);

    body = manifest_with_n_layers(10000);
    assert_int_equal(parse_str(body, &m, &err), BX_ETOOBIG);
    assert_non_null(strstr(err.msg, "10000 layers, more than 256"));
    assert_null(m.layers);
    free(body);

    /* Over the size bound: refused before parsing. */
    size_t big = OCI_MANIFEST_MAX_BYTES + 1;
    body = malloc(big);
    assert_non_null(body);
    memset(body, ' ', big);
    assert_int_equal(oci_manifest_parse(body, big, &m, &err), BX_ETOOBIG);

    /* Within the size bound, but a million tiny values. */
    size_t n = 0;
    n += (size_t)snprintf(body, big, "{\"schemaVersion\":2,\"x\":[");
    while (n + 4 < OCI_MANIFEST_MAX_BYTES - 4)
        body[n++] = '0', body[n++] = ',';
    memcpy(body + n, "0]}", 3);
    n += 3;
    assert_int_equal(oci_manifest_parse(body, n, &m, &err), BX_ETOOBIG);
    assert_non_null(strstr(err.msg, "more than 100000 JSON values"));

    /* Deep nesting: jansson's depth limit, no stack overflow. */
    n = 0;
    for (int i = 0; i < 50000; i++)
        body[n++] = '[';
    assert_int_equal(oci_manifest_parse(body, n, &m, &err), BX_EINVAL);
    free(body);
}

/* ---- platforms ---- */

static void
test_platform_parse(void **state)
{
    (void)state;
    static const struct {
        const char *in, *os, *arch, *variant;
    } good[] = {
        {"linux/amd64", "linux", "amd64", ""},     {"linux/arm64/v8", "linux", "arm64", "v8"},
        {"linux/x86_64", "linux", "amd64", ""},    {"linux/aarch64", "linux", "arm64", ""},
        {"windows/amd64", "windows", "amd64", ""}, {"linux/ppc64le", "linux", "ppc64le", ""},
        {"linux/386", "linux", "386", ""},
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        struct oci_platform p;
        struct bx_err err = BX_ERR_INIT;
        assert_int_equal(oci_platform_parse(good[i].in, &p, &err), 0);
        assert_string_equal(p.os, good[i].os);
        assert_string_equal(p.architecture, good[i].arch);
        assert_string_equal(p.variant, good[i].variant);
    }
    static const char *const bad[] = {
        "",
        "linux",
        "linux/",
        "/amd64",
        "linux//v8",
        "linux/amd64/v8/x",
        "Linux/amd64",
        "linux/amd 64",
        "linux/amd64/",
        "linux/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct oci_platform p;
        struct bx_err err = BX_ERR_INIT;
        if (oci_platform_parse(bad[i], &p, &err) != BX_EINVAL)
            fail_msg("'%s' parsed", bad[i]);
        assert_non_null(strstr(err.msg, "invalid platform"));
        assert_string_equal(p.os, "");
    }
}

/* ---- image configs ---- */

static const char image_config[] =
    "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2026-01-01T00:00:00Z\","
    "\"config\":{\"Env\":[\"PATH=/usr/local/bin:/usr/bin\",\"LANG=C.UTF-8\","
    "\"PYTHON_VERSION=3.12.1\"],\"Entrypoint\":null,\"Cmd\":[\"python3\"],"
    "\"WorkingDir\":\"/app\",\"Labels\":{\"a\":\"b\"}},"
    "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D_L1 "\",\"" D_L2 "\"]},"
    "\"history\":[{\"created_by\":\"/bin/sh -c #(nop) CMD [\\\"python3\\\"]\","
    "\"empty_layer\":true}]}";

static void
test_image_config_parse(void **state)
{
    (void)state;
    struct oci_image_config c;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(oci_image_config_parse(image_config, strlen(image_config), &c, &err), 0);
    assert_string_equal(c.os, "linux");
    assert_string_equal(c.architecture, "amd64");
    assert_non_null(c.env);
    assert_string_equal(c.env[0], "PATH=/usr/local/bin:/usr/bin");
    assert_string_equal(c.env[2], "PYTHON_VERSION=3.12.1");
    assert_null(c.env[3]);
    assert_string_equal(c.working_dir, "/app");
    assert_null(c.user);
    assert_null(c.entrypoint);
    assert_non_null(c.cmd);
    assert_string_equal(c.cmd[0], "python3");
    assert_null(c.cmd[1]);
    assert_int_equal(c.n_diff_ids, 2);
    oci_image_config_release(&c);
    assert_null(c.env);
    oci_image_config_release(&c);

    static const char minimal[] = "{\"architecture\":\"arm64\",\"os\":\"linux\","
                                  "\"config\":{\"User\":\"65534\",\"WorkingDir\":\"\","
                                  "\"Entrypoint\":[\"/bin/sh\",\"-c\"],\"Cmd\":[]},"
                                  "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
    assert_int_equal(oci_image_config_parse(minimal, strlen(minimal), &c, &err), 0);
    assert_string_equal(c.user, "65534");
    assert_string_equal(c.working_dir, "");
    assert_string_equal(c.entrypoint[1], "-c");
    assert_non_null(c.cmd);
    assert_null(c.cmd[0]);
    assert_null(c.env);
    assert_int_equal(c.n_diff_ids, 0);
    oci_image_config_release(&c);

    static const char no_config[] = "{\"rootfs\":{\"diff_ids\":[\"" D_L1 "\"]}}";
    assert_int_equal(oci_image_config_parse(no_config, strlen(no_config), &c, &err), 0);
    assert_null(c.env);
    assert_null(c.cmd);
    assert_string_equal(c.os, "");
    assert_int_equal(c.n_diff_ids, 1);
    oci_image_config_release(&c);
}

#define CONFIG_WITH(config) "{\"config\":" config ",\"rootfs\":{\"diff_ids\":[]}}"

static void
test_image_config_hostile(void **state)
{
    (void)state;
    const struct bad_case cases[] = {
        {CONFIG_WITH("{\"Env\":\"PATH=/bin\"}"), BX_EINVAL, "config.Env is a string, not an array"},
        {CONFIG_WITH("{\"Env\":[\"A=1\",2]}"), BX_EINVAL, "config.Env[1] is not a string"},
        {CONFIG_WITH("{\"Cmd\":\"python3\"}"), BX_EINVAL, "config.Cmd is a string"},
        {CONFIG_WITH("{\"Entrypoint\":[null]}"), BX_EINVAL, "config.Entrypoint[0] is not a string"},
        {CONFIG_WITH("{\"WorkingDir\":[]}"), BX_EINVAL, "config.WorkingDir is an array"},
        {CONFIG_WITH("{\"User\":0}"), BX_EINVAL, "config.User is an integer"},
        {CONFIG_WITH("[]"), BX_EINVAL, "config is an array, not an object"},
        {CONFIG_WITH("{\"Env\":[\"A=1\"],\"Env\":[]}"), BX_EINVAL, "duplicate"},
        {"{\"config\":{}}", BX_EINVAL, "rootfs is missing"},
        {"{\"rootfs\":{}}", BX_EINVAL, "rootfs.diff_ids is missing"},
        {"{\"rootfs\":{\"diff_ids\":[\"" D_L1 "\",\"sha256:abc\"]}}", BX_EINVAL,
         "rootfs.diff_ids[1]: invalid sha256 digest"},
        {"{\"rootfs\":{\"diff_ids\":[7]}}", BX_EINVAL, "rootfs.diff_ids[0] is not a string"},
        {"{\"os\":[],\"rootfs\":{\"diff_ids\":[]}}", BX_EINVAL, "os is an array"},
        {"{\"os\":\"linuxlinuxlinuxlinuxlinuxlinuxlinux\",\"rootfs\":{\"diff_ids\":[]}}", BX_EINVAL,
         "os is 35 characters long"},
        {"7", BX_EINVAL, "not valid JSON"},
        {"[]", BX_EINVAL, "body is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct oci_image_config c;
        struct bx_err err = BX_ERR_INIT;
        int rc = oci_image_config_parse(cases[i].body, strlen(cases[i].body), &c, &err);
        if (rc != cases[i].rc || !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: got %d '%s', want '...%s...'", i, rc, err.msg, cases[i].msg);
        assert_true(strncmp(err.msg, "image config: ", 14) == 0);
        assert_null(c.env);
        assert_null(c.working_dir);
    }
}

static void
test_image_config_bounds(void **state)
{
    (void)state;
    size_t size = 5000 * 16 + 256;
    char *body = malloc(size);
    assert_non_null(body);
    size_t n = (size_t)snprintf(body, size, "{\"config\":{\"Cmd\":[\"x\"],\"Env\":[");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(body + n, size - n, "%s\"K%d=v\"", i ? "," : "", i);
    n += (size_t)snprintf(body + n, size - n, "]},\"rootfs\":{\"diff_ids\":[]}}");
    struct oci_image_config c;
    struct bx_err err = BX_ERR_INIT;
    assert_int_equal(oci_image_config_parse(body, n, &c, &err), BX_ETOOBIG);
    assert_non_null(strstr(err.msg, "config.Env has 5000 entries"));
    assert_null(c.cmd);
    free(body);
    assert_int_equal(oci_image_config_parse("{}", OCI_CONFIG_MAX_BYTES + 1, &c, &err), BX_ETOOBIG);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_manifest_kind_of),
        cmocka_unit_test(test_index_select_oci),
        cmocka_unit_test(test_index_select_missing_lists_offered),
        cmocka_unit_test(test_index_select_docker_list),
        cmocka_unit_test(test_index_select_prefers),
        cmocka_unit_test(test_index_select_offered_truncated),
        cmocka_unit_test(test_index_select_hostile),
        cmocka_unit_test(test_index_select_too_many),
        cmocka_unit_test(test_manifest_parse_oci),
        cmocka_unit_test(test_manifest_parse_docker),
        cmocka_unit_test(test_manifest_parse_hostile),
        cmocka_unit_test(test_manifest_parse_bounds),
        cmocka_unit_test(test_platform_parse),
        cmocka_unit_test(test_image_config_parse),
        cmocka_unit_test(test_image_config_hostile),
        cmocka_unit_test(test_image_config_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
