/* WWW-Authenticate challenges (RFC 7235) and docker config.json credentials: see oci/auth.h.
 * Credentials never appear in an error message. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "oci/auth.h"

#define CHALLENGE_HEADER_MAX 8192
#define DOCKER_CONFIG_MAX_BYTES (1u << 20)
#define DOCKER_HUB_KEY "https://index.docker.io/v1/"

/* ---- WWW-Authenticate ---- */

/* RFC 7230 tchar */
static bool
is_tchar(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static size_t
token_len(const char *p)
{
    size_t n = 0;
    while (is_tchar(p[n]))
        n++;
    return n;
}

static const char *
skip_ows(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Past blanks and the empty list elements that RFC 7230's #rule allows. */
static const char *
skip_ows_commas(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == ',')
        p++;
    return p;
}

/* An auth-param starts here ("name =" follows), as opposed to the next challenge's scheme. */
static bool
at_param(const char *p)
{
    size_t n = token_len(p);
    return n > 0 && *skip_ows(p + n) == '=';
}

/* token68 ("abc+/=="), which a scheme may take instead of parameters; it ends the challenge. */
static size_t
token68_len(const char *p)
{
    size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/");
    if (n == 0)
        return 0;
    n += strspn(p + n, "=");
    const char *end = skip_ows(p + n);
    return (*end == '\0' || *end == ',') ? n : 0;
}

/* Reads a token or a quoted-string at *pp into buf (NULL: only skip it). */
static int
param_value(const char **pp, const char *name, char *buf, size_t size, struct bx_err *err)
{
    const char *p = *pp;
    size_t n = 0;
    if (*p != '"') {
        size_t t = token_len(p);
        if (t == 0)
            return bx_err_set(err, BX_EINVAL, "challenge parameter %s has no value", name);
        if (buf && t >= size)
            return bx_err_set(err, BX_EINVAL, "challenge parameter %s is too long", name);
        if (buf) {
            memcpy(buf, p, t);
            buf[t] = '\0';
        }
        *pp = p + t;
        return 0;
    }
    for (p++; *p != '"'; p++) {
        if (*p == '\\')
            p++;
        unsigned char c = (unsigned char)*p;
        if (c == '\0')
            return bx_err_set(err, BX_EINVAL, "challenge parameter %s: unterminated quote", name);
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return bx_err_set(err, BX_EINVAL,
                              "challenge parameter %s: control character in quoted value", name);
        if (buf && n + 1 >= size)
            return bx_err_set(err, BX_EINVAL, "challenge parameter %s is too long", name);
        if (buf)
            buf[n++] = (char)c;
    }
    if (buf)
        buf[n] = '\0';
    *pp = p + 1;
    return 0;
}

/* The parameters Boxer keeps, by index; -1 for any other. */
static int
param_index(const char *name, size_t n)
{
    static const char *const names[] = {"realm", "service", "scope"};
    for (int i = 0; i < 3; i++)
        if (strlen(names[i]) == n && strncasecmp(names[i], name, n) == 0)
            return i;
    return -1;
}

static char *
param_slot(struct oci_challenge *ch, int index, size_t *size)
{
    char *slots[] = {ch->realm, ch->service, ch->scope};
    size_t sizes[] = {sizeof(ch->realm), sizeof(ch->service), sizeof(ch->scope)};
    if (index < 0)
        return NULL;
    *size = sizes[index];
    return slots[index];
}

/* Reads one "name = value" at *pp into the challenge; `seen` catches repeated names. */
static int
challenge_param(const char **pp, struct oci_challenge *ch, unsigned *seen, struct bx_err *err)
{
    const char *p = *pp;
    char name[32];
    size_t n = token_len(p), size = 0;
    if (n == 0 || *skip_ows(p + n) != '=')
        return bx_err_set(err, BX_EINVAL, "malformed challenge parameter at '%.32s'", p);
    snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), p);
    int index = param_index(p, n);
    if (index >= 0 && (*seen & (1u << index)))
        return bx_err_set(err, BX_EINVAL, "challenge parameter %s appears twice", name);
    if (index >= 0)
        *seen |= 1u << index;
    char *slot = param_slot(ch, index, &size);
    *pp = skip_ows(skip_ows(p + n) + 1);
    return param_value(pp, name, slot, size, err);
}

