/* libFuzzer target: oci_docker_config_lookup() on any bytes, for a few registries. Credentials
 * that come back are C strings within their buffers; a failed lookup leaves none behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const domains[] = {"docker.io", "127.0.0.1:5000", "ghcr.io"};
    for (size_t i = 0; i < sizeof(domains) / sizeof(domains[0]); i++) {
        struct oci_credentials cred;
        struct bx_err err = BX_ERR_INIT;
        int rc = oci_docker_config_lookup((const char *)data, size, domains[i], &cred, &err);
        if (rc == 0) {
            if (strnlen(cred.username, sizeof(cred.username)) == sizeof(cred.username) ||
                strnlen(cred.password, sizeof(cred.password)) == sizeof(cred.password) ||
                !cred.username[0])
                abort();
        } else if (rc != err.code || cred.username[0] || cred.password[0]) {
            abort();
        }
    }
    return 0;
}
