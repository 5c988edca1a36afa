/* Private to the parsers of oci/manifest.h (manifest.c, index.c, image_config.c): reading a JSON
 * document a registry sent, treating it as hostile. Every wrong type, missing member or bad value
 * is BX_EINVAL naming the member by its path ("layers[3].digest"). Thread-safe.
 */
#ifndef BOXER_OCI_MANIFEST_INTERNAL_H
#define BOXER_OCI_MANIFEST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/err.h"
#include "oci/manifest.h"

/* Room for a member path such as "manifests[1023].platform.architecture". */
#define OCI_JSON_FIELD_MAX 96

/* Parses `body` as a JSON object with duplicate keys refused. A body longer than `max` bytes, or
 * with more values than any image document needs, is BX_ETOOBIG before jansson allocates
 * anything. The caller decrefs *out. */
int oci_json_load_object(const char *body, size_t len, size_t max, json_t **out,
                         struct bx_err *err);

/* Finds member `key` of `obj`, which must have JSON type `type`. An absent or null member is
 * *out = NULL when not `required`, BX_EINVAL when it is. `parent` is the path of `obj` ("" at
 * the top) for errors. *out is borrowed from obj. */
int oci_json_member(json_t *obj, const char *parent, const char *key, json_type type, bool required,
                    json_t **out, struct bx_err *err);

/* Copies string member `key` into buf (of `size` bytes, NUL included); "" when absent and not
 * `required`. A longer string is BX_EINVAL. */
int oci_json_string_copy(json_t *obj, const char *parent, const char *key, bool required, char *buf,
                         size_t size, struct bx_err *err);

/* Checks "schemaVersion": 2 is fine, 1 is BX_EUNSUPPORTED (schema 1), anything else or none is
 * BX_EINVAL. */
int oci_json_schema_check(json_t *root, struct bx_err *err);

/* Parses the descriptor object `obj` found at `path`: mediaType, a valid digest, a size >= 0. */
int oci_json_descriptor_parse(json_t *obj, const char *path, struct oci_descriptor *out,
                              struct bx_err *err);

/* Writes "<parent>.<key>" (or "<key>" at the top) into buf. */
void oci_json_path(char *buf, size_t size, const char *parent, const char *key);

/* Writes "<parent>[<i>]" into buf. */
void oci_json_path_index(char *buf, size_t size, const char *parent, size_t i);

#define OCI_SCHEMA1_MSG "schema 1 manifests are not supported"

#endif
