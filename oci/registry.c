/* The registry client: endpoints (mirrors, then the registry), authentication, retries and
 * digest checks over the HTTP layer. See oci/registry.h. */
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"
#include "http_internal.h"
#include "oci/auth.h"
#include "oci/registry.h"

#define REGISTRY_MAX_ENDPOINTS 9
#define REGISTRY_TOKEN_CACHE 64
#define REGISTRY_TOKEN_BODY_MAX (64u << 10)
#define DOCKER_CONFIG_MAX (1u << 20)

struct registry_cred {
    char *domain;
    char *username;
    char *password;
};

struct registry_token {
    char *key;   /* "<endpoint base> <scope>" */
    char *value; /* the Authorization header value */
    time_t expires;
};

struct oci_registry {
    struct http_client *http;
    struct oci_mirror *mirrors; /* strings owned */
    size_t n_mirrors;
    char **insecure;
    size_t n_insecure;
    struct registry_cred *creds;
    size_t n_creds;
    char *docker_config; /* the body of docker's config.json, or NULL */
    size_t docker_config_len;
    int attempts;
    long backoff_ms;
    pthread_mutex_t lock; /* guards tokens */
    struct registry_token tokens[REGISTRY_TOKEN_CACHE];
    size_t n_tokens;
};

struct endpoint {
    char base[512];          /* "https://registry-1.docker.io", no trailing slash */
    char host[256];          /* "registry-1.docker.io" or the mirror's host[:port] */
    const char *cred_domain; /* whose credentials apply */
};

static char *
dup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

static void
read_docker_config(struct oci_registry *r, const char *path)
{
    char buf[4096];
    if (!path) {
        const char *dir = getenv("DOCKER_CONFIG");
        const char *home = getenv("HOME");
        if (dir)
            snprintf(buf, sizeof(buf), "%s/config.json", dir);
        else if (home)
            snprintf(buf, sizeof(buf), "%s/.docker/config.json", home);
        else
            return;
        path = buf;
    }
    struct bx_err err = BX_ERR_INIT;
    if (bx_read_file(AT_FDCWD, path, DOCKER_CONFIG_MAX, &r->docker_config, &r->docker_config_len,
                     &err) < 0 &&
        err.code != BX_ENOENT)
        bx_log_warn("cannot read docker config", "path=%s error=\"%s\"", path, err.msg);
}

