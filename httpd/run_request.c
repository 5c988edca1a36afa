/* POST /run's body: validated into a typed struct; handlers never touch raw JSON. Every message
 * here goes back to the client as a 400. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "httpd_internal.h"
#include "oci/ref.h"

void
run_request_release(struct run_request *r)
{
    free(r->image);
    free(r->cwd);
    char **lists[] = {r->cmd, r->env, r->files};
    for (size_t i = 0; i < 3; i++) {
        for (char **p = lists[i]; p && *p; p++)
            free(*p);
        free(lists[i]);
    }
    memset(r, 0, sizeof(*r));
}

/* A string without NUL bytes (jansson keeps them; C strings cannot). */
static int
get_string(json_t *v, const char *what, char **out, struct bx_err *err)
{
    if (!json_is_string(v))
        return bx_err_set(err, BX_EINVAL, "%s must be a string", what);
    size_t len = json_string_length(v);
    if (memchr(json_string_value(v), '\0', len))
        return bx_err_set(err, BX_EINVAL, "%s must not contain NUL bytes", what);
    *out = strdup(json_string_value(v));
    return *out ? 0 : bx_err_set(err, BX_ENOMEM, "out of memory");
}

static int
get_string_list(json_t *v, const char *what, size_t min, size_t max, char ***out,
                struct bx_err *err)
{
    if (!json_is_array(v))
        return bx_err_set(err, BX_EINVAL, "%s must be an array of strings", what);
    size_t n = json_array_size(v);
    if (n < min)
        return bx_err_set(err, BX_EINVAL, "%s must have at least %zu element", what, min);
    if (n > max)
        return bx_err_set(err, BX_EINVAL, "%s has more than %zu elements", what, max);
    char **list = calloc(n + 1, sizeof(*list));
    if (!list)
        return bx_err_set(err, BX_ENOMEM, "out of memory");
    *out = list;
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s[%zu]", what, i);
        int rc = get_string(json_array_get(v, i), name, &list[i], err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* One limit: absent or 0 is the default, negative is refused, over the maximum is refused. */
static int
get_limit(json_t *limits, const char *key, bool integer, double def, double max, double *out,
          struct bx_err *err)
{
    json_t *v = json_object_get(limits, key);
    *out = def;
    if (!v || json_is_null(v))
        return 0;
    if (integer ? !json_is_integer(v) : !json_is_number(v))
        return bx_err_set(err, BX_EINVAL, "limits.%s must be %s", key,
                          integer ? "an integer" : "a number");
    double x = json_number_value(v);
    if (x < 0 || !isfinite(x))
        return bx_err_set(err, BX_EINVAL, "limits.%s must not be negative", key);
    if (x == 0)
        return 0;
    if (max > 0 && x > max)
        return bx_err_set(err, BX_EINVAL, "limits.%s is %g, over the maximum of %g", key, x, max);
    *out = x;
    return 0;
}

static int
parse_limits(json_t *v, const struct bx_config *cfg, struct bx_limits *l, struct bx_err *err)
{
    const struct bx_limits *d = &cfg->defaults, *m = &cfg->max;
    json_t *empty = json_object();
    json_t *o = v && !json_is_null(v) ? v : empty;
    double cpu, mem, wall, pids, nofile;
    int rc = 0;
    if (!json_is_object(o))
        rc = bx_err_set(err, BX_EINVAL, "limits must be an object");
    if (rc == 0)
        rc = get_limit(o, "cpu_cores", false, d->cpu_cores, m->cpu_cores, &cpu, err);
    if (rc == 0)
        rc = get_limit(o, "memory_mb", true, (double)d->memory_mb, (double)m->memory_mb, &mem, err);
    if (rc == 0)
        rc = get_limit(o, "wall_clock_secs", true, (double)d->wall_clock_secs,
                       (double)m->wall_clock_secs, &wall, err);
    if (rc == 0)
        rc = get_limit(o, "pids_limit", true, (double)d->pids_limit, (double)m->pids_limit, &pids,
                       err);
    if (rc == 0)
        rc = get_limit(o, "nofile", true, (double)d->nofile, (double)m->nofile, &nofile, err);
    json_decref(empty);
    if (rc < 0)
        return rc;
    *l = (struct bx_limits){cpu, (int64_t)mem, (int64_t)wall, (int64_t)pids, (int64_t)nofile};
    return 0;
}

static int
parse_files(json_t *v, struct run_request *r, struct bx_err *err)
{
    if (!v || json_is_null(v))
        return 0;
    int rc = get_string_list(v, "files", 0, HTTPD_MAX_FILES, &r->files, err);
    for (size_t i = 0; rc == 0 && r->files[i]; i++) {
        char clean[4096];
        rc = store_path_check(r->files[i], false, clean, sizeof(clean), err);
        if (rc < 0)
            return bx_err_prefix(err, "files[%zu]", i);
        free(r->files[i]);
        r->files[i] = strdup(clean);
        if (!r->files[i])
            return bx_err_set(err, BX_ENOMEM, "out of memory");
    }
    return rc;
}

static int
parse_fields(json_t *o, const struct bx_config *cfg, struct run_request *r, struct bx_err *err)
{
    json_t *v;
    int rc = get_string(json_object_get(o, "image"), "image", &r->image, err);
    if (rc == 0 && !r->image[0])
        rc = bx_err_set(err, BX_EINVAL, "image must not be empty");
    struct oci_ref ref;
    struct bx_err rerr = BX_ERR_INIT;
    if (rc == 0 && oci_ref_parse(r->image, &ref, &rerr) < 0)
        rc = bx_err_set(err, BX_EINVAL, "invalid image reference: %s", rerr.msg);
    if (rc == 0 && !json_object_get(o, "cmd"))
        rc = bx_err_set(err, BX_EINVAL, "cmd is required");
    if (rc == 0)
        rc = get_string_list(json_object_get(o, "cmd"), "cmd", 1, HTTPD_MAX_ARGS, &r->cmd, err);
    if (rc == 0 && !r->cmd[0][0])
        rc = bx_err_set(err, BX_EINVAL, "cmd[0] must not be empty");
    if (rc == 0 && (v = json_object_get(o, "env")) && !json_is_null(v))
        rc = get_string_list(v, "env", 0, HTTPD_MAX_ENV, &r->env, err);
    for (size_t i = 0; rc == 0 && r->env && r->env[i]; i++)
        if (r->env[i][0] == '=' || !strchr(r->env[i], '='))
            rc = bx_err_set(err, BX_EINVAL, "env[%zu] must be KEY=VALUE", i);
    if (rc == 0 && (v = json_object_get(o, "cwd")) && !json_is_null(v)) {
        rc = get_string(v, "cwd", &r->cwd, err);
        if (rc == 0 && r->cwd[0] != '/')
            rc = bx_err_set(err, BX_EINVAL, "cwd must be an absolute path");
    }
    if (rc == 0)
        rc = parse_limits(json_object_get(o, "limits"), cfg, &r->limits, err);
    if (rc == 0)
        rc = parse_files(json_object_get(o, "files"), r, err);
    if (rc == 0 && (v = json_object_get(o, "persist")) && !json_is_null(v)) {
        if (!json_is_boolean(v))
            rc = bx_err_set(err, BX_EINVAL, "persist must be a boolean");
        r->persist = json_is_true(v);
    }
    if (rc == 0 && (v = json_object_get(o, "network")) && !json_is_null(v) &&
        (!json_is_string(v) || strcmp(json_string_value(v), "none") != 0))
        rc = bx_err_set(err, BX_EINVAL, "network: only \"none\" is supported");
    return rc;
}

int
run_request_parse(const char *body, size_t len, const struct bx_config *cfg,
                  struct run_request *out, struct bx_err *err)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_auto_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        return bx_err_set(err, BX_EINVAL, "invalid JSON body: %s (line %d, column %d)", jerr.text,
                          jerr.line, jerr.column);
    if (!json_is_object(o))
        return bx_err_set(err, BX_EINVAL, "the body must be a JSON object");
    int rc = parse_fields(o, cfg, out, err);
    if (rc < 0)
        run_request_release(out);
    return rc;
}
