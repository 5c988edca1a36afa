/* Resolving references and pulling images into the store: see oci/image.h.
 *
 * Layers download in parallel (opts.parallel_layers workers), each into a temporary blob file,
 * while the pulling thread applies them in order, reading each layer's file as it grows. A layer
 * is applied to its end only once its download has been verified, and the root file system is
 * renamed into place only when every layer is: nothing unverified is ever used.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "oci/unpack.h"
#include "store_internal.h"

struct layer_job {
    const struct oci_layer *layer;
    int fd;           /* the blob being written, or the stored one */
    char tmp[128];    /* its temporary name in blobs/sha256, "" once stored */
    uint64_t written; /* bytes in fd so far */
    bool started, done;
    int rc;
    struct bx_err err;
};

struct pipeline {
    struct oci_store *s;
    const struct oci_ref *ref;
    struct layer_job *jobs;
    size_t n_jobs;
    size_t next; /* the next job a worker takes */
    bool cancel;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    oci_progress_fn progress;
    void *progress_ctx;
    uint64_t done_bytes, total_bytes;
};

static int
job_sink(void *ud, const void *data, size_t len)
{
    struct layer_job *job = ((void **)ud)[0];
    struct pipeline *p = ((void **)ud)[1];
    if (bx_write_all(job->fd, data, len) < 0)
        return bx_err_sys(&job->err, BX_EIO, errno, "write blob %s", job->layer->desc.digest);
    pthread_mutex_lock(&p->mu);
    bool cancel = p->cancel;
    job->written += len;
    p->done_bytes += len;
    if (p->progress)
        p->progress(p->progress_ctx, p->done_bytes, p->total_bytes);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return cancel ? bx_err_set(&job->err, BX_ECANCELED, "pull canceled") : 0;
}

