/* libFuzzer target: oci_challenge_parse() on any bytes. An accepted challenge is Basic or Bearer,
 * a Bearer one has an http(s) realm, its values hold no control characters, and a refused one
 * leaves nothing behind. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oci/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_value(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    if (n == size)
        abort();
    for (size_t i = 0; i < n; i++)
        if (((unsigned char)s[i] < 0x20 && s[i] != '\t') || s[i] == 0x7f)
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
    struct oci_challenge ch;
    struct bx_err err = BX_ERR_INIT;
    int rc = oci_challenge_parse(in, &ch, &err);
    if (rc == 0) {
        if (ch.scheme != OCI_AUTH_BASIC && ch.scheme != OCI_AUTH_BEARER)
            abort();
        check_value(ch.realm, sizeof(ch.realm));
        check_value(ch.service, sizeof(ch.service));
        check_value(ch.scope, sizeof(ch.scope));
        if (ch.scheme == OCI_AUTH_BEARER && strncasecmp(ch.realm, "http", 4) != 0)
            abort();
    } else if (rc != err.code || ch.scheme != OCI_AUTH_NONE || ch.realm[0]) {
        abort();
    }
    free(in);
    return 0;
}
