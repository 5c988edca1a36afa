/* Image manifests and telling them from indexes: see oci/manifest.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest_internal.h"

#define OCI_MEDIA_TYPE_LAYER_NONDIST "application/vnd.oci.image.layer.nondistributable.v1.tar"
#define OCI_MEDIA_TYPE_LAYER_NONDIST_ZSTD                                                          \
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
#define DOCKER_MEDIA_TYPE_LAYER "application/vnd.docker.image.rootfs.diff.tar"
#define DOCKER_MEDIA_TYPE_LAYER_ZSTD "application/vnd.docker.image.rootfs.diff.tar.zstd"
#define DOCKER_MEDIA_TYPE_FOREIGN_LAYER_TAR "application/vnd.docker.image.rootfs.foreign.diff.tar"

/* What a media type says a manifest body is. */
enum media_class {
    MEDIA_UNKNOWN,
    MEDIA_INDEX,
    MEDIA_MANIFEST,
    MEDIA_SCHEMA1,
    MEDIA_GENERIC, /* says nothing: look at the body */
};

static const struct {
    const char *type;
    enum media_class class;
} manifest_types[] = {
    {OCI_MEDIA_TYPE_INDEX, MEDIA_INDEX},
    {DOCKER_MEDIA_TYPE_LIST, MEDIA_INDEX},
    {OCI_MEDIA_TYPE_MANIFEST, MEDIA_MANIFEST},
    {DOCKER_MEDIA_TYPE_MANIFEST, MEDIA_MANIFEST},
    {DOCKER_MEDIA_TYPE_SCHEMA1, MEDIA_SCHEMA1},
    {DOCKER_MEDIA_TYPE_SCHEMA1_SIGNED, MEDIA_SCHEMA1},
    /* Registries and proxies that do not know the type. */
    {"application/json", MEDIA_GENERIC},
    {"text/plain", MEDIA_GENERIC},
    {"application/octet-stream", MEDIA_GENERIC},
};

/* Non-distributable and foreign layers are ordinary tar streams once fetched. */
static const struct {
    const char *type;
    enum oci_compression compression;
} layer_types[] = {
    {OCI_MEDIA_TYPE_LAYER, OCI_COMPRESSION_NONE},
    {OCI_MEDIA_TYPE_LAYER_GZIP, OCI_COMPRESSION_GZIP},
    {OCI_MEDIA_TYPE_LAYER_ZSTD, OCI_COMPRESSION_ZSTD},
    {OCI_MEDIA_TYPE_LAYER_NONDIST, OCI_COMPRESSION_NONE},
    {OCI_MEDIA_TYPE_LAYER_NONDIST_GZIP, OCI_COMPRESSION_GZIP},
    {OCI_MEDIA_TYPE_LAYER_NONDIST_ZSTD, OCI_COMPRESSION_ZSTD},
    {DOCKER_MEDIA_TYPE_LAYER, OCI_COMPRESSION_NONE},
    {DOCKER_MEDIA_TYPE_LAYER_GZIP, OCI_COMPRESSION_GZIP},
    {DOCKER_MEDIA_TYPE_LAYER_ZSTD, OCI_COMPRESSION_ZSTD},
    {DOCKER_MEDIA_TYPE_FOREIGN_LAYER_TAR, OCI_COMPRESSION_NONE},
    {DOCKER_MEDIA_TYPE_FOREIGN_LAYER, OCI_COMPRESSION_GZIP},
};

/* Media types are case-insensitive (RFC 6838). `n` bytes of `type` are compared. */
static enum media_class
media_class_of(const char *type, size_t n)
{
    for (size_t i = 0; i < sizeof(manifest_types) / sizeof(manifest_types[0]); i++)
        if (strlen(manifest_types[i].type) == n &&
            strncasecmp(manifest_types[i].type, type, n) == 0)
            return manifest_types[i].class;
    return MEDIA_UNKNOWN;
}

/* The media type of a Content-Type value: parameters after ';' and surrounding blanks go. */
static enum media_class
content_type_class(const char *content_type, size_t *len)
{
    const char *s = content_type + strspn(content_type, " \t");
    size_t n = strcspn(s, ";");
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    *len = n;
    return n == 0 ? MEDIA_GENERIC : media_class_of(s, n);
}

static int
kind_of_class(enum media_class class, enum oci_manifest_kind *out, struct bx_err *err)
{
    switch (class) {
    case MEDIA_INDEX:
        *out = OCI_KIND_INDEX;
        return 0;
    case MEDIA_MANIFEST:
        *out = OCI_KIND_MANIFEST;
        return 0;
    case MEDIA_SCHEMA1:
        return bx_err_set(err, BX_EUNSUPPORTED, OCI_SCHEMA1_MSG);
    default:
        return bx_err_set(err, BX_EINTERNAL, "no manifest kind for media class %d", class);
    }
}

