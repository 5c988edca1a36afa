/* The HTTP server: libmicrohttpd with a thread pool over epoll, a static route table, bounded
 * bodies, connection timeouts, and runs answered from the executor's threads through
 * suspend/resume, so a slow run or a slow client never holds a server thread. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "httpd_internal.h"

#define SERVER_THREADS 4
#define SERVER_CONN_TIMEOUT_S 60
#define SERVER_MAX_CONNECTIONS 512

static atomic_uint_fast64_t request_counter;

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct route {
    const char *method;
    const char *path;
    enum httpd_body_kind body;
    void (*fn)(struct request *req);
};

static const struct route routes[] = {
    {"GET", "/healthz", BODY_NONE, h_healthz},
    {"POST", "/run", BODY_JSON, h_run},
    {"POST", "/files", BODY_UPLOAD, h_files_upload_end},
    {"GET", "/files", BODY_NONE, h_files_get},
    {"DELETE", "/files", BODY_NONE, h_files_delete},
    {"GET", "/swagger", BODY_NONE, h_swagger},
    {"GET", "/swagger/", BODY_NONE, h_swagger},
    {"GET", "/openapi.json", BODY_NONE, h_openapi},
};

static const struct route *
route_find(const char *method, const char *url, bool *path_known)
{
    *path_known = false;
    for (size_t i = 0; i < sizeof(routes) / sizeof(*routes); i++) {
        bool prefix = strcmp(routes[i].path, "/swagger/") == 0;
        if (prefix ? strncmp(url, "/swagger/", 9) != 0 : strcmp(url, routes[i].path) != 0)
            continue;
        *path_known = true;
        if (strcmp(method, routes[i].method) == 0 ||
            (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0))
            return &routes[i];
    }
    return NULL;
}

static struct request *
request_new(struct boxerd *d, struct MHD_Connection *conn, const char *method, const char *url)
{
    struct request *req = calloc(1, sizeof(*req));
    if (!req)
        return NULL;
    req->d = d;
    req->conn = conn;
    req->method = method;
    req->url = url;
    req->started_ms = now_ms();
    snprintf(req->id, sizeof(req->id), "%llx",
             (unsigned long long)atomic_fetch_add(&request_counter, 1) + 1);
    return req;
}

/* Reads a JSON body: bounded before anything is kept. */
static void
body_take(struct request *req, const char *data, size_t size)
{
    if (req->body_too_big)
        return;
    if (req->body_len + size > HTTPD_JSON_MAX_BYTES) {
        req->body_too_big = true;
        free(req->body);
        req->body = NULL;
        return;
    }
    char *b = realloc(req->body, req->body_len + size + 1);
    if (!b) {
        req->body_too_big = true;
        return;
    }
    memcpy(b + req->body_len, data, size);
    req->body = b;
    req->body_len += size;
    req->body[req->body_len] = '\0';
}

static enum MHD_Result
queue_reply(struct request *req)
{
    req->answered = true;
    enum MHD_Result r = MHD_queue_response(req->conn, req->status, req->response);
    return r;
}

/* The first call of a request: routing, and refusing what is refused before the body. */
static enum MHD_Result
on_first_call(struct request *req, const struct route *rt, bool path_known)
{
    if (!rt) {
        if (path_known)
            reply_error(req, MHD_HTTP_METHOD_NOT_ALLOWED, "method %s not allowed on %s",
                        req->method, req->url);
        else
            reply_error(req, MHD_HTTP_NOT_FOUND, "no such route: %s %s", req->method, req->url);
        return MHD_YES;
    }
    const char *cl =
        MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (rt->body == BODY_JSON && cl && strtoull(cl, NULL, 10) > HTTPD_JSON_MAX_BYTES) {
        reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "request body over %u bytes",
                    HTTPD_JSON_MAX_BYTES);
        return MHD_YES;
    }
    if (rt->body == BODY_UPLOAD && h_files_upload_begin(req) < 0 && !req->response)
        reply_error(req, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot start the upload");
    return MHD_YES;
}

