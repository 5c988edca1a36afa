/* The image store's layout, index, locks and garbage collection: see oci/image.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "oci/digest.h"
#include "store_internal.h"

#define INDEX_FILE "index.json"
#define INDEX_LOCK "index.lock"
#define INDEX_MAX_BYTES (16u << 20)
#define TMP_PREFIX ".tmp-"

static int
open_subdir(int dirfd, const char *name, int *out, struct bx_err *err)
{
    int rc = bx_mkdir_p(dirfd, name, 0755, err);
    if (rc < 0)
        return rc;
    *out = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (*out < 0)
        return bx_err_sys(err, BX_EIO, errno, "open %s", name);
    return 0;
}

/* Removes what crashed pulls left: temporary root file systems whose digest nobody is pulling
 * now, and temporary blobs older than a day (a live pull writes to its blob continuously). */
static void
remove_stale(struct oci_store *s)
{
    cleanup_dir DIR *d = bx_opendir_at(s->rootfs_fd, ".");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) != 0)
            continue;
        struct bx_err err = BX_ERR_INIT;
        char hex[65];
        snprintf(hex, sizeof(hex), "%s", de->d_name + strlen(TMP_PREFIX));
        cleanup_close int lock = store_lock(s, hex, LOCK_EX | LOCK_NB, &err);
        if (lock < 0)
            continue;
        if (bx_rm_rf(s->rootfs_fd, de->d_name, &err) < 0)
            bx_log_warn("cannot remove a stale pull", "dir=%s error=\"%s\"", de->d_name, err.msg);
    }
    cleanup_dir DIR *b = bx_opendir_at(s->blobs_fd, ".");
    time_t now = time(NULL);
    while (b && (de = readdir(b)) != NULL) {
        struct stat st;
        if (strncmp(de->d_name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0 &&
            fstatat(s->blobs_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            now - st.st_mtime > 86400)
            unlinkat(s->blobs_fd, de->d_name, 0);
    }
}

int
oci_store_open(const struct oci_store_opts *opts, struct oci_registry *registry,
               struct oci_store **out, struct bx_err *err)
{
    if (!opts || !opts->dir || opts->dir[0] != '/')
        return bx_err_set(err, BX_EINVAL, "image store: the directory must be absolute");
    struct oci_store *s = calloc(1, sizeof(*s));
    if (!s)
        return bx_err_set(err, BX_ENOMEM, "image store: out of memory");
    s->dirfd = s->blobs_fd = s->rootfs_fd = s->locks_fd = -1;
    s->opts = *opts;
    s->dir = strdup(opts->dir);
    s->opts.dir = s->dir;
    s->registry = registry;
    pthread_mutex_init(&s->index_mu, NULL);
    if (!s->opts.platform.os[0]) {
        snprintf(s->opts.platform.os, sizeof(s->opts.platform.os), "linux");
        snprintf(s->opts.platform.architecture, sizeof(s->opts.platform.architecture), "amd64");
    }
    if (s->opts.tag_ttl_s == 0)
        s->opts.tag_ttl_s = 300;
    if (s->opts.parallel_layers <= 0)
        s->opts.parallel_layers = 3;
    int rc = s->dir ? bx_mkdir_p(AT_FDCWD, s->dir, 0755, err)
                    : bx_err_set(err, BX_ENOMEM, "out of memory");
    if (rc == 0) {
        s->dirfd = open(s->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        rc = s->dirfd < 0 ? bx_err_sys(err, BX_EIO, errno, "open %s", s->dir) : 0;
    }
    if (rc == 0)
        rc = open_subdir(s->dirfd, "blobs/sha256", &s->blobs_fd, err);
    if (rc == 0)
        rc = open_subdir(s->dirfd, "rootfs", &s->rootfs_fd, err);
    if (rc == 0)
        rc = open_subdir(s->dirfd, "locks", &s->locks_fd, err);
    if (rc < 0) {
        oci_store_close(s);
        return bx_err_prefix(err, "image store %s", opts->dir);
    }
    remove_stale(s);
    *out = s;
    return 0;
}

void
oci_store_close(struct oci_store *s)
{
    if (!s)
        return;
    int fds[] = {s->dirfd, s->blobs_fd, s->rootfs_fd, s->locks_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (fds[i] >= 0)
            close(fds[i]);
    }
    pthread_mutex_destroy(&s->index_mu);
    free(s->dir);
    free(s);
}

int
store_lock(struct oci_store *s, const char *hex, int how, struct bx_err *err)
{
    char name[96];
    snprintf(name, sizeof(name), "%.64s.lock", hex);
    int fd = openat(s->locks_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return bx_err_sys(err, BX_EIO, errno, "lock %s", name);
    int rc;
    do {
        rc = flock(fd, how);
    } while (rc < 0 && errno == EINTR);
    if (rc < 0) {
        int e = errno;
        close(fd);
        if (e == EWOULDBLOCK)
            return bx_err_set(err, BX_EBUSY, "%.12s is in use", hex);
        return bx_err_sys(err, BX_EIO, e, "lock %s", name);
    }
    return fd;
}

bool
store_has_rootfs(struct oci_store *s, const char *hex)
{
    struct stat st;
    return fstatat(s->rootfs_fd, hex, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
}

bool
store_has_blob(struct oci_store *s, const char *digest)
{
    struct stat st;
    return fstatat(s->blobs_fd, oci_digest_hex(digest), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
           S_ISREG(st.st_mode);
}

int
store_blob_read(struct oci_store *s, const char *digest, size_t max, char **out, size_t *len,
                struct bx_err *err)
{
    return bx_read_file(s->blobs_fd, oci_digest_hex(digest), max, out, len, err);
}

int
store_blob_write(struct oci_store *s, const char *digest, const char *data, size_t len,
                 struct bx_err *err)
{
    return bx_write_file_atomic(s->blobs_fd, oci_digest_hex(digest), data, len, 0644, err);
}

/* ---- the index ---- */

static int
index_load(struct oci_store *s, json_t **out, struct bx_err *err)
{
    cleanup_free char *body = NULL;
    size_t len = 0;
    int rc = bx_read_file(s->dirfd, INDEX_FILE, INDEX_MAX_BYTES, &body, &len, err);
    if (rc == BX_ENOENT) {
        *out = json_object();
        return *out ? 0 : bx_err_set(err, BX_ENOMEM, "index: out of memory");
    }
    if (rc < 0)
        return rc;
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, 0, &jerr);
    if (!json_is_object(doc)) {
        json_decref(doc);
        return bx_err_set(err, BX_EIO, "%s/%s is damaged: %s", s->dir, INDEX_FILE, jerr.text);
    }
    *out = doc;
    return 0;
}

static void
entry_from_json(const char *ref, json_t *v, struct oci_store_entry *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->ref, sizeof(out->ref), "%s", ref);
    const char *digest = json_string_value(json_object_get(v, "digest"));
    snprintf(out->digest, sizeof(out->digest), "%s", digest ? digest : "");
    out->size = (uint64_t)json_integer_value(json_object_get(v, "size"));
    out->resolved = (time_t)json_integer_value(json_object_get(v, "resolved"));
}

int
store_index_get(struct oci_store *s, const char *ref, struct oci_store_entry *out,
                struct bx_err *err)
{
    json_auto_t *doc = NULL;
    int rc = index_load(s, &doc, err);
    if (rc < 0)
        return rc;
    json_t *v = json_object_get(doc, ref);
    if (!json_is_object(v))
        return bx_err_set(err, BX_ENOENT, "%s is not in the image store", ref);
    entry_from_json(ref, v, out);
    return oci_digest_validate(out->digest, err);
}

/* The size recorded for any reference to digest (a rootfs pulled under another name). */
static uint64_t
index_size_of(json_t *doc, const char *digest)
{
    const char *key;
    json_t *v;
    json_object_foreach (doc, key, v) {
        const char *d = json_string_value(json_object_get(v, "digest"));
        if (d && strcmp(d, digest) == 0)
            return (uint64_t)json_integer_value(json_object_get(v, "size"));
    }
    return 0;
}

int
store_index_put(struct oci_store *s, const char *ref, const char *digest, uint64_t size,
                struct bx_err *err)
{
    pthread_mutex_lock(&s->index_mu);
    cleanup_close int lock = openat(s->dirfd, INDEX_LOCK, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    int rc = lock < 0 ? bx_err_sys(err, BX_EIO, errno, "lock the index") : 0;
    if (rc == 0 && flock(lock, LOCK_EX) < 0)
        rc = bx_err_sys(err, BX_EIO, errno, "lock the index");
    json_auto_t *doc = NULL;
    if (rc == 0)
        rc = index_load(s, &doc, err);
    if (rc == 0 && digest) {
        if (size == 0)
            size = index_size_of(doc, digest);
        json_t *v = json_pack("{s:s, s:I, s:I}", "digest", digest, "size", (json_int_t)size,
                              "resolved", (json_int_t)time(NULL));
        if (!v || json_object_set_new(doc, ref, v) < 0)
            rc = bx_err_set(err, BX_ENOMEM, "index: out of memory");
    } else if (rc == 0 && json_object_del(doc, ref) < 0) {
        rc = bx_err_set(err, BX_ENOENT, "%s is not in the image store", ref);
    }
    cleanup_free char *text = rc == 0 ? json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    if (rc == 0 && !text)
        rc = bx_err_set(err, BX_ENOMEM, "index: out of memory");
    if (rc == 0)
        rc = bx_write_file_atomic(s->dirfd, INDEX_FILE, text, strlen(text), 0644, err);
    pthread_mutex_unlock(&s->index_mu);
    return rc;
}

static int
entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct oci_store_entry *)a)->ref,
                  ((const struct oci_store_entry *)b)->ref);
}

