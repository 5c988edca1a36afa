/* The image store: pulls images and keeps their unpacked root file systems in a shared,
 * read-only cache under home/images:
 *
 *   blobs/sha256/<hex>     verified blobs (manifests, configs, layers)
 *   rootfs/<hex>/          the root file system of the image manifest <hex>, complete or absent
 *   index.json             resolved references: canonical ref -> manifest digest, when, size
 *   locks/<hex>.lock       one pull per digest at a time, across threads and processes
 *
 * A pull streams each layer into the blob store while unpacking it (layers download in
 * parallel and are applied in order) into a temporary directory that is renamed into
 * rootfs/<hex> only once every blob has been verified: a crash or a failed pull never leaves a
 * partial root file system in use. A tag resolved within the TTL is served without the network;
 * when the registry cannot be reached, the last resolution of a tag is used whatever its age.
 *
 * Thread-safe: one store may serve many pulls at once.
 */
#ifndef BOXER_OCI_IMAGE_H
#define BOXER_OCI_IMAGE_H

#include <limits.h>
#include <stdint.h>
#include <time.h>

#include "common/err.h"
#include "oci/manifest.h"
#include "oci/registry.h"

struct oci_store_opts {
    const char *dir;              /* absolute path of home/images; created when missing */
    struct oci_platform platform; /* empty os: linux/amd64 */
    long tag_ttl_s;               /* 0: 300 s; < 0: always ask the registry */
    uint64_t max_image_bytes;     /* unpacked content; 0: no limit */
    uint64_t max_image_entries;   /* 0: no limit */
    int parallel_layers;          /* 0: 3 */
};

struct oci_store;

/* Opens (creating) the store, removing the temporary leftovers of pulls that crashed. The
 * registry client stays the caller's and must outlive the store. */
int oci_store_open(const struct oci_store_opts *opts, struct oci_registry *registry,
                   struct oci_store **out, struct bx_err *err);
void oci_store_close(struct oci_store *s);

struct oci_image {
    char ref[512];               /* canonical reference */
    char digest[OCI_DIGEST_MAX]; /* the image manifest's digest */
    char rootfs[PATH_MAX];       /* absolute path of the read-only root file system */
    uint64_t size;               /* unpacked bytes */
    bool from_cache;             /* served without the network */
    struct oci_image_config config;
};
void oci_image_release(struct oci_image *img);

/* Progress of a pull, for a progress line; called from the pulling threads. */
typedef void (*oci_progress_fn)(void *ctx, uint64_t done_bytes, uint64_t total_bytes);

/* Resolves `reference` and pulls what is missing. Errors name the image and the step
 * ("pull python:3.12-slim: blob sha256:ab..: HTTP 503"); an invalid reference is BX_EINVAL. */
int oci_store_pull(struct oci_store *s, const char *reference, oci_progress_fn progress,
                   void *progress_ctx, struct oci_image *out, struct bx_err *err);

struct oci_store_entry {
    char ref[512];
    char digest[OCI_DIGEST_MAX];
    uint64_t size;
    time_t resolved;
};

/* The resolved references, sorted by reference; the caller frees *out. */
int oci_store_list(struct oci_store *s, struct oci_store_entry **out, size_t *n,
                   struct bx_err *err);

/* Forgets a reference (as given or canonical); its content goes at the next GC. BX_ENOENT when
 * it is not in the store. */
int oci_store_remove(struct oci_store *s, const char *reference, struct bx_err *err);

struct oci_gc_stats {
    uint64_t rootfs_removed;
    uint64_t blobs_removed;
    uint64_t bytes_freed;
};

/* Removes root file systems and blobs no reference needs, skipping those in use (a pull holds
 * their lock, or a run holds oci_store_use()). */
int oci_store_gc(struct oci_store *s, struct oci_gc_stats *stats, struct bx_err *err);

/* Marks the image `digest` as in use by a run until the returned fd is closed (a shared lock
 * that GC respects). */
int oci_store_use(struct oci_store *s, const char *digest, struct bx_err *err);

#endif
