/* GET /healthz, the Swagger UI and the OpenAPI document. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "common/runsc.h"
#include "httpd_internal.h"

void
h_healthz(struct request *req)
{
    struct boxerd *d = req->d;
    char run[PATH_MAX];
    snprintf(run, sizeof(run), "%s/run", d->config.home);
    char runsc[PATH_MAX];
    if (!bx_runsc_find(d->runsc, runsc, sizeof(runsc)))
        return reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "runsc not found: %s", d->runsc);
    if (access(run, W_OK | X_OK) < 0 || access(d->files_dir, W_OK | X_OK) < 0)
        return reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "home is not writable: %s",
                           d->config.home);
    if (d->stopping)
        return reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down");
    reply_json(req, MHD_HTTP_OK, json_pack("{s:b}", "ok", 1));
}

static void
reply_file(struct request *req, const char *path, const char *type)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0)
            close(fd);
        return reply_error(req, MHD_HTTP_NOT_FOUND, "not found");
    }
    if (req->response)
        MHD_destroy_response(req->response);
    req->response = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    MHD_add_response_header(req->response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    req->status = MHD_HTTP_OK;
}

static const char *
type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {{".html", "text/html; charset=utf-8"},
                 {".js", "application/javascript"},
                 {".css", "text/css"},
                 {".png", "image/png"},
                 {".json", "application/json"},
                 {".map", "application/json"}};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof(types) / sizeof(*types); i++)
        if (strcmp(dot, types[i].ext) == 0)
            return types[i].type;
    return "application/octet-stream";
}

void
h_swagger(struct request *req)
{
    struct boxerd *d = req->d;
    if (!d->swagger_dir[0])
        return reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                           "the Swagger UI's assets are not installed (see docs/api.md)");
    const char *name = strncmp(req->url, "/swagger/", 9) == 0 ? req->url + 9 : "";
    if (!*name)
        name = "index.html";
    /* Only plain names of the asset directory. */
    if (strchr(name, '/') || name[0] == '.')
        return reply_error(req, MHD_HTTP_NOT_FOUND, "not found");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", d->swagger_dir, name);
    reply_file(req, path, type_of(name));
}

void
h_openapi(struct request *req)
{
    if (!req->d->openapi_path[0])
        return reply_error(req, MHD_HTTP_SERVICE_UNAVAILABLE,
                           "the OpenAPI document is not installed");
    reply_file(req, req->d->openapi_path, "application/json");
}
