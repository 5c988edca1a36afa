/* The image store's shared state, private to oci/ (store.c: layout, index, locks, GC;
 * pull.c: resolving and pulling). */
#ifndef BOXER_OCI_STORE_INTERNAL_H
#define BOXER_OCI_STORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>

#include "oci/image.h"
#include "oci/ref.h"

struct oci_store {
    struct oci_store_opts opts; /* dir points at `dir` below */
    char *dir;
    int dirfd;
    int blobs_fd;  /* blobs/sha256 */
    int rootfs_fd; /* rootfs */
    int locks_fd;  /* locks */
    struct oci_registry *registry;
    pthread_mutex_t index_mu; /* one index update at a time in this process */
};

/* The index entry of a canonical reference. BX_ENOENT when there is none. */
int store_index_get(struct oci_store *s, const char *ref, struct oci_store_entry *out,
                    struct bx_err *err);
/* Records (or, with digest NULL, forgets) a reference. */
int store_index_put(struct oci_store *s, const char *ref, const char *digest, uint64_t size,
                    struct bx_err *err);

/* Takes flock(how) on locks/<hex>.lock; returns the fd holding it, or a negative code
 * (BX_EBUSY when LOCK_NB was asked and it is held). */
int store_lock(struct oci_store *s, const char *hex, int how, struct bx_err *err);

bool store_has_rootfs(struct oci_store *s, const char *hex);
bool store_has_blob(struct oci_store *s, const char *digest);

/* Reads a verified blob of at most max bytes. */
int store_blob_read(struct oci_store *s, const char *digest, size_t max, char **out, size_t *len,
                    struct bx_err *err);
/* Stores a small blob (a manifest, a config) that hashes to digest. */
int store_blob_write(struct oci_store *s, const char *digest, const char *data, size_t len,
                     struct bx_err *err);

/* Reads and parses the stored config blob `digest`. */
int store_config_load(struct oci_store *s, const char *digest, struct oci_image_config *out,
                      struct bx_err *err);

/* Pulls what is missing of the manifest `digest` (its body given) into rootfs/<hex>. */
int pull_rootfs(struct oci_store *s, const struct oci_ref *ref, const char *digest,
                const char *body, size_t len, oci_progress_fn progress, void *progress_ctx,
                uint64_t *size, struct bx_err *err);

#endif
