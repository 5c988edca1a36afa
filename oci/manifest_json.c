/* Reading untrusted registry JSON: see oci/manifest_internal.h. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "manifest_internal.h"

/* jansson spends tens of bytes per value, so a 4 MiB body of "[0,0,0,..." would cost a hundred
 * megabytes. No image document comes near this many values: a manifest with OCI_MAX_LAYERS
 * layers has about two thousand, a config with a long history a few thousand. */
#define OCI_JSON_MAX_VALUES 100000

/* Counts the values of a JSON text from its structural characters outside strings (an upper
 * bound for valid JSON; jansson judges validity afterwards). */
static size_t
json_value_count(const char *s, size_t len)
{
    size_t count = 1;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_string) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == ',' || c == '[' || c == '{' || c == ':') {
            count++;
        }
    }
    return count;
}

int
oci_json_load_object(const char *body, size_t len, size_t max, json_t **out, struct bx_err *err)
{
    json_error_t jerr;
    *out = NULL;
    if (len > max)
        return bx_err_set(err, BX_ETOOBIG, "body is %zu bytes, more than %zu", len, max);
    if (!body || len == 0)
        return bx_err_set(err, BX_EINVAL, "body is empty");
    if (json_value_count(body, len) > OCI_JSON_MAX_VALUES)
        return bx_err_set(err, BX_ETOOBIG, "body has more than %d JSON values",
                          OCI_JSON_MAX_VALUES);
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return bx_err_set(err, BX_EINVAL, "body is not valid JSON: %s (line %d, column %d)",
                          jerr.text, jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return bx_err_set(err, BX_EINVAL, "body is not a JSON object");
    }
    *out = root;
    return 0;
}

void
oci_json_path(char *buf, size_t size, const char *parent, const char *key)
{
    snprintf(buf, size, "%s%s%s", parent, parent[0] ? "." : "", key);
}

void
oci_json_path_index(char *buf, size_t size, const char *parent, size_t i)
{
    snprintf(buf, size, "%s[%zu]", parent, i);
}

static const char *
type_name(json_type type)
{
    switch (type) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

int
oci_json_member(json_t *obj, const char *parent, const char *key, json_type type, bool required,
                json_t **out, struct bx_err *err)
{
    char path[OCI_JSON_FIELD_MAX];
    json_t *v = json_object_get(obj, key);
    *out = NULL;
    if (!v || json_is_null(v)) {
        if (!required)
            return 0;
        oci_json_path(path, sizeof(path), parent, key);
        return bx_err_set(err, BX_EINVAL, "%s is missing", path);
    }
    if (json_typeof(v) != type) {
        oci_json_path(path, sizeof(path), parent, key);
        return bx_err_set(err, BX_EINVAL, "%s is %s, not %s", path, type_name(json_typeof(v)),
                          type_name(type));
    }
    *out = v;
    return 0;
}

int
oci_json_string_copy(json_t *obj, const char *parent, const char *key, bool required, char *buf,
                     size_t size, struct bx_err *err)
{
    char path[OCI_JSON_FIELD_MAX];
    json_t *v = NULL;
    buf[0] = '\0';
    int rc = oci_json_member(obj, parent, key, JSON_STRING, required, &v, err);
    if (rc < 0 || !v)
        return rc;
    /* jansson refuses "\u0000" in strings, so the length is the C string's. */
    size_t n = json_string_length(v);
    if (n >= size) {
        oci_json_path(path, sizeof(path), parent, key);
        return bx_err_set(err, BX_EINVAL, "%s is %zu characters long, more than %zu", path, n,
                          size - 1);
    }
    memcpy(buf, json_string_value(v), n + 1);
    return 0;
}

int
oci_json_schema_check(json_t *root, struct bx_err *err)
{
    json_t *v = NULL;
    int rc = oci_json_member(root, "", "schemaVersion", JSON_INTEGER, true, &v, err);
    if (rc < 0)
        return rc;
    json_int_t version = json_integer_value(v);
    if (version == 1)
        return bx_err_set(err, BX_EUNSUPPORTED, OCI_SCHEMA1_MSG);
    if (version != 2)
        return bx_err_set(err, BX_EINVAL, "schemaVersion %" JSON_INTEGER_FORMAT " is not 2",
                          version);
    return 0;
}

int
oci_json_descriptor_parse(json_t *obj, const char *path, struct oci_descriptor *out,
                          struct bx_err *err)
{
    char field[OCI_JSON_FIELD_MAX];
    json_t *v = NULL;
    int rc;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(obj))
        return bx_err_set(err, BX_EINVAL, "%s is %s, not an object", path,
                          type_name(obj ? json_typeof(obj) : JSON_NULL));
    rc = oci_json_string_copy(obj, path, "mediaType", true, out->media_type,
                              sizeof(out->media_type), err);
    if (rc < 0 || (rc = oci_json_member(obj, path, "digest", JSON_STRING, true, &v, err)) < 0)
        return rc;
    if ((rc = oci_digest_validate(json_string_value(v), err)) < 0) {
        oci_json_path(field, sizeof(field), path, "digest");
        bx_err_prefix(err, "%s", field);
        return rc;
    }
    /* A valid digest fits: it is "sha256:" and 64 hex digits. */
    memcpy(out->digest, json_string_value(v), json_string_length(v) + 1);
    if ((rc = oci_json_member(obj, path, "size", JSON_INTEGER, true, &v, err)) < 0)
        return rc;
    out->size = json_integer_value(v);
    if (out->size < 0) {
        oci_json_path(field, sizeof(field), path, "size");
        return bx_err_set(err, BX_EINVAL, "%s is negative (%" PRId64 ")", field, out->size);
    }
    return 0;
}
