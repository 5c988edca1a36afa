/* libcrypto, loaded when liboci first hashes a blob or encodes registry credentials, both only
 * in a pull (see lazy.h): a run of a cached image needs none of OpenSSL. */
#include <openssl/evp.h>
#include <openssl/opensslv.h>

#include "lazy.h"

#if OPENSSL_VERSION_MAJOR != 3
#error "libcrypto's soname is not libcrypto.so.3 for this version"
#endif

#define CRYPTO_NAMES(X)                                                                            \
    X(EVP_MD_CTX_new)                                                                              \
    X(EVP_MD_CTX_free)                                                                             \
    X(EVP_DigestInit_ex)                                                                           \
    X(EVP_DigestUpdate)                                                                            \
    X(EVP_DigestFinal_ex)                                                                          \
    X(EVP_sha256)                                                                                  \
    X(EVP_EncodeBlock)

LAZY_LIB(crypto_lib, "libcrypto.so.3", CRYPTO_NAMES);

/* The first call of every hash: a library that cannot be loaded is its error. */
EVP_MD_CTX *
EVP_MD_CTX_new(void)
{
    if (!lazy_load(&crypto_lib))
        return NULL;
    return LAZY_FN(crypto_lib, EVP_MD_CTX *, EVP_MD_CTX_new, (void))();
}

/* Also called with NULL after a failed EVP_MD_CTX_new: nothing to free then. */
void
EVP_MD_CTX_free(EVP_MD_CTX *ctx)
{
    if (ctx)
        LAZY_FN(crypto_lib, void, EVP_MD_CTX_free, (EVP_MD_CTX *))(ctx);
}

LAZY_FORWARD(crypto_lib, int, EVP_DigestInit_ex, (EVP_MD_CTX * ctx, const EVP_MD *type, ENGINE *e),
             (ctx, type, e))
LAZY_FORWARD(crypto_lib, int, EVP_DigestUpdate, (EVP_MD_CTX * ctx, const void *d, size_t n),
             (ctx, d, n))
LAZY_FORWARD(crypto_lib, int, EVP_DigestFinal_ex,
             (EVP_MD_CTX * ctx, unsigned char *md, unsigned int *n), (ctx, md, n))
LAZY_FORWARD(crypto_lib, const EVP_MD *, EVP_sha256, (void), ())
LAZY_FORWARD(crypto_lib, int, EVP_EncodeBlock, (unsigned char *t, const unsigned char *f, int n),
             (t, f, n))
