/* Image references: see oci/ref.h. The grammar is distribution/reference's ReferenceRegexp, the
 * normalisation that of its ParseNormalizedNamed (splitDockerDomain). */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "oci/ref.h"

#define REF_NAME_MAX 255
#define REF_TAG_LEN_MAX 128
#define DEFAULT_DOMAIN "docker.io"
#define LEGACY_DOMAIN "index.docker.io"
#define DOCKER_API_HOST "registry-1.docker.io"
#define OFFICIAL_PREFIX "library/"
#define DEFAULT_TAG "latest"

/* A piece of the reference being parsed: not NUL-terminated. */
struct span {
    const char *p;
    size_t n;
};

struct ref_parts {
    struct span domain, path, tag, digest;
    bool has_tag, has_digest;
    bool official; /* "library/" goes in front of the path */
};

static struct span
span_of(const char *s)
{
    return (struct span){s, strlen(s)};
}

static bool
span_eq(struct span s, const char *lit)
{
    return strlen(lit) == s.n && memcmp(s.p, lit, s.n) == 0;
}

static bool
is_lower_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_alnum(char c)
{
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool
span_has_upper(struct span s)
{
    for (size_t i = 0; i < s.n; i++)
        if (s.p[i] >= 'A' && s.p[i] <= 'Z')
            return true;
    return false;
}

static int ref_fail(struct bx_err *err, int code, const char *ref, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* "invalid reference '<ref>': <why>", with the reference cut short enough to leave room. */
static int
ref_fail(struct bx_err *err, int code, const char *ref, const char *fmt, ...)
{
    char why[BX_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return bx_err_set(err, code, "invalid reference '%.80s': %s", ref, why);
}

/* An image id ("docker run <64 hex>") is not a name, as Docker says. */
static bool
is_hex64(const char *s)
{
    size_t n = strspn(s, "0123456789abcdef");
    return n == 64 && s[n] == '\0';
}

/* Splits "[domain/]path[:tag][@digest]" as splitDockerDomain does: the first component is a
 * registry when it holds '.' or ':', is "localhost", or holds an upper-case letter (a path may
 * not, so it can only be a host name). */
static void
ref_split(const char *s, struct ref_parts *p)
{
    size_t len = strlen(s);
    const char *at = strchr(s, '@');
    size_t name_len = at ? (size_t)(at - s) : len;
    *p = (struct ref_parts){0};
    if (at) {
        p->digest = (struct span){at + 1, len - name_len - 1};
        p->has_digest = true;
    }
    struct span rest = {s, name_len};
    const char *slash = memchr(s, '/', name_len);
    p->domain = span_of(DEFAULT_DOMAIN);
    if (slash) {
        struct span first = {s, (size_t)(slash - s)};
        if (memchr(first.p, '.', first.n) || memchr(first.p, ':', first.n) ||
            span_eq(first, "localhost") || span_has_upper(first)) {
            p->domain = first;
            rest = (struct span){slash + 1, name_len - first.n - 1};
        }
    }
    if (span_eq(p->domain, LEGACY_DOMAIN))
        p->domain = span_of(DEFAULT_DOMAIN);
    const char *colon = memchr(rest.p, ':', rest.n);
    if (colon) {
        p->tag = (struct span){colon + 1, rest.n - (size_t)(colon - rest.p) - 1};
        p->has_tag = true;
        rest.n = (size_t)(colon - rest.p);
    }
    p->path = rest;
    p->official = span_eq(p->domain, DEFAULT_DOMAIN) && rest.n > 0 && !memchr(rest.p, '/', rest.n);
}

/* distribution's domainNameComponent: [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9] */
static bool
host_component_valid(struct span c)
{
    if (c.n == 0 || !is_alnum(c.p[0]) || !is_alnum(c.p[c.n - 1]))
        return false;
    for (size_t i = 0; i < c.n; i++)
        if (!is_alnum(c.p[i]) && c.p[i] != '-')
            return false;
    return true;
}

static bool
host_name_valid(struct span h)
{
    size_t start = 0;
    for (size_t i = 0; i <= h.n; i++) {
        if (i < h.n && h.p[i] != '.')
            continue;
        if (!host_component_valid((struct span){h.p + start, i - start}))
            return false;
        start = i + 1;
    }
    return true;
}

/* Docker takes any "[hex and colons]"; an address inet_pton refuses could never be reached. */
static bool
ipv6_valid(struct span h)
{
    char buf[INET6_ADDRSTRLEN];
    struct in6_addr addr;
    if (h.n == 0 || h.n >= sizeof(buf))
        return false;
    for (size_t i = 0; i < h.n; i++)
        if (!strchr("0123456789abcdefABCDEF:", h.p[i]))
            return false;
    memcpy(buf, h.p, h.n);
    buf[h.n] = '\0';
    return inet_pton(AF_INET6, buf, &addr) == 1;
}

static bool
port_valid(struct span p)
{
    unsigned long v = 0;
    if (p.n == 0 || p.n > 5)
        return false;
    for (size_t i = 0; i < p.n; i++) {
        if (!is_digit(p.p[i]))
            return false;
        v = v * 10 + (unsigned long)(p.p[i] - '0');
    }
    return v >= 1 && v <= 65535;
}

static int
check_domain(const char *ref, struct span d, struct bx_err *err)
{
    struct span host = d;
    struct span port = {NULL, 0};
    bool has_port = false, ok;
    if (d.n > 0 && d.p[0] == '[') {
        const char *close = memchr(d.p, ']', d.n);
        if (!close)
            return ref_fail(err, BX_EINVAL, ref, "unterminated IPv6 address in registry");
        host = (struct span){d.p + 1, (size_t)(close - d.p) - 1};
        struct span after = {close + 1, d.n - (size_t)(close - d.p) - 1};
        if (after.n > 0 && after.p[0] != ':')
            return ref_fail(err, BX_EINVAL, ref, "invalid registry '%.*s'", (int)d.n, d.p);
        has_port = after.n > 0;
        port = has_port ? (struct span){after.p + 1, after.n - 1} : port;
        ok = ipv6_valid(host);
    } else {
        const char *colon = memchr(d.p, ':', d.n);
        if (colon) {
            host.n = (size_t)(colon - d.p);
            port = (struct span){colon + 1, d.n - host.n - 1};
            has_port = true;
        }
        ok = host_name_valid(host);
    }
    if (!ok)
        return ref_fail(err, BX_EINVAL, ref, "invalid registry host '%.*s'", (int)host.n, host.p);
    if (has_port && !port_valid(port))
        return ref_fail(err, BX_EINVAL, ref, "invalid port '%.*s' of registry", (int)port.n,
                        port.p);
    return 0;
}

/* distribution's path component: [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)* */
static bool
path_component_valid(struct span c)
{
    size_t i = 0;
    while (i < c.n) {
        if (!is_lower_alnum(c.p[i]))
            return false;
        while (i < c.n && is_lower_alnum(c.p[i]))
            i++;
        if (i == c.n)
            return true;
        if (c.p[i] == '.') {
            i++;
        } else if (c.p[i] == '_') {
            i += (i + 1 < c.n && c.p[i + 1] == '_') ? 2 : 1;
        } else if (c.p[i] == '-') {
            while (i < c.n && c.p[i] == '-')
                i++;
        } else {
            return false;
        }
        if (i == c.n)
            return false;
    }
    return c.n > 0;
}

static int
check_path(const char *ref, struct span path, struct bx_err *err)
{
    if (path.n == 0)
        return ref_fail(err, BX_EINVAL, ref, "missing repository name");
    if (span_has_upper(path))
        return ref_fail(err, BX_EINVAL, ref, "repository name must be lowercase");
    for (size_t i = 0; i < path.n; i++) {
        unsigned char c = (unsigned char)path.p[i];
        if (is_lower_alnum((char)c) || strchr("._-/", c))
            continue;
        if (c >= 0x20 && c < 0x7f)
            return ref_fail(err, BX_EINVAL, ref, "invalid character '%c' in repository name", c);
        return ref_fail(err, BX_EINVAL, ref, "invalid character 0x%02x in repository name", c);
    }
    size_t start = 0;
    for (size_t i = 0; i <= path.n; i++) {
        if (i < path.n && path.p[i] != '/')
            continue;
        struct span c = {path.p + start, i - start};
        if (c.n == 0)
            return ref_fail(err, BX_EINVAL, ref, "empty component in repository name");
        if (!path_component_valid(c))
            return ref_fail(err, BX_EINVAL, ref, "invalid repository name component '%.*s'",
                            (int)(c.n > 64 ? 64 : c.n), c.p);
        start = i + 1;
    }
    return 0;
}

/* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
static int
check_tag(const char *ref, struct span tag, struct bx_err *err)
{
    if (tag.n == 0)
        return ref_fail(err, BX_EINVAL, ref, "missing tag after ':'");
    bool ok = tag.n <= REF_TAG_LEN_MAX && (is_alnum(tag.p[0]) || tag.p[0] == '_');
    for (size_t i = 1; ok && i < tag.n; i++)
        ok = is_alnum(tag.p[i]) || tag.p[i] == '_' || tag.p[i] == '.' || tag.p[i] == '-';
    if (!ok)
        return ref_fail(err, BX_EINVAL, ref, "invalid tag '%.*s'", (int)(tag.n > 64 ? 64 : tag.n),
                        tag.p);
    return 0;
}

static int
check_digest(const char *ref, struct span digest, struct bx_err *err)
{
    struct bx_err derr = BX_ERR_INIT;
    if (digest.n == 0)
        return ref_fail(err, BX_EINVAL, ref, "missing digest after '@'");
    /* The digest is the tail of the reference, so it is NUL-terminated. */
    int rc = oci_digest_validate(digest.p, &derr);
    if (rc < 0)
        return ref_fail(err, rc, ref, "%s", derr.msg);
    return 0;
}

static void
span_copy(char *dst, struct span s)
{
    memcpy(dst, s.p, s.n);
    dst[s.n] = '\0';
}

int
oci_ref_parse(const char *s, struct oci_ref *out, struct bx_err *err)
{
    struct ref_parts p;
    int rc;
    memset(out, 0, sizeof(*out));
    if (!s || !s[0])
        return bx_err_set(err, BX_EINVAL, "invalid reference: empty");
    if (is_hex64(s))
        return ref_fail(err, BX_EINVAL, s, "a 64-character hexadecimal string is an image id");
    ref_split(s, &p);
    if ((rc = check_domain(s, p.domain, err)) < 0 || (rc = check_path(s, p.path, err)) < 0)
        return rc;
    if (p.has_tag && (rc = check_tag(s, p.tag, err)) < 0)
        return rc;
    if (p.has_digest && (rc = check_digest(s, p.digest, err)) < 0)
        return rc;
    size_t prefix = p.official ? strlen(OFFICIAL_PREFIX) : 0;
    size_t name_len = p.domain.n + 1 + prefix + p.path.n;
    if (name_len > REF_NAME_MAX)
        return ref_fail(err, BX_EINVAL, s, "name is %zu characters long, more than %d", name_len,
                        REF_NAME_MAX);
    /* The bound above keeps domain and path within their buffers; check_tag and check_digest
     * keep the others within theirs. */
    span_copy(out->domain, p.domain);
    memcpy(out->path, OFFICIAL_PREFIX, prefix);
    span_copy(out->path + prefix, p.path);
    if (p.has_tag)
        span_copy(out->tag, p.tag);
    else if (!p.has_digest)
        memcpy(out->tag, DEFAULT_TAG, sizeof(DEFAULT_TAG));
    if (p.has_digest)
        span_copy(out->digest, p.digest);
    return 0;
}

int
oci_ref_format(const struct oci_ref *ref, char *buf, size_t size)
{
    return snprintf(buf, size, "%s/%s%s%s%s%s", ref->domain, ref->path, ref->tag[0] ? ":" : "",
                    ref->tag, ref->digest[0] ? "@" : "", ref->digest);
}

const char *
oci_ref_api_host(const struct oci_ref *ref)
{
    return strcmp(ref->domain, DEFAULT_DOMAIN) == 0 ? DOCKER_API_HOST : ref->domain;
}
