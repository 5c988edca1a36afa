/* sha256 digests: see oci/digest.h. */
#include <string.h>

#include <openssl/evp.h>

#include "oci/digest.h"

#define SHA256_PREFIX "sha256:"
#define SHA256_PREFIX_LEN 7
#define SHA256_HEX_LEN 64

static bool
is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

/* The OCI grammar of an algorithm: [a-z0-9]+ ([+._-] [a-z0-9]+)* */
static bool
is_algorithm(const char *s, size_t n)
{
    bool prev_sep = true;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
        bool sep = c == '+' || c == '.' || c == '_' || c == '-';
        if (!alnum && !(sep && !prev_sep))
            return false;
        prev_sep = sep;
    }
    return n > 0 && !prev_sep;
}

int
oci_digest_validate(const char *digest, struct bx_err *err)
{
    if (!digest)
        return bx_err_set(err, BX_EINVAL, "missing digest");
    if (strncmp(digest, SHA256_PREFIX, SHA256_PREFIX_LEN) == 0) {
        const char *hex = digest + SHA256_PREFIX_LEN;
        if (strlen(hex) == SHA256_HEX_LEN && is_lower_hex(hex, SHA256_HEX_LEN))
            return 0;
        return bx_err_set(err, BX_EINVAL, "invalid sha256 digest '%.80s'", digest);
    }
    const char *colon = strchr(digest, ':');
    if (colon && is_algorithm(digest, (size_t)(colon - digest)) && colon[1])
        return bx_err_set(err, BX_EUNSUPPORTED, "unsupported digest algorithm '%.*s'",
                          (int)(colon - digest > 32 ? 32 : colon - digest), digest);
    return bx_err_set(err, BX_EINVAL, "invalid digest '%.80s'", digest);
}

const char *
oci_digest_hex(const char *digest)
{
    return digest + SHA256_PREFIX_LEN;
}

int
oci_hasher_init(struct oci_hasher *h, struct bx_err *err)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(ctx);
        h->ctx = NULL;
        return bx_err_set(err, BX_ENOMEM, "sha256: cannot initialise");
    }
    h->ctx = ctx;
    return 0;
}

void
oci_hasher_update(struct oci_hasher *h, const void *data, size_t len)
{
    EVP_DigestUpdate(h->ctx, data, len);
}

void
oci_hasher_final(struct oci_hasher *h, char out[OCI_DIGEST_MAX])
{
    static const char hexdig[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(h->ctx, md, &n);
    memcpy(out, SHA256_PREFIX, SHA256_PREFIX_LEN);
    for (unsigned int i = 0; i < n && i < 32; i++) {
        out[SHA256_PREFIX_LEN + 2 * i] = hexdig[md[i] >> 4];
        out[SHA256_PREFIX_LEN + 2 * i + 1] = hexdig[md[i] & 15];
    }
    out[SHA256_PREFIX_LEN + SHA256_HEX_LEN] = '\0';
}

void
oci_hasher_release(struct oci_hasher *h)
{
    EVP_MD_CTX_free(h->ctx);
    h->ctx = NULL;
}

void
oci_digest_of(const void *data, size_t len, char out[OCI_DIGEST_MAX])
{
    struct oci_hasher h;
    if (oci_hasher_init(&h, NULL) < 0) {
        out[0] = '\0';
        return;
    }
    oci_hasher_update(&h, data, len);
    oci_hasher_final(&h, out);
    oci_hasher_release(&h);
}
