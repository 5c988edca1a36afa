/* The registry client and image store that Boxer's configuration describes. */
#ifndef BOXER_OCI_STORE_CONFIG_H
#define BOXER_OCI_STORE_CONFIG_H

#include "common/config.h"
#include "common/err.h"
#include "oci/image.h"
#include "oci/registry.h"

/* Opens the registry client (mirrors, insecure registries, credentials, stall timeout) and the
 * store at <home>/images (platform: `platform`, else the configured image_platform). The caller
 * closes the store, then frees the registry. */
int oci_store_open_config(const struct bx_config *cfg, const char *platform,
                          struct oci_registry **registry, struct oci_store **store,
                          struct bx_err *err);

#endif