/* Downloads one layer into the blob store (unless it is there already). */
static void
job_run(struct pipeline *p, struct layer_job *job)
{
    struct oci_store *s = p->s;
    const char *digest = job->layer->desc.digest;
    struct bx_err err = BX_ERR_INIT;
    int rc = 0;
    int fd = openat(s->blobs_fd, oci_digest_hex(digest), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd >= 0) {
        pthread_mutex_lock(&p->mu);
        job->fd = fd;
        job->written = (uint64_t)job->layer->desc.size;
        p->done_bytes += job->written;
        job->started = job->done = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        return;
    }
    snprintf(job->tmp, sizeof(job->tmp), ".tmp-%.64s-%d-%p", oci_digest_hex(digest), (int)getpid(),
             (void *)job);
    fd = openat(s->blobs_fd, job->tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
    pthread_mutex_lock(&p->mu);
    job->fd = fd;
    job->started = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    if (fd < 0) {
        rc = bx_err_sys(&err, BX_EIO, errno, "create blob %s", digest);
    } else {
        void *ctx[2] = {job, p};
        rc = oci_registry_fetch_blob(s->registry, p->ref, &job->layer->desc, job_sink, ctx, &err);
        if (rc == BX_EIO || rc == BX_ECANCELED)
            err = job->err;
        if (rc == 0 && fsync(fd) < 0)
            rc = bx_err_sys(&err, BX_EIO, errno, "fsync blob %s", digest);
        if (rc == 0 && renameat(s->blobs_fd, job->tmp, s->blobs_fd, oci_digest_hex(digest)) < 0)
            rc = bx_err_sys(&err, BX_EIO, errno, "store blob %s", digest);
        if (rc < 0)
            unlinkat(s->blobs_fd, job->tmp, 0);
        job->tmp[0] = '\0';
    }
    pthread_mutex_lock(&p->mu);
    job->rc = rc;
    if (rc < 0)
        job->err = err;
    job->done = true;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

static void *
worker_main(void *ud)
{
    struct pipeline *p = ud;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        size_t k = p->next < p->n_jobs && !p->cancel ? p->next++ : p->n_jobs;
        pthread_mutex_unlock(&p->mu);
        if (k == p->n_jobs)
            return NULL;
        job_run(p, &p->jobs[k]);
    }
}

/* Reads layer k's blob as it grows, for the unpacker. */
struct job_reader {
    struct pipeline *p;
    struct layer_job *job;
    uint64_t off;
};

static ssize_t
job_read(void *ud, void *buf, size_t size)
{
    struct job_reader *r = ud;
    struct layer_job *job = r->job;
    pthread_mutex_lock(&r->p->mu);
    while (!r->p->cancel && (!job->started || (!job->done && r->off >= job->written)))
        pthread_cond_wait(&r->p->cv, &r->p->mu);
    uint64_t avail = job->fd >= 0 ? job->written - r->off : 0;
    bool failed = r->p->cancel || job->rc < 0 || job->fd < 0;
    int fd = job->fd;
    pthread_mutex_unlock(&r->p->mu);
    if (avail == 0) {
        errno = EIO;
        return failed ? -1 : 0;
    }
    ssize_t n = pread(fd, buf, avail < size ? (size_t)avail : size, (off_t)r->off);
    if (n > 0)
        r->off += (uint64_t)n;
    return n;
}

/* Applies every layer in order while the workers download them. */
static int
apply_layers(struct pipeline *p, int rootfd, uint64_t *size, struct bx_err *err)
{
    struct oci_unpack_limits limits = {
        .max_bytes = p->s->opts.max_image_bytes,
        .max_entries = p->s->opts.max_image_entries,
    };
    struct oci_unpack_stats stats = {0};
    for (size_t k = 0; k < p->n_jobs; k++) {
        struct job_reader reader = {.p = p, .job = &p->jobs[k]};
        int rc = oci_layer_unpack_reader(rootfd, job_read, &reader, &limits, &stats, err);
        pthread_mutex_lock(&p->mu);
        /* A failed download explains a broken stream better than the unpacker can. */
        if (p->jobs[k].done && p->jobs[k].rc < 0) {
            rc = p->jobs[k].rc;
            *err = p->jobs[k].err;
        }
        pthread_mutex_unlock(&p->mu);
        if (rc < 0)
            return bx_err_prefix(err, "layer %zu of %zu", k + 1, p->n_jobs);
    }
    *size = stats.bytes;
    return 0;
}

static int
run_pipeline(struct pipeline *p, int rootfd, uint64_t *size, struct bx_err *err)
{
    size_t n_workers = (size_t)p->s->opts.parallel_layers;
    if (n_workers > p->n_jobs)
        n_workers = p->n_jobs;
    pthread_t threads[16];
    size_t started = 0;
    for (; started < n_workers && started < 16; started++) {
        if (pthread_create(&threads[started], NULL, worker_main, p) != 0)
            break;
    }
    int rc = started ? apply_layers(p, rootfd, size, err)
                     : bx_err_set(err, BX_ENOMEM, "cannot start download threads");
    pthread_mutex_lock(&p->mu);
    p->cancel = rc < 0;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    return rc;
}

struct mem_sink {
    char *buf;
    size_t len, cap;
};

static int
mem_sink_write(void *ud, const void *data, size_t len)
{
    struct mem_sink *m = ud;
    if (m->len + len > m->cap)
        return BX_ETOOBIG; /* cannot happen: the client bounds the blob by its size */
    memcpy(m->buf + m->len, data, len);
    m->len += len;
    return 0;
}

/* Fetches, verifies and stores the config blob when it is not stored yet. */
static int
ensure_config(struct oci_store *s, const struct oci_ref *ref, const struct oci_descriptor *desc,
              struct bx_err *err)
{
    if (store_has_blob(s, desc->digest))
        return 0;
    if (desc->size > (int64_t)OCI_CONFIG_MAX_BYTES)
        return bx_err_set(err, BX_ETOOBIG, "config %s: %lld bytes is too large", desc->digest,
                          (long long)desc->size);
    cleanup_free char *buf = malloc((size_t)desc->size + 1);
    if (!buf)
        return bx_err_set(err, BX_ENOMEM, "config: out of memory");
    struct mem_sink m = {buf, 0, (size_t)desc->size};
    int rc = oci_registry_fetch_blob(s->registry, ref, desc, mem_sink_write, &m, err);
    if (rc < 0)
        return rc;
    return store_blob_write(s, desc->digest, buf, m.len, err);
}

/* An image for another platform, or whose config disagrees with its manifest, is refused before
 * anything is downloaded for it. */
static int
check_config(struct oci_store *s, const struct oci_manifest *m, struct bx_err *err)
{
    struct oci_image_config config;
    int rc = store_config_load(s, m->config.digest, &config, err);
    if (rc < 0)
        return rc;
    const struct oci_platform *want = &s->opts.platform;
    if ((config.os[0] && strcmp(config.os, want->os) != 0) ||
        (config.architecture[0] && strcmp(config.architecture, want->architecture) != 0))
        rc = bx_err_set(err, BX_EUNSUPPORTED, "the image is for %s/%s, not %s/%s", config.os,
                        config.architecture, want->os, want->architecture);
    else if (config.n_diff_ids && config.n_diff_ids != m->n_layers)
        rc = bx_err_set(err, BX_EINVAL, "the config lists %zu layers, the manifest %zu",
                        config.n_diff_ids, m->n_layers);
    oci_image_config_release(&config);
    return rc;
}

static void
pipeline_release(struct pipeline *p)
{
    for (size_t i = 0; i < p->n_jobs; i++) {
        if (p->jobs[i].fd >= 0)
            close(p->jobs[i].fd);
    }
    free(p->jobs);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/* Downloads and applies the layers into rootfs/.tmp-<hex>, then renames it into place. */
static int
build_rootfs(struct oci_store *s, const struct oci_ref *ref, const struct oci_manifest *m,
             const char *hex, oci_progress_fn progress, void *progress_ctx, uint64_t *size,
             struct bx_err *err)
{
    char tmp[80];
    snprintf(tmp, sizeof(tmp), ".tmp-%.64s", hex);
    int rc = bx_rm_rf(s->rootfs_fd, tmp, err);
    if (rc == 0 && mkdirat(s->rootfs_fd, tmp, 0755) < 0)
        rc = bx_err_sys(err, BX_EIO, errno, "create %s", tmp);
    if (rc < 0)
        return rc;
    cleanup_close int rootfd = openat(s->rootfs_fd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct pipeline p = {
        .s = s,
        .ref = ref,
        .jobs = calloc(m->n_layers + 1, sizeof(*p.jobs)),
        .n_jobs = m->n_layers,
        .progress = progress,
        .progress_ctx = progress_ctx,
    };
    pthread_mutex_init(&p.mu, NULL);
    pthread_cond_init(&p.cv, NULL);
    for (size_t i = 0; p.jobs && i < m->n_layers; i++) {
        p.jobs[i].layer = &m->layers[i];
        p.jobs[i].fd = -1;
        p.total_bytes += (uint64_t)m->layers[i].desc.size;
    }
    if (rootfd < 0)
        rc = bx_err_sys(err, BX_EIO, errno, "open %s", tmp);
    else if (!p.jobs)
        rc = bx_err_set(err, BX_ENOMEM, "pull: out of memory");
    else
        rc = run_pipeline(&p, rootfd, size, err);
    pipeline_release(&p);
    if (rc == 0 && syncfs(rootfd) < 0)
        rc = bx_err_sys(err, BX_EIO, errno, "sync %s", tmp);
    if (rc == 0 && renameat(s->rootfs_fd, tmp, s->rootfs_fd, hex) < 0)
        rc = bx_err_sys(err, BX_EIO, errno, "rename %s", tmp);
    if (rc < 0) {
        struct bx_err ignored = BX_ERR_INIT;
        bx_rm_rf(s->rootfs_fd, tmp, &ignored);
    }
    return rc;
}

int
pull_rootfs(struct oci_store *s, const struct oci_ref *ref, const char *digest, const char *body,
            size_t len, oci_progress_fn progress, void *progress_ctx, uint64_t *size,
            struct bx_err *err)
{
    const char *hex = oci_digest_hex(digest);
    *size = 0;
    if (store_has_rootfs(s, hex))
        return 0;
    cleanup_close int lock = store_lock(s, hex, LOCK_EX, err);
    if (lock < 0)
        return lock;
    if (store_has_rootfs(s, hex))
        return 0; /* another pull finished it while this one waited */
    struct oci_manifest m;
    int rc = oci_manifest_parse(body, len, &m, err);
    if (rc < 0)
        return bx_err_prefix(err, "manifest %s", digest);
    rc = ensure_config(s, ref, &m.config, err);
    if (rc == 0)
        rc = check_config(s, &m, err);
    if (rc == 0)
        rc = build_rootfs(s, ref, &m, hex, progress, progress_ctx, size, err);
    oci_manifest_release(&m);
    return rc;
}
