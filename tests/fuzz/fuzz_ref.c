/* libFuzzer target: oci_ref_parse() on any bytes. A reference that parses has a domain and a
 * path, a tag or a digest, fits the name bound, and its canonical form parses back to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oci/ref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_ref(const struct oci_ref *ref)
{
    struct oci_ref again;
    struct bx_err err = BX_ERR_INIT;
    char buf[1024];
    if (!ref->domain[0] || !ref->path[0] || (!ref->tag[0] && !ref->digest[0]))
        abort();
    if (strlen(ref->domain) + 1 + strlen(ref->path) > 255)
        abort();
    if (ref->digest[0] && oci_digest_validate(ref->digest, &err) != 0)
        abort();
    int n = oci_ref_format(ref, buf, sizeof(buf));
    if (n < 0 || (size_t)n >= sizeof(buf))
        abort();
    if (oci_ref_parse(buf, &again, &err) != 0 || memcmp(ref, &again, sizeof(again)) != 0)
        abort();
    if (!oci_ref_api_host(ref)[0])
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *in = malloc(size + 1);
    if (!in)
        return 0;
    memcpy(in, data, size);
    in[size] = '\0';
    struct oci_ref ref;
    struct bx_err err = BX_ERR_INIT;
    int rc = oci_ref_parse(in, &ref, &err);
    if (rc == 0)
        check_ref(&ref);
    else if (rc != err.code || err.msg[0] == '\0' || ref.domain[0])
        abort();
    free(in);
    return 0;
}
