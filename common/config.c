/* The configuration file: see common/config.h. */
#include "common/config.h"

#include <fcntl.h>
#include <jansson.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cleanup.h"
#include "common/fs.h"
#include "common/log.h"

#define CONFIG_MAX_BYTES (1u << 20)

static char *
home_dir(void)
{
    const char *h = getenv("HOME");
    if (!h || h[0] != '/') {
        struct passwd *pw = getpwuid(getuid());
        h = pw && pw->pw_dir ? pw->pw_dir : "/root";
    }
    return strdup(h);
}

static int
set_defaults(struct bx_config *c, struct bx_err *err)
{
    memset(c, 0, sizeof(*c));
    cleanup_free char *home = home_dir();
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (!home || asprintf(&c->home, "%s/.boxer", home) < 0) {
        c->home = NULL;
        return bx_err_set(err, BX_ENOMEM, "config: out of memory");
    }
    c->platform = strdup("systrap");
    c->listen_addr = strdup(":8080");
    c->image_platform = strdup("linux/amd64");
    c->log_level = strdup("info");
    if (!c->platform || !c->listen_addr || !c->image_platform || !c->log_level)
        return bx_err_set(err, BX_ENOMEM, "config: out of memory");
    c->output_limit_bytes = 10485760;
    c->upload_limit_bytes = 10485760;
    c->defaults = (struct bx_limits){1.0, 256, 30, 64, 256};
    c->max = (struct bx_limits){0, BX_UNLIMITED, BX_UNLIMITED, BX_UNLIMITED, BX_UNLIMITED};
    c->max_concurrent_runs = cores > 0 ? 2 * cores : 2;
    c->max_queued_runs = 64;
    c->persist_limit_bytes = 104857600;
    c->image_tag_ttl_secs = 300;
    c->registry_stall_secs = 30;
    c->max_image_bytes = 8ull << 30;
    return 0;
}

/* A parse context: the file's name, for errors. */
struct ctx {
    const char *name;
    struct bx_err *err;
};

static int
bad(struct ctx *x, const char *key, const char *what)
{
    return bx_err_set(x->err, BX_EINVAL, "config %s: '%s' must be %s", x->name, key, what);
}

static int
get_string(struct ctx *x, const char *key, json_t *v, char **out)
{
    if (!json_is_string(v))
        return bad(x, key, "a string");
    char *s = strdup(json_string_value(v));
    if (!s)
        return bx_err_set(x->err, BX_ENOMEM, "config: out of memory");
    free(*out);
    *out = s;
    return 0;
}