int
oci_store_list(struct oci_store *s, struct oci_store_entry **out, size_t *n, struct bx_err *err)
{
    json_auto_t *doc = NULL;
    int rc = index_load(s, &doc, err);
    if (rc < 0)
        return rc;
    size_t count = json_object_size(doc);
    struct oci_store_entry *entries = calloc(count + 1, sizeof(*entries));
    if (!entries)
        return bx_err_set(err, BX_ENOMEM, "index: out of memory");
    size_t i = 0;
    const char *key;
    json_t *v;
    json_object_foreach (doc, key, v) {
        if (json_is_object(v))
            entry_from_json(key, v, &entries[i++]);
    }
    qsort(entries, i, sizeof(*entries), entry_cmp);
    *out = entries;
    *n = i;
    return 0;
}

int
oci_store_remove(struct oci_store *s, const char *reference, struct bx_err *err)
{
    struct oci_ref ref;
    char canonical[512];
    const char *key = reference;
    if (oci_ref_parse(reference, &ref, NULL) == 0) {
        oci_ref_format(&ref, canonical, sizeof(canonical));
        key = canonical;
    }
    struct oci_store_entry e;
    if (store_index_get(s, key, &e, NULL) < 0 && store_index_get(s, reference, &e, NULL) == 0)
        key = reference;
    return store_index_put(s, key, NULL, 0, err);
}

