/* The registry client's HTTP layer over libcurl: see http_internal.h.
 *
 * Handles are pooled and share one connection cache, DNS cache and TLS sessions, so consecutive
 * requests to a registry reuse their connection. Redirects are followed by hand so that the
 * Authorization header never leaves the origin it was meant for.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "common/cleanup.h"
#include "http_internal.h"

#define HTTP_POOL_MAX 16
#define HTTP_MAX_REDIRECTS 5
#define HTTP_ERROR_BODY_MAX (64u << 10)

struct http_client {
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t pool_lock;
    CURL *pool[HTTP_POOL_MAX];
    size_t n_pool;
    long connect_timeout_ms;
    long stall_timeout_s;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void
curl_init_once(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *ud)
{
    (void)h;
    (void)access;
    struct http_client *c = ud;
    pthread_mutex_lock(&c->share_locks[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *ud)
{
    (void)h;
    struct http_client *c = ud;
    pthread_mutex_unlock(&c->share_locks[data]);
}

int
http_client_new(long connect_timeout_ms, long stall_timeout_s, struct http_client **out,
                struct bx_err *err)
{
    struct http_client *c = calloc(1, sizeof(*c));
    if (!c)
        return bx_err_set(err, BX_ENOMEM, "http client: out of memory");
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    pthread_mutex_init(&c->pool_lock, NULL);
    c->connect_timeout_ms = connect_timeout_ms;
    c->stall_timeout_s = stall_timeout_s;
    *out = c;
    return 0;
}

/* libcurl (and the TLS library under it) is set up at the first request, not before: a daemon
 * that serves only cached images never pays for it (about 4 MB of touched library pages). */
static int
client_ready(struct http_client *c, struct bx_err *err)
{
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK)
        return bx_err_set(err, BX_EINTERNAL, "curl: %s", curl_easy_strerror(curl_init_rc));
    pthread_mutex_lock(&c->pool_lock);
    if (!c->share) {
        CURLSH *sh = curl_share_init();
        if (sh) {
            curl_share_setopt(sh, CURLSHOPT_LOCKFUNC, share_lock);
            curl_share_setopt(sh, CURLSHOPT_UNLOCKFUNC, share_unlock);
            curl_share_setopt(sh, CURLSHOPT_USERDATA, c);
            curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
            curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
            curl_share_setopt(sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
        }
        c->share = sh;
    }
    bool ok = c->share != NULL;
    pthread_mutex_unlock(&c->pool_lock);
    return ok ? 0 : bx_err_set(err, BX_ENOMEM, "http client: out of memory");
}

void
http_client_free(struct http_client *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n_pool; i++)
        curl_easy_cleanup(c->pool[i]);
    if (c->share)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    pthread_mutex_destroy(&c->pool_lock);
    free(c);
}

static CURL *
handle_get(struct http_client *c)
{
    CURL *h = NULL;
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_pool > 0)
        h = c->pool[--c->n_pool];
    pthread_mutex_unlock(&c->pool_lock);
    if (h)
        curl_easy_reset(h);
    else
        h = curl_easy_init();
    return h;
}

static void
handle_put(struct http_client *c, CURL *h)
{
    pthread_mutex_lock(&c->pool_lock);
    if (c->n_pool < HTTP_POOL_MAX) {
        c->pool[c->n_pool++] = h;
        h = NULL;
    }
    pthread_mutex_unlock(&c->pool_lock);
    if (h)
        curl_easy_cleanup(h);
}

void
http_response_release(struct http_response *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

/* The state of one transfer, shared by curl's callbacks. */
struct xfer {
    CURL *h;
    const struct http_request *req;
    struct http_response *resp;
    char location[2048];
    uint64_t skip; /* bytes of a 200 to drop because the sink has them already */
    bool too_big;
    int sink_rc;
};

static void
header_value(const char *line, size_t len, size_t name_len, char *out, size_t size)
{
    const char *v = line + name_len;
    const char *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    size_t n = (size_t)(end - v) < size - 1 ? (size_t)(end - v) : size - 1;
    memcpy(out, v, n);
    out[n] = '\0';
}

static size_t
on_header(char *line, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    static const struct {
        const char *name;
        size_t off;
        size_t cap;
    } wanted[] = {
        {"content-type:", offsetof(struct http_response, content_type), 128},
        {"www-authenticate:", offsetof(struct http_response, www_authenticate), 1024},
    };
    if (len >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a 100 Continue, say): forget the last one's headers. */
        x->resp->content_type[0] = '\0';
        x->resp->www_authenticate[0] = '\0';
        x->location[0] = '\0';
        return len;
    }
    for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++) {
        size_t nl = strlen(wanted[i].name);
        char *field = (char *)x->resp + wanted[i].off;
        if (len > nl && strncasecmp(line, wanted[i].name, nl) == 0 && field[0] == '\0')
            header_value(line, len, nl, field, wanted[i].cap);
    }
    if (len > 9 && strncasecmp(line, "location:", 9) == 0)
        header_value(line, len, 9, x->location, sizeof(x->location));
    return len;
}

static size_t
buffer_body(struct xfer *x, const char *p, size_t len, size_t max)
{
    struct http_response *r = x->resp;
    if (r->len + len > max) {
        x->too_big = true;
        return 0;
    }
    char *nb = realloc(r->body, r->len + len + 1);
    if (!nb)
        return 0;
    memcpy(nb + r->len, p, len);
    r->body = nb;
    r->len += len;
    r->body[r->len] = '\0';
    return len;
}

