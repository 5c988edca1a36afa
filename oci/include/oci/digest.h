/* Content digests: "sha256:<64 lower-case hex>", validated and computed while streaming.
 * Only sha256 is accepted: it is what every registry serves. Thread-safe (a hasher is used by
 * one thread at a time). */
#ifndef BOXER_OCI_DIGEST_H
#define BOXER_OCI_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "common/err.h"

/* "sha256:" + 64 hex + NUL */
#define OCI_DIGEST_MAX 72

/* 0 when `digest` is "sha256:" followed by exactly 64 lower-case hex digits; BX_EUNSUPPORTED
 * for another well-formed algorithm ("sha512:..."), BX_EINVAL otherwise. */
int oci_digest_validate(const char *digest, struct bx_err *err);

/* The 64 hex digits of a valid digest (the part after "sha256:"). */
const char *oci_digest_hex(const char *digest);

struct oci_hasher {
    void *ctx; /* EVP_MD_CTX */
};

int oci_hasher_init(struct oci_hasher *h, struct bx_err *err);
void oci_hasher_update(struct oci_hasher *h, const void *data, size_t len);
/* Writes "sha256:<hex>" into out; the hasher may then only be released. */
void oci_hasher_final(struct oci_hasher *h, char out[OCI_DIGEST_MAX]);
void oci_hasher_release(struct oci_hasher *h);

/* The digest of a buffer. */
void oci_digest_of(const void *data, size_t len, char out[OCI_DIGEST_MAX]);

#endif
