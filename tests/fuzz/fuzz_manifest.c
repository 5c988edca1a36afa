/* libFuzzer target: every manifest.h parser on the same bytes, as a registry could send them:
 * kind detection, index selection, manifest parsing and image config parsing. Whatever they
 * accept must hold valid digests and sizes within bounds, and nothing may leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_descriptor(const struct oci_descriptor *d)
{
    struct bx_err err = BX_ERR_INIT;
    if (oci_digest_validate(d->digest, &err) != 0 || d->size < 0 || !d->media_type[0])
        abort();
}

static void
check_failed(int rc, const struct bx_err *err)
{
    if (rc != err->code || err->msg[0] == '\0')
        abort();
}

static void
fuzz_index(const char *body, size_t size)
{
    static const char *const platforms[] = {"linux/amd64", "linux/arm64/v8", "linux/arm"};
    for (size_t i = 0; i < sizeof(platforms) / sizeof(platforms[0]); i++) {
        struct oci_platform want;
        struct oci_descriptor d;
        struct bx_err err = BX_ERR_INIT;
        if (oci_platform_parse(platforms[i], &want, &err) != 0)
            abort();
        int rc = oci_index_select(body, size, &want, &d, &err);
        if (rc == 0)
            check_descriptor(&d);
        else
            check_failed(rc, &err);
    }
}

static void
fuzz_manifest(const char *body, size_t size)
{
    struct oci_manifest m;
    struct bx_err err = BX_ERR_INIT;
    int rc = oci_manifest_parse(body, size, &m, &err);
    if (rc != 0) {
        check_failed(rc, &err);
        if (m.layers || m.n_layers)
            abort();
        return;
    }
    check_descriptor(&m.config);
    if (m.n_layers > OCI_MAX_LAYERS || (m.n_layers > 0) != (m.layers != NULL))
        abort();
    for (size_t i = 0; i < m.n_layers; i++)
        check_descriptor(&m.layers[i].desc);
    oci_manifest_release(&m);
}

static void
fuzz_config(const char *body, size_t size)
{
    struct oci_image_config c;
    struct bx_err err = BX_ERR_INIT;
    int rc = oci_image_config_parse(body, size, &c, &err);
    if (rc != 0) {
        check_failed(rc, &err);
        if (c.env || c.cmd || c.entrypoint || c.working_dir || c.user)
            abort();
        return;
    }
    if (c.n_diff_ids > OCI_MAX_LAYERS)
        abort();
    for (char **e = c.env; e && *e; e++)
        if (strlen(*e) > size)
            abort();
    oci_image_config_release(&c);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *body = (const char *)data;
    enum oci_manifest_kind kind;
    struct bx_err err = BX_ERR_INIT;
    int rc = oci_manifest_kind_of(NULL, body, size, &kind, &err);
    if (rc == 0 && kind != OCI_KIND_INDEX && kind != OCI_KIND_MANIFEST)
        abort();
    if (rc != 0)
        check_failed(rc, &err);
    fuzz_index(body, size);
    fuzz_manifest(body, size);
    fuzz_config(body, size);
    return 0;
}