/* Reads the parameters of one challenge, up to the next challenge's scheme or the end of the
 * header. Schemes other than Basic and Bearer may carry a token68 instead, which is skipped. */
static int
challenge_params(const char **pp, struct oci_challenge *ch, struct bx_err *err)
{
    const char *p = skip_ows(*pp);
    unsigned seen = 0;
    size_t t68 = ch->scheme == OCI_AUTH_NONE ? token68_len(p) : 0;
    if (t68 > 0) {
        *pp = p + t68;
        return 0;
    }
    for (bool first = true;; first = false) {
        p = skip_ows(p);
        if (*p == '\0')
            break;
        if (*p == ',') {
            p = skip_ows_commas(p);
            if (!at_param(p))
                break;
        } else if (!first) {
            return bx_err_set(err, BX_EINVAL, "expected ',' in challenge at '%.32s'", p);
        }
        int rc = challenge_param(&p, ch, &seen, err);
        if (rc < 0)
            return rc;
    }
    *pp = p;
    return 0;
}

/* Reads the challenge at *pp: its scheme (copied into `scheme`) and its parameters. */
static int
challenge_next(const char **pp, struct oci_challenge *ch, char *scheme, size_t scheme_size,
               struct bx_err *err)
{
    const char *p = *pp;
    size_t n = token_len(p);
    memset(ch, 0, sizeof(*ch));
    if (n == 0)
        return bx_err_set(err, BX_EINVAL, "expected an authentication scheme at '%.32s'", p);
    snprintf(scheme, scheme_size, "%.*s", (int)(n < scheme_size ? n : scheme_size - 1), p);
    if (n == 5 && strncasecmp(p, "Basic", 5) == 0)
        ch->scheme = OCI_AUTH_BASIC;
    else if (n == 6 && strncasecmp(p, "Bearer", 6) == 0)
        ch->scheme = OCI_AUTH_BEARER;
    p += n;
    if (*p && *p != ' ' && *p != '\t' && *p != ',')
        return bx_err_set(err, BX_EINVAL, "malformed authentication scheme '%.32s'", *pp);
    *pp = p;
    return challenge_params(pp, ch, err);
}

static bool
is_http_url(const char *s)
{
    return (strncasecmp(s, "https://", 8) == 0 && s[8]) ||
           (strncasecmp(s, "http://", 7) == 0 && s[7]);
}

/* A header may hold several challenges ("Bearer realm=..., Basic realm=..."): Bearer wins,
 * then Basic; other schemes are skipped. */
static int
challenge_parse(const char *header, struct oci_challenge *out, struct bx_err *err)
{
    struct oci_challenge ch, basic = {.scheme = OCI_AUTH_NONE};
    char scheme[32], first[32] = "";
    if (!header)
        return bx_err_set(err, BX_EINVAL, "missing challenge");
    if (strnlen(header, CHALLENGE_HEADER_MAX + 1) > CHALLENGE_HEADER_MAX)
        return bx_err_set(err, BX_EINVAL, "challenge is longer than %d bytes",
                          CHALLENGE_HEADER_MAX);
    const char *p = skip_ows_commas(header);
    if (!*p)
        return bx_err_set(err, BX_EINVAL, "empty challenge");
    while (*p) {
        int rc = challenge_next(&p, &ch, scheme, sizeof(scheme), err);
        if (rc < 0)
            return rc;
        if (!first[0])
            memcpy(first, scheme, sizeof(first));
        if (ch.scheme == OCI_AUTH_BEARER && out->scheme == OCI_AUTH_NONE)
            *out = ch;
        else if (ch.scheme == OCI_AUTH_BASIC && basic.scheme == OCI_AUTH_NONE)
            basic = ch;
        p = skip_ows_commas(p);
    }
    if (out->scheme == OCI_AUTH_NONE)
        *out = basic;
    if (out->scheme == OCI_AUTH_NONE)
        return bx_err_set(err, BX_EUNSUPPORTED, "unsupported authentication scheme '%s'", first);
    if (out->scheme == OCI_AUTH_BEARER && !out->realm[0])
        return bx_err_set(err, BX_EINVAL, "Bearer challenge without a realm");
    if (out->scheme == OCI_AUTH_BEARER && !is_http_url(out->realm))
        return bx_err_set(err, BX_EINVAL, "Bearer realm '%.64s' is not an http(s) URL", out->realm);
    return 0;
}