static size_t
on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    const struct http_request *req = x->req;
    size_t len = size * n;
    long status = 0;
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
    if (!req->sink || status < 200 || status > 299)
        return buffer_body(x, p, len, req->sink ? HTTP_ERROR_BODY_MAX : req->max_body) == len ? len
                                                                                              : 0;
    if (status == 200 && x->skip == 0 && req->range_from > 0 && x->resp->sunk == 0)
        x->skip = req->range_from; /* the server ignored the range */
    size_t drop = x->skip < len ? (size_t)x->skip : len;
    x->skip -= drop;
    if (drop == len)
        return len;
    const char *data = p + drop;
    size_t rest = len - drop;
    if (req->range_from + x->resp->sunk + rest > req->max_sink_bytes) {
        x->too_big = true;
        return 0;
    }
    int rc = req->sink(req->sink_ctx, data, rest);
    if (rc != 0) {
        x->sink_rc = rc;
        return 0;
    }
    x->resp->sunk += rest;
    return len;
}

static void
set_common_options(struct http_client *c, CURL *h, struct xfer *x)
{
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "boxer/0.1");
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, c->stall_timeout_s);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
}

/* The scheme, host and port of an absolute URL, for comparing origins. */
static bool
same_origin(const char *a, const char *b)
{
    char *parts[2][3] = {{NULL}};
    const char *urls[2] = {a, b};
    bool same = true;
    for (int i = 0; i < 2; i++) {
        CURLU *u = curl_url();
        if (!u || curl_url_set(u, CURLUPART_URL, urls[i], 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_SCHEME, &parts[i][0], 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_HOST, &parts[i][1], 0) != CURLUE_OK ||
            curl_url_get(u, CURLUPART_PORT, &parts[i][2], CURLU_DEFAULT_PORT) != CURLUE_OK)
            same = false;
        curl_url_cleanup(u);
    }
    for (int j = 0; same && j < 3; j++)
        same = parts[0][j] && parts[1][j] && strcasecmp(parts[0][j], parts[1][j]) == 0;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++)
            curl_free(parts[i][j]);
    return same;
}

/* Resolves a Location against the URL that sent it into out. */
static int
resolve_location(const char *base, const char *location, char *out, size_t size)
{
    CURLU *u = curl_url();
    char *abs = NULL;
    int rc = -1;
    if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
        curl_url_set(u, CURLUPART_URL, location, 0) == CURLUE_OK &&
        curl_url_get(u, CURLUPART_URL, &abs, 0) == CURLUE_OK && strlen(abs) < size) {
        strcpy(out, abs);
        rc = 0;
    }
    curl_free(abs);
    curl_url_cleanup(u);
    return rc;
}

static int
transfer_error(const struct xfer *x, CURLcode cc, const char *url, struct bx_err *err)
{
    if (x->sink_rc)
        return x->sink_rc;
    if (x->too_big)
        return bx_err_set(err, BX_ETOOBIG, "%s: response larger than allowed", url);
    if (cc == CURLE_OPERATION_TIMEDOUT)
        return bx_err_set(err, BX_ETIMEDOUT, "%s: stalled: %s", url, curl_easy_strerror(cc));
    return bx_err_set(err, BX_ENET, "%s: %s", url, curl_easy_strerror(cc));
}

/* One request, no redirects followed. */
static int
get_once(struct http_client *c, const struct http_request *req, const char *url,
         const char *authorization, struct http_response *resp, char *location,
         size_t location_size, struct bx_err *err)
{
    CURL *h = handle_get(c);
    if (!h)
        return bx_err_set(err, BX_ENOMEM, "curl: cannot create a handle");
    struct xfer x = {.h = h, .req = req, .resp = resp};
    set_common_options(c, h, &x);
    curl_easy_setopt(h, CURLOPT_URL, url);
    struct curl_slist *headers = NULL;
    char line[8192 + 32];
    if (req->accept) {
        snprintf(line, sizeof(line), "Accept: %s", req->accept);
        headers = curl_slist_append(headers, line);
    }
    if (authorization) {
        snprintf(line, sizeof(line), "Authorization: %s", authorization);
        headers = curl_slist_append(headers, line);
    }
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    char range[32];
    if (req->range_from > 0) {
        snprintf(range, sizeof(range), "%llu-", (unsigned long long)req->range_from);
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    }
    CURLcode cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    snprintf(location, location_size, "%s", x.location);
    curl_slist_free_all(headers);
    handle_put(c, h);
    if (cc != CURLE_OK)
        return transfer_error(&x, cc, url, err);
    return 0;
}

int
http_get(struct http_client *c, const struct http_request *req, struct http_response *resp,
         struct bx_err *err)
{
    memset(resp, 0, sizeof(*resp));
    if (client_ready(c, err) < 0)
        return err->code;
    snprintf(resp->url, sizeof(resp->url), "%s", req->url);
    const char *authorization = req->authorization;
    for (int hops = 0;; hops++) {
        char location[2048];
        int rc = get_once(c, req, resp->url, authorization, resp, location, sizeof(location), err);
        if (rc < 0)
            return rc;
        bool redirect = resp->status == 301 || resp->status == 302 || resp->status == 303 ||
                        resp->status == 307 || resp->status == 308;
        if (!redirect || !location[0])
            return 0;
        if (hops == HTTP_MAX_REDIRECTS)
            return bx_err_set(err, BX_ENET, "%s: too many redirects", req->url);
        char next[2048];
        if (resolve_location(resp->url, location, next, sizeof(next)) < 0)
            return bx_err_set(err, BX_ENET, "%s: bad redirect location", resp->url);
        if (authorization && !same_origin(resp->url, next))
            authorization = NULL;
        char *stale = resp->body;
        memset(resp, 0, sizeof(*resp));
        free(stale);
        snprintf(resp->url, sizeof(resp->url), "%s", next);
    }
}

const char *
http_query_escape(const char *s, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && n + 4 < size; p++) {
        if (isalnum(*p) || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    out[n] = '\0';
    return out;
}