static enum MHD_Result
access_handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
               const char *version, const char *upload_data, size_t *upload_data_size,
               void **con_cls)
{
    (void)version;
    struct boxerd *d = cls;
    struct request *req = *con_cls;
    bool path_known;
    const struct route *rt = route_find(method, url, &path_known);
    if (!req) {
        req = request_new(d, conn, method, url);
        if (!req)
            return MHD_NO;
        *con_cls = req;
        bx_log_set_req(req->id);
        return on_first_call(req, rt, path_known);
    }
    bx_log_set_req(req->id);
    if (*upload_data_size) {
        /* A reply already made (an error) discards the rest of the body. */
        if (!req->response && rt && rt->body == BODY_JSON)
            body_take(req, upload_data, *upload_data_size);
        else if (!req->response && rt && rt->body == BODY_UPLOAD)
            h_files_upload_data(req, upload_data, *upload_data_size);
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (req->answered)
        return MHD_YES;
    if (req->job && req->job->body) {
        /* Resumed: the run is over. */
        reply_json(req, req->job->status, req->job->body);
        req->job->body = NULL;
        run_request_release(&req->job->run);
        free(req->job);
        req->job = NULL;
        req->suspended = false;
    }
    if (!req->response && req->body_too_big)
        reply_error(req, MHD_HTTP_CONTENT_TOO_LARGE, "request body over %u bytes",
                    HTTPD_JSON_MAX_BYTES);
    if (!req->response && !req->suspended)
        rt->fn(req); /* may suspend (a run) or reply */
    if (req->response)
        return queue_reply(req);
    return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)conn;
    struct request *req = *con_cls;
    if (!req)
        return;
    bx_log_set_req(req->id);
    bx_log_info("request", "method=%s path=%s status=%u exec=%s duration_ms=%lld%s", req->method,
                req->url, req->status, req->exec_id[0] ? req->exec_id : "-",
                (long long)(now_ms() - req->started_ms),
                toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    bx_log_set_req(NULL);
    h_files_upload_free(req);
    if (req->response)
        MHD_destroy_response(req->response);
    free(req->body);
    free(req);
    *con_cls = NULL;
}

void
server_resume(struct request *req)
{
    MHD_resume_connection(req->conn);
}

/* ":8080", "127.0.0.1:8080", "[::1]:8080", "0.0.0.0:80". */
static int
parse_listen(const char *addr, struct sockaddr_storage *ss, bool *any, struct bx_err *err)
{
    const char *colon = strrchr(addr, ':');
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : -1;
    if (!colon || !*(colon + 1) || *end || port < 0 || port > 65535)
        return bx_err_set(err, BX_EINVAL, "listen_addr %s: want HOST:PORT or :PORT", addr);
    char host[256];
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= sizeof(host))
        return bx_err_set(err, BX_EINVAL, "listen_addr %s: host too long", addr);
    memcpy(host, addr, hlen);
    host[hlen] = '\0';
    memset(ss, 0, sizeof(*ss));
    *any = hlen == 0;
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (*any || strcmp(host, "[::]") == 0) {
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_any;
        in6->sin6_port = htons((uint16_t)port);
        *any = true;
        return 0;
    }
    if (host[0] == '[' && host[hlen - 1] == ']') {
        host[hlen - 1] = '\0';
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1)
            return 0;
    } else if (inet_pton(AF_INET, strcmp(host, "localhost") == 0 ? "127.0.0.1" : host,
                         &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
        return 0;
    }
    return bx_err_set(err, BX_EINVAL, "listen_addr %s: not an IP address", addr);
}

int
server_start(struct boxerd *d, struct bx_err *err)
{
    struct sockaddr_storage ss;
    bool any;
    int rc = parse_listen(d->config.listen_addr, &ss, &any, err);
    if (rc < 0)
        return rc;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                         MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6 | (any ? MHD_USE_DUAL_STACK : 0);
    d->mhd = MHD_start_daemon(flags, 0, NULL, NULL, access_handler, d, MHD_OPTION_SOCK_ADDR,
                              (struct sockaddr *)&ss, MHD_OPTION_THREAD_POOL_SIZE,
                              (unsigned int)SERVER_THREADS, MHD_OPTION_CONNECTION_TIMEOUT,
                              (unsigned int)SERVER_CONN_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
                              (unsigned int)SERVER_MAX_CONNECTIONS, MHD_OPTION_NOTIFY_COMPLETED,
                              on_completed, d, MHD_OPTION_END);
    if (!d->mhd)
        return bx_err_sys(err, BX_EIO, errno, "cannot listen on %s", d->config.listen_addr);
    return 0;
}

void
server_stop(struct boxerd *d)
{
    /* The last answers go out before the server stops: wait (at most 5 s) for the connections
     * to close; clients that keep theirs open idle are then cut. */
    for (int i = 0; d->mhd && i < 250; i++) {
        const union MHD_DaemonInfo *info =
            MHD_get_daemon_info(d->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
        if (!info || info->num_connections == 0)
            break;
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    if (d->mhd)
        MHD_stop_daemon(d->mhd);
    d->mhd = NULL;
}
