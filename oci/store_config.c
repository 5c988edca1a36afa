/* Opening the registry client and the image store from Boxer's configuration, as boxerd and
 * boxerctl both do. */
#include <stdio.h>
#include <stdlib.h>

#include "common/cleanup.h"
#include "oci/store_config.h"

int
oci_store_open_config(const struct bx_config *cfg, const char *platform,
                      struct oci_registry **registry, struct oci_store **store, struct bx_err *err)
{
    cleanup_free struct oci_mirror *mirrors = calloc(cfg->n_mirrors + 1, sizeof(*mirrors));
    cleanup_free struct oci_registry_auth *auth = calloc(cfg->n_auth + 1, sizeof(*auth));
    if (!mirrors || !auth)
        return bx_err_set(err, BX_ENOMEM, "out of memory");
    for (size_t i = 0; i < cfg->n_mirrors; i++)
        mirrors[i] = (struct oci_mirror){cfg->mirrors[i].domain, cfg->mirrors[i].url};
    for (size_t i = 0; i < cfg->n_auth; i++)
        auth[i] = (struct oci_registry_auth){cfg->registry_auth[i].registry,
                                             cfg->registry_auth[i].username,
                                             cfg->registry_auth[i].password};
    struct oci_registry_opts ro = {
        .mirrors = mirrors,
        .n_mirrors = cfg->n_mirrors,
        .insecure = (const char *const *)cfg->insecure_registries,
        .n_insecure = cfg->n_insecure,
        .auth = auth,
        .n_auth = cfg->n_auth,
        .stall_timeout_s = (long)cfg->registry_stall_secs,
    };
    int rc = oci_registry_new(&ro, registry, err);
    if (rc < 0)
        return rc;
    struct oci_store_opts so = {
        .tag_ttl_s = cfg->image_tag_ttl_secs > 0 ? cfg->image_tag_ttl_secs : -1,
        .max_image_bytes = cfg->max_image_bytes,
    };
    rc = oci_platform_parse(platform ? platform : cfg->image_platform, &so.platform, err);
    if (rc < 0)
        return rc;
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/images", cfg->home);
    so.dir = dir;
    return oci_store_open(&so, *registry, store, err);
}
