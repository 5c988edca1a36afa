/* Manifests, indexes and image configs: OCI and Docker v2 schema 2, parsed with jansson.
 *
 * Registries answer a manifest GET with whatever type they stored (docker-registry even answers
 * 404 when that type is missing from Accept), so a client always sends OCI_MANIFEST_ACCEPT and
 * branches on the Content-Type, falling back to the body's mediaType when the header says
 * nothing useful. Schema 1 is refused. Every parser bounds what it accepts (layer count, string
 * lengths) and treats the body as hostile: a body over its byte bound, or with more JSON values
 * than any image document has (100,000), is BX_ETOOBIG before it is parsed; duplicate keys are
 * BX_EINVAL; errors name the offending member. Pure functions, thread-safe.
 */
#ifndef BOXER_OCI_MANIFEST_H
#define BOXER_OCI_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "oci/digest.h"

#define OCI_MEDIA_TYPE_INDEX "application/vnd.oci.image.index.v1+json"
#define OCI_MEDIA_TYPE_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define OCI_MEDIA_TYPE_CONFIG "application/vnd.oci.image.config.v1+json"
#define OCI_MEDIA_TYPE_LAYER "application/vnd.oci.image.layer.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define OCI_MEDIA_TYPE_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define OCI_MEDIA_TYPE_LAYER_NONDIST_GZIP                                                          \
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
#define DOCKER_MEDIA_TYPE_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define DOCKER_MEDIA_TYPE_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define DOCKER_MEDIA_TYPE_SCHEMA1 "application/vnd.docker.distribution.manifest.v1+json"
#define DOCKER_MEDIA_TYPE_SCHEMA1_SIGNED "application/vnd.docker.distribution.manifest.v1+prettyjws"
#define DOCKER_MEDIA_TYPE_CONFIG "application/vnd.docker.container.image.v1+json"
#define DOCKER_MEDIA_TYPE_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define DOCKER_MEDIA_TYPE_FOREIGN_LAYER "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/* The Accept header of every manifest request. */
#define OCI_MANIFEST_ACCEPT                                                                        \
    OCI_MEDIA_TYPE_INDEX ", " OCI_MEDIA_TYPE_MANIFEST ", " DOCKER_MEDIA_TYPE_LIST                  \
                         ", " DOCKER_MEDIA_TYPE_MANIFEST

/* Bounds on what a registry may send. */
#define OCI_MANIFEST_MAX_BYTES (4u << 20)
#define OCI_CONFIG_MAX_BYTES (8u << 20)
#define OCI_MAX_LAYERS 256

enum oci_manifest_kind {
    OCI_KIND_INDEX,    /* an OCI index or a Docker manifest list */
    OCI_KIND_MANIFEST, /* an OCI manifest or a Docker v2 manifest */
};

enum oci_compression {
    OCI_COMPRESSION_NONE,
    OCI_COMPRESSION_GZIP,
    OCI_COMPRESSION_ZSTD,
};

struct oci_descriptor {
    char media_type[128];
    char digest[OCI_DIGEST_MAX];
    int64_t size; /* >= 0 */
};

struct oci_layer {
    struct oci_descriptor desc;
    enum oci_compression compression;
};

struct oci_manifest {
    struct oci_descriptor config;
    struct oci_layer *layers; /* owned */
    size_t n_layers;
};

struct oci_platform {
    char os[32];           /* "linux" */
    char architecture[32]; /* "amd64", "arm64" */
    char variant[32];      /* "" or "v8", "v7" */
};

/* Which kind a manifest body is. `content_type` (may be NULL; parameters after ';' are ignored;
 * compared case-insensitively) decides; when it is missing or generic (application/json,
 * text/plain, application/octet-stream), the body's mediaType, else its shape ("manifests" or
 * "layers"), decides. Schema 1 is BX_EUNSUPPORTED ("schema 1 manifests are not supported");
 * anything else unknown is BX_EINVAL. When the Content-Type decides, the body is not read. */
int oci_manifest_kind_of(const char *content_type, const char *body, size_t len,
                         enum oci_manifest_kind *out, struct bx_err *err);

/* Picks the entry of an index for `want`: os and architecture must match; a variant must match
 * when `want` has one ("arm64" with no variant matches "v8" too); otherwise an entry without a
 * variant is preferred. Only image manifests with a platform are candidates: nested indexes,
 * artifacts and BuildKit's attestations ("unknown/unknown") are skipped. Every entry is
 * validated (BX_EINVAL names it: "manifests[2].digest"); more than 1024 entries is BX_ETOOBIG.
 * BX_ENOENT names the platforms the index offers. */
int oci_index_select(const char *body, size_t len, const struct oci_platform *want,
                     struct oci_descriptor *out, struct bx_err *err);

/* Parses an image manifest: its config descriptor and its layers (at most OCI_MAX_LAYERS, else
 * BX_ETOOBIG), with each layer's compression taken from its media type (OCI, Docker,
 * non-distributable and foreign layers; an unknown layer type is BX_EUNSUPPORTED). A config that
 * is not an image config (an artifact's) is BX_EUNSUPPORTED. Every digest is validated; a
 * wrong type, a missing member or a negative size is BX_EINVAL naming the member
 * ("layers[3].size"). After a failure *out holds nothing. The caller releases *out. */
int oci_manifest_parse(const char *body, size_t len, struct oci_manifest *out, struct bx_err *err);
void oci_manifest_release(struct oci_manifest *m);

/* Parses "os/arch[/variant]" (e.g. "linux/amd64", "linux/arm64/v8"): lower case, each part at
 * most 31 characters. uname's "x86_64" and "aarch64" become "amd64" and "arm64". */
int oci_platform_parse(const char *s, struct oci_platform *out, struct bx_err *err);

/* What a run needs of the image's config ("config" object of the config blob). Arrays are
 * NULL-terminated and owned; absent or null fields are NULL (strings) or NULL arrays. Arrays of
 * more than 4096 entries are BX_ETOOBIG. os and architecture are "" when absent; rootfs.diff_ids
 * is required and each must be a valid digest. */
struct oci_image_config {
    char **env;        /* "KEY=VALUE" */
    char *working_dir; /* "" or NULL when unset */
    char *user;
    char **entrypoint;
    char **cmd;
    char os[32];
    char architecture[32];
    size_t n_diff_ids; /* rootfs.diff_ids count, to check against the manifest's layers */
};

int oci_image_config_parse(const char *body, size_t len, struct oci_image_config *out,
                           struct bx_err *err);
void oci_image_config_release(struct oci_image_config *c);

#endif
