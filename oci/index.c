/* Choosing a platform's manifest from an OCI index or Docker manifest list, and platform
 * strings: see oci/manifest.h. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "manifest_internal.h"

/* Docker Hub's largest indexes list a dozen platforms, each with an attestation entry. */
#define OCI_INDEX_MAX_ENTRIES 1024

/* Room for the platforms named in an error; more are shown as "...". */
#define OFFERED_MAX 160

struct offered {
    char list[OFFERED_MAX];
    size_t len;
    bool truncated;
};

static void
platform_format(const struct oci_platform *p, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s%s%s", p->os, p->architecture, p->variant[0] ? "/" : "", p->variant);
}

static void
offered_add(struct offered *o, const struct oci_platform *p)
{
    char one[3 * sizeof(p->os) + 3];
    platform_format(p, one, sizeof(one));
    size_t need = strlen(one) + (o->len ? 2 : 0);
    if (o->truncated || o->len + need + sizeof(", ...") > sizeof(o->list)) {
        if (!o->truncated)
            o->len += (size_t)snprintf(o->list + o->len, sizeof(o->list) - o->len, ", ...");
        o->truncated = true;
        return;
    }
    o->len += (size_t)snprintf(o->list + o->len, sizeof(o->list) - o->len, "%s%s",
                               o->len ? ", " : "", one);
}

/* arm64 has had one variant for years: "v8" and none are the same platform. */
static bool
variant_equal(const char *arch, const char *a, const char *b)
{
    if (strcmp(a, b) == 0)
        return true;
    if (strcmp(arch, "arm64") != 0)
        return false;
    return (!a[0] || strcmp(a, "v8") == 0) && (!b[0] || strcmp(b, "v8") == 0);
}

/* 0: no match; 1: a match; 2: the best kind of match (the same variant, or none when `want`
 * has none). */
static int
platform_score(const struct oci_platform *have, const struct oci_platform *want)
{
    if (strcmp(have->os, want->os) != 0 || strcmp(have->architecture, want->architecture) != 0)
        return 0;
    if (want->variant[0]) {
        if (!variant_equal(want->architecture, have->variant, want->variant))
            return 0;
        return strcmp(have->variant, want->variant) == 0 ? 2 : 1;
    }
    return have->variant[0] ? 1 : 2;
}

/* The platform of index entry `entry` (at `path`); *has = false when it names none. */
static int
entry_platform(json_t *entry, const char *path, struct oci_platform *out, bool *has,
               struct bx_err *err)
{
    char ppath[OCI_JSON_FIELD_MAX];
    json_t *p = NULL;
    memset(out, 0, sizeof(*out));
    int rc = oci_json_member(entry, path, "platform", JSON_OBJECT, false, &p, err);
    *has = p != NULL;
    if (rc < 0 || !p)
        return rc;
    oci_json_path(ppath, sizeof(ppath), path, "platform");
    if ((rc = oci_json_string_copy(p, ppath, "os", true, out->os, sizeof(out->os), err)) < 0 ||
        (rc = oci_json_string_copy(p, ppath, "architecture", true, out->architecture,
                                   sizeof(out->architecture), err)) < 0)
        return rc;
    return oci_json_string_copy(p, ppath, "variant", false, out->variant, sizeof(out->variant),
                                err);
}

static bool
is_image_manifest(const char *media_type)
{
    return strcasecmp(media_type, OCI_MEDIA_TYPE_MANIFEST) == 0 ||
           strcasecmp(media_type, DOCKER_MEDIA_TYPE_MANIFEST) == 0;
}

static int
index_root(json_t *root, json_t **manifests, struct bx_err *err)
{
    json_t *mt = NULL;
    int rc = oci_json_schema_check(root, err);
    if (rc < 0 || (rc = oci_json_member(root, "", "mediaType", JSON_STRING, false, &mt, err)) < 0)
        return rc;
    if (mt && strcasecmp(json_string_value(mt), OCI_MEDIA_TYPE_INDEX) != 0 &&
        strcasecmp(json_string_value(mt), DOCKER_MEDIA_TYPE_LIST) != 0)
        return bx_err_set(err, BX_EINVAL, "mediaType '%.128s' is not an index",
                          json_string_value(mt));
    if ((rc = oci_json_member(root, "", "manifests", JSON_ARRAY, true, manifests, err)) < 0)
        return rc;
    if (json_array_size(*manifests) > OCI_INDEX_MAX_ENTRIES)
        return bx_err_set(err, BX_ETOOBIG, "%zu manifests, more than %d",
                          json_array_size(*manifests), OCI_INDEX_MAX_ENTRIES);
    return 0;
}

