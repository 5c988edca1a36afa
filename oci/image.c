/* Resolving a reference to an image in the store, pulling what is missing: oci_store_pull().
 * See oci/image.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "store_internal.h"

/* A manifest on its way to being pulled. */
struct resolved {
    char digest[OCI_DIGEST_MAX];
    char *body;
    size_t len;
    bool from_cache;
};

int
store_config_load(struct oci_store *s, const char *digest, struct oci_image_config *out,
                  struct bx_err *err)
{
    cleanup_free char *body = NULL;
    size_t len = 0;
    int rc = store_blob_read(s, digest, OCI_CONFIG_MAX_BYTES, &body, &len, err);
    if (rc == 0)
        rc = oci_image_config_parse(body, len, out, err);
    return rc < 0 ? bx_err_prefix(err, "config %s", digest) : 0;
}

/* Gets the manifest `digest` from the store, else from the registry (then stores it). */
static int
manifest_by_digest(struct oci_store *s, const struct oci_ref *ref, const char *digest,
                   struct resolved *out, struct bx_err *err)
{
    snprintf(out->digest, sizeof(out->digest), "%s", digest);
    if (store_has_blob(s, digest))
        return store_blob_read(s, digest, OCI_MANIFEST_MAX_BYTES, &out->body, &out->len, err);
    struct oci_fetched_manifest m;
    int rc = oci_registry_fetch_manifest(s->registry, ref, digest, &m, err);
    if (rc < 0)
        return rc;
    out->body = steal_ptr(&m.body);
    out->len = m.len;
    oci_fetched_manifest_release(&m);
    return store_blob_write(s, digest, out->body, out->len, err);
}

/* Turns an index into the manifest for the store's platform. */
static int
select_platform(struct oci_store *s, const struct oci_ref *ref, const char *content_type,
                struct resolved *res, struct bx_err *err)
{
    enum oci_manifest_kind kind;
    int rc = oci_manifest_kind_of(content_type, res->body, res->len, &kind, err);
    if (rc < 0 || kind == OCI_KIND_MANIFEST)
        return rc;
    struct oci_descriptor desc;
    rc = oci_index_select(res->body, res->len, &s->opts.platform, &desc, err);
    if (rc < 0)
        return rc;
    free(steal_ptr(&res->body));
    rc = manifest_by_digest(s, ref, desc.digest, res, err);
    if (rc < 0)
        return rc;
    /* A platform entry must be an image manifest, not another index. */
    rc = oci_manifest_kind_of(desc.media_type, res->body, res->len, &kind, err);
    if (rc == 0 && kind != OCI_KIND_MANIFEST)
        rc = bx_err_set(err, BX_EINVAL, "index entry %s is not an image manifest", desc.digest);
    return rc;
}

static int
resolve_remote(struct oci_store *s, const struct oci_ref *ref, struct resolved *res,
               struct bx_err *err)
{
    const char *reference = ref->digest[0] ? ref->digest : ref->tag;
    if (ref->digest[0] && store_has_blob(s, ref->digest)) {
        int rc = manifest_by_digest(s, ref, ref->digest, res, err);
        return rc < 0 ? rc : select_platform(s, ref, NULL, res, err);
    }
    struct oci_fetched_manifest m;
    int rc = oci_registry_fetch_manifest(s->registry, ref, reference, &m, err);
    if (rc < 0)
        return rc;
    snprintf(res->digest, sizeof(res->digest), "%s", m.digest);
    char content_type[sizeof(m.content_type)];
    memcpy(content_type, m.content_type, sizeof(content_type));
    res->body = steal_ptr(&m.body);
    res->len = m.len;
    oci_fetched_manifest_release(&m);
    rc = store_blob_write(s, res->digest, res->body, res->len, err);
    return rc < 0 ? rc : select_platform(s, ref, content_type, res, err);
}

/* Finds the manifest to pull: the store's answer within the TTL (or for a digest), else the
 * registry's, else (the registry unreachable) the store's whatever its age. */
static int
resolve(struct oci_store *s, const struct oci_ref *ref, const char *canonical, struct resolved *res,
        struct bx_err *err)
{
    struct oci_store_entry e = {{0}, {0}, 0, 0};
    bool cached = store_index_get(s, canonical, &e, NULL) == 0 &&
                  store_has_rootfs(s, oci_digest_hex(e.digest)) && store_has_blob(s, e.digest);
    long ttl = s->opts.tag_ttl_s;
    bool fresh = ref->digest[0] || (ttl > 0 && time(NULL) - e.resolved < ttl);
    if (!cached || !fresh) {
        int rc = resolve_remote(s, ref, res, err);
        if (rc == 0 || !cached)
            return rc;
        bx_log_warn("registry unreachable: using the cached image", "ref=%s digest=%s error=\"%s\"",
                    canonical, e.digest, err->msg);
        free(steal_ptr(&res->body));
        bx_err_clear(err);
    }
    res->from_cache = true;
    return manifest_by_digest(s, ref, e.digest, res, err);
}

static int
pull_locked(struct oci_store *s, const struct oci_ref *ref, const char *canonical,
            oci_progress_fn progress, void *progress_ctx, struct oci_image *out, struct bx_err *err)
{
    struct resolved res = {{0}, NULL, 0, false};
    int rc = resolve(s, ref, canonical, &res, err);
    uint64_t size = 0;
    if (rc == 0)
        rc = pull_rootfs(s, ref, res.digest, res.body, res.len, progress, progress_ctx, &size, err);
    if (rc == 0 && (!res.from_cache || size))
        rc = store_index_put(s, canonical, res.digest, size, err);
    struct oci_manifest m;
    if (rc == 0 && (rc = oci_manifest_parse(res.body, res.len, &m, err)) == 0) {
        rc = store_config_load(s, m.config.digest, &out->config, err);
        oci_manifest_release(&m);
    }
    free(res.body);
    if (rc < 0)
        return rc;
    struct oci_store_entry e;
    if (store_index_get(s, canonical, &e, NULL) == 0)
        out->size = e.size;
    snprintf(out->ref, sizeof(out->ref), "%s", canonical);
    snprintf(out->digest, sizeof(out->digest), "%s", res.digest);
    snprintf(out->rootfs, sizeof(out->rootfs), "%s/rootfs/%s", s->dir, oci_digest_hex(res.digest));
    out->from_cache = res.from_cache;
    return 0;
}

int
oci_store_pull(struct oci_store *s, const char *reference, oci_progress_fn progress,
               void *progress_ctx, struct oci_image *out, struct bx_err *err)
{
    memset(out, 0, sizeof(*out));
    struct oci_ref ref;
    int rc = oci_ref_parse(reference, &ref, err);
    if (rc < 0)
        return bx_err_prefix(err, "invalid image reference '%.200s'", reference);
    char canonical[512];
    oci_ref_format(&ref, canonical, sizeof(canonical));
    /* GC waits while pulls run: it must not take blobs a pull has stored but not indexed. */
    cleanup_close int gc_lock = store_lock(s, "gc", LOCK_SH, err);
    if (gc_lock < 0)
        return bx_err_prefix(err, "pull %s", reference);
    rc = pull_locked(s, &ref, canonical, progress, progress_ctx, out, err);
    if (rc < 0) {
        oci_image_release(out);
        return bx_err_prefix(err, "pull %s", reference);
    }
    return 0;
}

void
oci_image_release(struct oci_image *img)
{
    oci_image_config_release(&img->config);
    memset(img, 0, sizeof(*img));
}