int
oci_store_use(struct oci_store *s, const char *digest, struct bx_err *err)
{
    if (oci_digest_validate(digest, err) < 0)
        return err->code;
    return store_lock(s, oci_digest_hex(digest), LOCK_SH, err);
}

/* ---- garbage collection ---- */

struct hex_set {
    char (*items)[65];
    size_t n, cap;
};

static int
hex_set_add(struct hex_set *set, const char *digest)
{
    if (oci_digest_validate(digest, NULL) < 0)
        return 0;
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 64;
        char(*items)[65] = realloc(set->items, cap * sizeof(*items));
        if (!items)
            return -1;
        set->items = items;
        set->cap = cap;
    }
    snprintf(set->items[set->n++], 65, "%s", oci_digest_hex(digest));
    return 0;
}

static int
hex_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

static bool
hex_set_has(const struct hex_set *set, const char *hex)
{
    return set->n && bsearch(hex, set->items, set->n, sizeof(*set->items), hex_cmp) != NULL;
}

/* What the reference's manifest needs: the manifest, its config and its layers. */
static int
keep_image(struct oci_store *s, const char *digest, struct hex_set *rootfs, struct hex_set *blobs)
{
    if (hex_set_add(rootfs, digest) < 0 || hex_set_add(blobs, digest) < 0)
        return -1;
    cleanup_free char *body = NULL;
    size_t len = 0;
    if (store_blob_read(s, digest, OCI_MANIFEST_MAX_BYTES, &body, &len, NULL) < 0)
        return 0;
    struct oci_manifest m;
    if (oci_manifest_parse(body, len, &m, NULL) < 0)
        return 0;
    int rc = hex_set_add(blobs, m.config.digest);
    for (size_t i = 0; rc == 0 && i < m.n_layers; i++)
        rc = hex_set_add(blobs, m.layers[i].desc.digest);
    oci_manifest_release(&m);
    return rc;
}