int
oci_registry_new(const struct oci_registry_opts *opts, struct oci_registry **out,
                 struct bx_err *err)
{
    static const struct oci_registry_opts none;
    if (!opts)
        opts = &none;
    struct oci_registry *r = calloc(1, sizeof(*r));
    if (!r)
        return bx_err_set(err, BX_ENOMEM, "registry: out of memory");
    pthread_mutex_init(&r->lock, NULL);
    r->attempts = opts->attempts > 0 ? opts->attempts : 3;
    r->backoff_ms = opts->backoff_ms > 0 ? opts->backoff_ms : 200;
    r->mirrors = calloc(opts->n_mirrors + 1, sizeof(*r->mirrors));
    r->insecure = calloc(opts->n_insecure + 1, sizeof(*r->insecure));
    r->creds = calloc(opts->n_auth + 1, sizeof(*r->creds));
    if (!r->mirrors || !r->insecure || !r->creds) {
        oci_registry_free(r);
        return bx_err_set(err, BX_ENOMEM, "registry: out of memory");
    }
    for (size_t i = 0; i < opts->n_mirrors; i++, r->n_mirrors++) {
        r->mirrors[i].domain = dup_or_null(opts->mirrors[i].domain);
        r->mirrors[i].url = dup_or_null(opts->mirrors[i].url);
    }
    for (size_t i = 0; i < opts->n_insecure; i++, r->n_insecure++)
        r->insecure[i] = dup_or_null(opts->insecure[i]);
    for (size_t i = 0; i < opts->n_auth; i++, r->n_creds++) {
        r->creds[i].domain = dup_or_null(opts->auth[i].domain);
        r->creds[i].username = dup_or_null(opts->auth[i].username);
        r->creds[i].password = dup_or_null(opts->auth[i].password);
    }
    read_docker_config(r, opts->docker_config);
    int rc = http_client_new(opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : 10000,
                             opts->stall_timeout_s > 0 ? opts->stall_timeout_s : 30, &r->http, err);
    if (rc < 0) {
        oci_registry_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

void
oci_registry_free(struct oci_registry *r)
{
    if (!r)
        return;
    http_client_free(r->http);
    for (size_t i = 0; i < r->n_mirrors; i++) {
        free((char *)r->mirrors[i].domain);
        free((char *)r->mirrors[i].url);
    }
    free(r->mirrors);
    for (size_t i = 0; i < r->n_insecure; i++)
        free(r->insecure[i]);
    free(r->insecure);
    for (size_t i = 0; i < r->n_creds; i++) {
        free(r->creds[i].domain);
        free(r->creds[i].username);
        if (r->creds[i].password)
            explicit_bzero(r->creds[i].password, strlen(r->creds[i].password));
        free(r->creds[i].password);
    }
    free(r->creds);
    for (size_t i = 0; i < r->n_tokens; i++) {
        free(r->tokens[i].key);
        free(r->tokens[i].value);
    }
    if (r->docker_config)
        explicit_bzero(r->docker_config, r->docker_config_len);
    free(r->docker_config);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

void
oci_fetched_manifest_release(struct oci_fetched_manifest *m)
{
    free(m->body);
    memset(m, 0, sizeof(*m));
}

/* ---- endpoints ---- */

static bool
is_loopback(const char *hostport)
{
    return strncmp(hostport, "localhost", 9) == 0 || strncmp(hostport, "127.", 4) == 0 ||
           strncmp(hostport, "[::1]", 5) == 0;
}

static bool
is_insecure(const struct oci_registry *r, const char *domain)
{
    for (size_t i = 0; i < r->n_insecure; i++) {
        if (strcmp(r->insecure[i], domain) == 0)
            return true;
    }
    return is_loopback(domain);
}

/* The host[:port] of a URL like "http://h:5000/x". */
static void
url_host(const char *url, char *out, size_t size)
{
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t n = strcspn(p, "/?#");
    snprintf(out, size, "%.*s", (int)(n < size ? n : size - 1), p);
}

static size_t
endpoints_for(const struct oci_registry *r, const struct oci_ref *ref, struct endpoint *eps)
{
    size_t n = 0;
    for (size_t i = 0; i < r->n_mirrors && n < REGISTRY_MAX_ENDPOINTS - 1; i++) {
        if (strcmp(r->mirrors[i].domain, ref->domain) != 0)
            continue;
        struct endpoint *e = &eps[n++];
        const char *url = r->mirrors[i].url;
        bool has_scheme = strstr(url, "://") != NULL;
        snprintf(e->base, sizeof(e->base), "%s%s", has_scheme ? "" : "https://", url);
        size_t len = strlen(e->base);
        while (len > 0 && e->base[len - 1] == '/')
            e->base[--len] = '\0';
        url_host(e->base, e->host, sizeof(e->host));
        e->cred_domain = e->host;
    }
    struct endpoint *e = &eps[n++];
    const char *host = oci_ref_api_host(ref);
    snprintf(e->base, sizeof(e->base), "%s://%s", is_insecure(r, ref->domain) ? "http" : "https",
             host);
    snprintf(e->host, sizeof(e->host), "%s", host);
    e->cred_domain = ref->domain;
    return n;
}

/* ---- credentials and tokens ---- */

static int
find_credentials(const struct oci_registry *r, const char *domain, struct oci_credentials *out)
{
    for (size_t i = 0; i < r->n_creds; i++) {
        if (r->creds[i].domain && strcmp(r->creds[i].domain, domain) == 0) {
            snprintf(out->username, sizeof(out->username), "%s",
                     r->creds[i].username ? r->creds[i].username : "");
            snprintf(out->password, sizeof(out->password), "%s",
                     r->creds[i].password ? r->creds[i].password : "");
            return 0;
        }
    }
    struct bx_err err = BX_ERR_INIT;
    if (r->docker_config &&
        oci_docker_config_lookup(r->docker_config, r->docker_config_len, domain, out, &err) == 0)
        return 0;
    return -1;
}

/* "Basic base64(user:pass)" into out. */
static void
basic_header(const struct oci_credentials *c, char *out, size_t size)
{
    char plain[sizeof(c->username) + sizeof(c->password) + 2];
    int n = snprintf(plain, sizeof(plain), "%s:%s", c->username, c->password);
    unsigned char enc[((sizeof(plain) + 2) / 3) * 4 + 1];
    EVP_EncodeBlock(enc, (const unsigned char *)plain, n);
    snprintf(out, size, "Basic %s", enc);
    explicit_bzero(plain, sizeof(plain));
}

static char *
token_lookup(struct oci_registry *r, const char *key)
{
    char *value = NULL;
    time_t now = time(NULL);
    pthread_mutex_lock(&r->lock);
    for (size_t i = 0; i < r->n_tokens; i++) {
        if (strcmp(r->tokens[i].key, key) == 0 && r->tokens[i].expires > now) {
            value = strdup(r->tokens[i].value);
            break;
        }
    }
    pthread_mutex_unlock(&r->lock);
    return value;
}

static void
token_store(struct oci_registry *r, const char *key, const char *value, long ttl_s)
{
    char *k = strdup(key);
    char *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return;
    }
    time_t now = time(NULL);
    pthread_mutex_lock(&r->lock);
    size_t slot = r->n_tokens;
    for (size_t i = 0; i < r->n_tokens; i++) {
        if (strcmp(r->tokens[i].key, key) == 0 || r->tokens[i].expires <= now) {
            slot = i;
            break;
        }
    }
    if (slot == REGISTRY_TOKEN_CACHE)
        slot = (size_t)now % REGISTRY_TOKEN_CACHE;
    if (slot == r->n_tokens) {
        r->n_tokens++;
    } else {
        free(r->tokens[slot].key);
        free(r->tokens[slot].value);
    }
    r->tokens[slot].key = k;
    r->tokens[slot].value = v;
    r->tokens[slot].expires = now + (ttl_s > 10 ? ttl_s - 10 : 1);
    pthread_mutex_unlock(&r->lock);
}

/* The token flow: GET realm?service=..&scope=.., with Basic credentials when there are any.
 * Writes "Bearer <token>" into out. */
static int
fetch_bearer(struct oci_registry *r, const struct oci_challenge *ch, const char *scope,
             const struct oci_credentials *creds, char **out, long *ttl, struct bx_err *err)
{
    char esc_service[768], esc_scope[1536], url[4096];
    snprintf(url, sizeof(url), "%s%sservice=%s&scope=%s", ch->realm,
             strchr(ch->realm, '?') ? "&" : "?",
             http_query_escape(ch->service, esc_service, sizeof(esc_service)),
             http_query_escape(ch->scope[0] ? ch->scope : scope, esc_scope, sizeof(esc_scope)));
    char basic[2048];
    if (creds)
        basic_header(creds, basic, sizeof(basic));
    struct http_request req = {
        .url = url,
        .authorization = creds ? basic : NULL,
        .max_body = REGISTRY_TOKEN_BODY_MAX,
    };
    struct http_response resp;
    int rc = http_get(r->http, &req, &resp, err);
    explicit_bzero(basic, sizeof(basic));
    if (rc < 0)
        return bx_err_prefix(err, "token");
    if (resp.status != 200) {
        long status = resp.status;
        http_response_release(&resp);
        return bx_err_set(err, status == 401 || status == 403 ? BX_EAUTH : BX_ENET,
                          "token server %s: HTTP %ld", ch->realm, status);
    }
    json_error_t jerr;
    json_auto_t *doc = json_loadb(resp.body ? resp.body : "", resp.len, 0, &jerr);
    http_response_release(&resp);
    const char *token = NULL;
    json_int_t expires_in = 60;
    if (!doc || json_unpack(doc, "{s?s, s?I}", "token", &token, "expires_in", &expires_in) < 0 ||
        (!token && json_unpack(doc, "{s:s}", "access_token", &token) < 0) || !token || !*token)
        return bx_err_set(err, BX_EAUTH, "token server %s: no token in the answer", ch->realm);
    if (asprintf(out, "Bearer %s", token) < 0)
        return bx_err_set(err, BX_ENOMEM, "token: out of memory");
    *ttl = expires_in > 0 ? (long)expires_in : 60;
    return 0;
}

/* Answers a 401's challenge: the Authorization value to retry with, cached under key. */
static int
answer_challenge(struct oci_registry *r, const struct endpoint *ep, const char *header,
                 const char *scope, const char *key, char **out, struct bx_err *err)
{
    struct oci_challenge ch;
    int rc = oci_challenge_parse(header, &ch, err);
    if (rc < 0)
        return bx_err_prefix(err, "%s: authentication challenge", ep->host);
    struct oci_credentials creds;
    bool have_creds = find_credentials(r, ep->cred_domain, &creds) == 0;
    long ttl = 3600;
    if (ch.scheme == OCI_AUTH_BASIC) {
        if (!have_creds)
            return bx_err_set(err, BX_EAUTH,
                              "%s: authentication required and no credentials "
                              "are configured for %s",
                              ep->host, ep->cred_domain);
        char basic[2048];
        basic_header(&creds, basic, sizeof(basic));
        *out = strdup(basic);
        explicit_bzero(basic, sizeof(basic));
    } else {
        rc = fetch_bearer(r, &ch, scope, have_creds ? &creds : NULL, out, &ttl, err);
        if (rc < 0) {
            explicit_bzero(&creds, sizeof(creds));
            return bx_err_prefix(err, "%s", ep->host);
        }
    }
    explicit_bzero(&creds, sizeof(creds));
    if (!*out)
        return bx_err_set(err, BX_ENOMEM, "auth: out of memory");
    token_store(r, key, *out, ttl);
    return 0;
}

/* One GET against an endpoint, answering one 401 challenge. */
static int
endpoint_get(struct oci_registry *r, const struct endpoint *ep, const struct oci_ref *ref,
             struct http_request *req, struct http_response *resp, struct bx_err *err)
{
    char scope[512], key[1100];
    snprintf(scope, sizeof(scope), "repository:%s:pull", ref->path);
    snprintf(key, sizeof(key), "%s %s", ep->base, scope);
    cleanup_free char *authz = token_lookup(r, key);
    req->authorization = authz;
    int rc = http_get(r->http, req, resp, err);
    if (rc < 0 || resp->status != 401 || !resp->www_authenticate[0])
        return rc;
    char header[sizeof(resp->www_authenticate)];
    memcpy(header, resp->www_authenticate, sizeof(header));
    bool had_auth = authz != NULL;
    free(steal_ptr(&authz));
    rc = answer_challenge(r, ep, header, scope, key, &authz, err);
    if (rc < 0)
        return rc;
    if (had_auth)
        bx_log_debug("registry token expired early", "host=%s", ep->host);
    http_response_release(resp);
    req->authorization = authz;
    rc = http_get(r->http, req, resp, err);
    req->authorization = NULL;
    return rc;
}

/* "HTTP 404 MANIFEST_UNKNOWN" from a registry's error body, into out. */
static void
describe_status(const struct http_response *resp, char *out, size_t size)
{
    const char *code = NULL;
    json_auto_t *doc = resp->body ? json_loadb(resp->body, resp->len, 0, NULL) : NULL;
    json_t *errors = doc ? json_object_get(doc, "errors") : NULL;
    json_t *first = json_is_array(errors) ? json_array_get(errors, 0) : NULL;
    if (first)
        code = json_string_value(json_object_get(first, "code"));
    snprintf(out, size, "HTTP %ld%s%.64s", resp->status, code ? " " : "", code ? code : "");
}

static int
status_code(long status)
{
    if (status == 404)
        return BX_ENOENT;
    if (status == 401 || status == 403)
        return BX_EAUTH;
    if (status == 413 || status == 416)
        return BX_ETOOBIG;
    return status >= 500 || status == 429 ? BX_ENET : BX_EINVAL;
}

static bool
retryable(int rc, long status)
{
    if (rc < 0)
        return rc == BX_ENET || rc == BX_ETIMEDOUT;
    return status >= 500 || status == 429;
}

/* The errors of all endpoints, joined, become the error of the fetch. */
struct attempt_log {
    char text[BX_ERR_MSG_MAX];
    int code;
};

static void
attempt_log_add(struct attempt_log *log, int code, const char *msg)
{
    size_t n = strlen(log->text);
    snprintf(log->text + n, sizeof(log->text) - n, "%s%s", n ? "; " : "", msg);
    /* "not found" only when every endpoint said so; otherwise the most telling failure. */
    if (log->code == 0 || log->code == BX_ENOENT || code == BX_EAUTH)
        log->code = code;
}

/* GETs `suffix` (after /v2/<path>/) from the first endpoint that has it, retrying each one on
 * network errors and 5xx. With a sink, bytes already delivered are never asked for again. */
static int
registry_fetch(struct oci_registry *r, const struct oci_ref *ref, const char *suffix,
               struct http_request *req, struct http_response *resp, struct bx_err *err)
{
    struct endpoint eps[REGISTRY_MAX_ENDPOINTS];
    size_t n_eps = endpoints_for(r, ref, eps);
    struct attempt_log log = {{0}, 0};
    uint64_t delivered = 0;
    for (size_t e = 0; e < n_eps; e++) {
        char url[2048];
        snprintf(url, sizeof(url), "%s/v2/%s/%s", eps[e].base, ref->path, suffix);
        req->url = url;
        long backoff = r->backoff_ms;
        for (int attempt = 1;; attempt++) {
            req->range_from = delivered;
            struct bx_err step = BX_ERR_INIT;
            int rc = endpoint_get(r, &eps[e], ref, req, resp, &step);
            delivered += rc == 0 || resp->sunk ? resp->sunk : 0;
            if (rc == 0 && resp->status >= 200 && resp->status <= 299)
                return 0;
            long status = rc == 0 ? resp->status : 0;
            char what[BX_ERR_MSG_MAX];
            if (rc == 0)
                describe_status(resp, what, sizeof(what));
            http_response_release(resp);
            if (rc < 0 && rc != BX_ENET && rc != BX_ETIMEDOUT && rc != BX_EAUTH) {
                *err = step; /* the sink failed, or a bound was passed: no point going on */
                return rc;
            }
            if (attempt < r->attempts && retryable(rc, status)) {
                bx_log_debug("registry retry", "url=%s attempt=%d", url, attempt);
                usleep((useconds_t)backoff * 1000);
                backoff *= 2;
                continue;
            }
            char msg[BX_ERR_MSG_MAX];
            snprintf(msg, sizeof(msg), "%s: %s", eps[e].base, rc == 0 ? what : step.msg);
            attempt_log_add(&log, rc == 0 ? status_code(status) : rc, msg);
            break;
        }
    }
    return bx_err_set(err, log.code ? log.code : BX_ENET, "%s", log.text);
}

int
oci_registry_fetch_manifest(struct oci_registry *r, const struct oci_ref *ref,
                            const char *reference, struct oci_fetched_manifest *out,
                            struct bx_err *err)
{
    memset(out, 0, sizeof(*out));
    bool by_digest = strncmp(reference, "sha256:", 7) == 0;
    if (by_digest && oci_digest_validate(reference, err) < 0)
        return err->code;
    char suffix[256];
    snprintf(suffix, sizeof(suffix), "manifests/%s", reference);
    struct http_request req = {.accept = OCI_MANIFEST_ACCEPT, .max_body = OCI_MANIFEST_MAX_BYTES};
    struct http_response resp;
    int rc = registry_fetch(r, ref, suffix, &req, &resp, err);
    if (rc < 0)
        return bx_err_prefix(err, "manifest %s", reference);
    oci_digest_of(resp.body ? resp.body : "", resp.len, out->digest);
    if (by_digest && strcmp(out->digest, reference) != 0) {
        http_response_release(&resp);
        return bx_err_set(err, BX_EDIGEST, "manifest %s: content has digest %s", reference,
                          out->digest);
    }
    snprintf(out->content_type, sizeof(out->content_type), "%s", resp.content_type);
    out->body = resp.body ? steal_ptr(&resp.body) : strdup("");
    out->len = resp.len;
    http_response_release(&resp);
    if (!out->body)
        return bx_err_set(err, BX_ENOMEM, "manifest %s: out of memory", reference);
    return 0;
}

struct blob_hashing {
    struct oci_hasher hasher;
    uint64_t bytes;
    oci_blob_sink_fn sink;
    void *ctx;
};

static int
blob_hashing_sink(void *ud, const void *data, size_t len)
{
    struct blob_hashing *b = ud;
    oci_hasher_update(&b->hasher, data, len);
    b->bytes += len;
    return b->sink(b->ctx, data, len);
}

int
oci_registry_fetch_blob(struct oci_registry *r, const struct oci_ref *ref,
                        const struct oci_descriptor *desc, oci_blob_sink_fn sink, void *ctx,
                        struct bx_err *err)
{
    if (oci_digest_validate(desc->digest, err) < 0 || desc->size < 0)
        return bx_err_set(err, BX_EINVAL, "blob: invalid descriptor");
    struct blob_hashing b = {.sink = sink, .ctx = ctx};
    int rc = oci_hasher_init(&b.hasher, err);
    if (rc < 0)
        return rc;
    char suffix[128];
    snprintf(suffix, sizeof(suffix), "blobs/%s", desc->digest);
    struct http_request req = {
        .max_body = 0,
        .sink = blob_hashing_sink,
        .sink_ctx = &b,
        .max_sink_bytes = (uint64_t)desc->size,
    };
    struct http_response resp;
    rc = registry_fetch(r, ref, suffix, &req, &resp, err);
    char got[OCI_DIGEST_MAX];
    oci_hasher_final(&b.hasher, got);
    oci_hasher_release(&b.hasher);
    if (rc < 0)
        return bx_err_prefix(err, "blob %s", desc->digest);
    http_response_release(&resp);
    if (b.bytes != (uint64_t)desc->size)
        return bx_err_set(err, BX_EDIGEST, "blob %s: %llu bytes received, %lld expected",
                          desc->digest, (unsigned long long)b.bytes, (long long)desc->size);
    if (strcmp(got, desc->digest) != 0)
        return bx_err_set(err, BX_EDIGEST, "blob %s: digest mismatch (content is %s)", desc->digest,
                          got);
    return 0;
}
