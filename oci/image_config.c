/* The image config blob, what a run needs of it: see oci/manifest.h. */
#include <stdlib.h>
#include <string.h>

#include "common/cleanup.h"
#include "manifest_internal.h"

/* Entries of Env, Entrypoint or Cmd: real images have a few dozen at most. */
#define OCI_CONFIG_MAX_ARRAY 4096

static void
strv_free(char **v)
{
    if (!v)
        return;
    for (char **p = v; *p; p++)
        free(*p);
    free(v);
}

static void
strv_freep(char ***v)
{
    strv_free(*v);
}

#define cleanup_strv __attribute__((cleanup(strv_freep)))

/* Copies the array of strings `parent.key` into a NULL-terminated array; NULL when absent. */
static int
strv_member(json_t *obj, const char *parent, const char *key, char ***out, struct bx_err *err)
{
    char path[OCI_JSON_FIELD_MAX];
    json_t *arr = NULL;
    cleanup_strv char **v = NULL;
    int rc = oci_json_member(obj, parent, key, JSON_ARRAY, false, &arr, err);
    if (rc < 0 || !arr)
        return rc;
    oci_json_path(path, sizeof(path), parent, key);
    size_t n = json_array_size(arr);
    if (n > OCI_CONFIG_MAX_ARRAY)
        return bx_err_set(err, BX_ETOOBIG, "%s has %zu entries, more than %d", path, n,
                          OCI_CONFIG_MAX_ARRAY);
    v = calloc(n + 1, sizeof(*v));
    if (!v)
        return bx_err_set(err, BX_ENOMEM, "out of memory for %s", path);
    for (size_t i = 0; i < n; i++) {
        json_t *s = json_array_get(arr, i);
        if (!json_is_string(s))
            return bx_err_set(err, BX_EINVAL, "%s[%zu] is not a string", path, i);
        v[i] = strdup(json_string_value(s));
        if (!v[i])
            return bx_err_set(err, BX_ENOMEM, "out of memory for %s", path);
    }
    *out = steal_ptr(&v);
    return 0;
}

/* Copies the string `parent.key`; NULL when absent. */
static int
string_member(json_t *obj, const char *parent, const char *key, char **out, struct bx_err *err)
{
    json_t *s = NULL;
    int rc = oci_json_member(obj, parent, key, JSON_STRING, false, &s, err);
    if (rc < 0 || !s)
        return rc;
    *out = strdup(json_string_value(s));
    if (!*out)
        return bx_err_set(err, BX_ENOMEM, "out of memory for %s.%s", parent, key);
    return 0;
}

/* The "config" object: what Docker calls the container config of the image. */
static int
config_object_parse(json_t *root, struct oci_image_config *out, struct bx_err *err)
{
    json_t *c = NULL;
    int rc = oci_json_member(root, "", "config", JSON_OBJECT, false, &c, err);
    if (rc < 0 || !c)
        return rc;
    if ((rc = strv_member(c, "config", "Env", &out->env, err)) < 0 ||
        (rc = strv_member(c, "config", "Entrypoint", &out->entrypoint, err)) < 0 ||
        (rc = strv_member(c, "config", "Cmd", &out->cmd, err)) < 0 ||
        (rc = string_member(c, "config", "WorkingDir", &out->working_dir, err)) < 0)
        return rc;
    return string_member(c, "config", "User", &out->user, err);
}

/* rootfs.diff_ids: one digest of the uncompressed tar per layer. */
static int
rootfs_parse(json_t *root, struct oci_image_config *out, struct bx_err *err)
{
    char path[OCI_JSON_FIELD_MAX];
    json_t *rootfs = NULL, *ids = NULL;
    int rc = oci_json_member(root, "", "rootfs", JSON_OBJECT, true, &rootfs, err);
    if (rc < 0 ||
        (rc = oci_json_member(rootfs, "rootfs", "diff_ids", JSON_ARRAY, true, &ids, err)) < 0)
        return rc;
    size_t n = json_array_size(ids);
    if (n > OCI_MAX_LAYERS)
        return bx_err_set(err, BX_ETOOBIG, "rootfs.diff_ids has %zu entries, more than %d", n,
                          OCI_MAX_LAYERS);
    for (size_t i = 0; i < n; i++) {
        json_t *id = json_array_get(ids, i);
        oci_json_path_index(path, sizeof(path), "rootfs.diff_ids", i);
        if (!json_is_string(id))
            return bx_err_set(err, BX_EINVAL, "%s is not a string", path);
        if ((rc = oci_digest_validate(json_string_value(id), err)) < 0) {
            bx_err_prefix(err, "%s", path);
            return rc;
        }
    }
    out->n_diff_ids = n;
    return 0;
}

static int
image_config_parse(const char *body, size_t len, struct oci_image_config *out, struct bx_err *err)
{
    json_auto_t *root = NULL;
    int rc = oci_json_load_object(body, len, OCI_CONFIG_MAX_BYTES, &root, err);
    if (rc < 0 ||
        (rc = oci_json_string_copy(root, "", "os", false, out->os, sizeof(out->os), err)) < 0 ||
        (rc = oci_json_string_copy(root, "", "architecture", false, out->architecture,
                                   sizeof(out->architecture), err)) < 0 ||
        (rc = config_object_parse(root, out, err)) < 0)
        return rc;
    return rootfs_parse(root, out, err);
}

int
oci_image_config_parse(const char *body, size_t len, struct oci_image_config *out,
                       struct bx_err *err)
{
    memset(out, 0, sizeof(*out));
    int rc = image_config_parse(body, len, out, err);
    if (rc < 0) {
        oci_image_config_release(out);
        bx_err_prefix(err, "image config");
    }
    return rc;
}

void
oci_image_config_release(struct oci_image_config *c)
{
    if (!c)
        return;
    strv_free(c->env);
    strv_free(c->entrypoint);
    strv_free(c->cmd);
    free(c->working_dir);
    free(c->user);
    memset(c, 0, sizeof(*c));
}