/* The kind a body says it is: its mediaType, else its shape. */
static int
kind_of_body(const char *body, size_t len, enum oci_manifest_kind *out, struct bx_err *err)
{
    json_auto_t *root = NULL;
    json_t *mt = NULL;
    int rc = oci_json_load_object(body, len, OCI_MANIFEST_MAX_BYTES, &root, err);
    if (rc < 0) {
        bx_err_prefix(err, "manifest");
        return rc;
    }
    json_t *version = json_object_get(root, "schemaVersion");
    if ((json_is_integer(version) && json_integer_value(version) == 1) ||
        json_object_get(root, "fsLayers"))
        return bx_err_set(err, BX_EUNSUPPORTED, OCI_SCHEMA1_MSG);
    if ((rc = oci_json_member(root, "", "mediaType", JSON_STRING, false, &mt, err)) < 0)
        return rc;
    if (mt) {
        enum media_class class = media_class_of(json_string_value(mt), json_string_length(mt));
        if (class == MEDIA_UNKNOWN || class == MEDIA_GENERIC)
            return bx_err_set(err, BX_EINVAL, "unknown manifest mediaType '%.128s'",
                              json_string_value(mt));
        return kind_of_class(class, out, err);
    }
    bool manifests = json_is_array(json_object_get(root, "manifests"));
    bool layers = json_is_array(json_object_get(root, "layers"));
    if (manifests == layers)
        return bx_err_set(err, BX_EINVAL, "manifest has no mediaType and %s",
                          manifests ? "both manifests and layers" : "neither manifests nor layers");
    *out = manifests ? OCI_KIND_INDEX : OCI_KIND_MANIFEST;
    return 0;
}

int
oci_manifest_kind_of(const char *content_type, const char *body, size_t len,
                     enum oci_manifest_kind *out, struct bx_err *err)
{
    size_t n = 0;
    enum media_class class = content_type ? content_type_class(content_type, &n) : MEDIA_GENERIC;
    if (class == MEDIA_GENERIC)
        return kind_of_body(body, len, out, err);
    if (class == MEDIA_UNKNOWN)
        return bx_err_set(err, BX_EINVAL, "unknown manifest Content-Type '%.*s'",
                          (int)(n > 128 ? 128 : n), content_type + strspn(content_type, " \t"));
    return kind_of_class(class, out, err);
}

static int
layer_compression(const struct oci_descriptor *d, const char *path, enum oci_compression *out,
                  struct bx_err *err)
{
    for (size_t i = 0; i < sizeof(layer_types) / sizeof(layer_types[0]); i++) {
        if (strcasecmp(layer_types[i].type, d->media_type) == 0) {
            *out = layer_types[i].compression;
            return 0;
        }
    }
    return bx_err_set(err, BX_EUNSUPPORTED, "%s.mediaType '%s' is not a supported layer type", path,
                      d->media_type);
}

static int
manifest_layers_parse(json_t *root, struct oci_manifest *out, struct bx_err *err)
{
    char path[OCI_JSON_FIELD_MAX];
    json_t *layers = NULL;
    int rc = oci_json_member(root, "", "layers", JSON_ARRAY, true, &layers, err);
    if (rc < 0)
        return rc;
    size_t n = json_array_size(layers);
    if (n > OCI_MAX_LAYERS)
        return bx_err_set(err, BX_ETOOBIG, "%zu layers, more than %d", n, OCI_MAX_LAYERS);
    if (n == 0)
        return 0;
    out->layers = calloc(n, sizeof(*out->layers));
    if (!out->layers)
        return bx_err_set(err, BX_ENOMEM, "out of memory for %zu layers", n);
    for (size_t i = 0; i < n; i++) {
        struct oci_layer *l = &out->layers[i];
        oci_json_path_index(path, sizeof(path), "layers", i);
        if ((rc = oci_json_descriptor_parse(json_array_get(layers, i), path, &l->desc, err)) < 0 ||
            (rc = layer_compression(&l->desc, path, &l->compression, err)) < 0)
            return rc;
        out->n_layers = i + 1;
    }
    return 0;
}

static int
manifest_parse(const char *body, size_t len, struct oci_manifest *out, struct bx_err *err)
{
    json_auto_t *root = NULL;
    json_t *mt = NULL, *config = NULL;
    int rc = oci_json_load_object(body, len, OCI_MANIFEST_MAX_BYTES, &root, err);
    if (rc < 0 || (rc = oci_json_schema_check(root, err)) < 0 ||
        (rc = oci_json_member(root, "", "mediaType", JSON_STRING, false, &mt, err)) < 0)
        return rc;
    if (mt && media_class_of(json_string_value(mt), json_string_length(mt)) != MEDIA_MANIFEST)
        return bx_err_set(err, BX_EINVAL, "mediaType '%.128s' is not an image manifest",
                          json_string_value(mt));
    if ((rc = oci_json_member(root, "", "config", JSON_OBJECT, true, &config, err)) < 0 ||
        (rc = oci_json_descriptor_parse(config, "config", &out->config, err)) < 0)
        return rc;
    /* Artifacts (Helm charts, signatures) use the manifest format with other configs. */
    if (strcasecmp(out->config.media_type, OCI_MEDIA_TYPE_CONFIG) != 0 &&
        strcasecmp(out->config.media_type, DOCKER_MEDIA_TYPE_CONFIG) != 0)
        return bx_err_set(err, BX_EUNSUPPORTED, "config.mediaType '%s' is not an image config",
                          out->config.media_type);
    return manifest_layers_parse(root, out, err);
}

int
oci_manifest_parse(const char *body, size_t len, struct oci_manifest *out, struct bx_err *err)
{
    memset(out, 0, sizeof(*out));
    int rc = manifest_parse(body, len, out, err);
    if (rc < 0) {
        oci_manifest_release(out);
        bx_err_prefix(err, "manifest");
    }
    return rc;
}

void
oci_manifest_release(struct oci_manifest *m)
{
    if (!m)
        return;
    free(m->layers);
    m->layers = NULL;
    m->n_layers = 0;
}