static int
index_select(const char *body, size_t len, const struct oci_platform *want,
             struct oci_descriptor *out, struct bx_err *err)
{
    json_auto_t *root = NULL;
    json_t *manifests = NULL;
    struct offered offered = {.len = 0};
    int rc = oci_json_load_object(body, len, OCI_MANIFEST_MAX_BYTES, &root, err);
    if (rc < 0 || (rc = index_root(root, &manifests, err)) < 0)
        return rc;
    int best = 0;
    for (size_t i = 0; i < json_array_size(manifests); i++) {
        char path[OCI_JSON_FIELD_MAX];
        struct oci_descriptor d;
        struct oci_platform have;
        bool has_platform;
        json_t *entry = json_array_get(manifests, i);
        oci_json_path_index(path, sizeof(path), "manifests", i);
        if ((rc = oci_json_descriptor_parse(entry, path, &d, err)) < 0 ||
            (rc = entry_platform(entry, path, &have, &has_platform, err)) < 0)
            return rc;
        /* Entries without a platform, BuildKit's attestations ("unknown/unknown") and nested
         * indexes or artifacts are not images to run. */
        if (!has_platform || !is_image_manifest(d.media_type) ||
            (strcmp(have.os, "unknown") == 0 && strcmp(have.architecture, "unknown") == 0))
            continue;
        offered_add(&offered, &have);
        int score = platform_score(&have, want);
        if (score > best) {
            best = score;
            *out = d;
        }
    }
    if (best > 0)
        return 0;
    char wanted[3 * sizeof(want->os) + 3];
    platform_format(want, wanted, sizeof(wanted));
    if (offered.len == 0)
        return bx_err_set(err, BX_ENOENT, "no image for %s: the index offers no platform", wanted);
    return bx_err_set(err, BX_ENOENT, "no image for %s: the index offers %s", wanted, offered.list);
}

int
oci_index_select(const char *body, size_t len, const struct oci_platform *want,
                 struct oci_descriptor *out, struct bx_err *err)
{
    memset(out, 0, sizeof(*out));
    int rc = index_select(body, len, want, out, err);
    if (rc < 0) {
        memset(out, 0, sizeof(*out));
        bx_err_prefix(err, "index");
    }
    return rc;
}

/* uname -m spellings, as containerd's platforms.Normalize knows them. */
static const struct {
    const char *alias, *arch;
} arch_aliases[] = {
    {"x86_64", "amd64"},
    {"x86-64", "amd64"},
    {"aarch64", "arm64"},
};

static bool
platform_part_valid(const char *s, size_t n)
{
    if (n == 0 || n >= sizeof(((struct oci_platform *)0)->os))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

int
oci_platform_parse(const char *s, struct oci_platform *out, struct bx_err *err)
{
    char *parts[3] = {out->os, out->architecture, out->variant};
    size_t n_parts = 0;
    memset(out, 0, sizeof(*out));
    if (!s)
        return bx_err_set(err, BX_EINVAL, "missing platform");
    const char *p = s;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (n_parts == 3 || !platform_part_valid(p, n)) {
            memset(out, 0, sizeof(*out));
            return bx_err_set(err, BX_EINVAL,
                              "invalid platform '%.64s': want os/architecture[/variant] in "
                              "lower case",
                              s);
        }
        memcpy(parts[n_parts++], p, n);
        if (!p[n])
            break;
        p += n + 1;
    }
    if (n_parts < 2) {
        memset(out, 0, sizeof(*out));
        return bx_err_set(err, BX_EINVAL, "invalid platform '%.64s': want os/architecture", s);
    }
    for (size_t i = 0; i < sizeof(arch_aliases) / sizeof(arch_aliases[0]); i++)
        if (strcmp(out->architecture, arch_aliases[i].alias) == 0)
            snprintf(out->architecture, sizeof(out->architecture), "%s", arch_aliases[i].arch);
    return 0;
}
