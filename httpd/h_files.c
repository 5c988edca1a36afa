/* The file store: POST /files (multipart, streamed to disk), GET /files?path=, DELETE
 * /files?path=. Every path resolves under home/files with no symlink in any component; output/
 * is written only by runs. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "httpd_internal.h"

#define UPLOAD_PP_BUFFER 65536
#define MULTIPART_SLACK (64u << 10)

struct upload {
    struct MHD_PostProcessor *pp;
    int fd; /* O_TMPFILE in the store: nothing is left if the upload dies */
    uint64_t size, limit;
    bool have_file, too_big, failed;
    char path[4096];
    size_t path_len;
};

int
store_path_check(const char *in, bool for_write, char *out, size_t size, struct bx_err *err)
{
    if (!in || !*in)
        return bx_err_set(err, BX_EINVAL, "path is empty");
    if (in[0] == '/')
        return bx_err_set(err, BX_EINVAL, "path must be relative to the store: %.200s", in);
    if (bx_path_clean(in, true, out, size, err) < 0)
        return bx_err_set(err, BX_EINVAL, "invalid path: %.200s", in);
    if (strcmp(out, ".") == 0)
        return bx_err_set(err, BX_EINVAL, "path names no file: %.200s", in);
    if (for_write && (strcmp(out, "output") == 0 || strncmp(out, "output/", 7) == 0))
        return bx_err_set(err, BX_EINVAL, "output/ is written only by runs");
    return 0;
}

static const char *
query_path(struct request *req)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, "path");
}

static enum MHD_Result
upload_iter(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
            const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
            size_t size)
{
    (void)kind, (void)filename, (void)content_type, (void)transfer_encoding, (void)off;
    struct upload *u = cls;
    if (strcmp(key, "file") == 0) {
        u->have_file = true;
        if (u->size + size > u->limit) {
            u->too_big = true;
            return MHD_NO;
        }
        if (size && bx_write_all(u->fd, data, size) < 0) {
            u->failed = true;
            return MHD_NO;
        }
        u->size += size;
    } else if (strcmp(key, "path") == 0) {
        if (u->path_len + size >= sizeof(u->path)) {
            u->failed = true;
            return MHD_NO;
        }
        memcpy(u->path + u->path_len, data, size);
        u->path_len += size;
        u->path[u->path_len] = '\0';
    }
    return MHD_YES;
}

int
h_files_upload_begin(struct request *req)
{
    struct boxerd *d = req->d;
    uint64_t limit = d->config.upload_limit_bytes;
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > limit + MULTIPART_SLACK) {
        reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "upload exceeds the limit of %llu bytes",
                    (unsigned long long)limit);
        return -1;
    }
    struct upload *u = calloc(1, sizeof(*u));
    if (!u)
        return -1;
    u->fd = -1;
    u->limit = limit;
    req->upload = u;
    u->pp = MHD_create_post_processor(req->conn, UPLOAD_PP_BUFFER, upload_iter, u);
    if (!u->pp) {
        reply_error(req, MHD_HTTP_BAD_REQUEST,
                    "POST /files takes multipart/form-data with fields file and path");
        return -1;
    }
    u->fd = openat(d->files_fd, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0644);
    if (u->fd < 0) {
        reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot store the upload: %s",
                    strerror(errno));
        return -1;
    }
    return 0;
}

void
h_files_upload_data(struct request *req, const char *data, size_t size)
{
    struct upload *u = req->upload;
    if (!u || !u->pp || u->too_big || u->failed)
        return;
    if (MHD_post_process(u->pp, data, size) == MHD_NO && !u->too_big && !u->failed)
        u->failed = true;
    if (u->too_big)
        reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "upload exceeds the limit of %llu bytes",
                    (unsigned long long)u->limit);
}