static void
gc_dir(struct oci_store *s, int dirfd, bool rootfs, const struct hex_set *keep,
       struct oci_gc_stats *stats)
{
    cleanup_dir DIR *d = bx_opendir_at(dirfd, ".");
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL) {
        const char *name = de->d_name;
        if (name[0] == '.' || strlen(name) != 64 || hex_set_has(keep, name))
            continue;
        struct bx_err err = BX_ERR_INIT;
        struct stat st;
        if (!rootfs) {
            if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                unlinkat(dirfd, name, 0) == 0) {
                stats->blobs_removed++;
                stats->bytes_freed += (uint64_t)st.st_size;
            }
            continue;
        }
        cleanup_close int lock = store_lock(s, name, LOCK_EX | LOCK_NB, &err);
        if (lock < 0)
            continue; /* a pull or a run holds it */
        if (bx_rm_rf(dirfd, name, &err) == 0)
            stats->rootfs_removed++;
        else
            bx_log_warn("gc: cannot remove a root file system", "digest=%s error=\"%s\"", name,
                        err.msg);
    }
}

int
oci_store_gc(struct oci_store *s, struct oci_gc_stats *stats, struct bx_err *err)
{
    memset(stats, 0, sizeof(*stats));
    cleanup_close int gc_lock = store_lock(s, "gc", LOCK_EX, err);
    if (gc_lock < 0)
        return gc_lock;
    json_auto_t *doc = NULL;
    int rc = index_load(s, &doc, err);
    if (rc < 0)
        return rc;
    struct hex_set rootfs = {0}, blobs = {0};
    const char *key;
    json_t *v;
    json_object_foreach (doc, key, v) {
        const char *digest = json_string_value(json_object_get(v, "digest"));
        if (digest && keep_image(s, digest, &rootfs, &blobs) < 0)
            rc = bx_err_set(err, BX_ENOMEM, "gc: out of memory");
    }
    if (rc == 0) {
        qsort(rootfs.items, rootfs.n, sizeof(*rootfs.items), hex_cmp);
        qsort(blobs.items, blobs.n, sizeof(*blobs.items), hex_cmp);
        gc_dir(s, s->rootfs_fd, true, &rootfs, stats);
        gc_dir(s, s->blobs_fd, false, &blobs, stats);
    }
    free(rootfs.items);
    free(blobs.items);
    return rc;
}