static int
get_count(struct ctx *x, const char *key, json_t *v, int64_t *out, bool nullable)
{
    if (nullable && json_is_null(v)) {
        *out = BX_UNLIMITED;
        return 0;
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return bad(x, key, nullable ? "a non-negative integer or null" : "a non-negative integer");
    *out = json_integer_value(v);
    return 0;
}

static int
get_bytes(struct ctx *x, const char *key, json_t *v, uint64_t *out)
{
    int64_t n = 0;
    int rc = get_count(x, key, v, &n, false);
    *out = (uint64_t)n;
    return rc;
}

static int
get_limits(struct ctx *x, const char *key, json_t *obj, struct bx_limits *out)
{
    if (!json_is_object(obj))
        return bad(x, key, "an object");
    const char *k;
    json_t *v;
    json_object_foreach (obj, k, v) {
        char full[128];
        snprintf(full, sizeof(full), "%s.%s", key, k);
        int rc = 0;
        if (strcmp(k, "cpu_cores") == 0) {
            if (json_is_null(v))
                out->cpu_cores = 0;
            else if (!json_is_number(v) || json_number_value(v) < 0)
                rc = bad(x, full, "a non-negative number or null");
            else
                out->cpu_cores = json_number_value(v);
        } else if (strcmp(k, "memory_mb") == 0) {
            rc = get_count(x, full, v, &out->memory_mb, true);
        } else if (strcmp(k, "wall_clock_secs") == 0) {
            rc = get_count(x, full, v, &out->wall_clock_secs, true);
        } else if (strcmp(k, "pids_limit") == 0) {
            rc = get_count(x, full, v, &out->pids_limit, true);
        } else if (strcmp(k, "nofile") == 0) {
            rc = get_count(x, full, v, &out->nofile, true);
        } else {
            bx_log_warn("unknown configuration key", "file=%s key=%s", x->name, full);
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int
get_string_array(struct ctx *x, const char *key, json_t *v, char ***out, size_t *n)
{
    if (!json_is_array(v))
        return bad(x, key, "an array of strings");
    char **a = calloc(json_array_size(v) + 1, sizeof(*a));
    if (!a)
        return bx_err_set(x->err, BX_ENOMEM, "config: out of memory");
    size_t i;
    json_t *item;
    json_array_foreach (v, i, item) {
        if (!json_is_string(item) || !(a[i] = strdup(json_string_value(item)))) {
            for (size_t j = 0; j < i; j++)
                free(a[j]);
            free(a);
            return bad(x, key, "an array of strings");
        }
    }
    *out = a;
    *n = json_array_size(v);
    return 0;
}

/* "registry_mirrors": {"docker.io": ["http://127.0.0.1:5000", ...], ...} */
static int
get_mirrors(struct ctx *x, json_t *obj, struct bx_config *c)
{
    const char *key = "registry_mirrors";
    if (!json_is_object(obj))
        return bad(x, key, "an object of registry -> array of URLs");
    const char *domain;
    json_t *urls;
    size_t total = 0;
    json_object_foreach (obj, domain, urls) {
        if (!json_is_array(urls))
            return bad(x, key, "an object of registry -> array of URLs");
        total += json_array_size(urls);
    }
    c->mirrors = calloc(total + 1, sizeof(*c->mirrors));
    if (!c->mirrors)
        return bx_err_set(x->err, BX_ENOMEM, "config: out of memory");
    json_object_foreach (obj, domain, urls) {
        size_t i;
        json_t *u;
        json_array_foreach (urls, i, u) {
            if (!json_is_string(u))
                return bad(x, key, "an object of registry -> array of URLs");
            struct bx_mirror *m = &c->mirrors[c->n_mirrors++];
            m->domain = strdup(domain);
            m->url = strdup(json_string_value(u));
            if (!m->domain || !m->url)
                return bx_err_set(x->err, BX_ENOMEM, "config: out of memory");
        }
    }
    return 0;
}

/* "registry_auth": {"ghcr.io": {"username": "...", "password": "..."}} */
static int
get_auth(struct ctx *x, json_t *obj, struct bx_config *c)
{
    const char *key = "registry_auth";
    if (!json_is_object(obj))
        return bad(x, key, "an object of registry -> {\"username\", \"password\"}");
    c->registry_auth = calloc(json_object_size(obj) + 1, sizeof(*c->registry_auth));
    if (!c->registry_auth)
        return bx_err_set(x->err, BX_ENOMEM, "config: out of memory");
    const char *registry;
    json_t *v;
    json_object_foreach (obj, registry, v) {
        const char *user = NULL, *pass = NULL;
        if (json_unpack(v, "{s:s, s:s}", "username", &user, "password", &pass) < 0)
            return bad(x, key, "an object of registry -> {\"username\", \"password\"}");
        struct bx_registry_auth *a = &c->registry_auth[c->n_auth++];
        a->registry = strdup(registry);
        a->username = strdup(user);
        a->password = strdup(pass);
        if (!a->registry || !a->username || !a->password)
            return bx_err_set(x->err, BX_ENOMEM, "config: out of memory");
    }
    return 0;
}

static int
apply_key(struct ctx *x, const char *k, json_t *v, struct bx_config *c)
{
    if (strcmp(k, "home") == 0)
        return get_string(x, k, v, &c->home);
    if (strcmp(k, "runsc_path") == 0)
        return json_is_null(v) ? 0 : get_string(x, k, v, &c->runsc_path);
    if (strcmp(k, "platform") == 0)
        return get_string(x, k, v, &c->platform);
    if (strcmp(k, "listen_addr") == 0)
        return get_string(x, k, v, &c->listen_addr);
    if (strcmp(k, "image_platform") == 0)
        return get_string(x, k, v, &c->image_platform);
    if (strcmp(k, "log_level") == 0)
        return get_string(x, k, v, &c->log_level);
    if (strcmp(k, "ignore_cgroups") == 0) {
        if (!json_is_boolean(v))
            return bad(x, k, "true or false");
        c->ignore_cgroups = json_is_true(v);
        return 0;
    }
    if (strcmp(k, "output_limit_bytes") == 0)
        return get_bytes(x, k, v, &c->output_limit_bytes);
    if (strcmp(k, "upload_limit_bytes") == 0)
        return get_bytes(x, k, v, &c->upload_limit_bytes);
    if (strcmp(k, "persist_limit_bytes") == 0)
        return get_bytes(x, k, v, &c->persist_limit_bytes);
    if (strcmp(k, "max_image_bytes") == 0)
        return get_bytes(x, k, v, &c->max_image_bytes);
    if (strcmp(k, "max_concurrent_runs") == 0)
        return get_count(x, k, v, &c->max_concurrent_runs, false);
    if (strcmp(k, "max_queued_runs") == 0)
        return get_count(x, k, v, &c->max_queued_runs, false);
    if (strcmp(k, "registry_stall_secs") == 0)
        return get_count(x, k, v, &c->registry_stall_secs, false);
    if (strcmp(k, "image_tag_ttl_secs") == 0)
        return get_count(x, k, v, &c->image_tag_ttl_secs, false);
    if (strcmp(k, "defaults") == 0)
        return get_limits(x, k, v, &c->defaults);
    if (strcmp(k, "max_limits") == 0)
        return get_limits(x, k, v, &c->max);
    if (strcmp(k, "registry_mirrors") == 0)
        return get_mirrors(x, v, c);
    if (strcmp(k, "insecure_registries") == 0)
        return get_string_array(x, k, v, &c->insecure_registries, &c->n_insecure);
    if (strcmp(k, "registry_auth") == 0)
        return get_auth(x, v, c);
    bx_log_warn("unknown configuration key", "file=%s key=%s", x->name, k);
    return 0;
}

/* "~/x" is under $HOME; the result must be absolute. */
static int
expand_home(struct ctx *x, struct bx_config *c)
{
    if (strncmp(c->home, "~/", 2) == 0) {
        cleanup_free char *h = home_dir();
        char *abs = NULL;
        if (!h || asprintf(&abs, "%s/%s", h, c->home + 2) < 0)
            return bx_err_set(x->err, BX_ENOMEM, "config: out of memory");
        free(c->home);
        c->home = abs;
    }
    if (c->home[0] != '/')
        return bad(x, "home", "an absolute path (or start with ~/)");
    return 0;
}

int
bx_config_parse(const char *text, size_t len, const char *name, struct bx_config *out,
                struct bx_err *err)
{
    int rc = set_defaults(out, err);
    if (rc < 0) {
        bx_config_release(out);
        return rc;
    }
    json_error_t jerr;
    json_auto_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    struct ctx x = {name, err};
    if (!root)
        rc = bx_err_set(err, BX_EINVAL, "config %s line %d column %d: %s", name, jerr.line,
                        jerr.column, jerr.text);
    else if (!json_is_object(root))
        rc = bx_err_set(err, BX_EINVAL, "config %s line 1: the top level must be an object", name);
    const char *k;
    json_t *v;
    if (rc == 0) {
        json_object_foreach (root, k, v) {
            if ((rc = apply_key(&x, k, v, out)) < 0)
                break;
        }
    }
    if (rc == 0)
        rc = expand_home(&x, out);
    if (rc < 0)
        bx_config_release(out);
    return rc;
}

int
bx_config_load(const char *explicit_path, struct bx_config *out, struct bx_err *err)
{
    const char *path = explicit_path;
    if (!path || !*path)
        path = getenv("BOXER_CONFIG");
    bool chosen = path && *path;
    cleanup_free char *fallback = NULL;
    if (!chosen) {
        cleanup_free char *home = home_dir();
        if (!home || asprintf(&fallback, "%s/.boxer/config.json", home) < 0)
            return bx_err_set(err, BX_ENOMEM, "config: out of memory");
        path = fallback;
    }
    cleanup_free char *text = NULL;
    size_t len = 0;
    int rc = bx_read_file(AT_FDCWD, path, CONFIG_MAX_BYTES, &text, &len, err);
    if (rc == BX_ENOENT && !chosen) {
        bx_err_clear(err);
        rc = set_defaults(out, err);
        if (rc < 0)
            bx_config_release(out);
        return rc;
    }
    if (rc < 0)
        return bx_err_prefix(err, "config");
    rc = bx_config_parse(text, len, path, out, err);
    if (rc == 0 && !(out->path = strdup(path))) {
        bx_config_release(out);
        return bx_err_set(err, BX_ENOMEM, "config: out of memory");
    }
    return rc;
}

void
bx_config_release(struct bx_config *c)
{
    free(c->path);
    free(c->home);
    free(c->runsc_path);
    free(c->platform);
    free(c->listen_addr);
    free(c->image_platform);
    free(c->log_level);
    for (size_t i = 0; i < c->n_mirrors; i++) {
        free(c->mirrors[i].domain);
        free(c->mirrors[i].url);
    }
    free(c->mirrors);
    for (size_t i = 0; i < c->n_insecure; i++)
        free(c->insecure_registries[i]);
    free(c->insecure_registries);
    for (size_t i = 0; i < c->n_auth; i++) {
        free(c->registry_auth[i].registry);
        free(c->registry_auth[i].username);
        if (c->registry_auth[i].password)
            explicit_bzero(c->registry_auth[i].password, strlen(c->registry_auth[i].password));
        free(c->registry_auth[i].password);
    }
    free(c->registry_auth);
    memset(c, 0, sizeof(*c));
}