/* Puts the finished temporary file at `path` (replacing what is there). */
static int
upload_place(struct boxerd *d, struct upload *u, const char *path, struct bx_err *err)
{
    char leaf[256], proc[64], tmp[64];
    cleanup_close int dir = bx_open_parent_in_root(d->files_fd, path, BX_RESOLVE_NO_SYMLINKS, 0755,
                                                   leaf, sizeof(leaf), err);
    if (dir < 0)
        return dir;
    struct stat st;
    if (fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
        return bx_err_set(err, BX_EINVAL, "path is a directory: %.200s", path);
    snprintf(proc, sizeof(proc), "/proc/self/fd/%d", u->fd);
    static atomic_uint counter;
    snprintf(tmp, sizeof(tmp), ".upload.%d.%u", (int)getpid(), atomic_fetch_add(&counter, 1));
    if (linkat(AT_FDCWD, proc, dir, tmp, AT_SYMLINK_FOLLOW) < 0)
        return bx_err_sys(err, BX_EIO, errno, "store the upload");
    if (renameat(dir, tmp, dir, leaf) < 0) {
        int e = errno;
        unlinkat(dir, tmp, 0);
        return bx_err_sys(err, BX_EIO, e, "store the upload");
    }
    return 0;
}

void
h_files_upload_end(struct request *req)
{
    struct upload *u = req->upload;
    struct bx_err err = BX_ERR_INIT;
    char clean[4096];
    if (!u)
        return reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "upload lost");
    if (u->pp) {
        MHD_destroy_post_processor(u->pp);
        u->pp = NULL;
    }
    if (u->too_big)
        return reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE,
                           "upload exceeds the limit of %llu bytes", (unsigned long long)u->limit);
    if (u->failed)
        return reply_error(req, MHD_HTTP_BAD_REQUEST, "malformed multipart body");
    if (!u->have_file)
        return reply_error(req, MHD_HTTP_BAD_REQUEST, "missing field: file");
    if (!u->path_len)
        return reply_error(req, MHD_HTTP_BAD_REQUEST, "missing field: path");
    if (store_path_check(u->path, true, clean, sizeof(clean), &err) < 0 ||
        upload_place(req->d, u, clean, &err) < 0)
        return reply_error(req, reply_status_of(err.code), "%s", err.msg);
    reply_json(req, MHD_HTTP_OK, json_pack("{s:s}", "path", clean));
}

void
h_files_upload_free(struct request *req)
{
    struct upload *u = req->upload;
    if (!u)
        return;
    if (u->pp)
        MHD_destroy_post_processor(u->pp);
    if (u->fd >= 0)
        close(u->fd);
    free(u);
    req->upload = NULL;
}

void
h_files_get(struct request *req)
{
    struct bx_err err = BX_ERR_INIT;
    char clean[4096];
    const char *path = query_path(req);
    if (!path)
        return reply_error(req, MHD_HTTP_BAD_REQUEST, "missing query parameter: path");
    if (store_path_check(path, false, clean, sizeof(clean), &err) < 0)
        return reply_error(req, MHD_HTTP_BAD_REQUEST, "%s", err.msg);
    int fd = bx_open_in_root(req->d->files_fd, clean, O_RDONLY | O_NOFOLLOW, 0,
                             BX_RESOLVE_NO_SYMLINKS, &err);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return reply_error(req, MHD_HTTP_NOT_FOUND, "file not found");
    }
    if (req->response)
        MHD_destroy_response(req->response);
    req->response = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE,
                            "application/octet-stream");
    req->status = MHD_HTTP_OK;
}

void
h_files_delete(struct request *req)
{
    struct bx_err err = BX_ERR_INIT;
    char clean[4096], leaf[256];
    const char *path = query_path(req);
    if (!path)
        return reply_error(req, MHD_HTTP_BAD_REQUEST, "missing query parameter: path");
    if (store_path_check(path, false, clean, sizeof(clean), &err) < 0)
        return reply_error(req, MHD_HTTP_BAD_REQUEST, "%s", err.msg);
    cleanup_close int dir = bx_open_parent_in_root(req->d->files_fd, clean, BX_RESOLVE_NO_SYMLINKS,
                                                   0, leaf, sizeof(leaf), &err);
    struct stat st;
    if (dir < 0 || fstatat(dir, leaf, &st, AT_SYMLINK_NOFOLLOW) < 0)
        return reply_error(req, MHD_HTTP_NOT_FOUND, "file not found");
    if (bx_rm_rf(dir, leaf, &err) < 0)
        return reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s", err.msg);
    reply_json(req, MHD_HTTP_OK, json_pack("{s:s}", "path", clean));
}