int
oci_challenge_parse(const char *header, struct oci_challenge *out, struct bx_err *err)
{
    memset(out, 0, sizeof(*out));
    int rc = challenge_parse(header, out, err);
    if (rc < 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

/* ---- docker config.json ---- */

static int
b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/* Decodes standard base64, padded or not, into out; returns the length, -1 when malformed, -2
 * when longer than out_size. */
static long
b64_decode(const char *in, size_t n, unsigned char *out, size_t out_size)
{
    size_t pad = 0;
    while (n > 0 && in[n - 1] == '=') {
        n--;
        pad++;
    }
    if (pad > 2 || (pad > 0 && (n + pad) % 4 != 0) || n % 4 == 1)
        return -1;
    if (n / 4 * 3 + (n % 4 ? n % 4 - 1 : 0) > out_size)
        return -2;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

/* "https://host:port/v1/" -> "host:port", as docker's ConvertToHostname; "" when too long. */
static void
key_hostname(const char *key, char *buf, size_t size)
{
    const char *s = key;
    if (strncasecmp(s, "http://", 7) == 0)
        s += 7;
    else if (strncasecmp(s, "https://", 8) == 0)
        s += 8;
    size_t n = strcspn(s, "/");
    if (n >= size)
        n = 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
}

static bool
is_docker_hub(const char *host)
{
    return strcasecmp(host, "docker.io") == 0 || strcasecmp(host, "index.docker.io") == 0 ||
           strcasecmp(host, "registry-1.docker.io") == 0;
}

static bool
key_matches(const char *key, const char *domain, bool hub)
{
    char host[256];
    key_hostname(key, host, sizeof(host));
    return host[0] && (strcasecmp(host, domain) == 0 || (hub && is_docker_hub(host)));
}

/* A string member of an auths entry, or NULL when absent, null or empty. */
static int
entry_string(json_t *entry, const char *key, const char *field, const char **out,
             struct bx_err *err)
{
    json_t *v = json_object_get(entry, field);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return bx_err_set(err, BX_EINVAL, "docker config: auths[\"%.64s\"].%s is not a string", key,
                          field);
    if (json_string_length(v) > 0)
        *out = json_string_value(v);
    return 0;
}

static int
credential_copy(char *dst, size_t size, const void *src, size_t n, const char *key,
                const char *field, struct bx_err *err)
{
    if (n >= size)
        return bx_err_set(err, BX_EINVAL, "docker config: auths[\"%.64s\"].%s is too long", key,
                          field);
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

/* "auth": base64 of "user:password", as docker's decodeAuth reads it (NULs around the password
 * are dropped). */
static int
entry_auth_decode(const char *auth, const char *key, struct oci_credentials *out,
                  struct bx_err *err)
{
    unsigned char buf[sizeof(out->username) + sizeof(out->password)];
    int rc = 0;
    long n = b64_decode(auth, strlen(auth), buf, sizeof(buf));
    const unsigned char *colon = n > 0 ? memchr(buf, ':', (size_t)n) : NULL;
    if (n == -2) {
        rc = bx_err_set(err, BX_EINVAL, "docker config: auths[\"%.64s\"].auth is too long", key);
    } else if (!colon) {
        rc = bx_err_set(err, BX_EINVAL,
                        "docker config: auths[\"%.64s\"].auth is not base64 of user:password", key);
    } else {
        size_t user_len = (size_t)(colon - buf);
        const unsigned char *pass = colon + 1;
        size_t pass_len = (size_t)n - user_len - 1;
        while (pass_len > 0 && pass[pass_len - 1] == '\0')
            pass_len--;
        while (pass_len > 0 && pass[0] == '\0') {
            pass++;
            pass_len--;
        }
        if (user_len == 0 || memchr(buf, '\0', user_len) || memchr(pass, '\0', pass_len))
            rc = bx_err_set(err, BX_EINVAL,
                            "docker config: auths[\"%.64s\"].auth holds an empty user name or "
                            "a NUL",
                            key);
        else if ((rc = credential_copy(out->username, sizeof(out->username), buf, user_len, key,
                                       "auth", err)) == 0)
            rc = credential_copy(out->password, sizeof(out->password), pass, pass_len, key, "auth",
                                 err);
    }
    explicit_bzero(buf, sizeof(buf));
    return rc;
}

/* Credentials of one auths entry: 1 when it holds some, 0 when it holds none. An identity token
 * wins over "auth", which wins over "username" and "password", as in docker. */
static int
entry_credentials(json_t *entry, const char *key, struct oci_credentials *out, struct bx_err *err)
{
    const char *token, *auth, *user, *pass;
    int rc;
    if (!json_is_object(entry))
        return bx_err_set(err, BX_EINVAL, "docker config: auths[\"%.64s\"] is not an object", key);
    if ((rc = entry_string(entry, key, "identitytoken", &token, err)) < 0 ||
        (rc = entry_string(entry, key, "auth", &auth, err)) < 0 ||
        (rc = entry_string(entry, key, "username", &user, err)) < 0 ||
        (rc = entry_string(entry, key, "password", &pass, err)) < 0)
        return rc;
    if (token) {
        memcpy(out->username, OCI_IDENTITY_TOKEN_USER, sizeof(OCI_IDENTITY_TOKEN_USER));
        rc = credential_copy(out->password, sizeof(out->password), token, strlen(token), key,
                             "identitytoken", err);
    } else if (auth) {
        rc = entry_auth_decode(auth, key, out, err);
    } else if (user) {
        if ((rc = credential_copy(out->username, sizeof(out->username), user, strlen(user), key,
                                  "username", err)) == 0 &&
            pass)
            rc = credential_copy(out->password, sizeof(out->password), pass, strlen(pass), key,
                                 "password", err);
    } else {
        return 0;
    }
    return rc < 0 ? rc : 1;
}

/* The keys docker would use for `domain` first, then any key whose host name is the domain. */
static int
auths_lookup(json_t *auths, const char *domain, struct oci_credentials *out, struct bx_err *err)
{
    bool hub = is_docker_hub(domain);
    const char *exact[] = {hub ? DOCKER_HUB_KEY : domain, domain};
    const char *key;
    json_t *entry;
    int rc;
    for (size_t i = 0; i < 2; i++) {
        entry = json_object_get(auths, exact[i]);
        if (entry && (rc = entry_credentials(entry, exact[i], out, err)) != 0)
            return rc;
    }
    json_object_foreach (auths, key, entry) {
        if (key_matches(key, domain, hub) && (rc = entry_credentials(entry, key, out, err)) != 0)
            return rc;
    }
    return 0;
}

static int
docker_config_lookup(const char *body, size_t len, const char *domain, struct oci_credentials *out,
                     struct bx_err *err)
{
    json_error_t jerr;
    if (!domain || !domain[0])
        return bx_err_set(err, BX_EINVAL, "docker config: missing registry domain");
    if (len > DOCKER_CONFIG_MAX_BYTES)
        return bx_err_set(err, BX_ETOOBIG, "docker config is %zu bytes, more than %u", len,
                          DOCKER_CONFIG_MAX_BYTES);
    if (!body || len == 0)
        return bx_err_set(err, BX_EINVAL, "docker config is empty");
    /* Like docker, the last of duplicate keys wins. jansson's message is not used: it quotes
     * the text near the error, which may be a credential. */
    json_auto_t *root = json_loadb(body, len, 0, &jerr);
    if (!root)
        return bx_err_set(err, BX_EINVAL, "docker config is not valid JSON (line %d, column %d)",
                          jerr.line, jerr.column);
    json_t *auths = json_object_get(root, "auths");
    if (!json_is_object(root) || (auths && !json_is_object(auths) && !json_is_null(auths)))
        return bx_err_set(err, BX_EINVAL, "docker config: %s is not an object",
                          json_is_object(root) ? "auths" : "the document");
    int rc = auths_lookup(auths, domain, out, err);
    if (rc != 0)
        return rc < 0 ? rc : 0;
    bool helpers = json_object_get(root, "credsStore") || json_object_get(root, "credHelpers");
    return bx_err_set(err, BX_ENOENT, "docker config: no credentials for %.128s%s", domain,
                      helpers ? " (credential helpers are not supported)" : "");
}

int
oci_docker_config_lookup(const char *body, size_t len, const char *domain,
                         struct oci_credentials *out, struct bx_err *err)
{
    memset(out, 0, sizeof(*out));
    int rc = docker_config_lookup(body, len, domain, out, err);
    if (rc < 0)
        explicit_bzero(out, sizeof(*out));
    return rc;
}
