/* The set of paths a layer added: see oci/unpack_internal.h.
 *
 * Nodes live in one array and their names in one character arena, so the set makes a handful of
 * allocations whatever its size. The hash table maps (parent, name) to a node with linear
 * probing and doubles when half full.
 */
#include <stdlib.h>
#include <string.h>

#include "unpack_internal.h"

struct oci_pathset_node {
    uint32_t parent;
    uint32_t hash;
    size_t name_off;
    uint16_t name_len;
    bool added;
};

#define PATHSET_MIN_SLOTS 1024

static uint32_t
node_hash(uint32_t parent, const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a, then a multiplicative mix of the parent */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)name[i];
        h *= 0x100000001b3ULL;
    }
    h ^= (uint64_t)parent * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
    return (uint32_t)(h ^ (h >> 32));
}

void
oci_pathset_init(struct oci_pathset *set)
{
    memset(set, 0, sizeof(*set));
}

void
oci_pathset_release(struct oci_pathset *set)
{
    free(set->nodes);
    free(set->slots);
    free(set->names);
    oci_pathset_init(set);
}

static bool
node_is(const struct oci_pathset *set, uint32_t n, uint32_t parent, const char *name, size_t len)
{
    const struct oci_pathset_node *node = &set->nodes[n];
    return node->parent == parent && node->name_len == len &&
           memcmp(set->names + node->name_off, name, len) == 0;
}

/* The slot that holds (parent, name), or the free slot where it would go. */
static size_t
slot_find(const struct oci_pathset *set, uint32_t parent, const char *name, size_t len,
          uint32_t hash)
{
    size_t mask = set->n_slots - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
        uint32_t s = set->slots[i];
        if (s == 0 || node_is(set, s - 1, parent, name, len))
            return i;
    }
}

static uint32_t
child_find(const struct oci_pathset *set, uint32_t parent, const char *name, size_t len)
{
    if (set->n_slots == 0 || parent == OCI_PATHSET_NONE || len > UINT16_MAX)
        return OCI_PATHSET_NONE;
    uint32_t s = set->slots[slot_find(set, parent, name, len, node_hash(parent, name, len))];
    return s == 0 ? OCI_PATHSET_NONE : s - 1;
}

/* Doubles the table (or makes the first one) and puts every node back. */
static int
slots_grow(struct oci_pathset *set)
{
    size_t n = set->n_slots ? set->n_slots * 2 : PATHSET_MIN_SLOTS;
    uint32_t *slots = calloc(n, sizeof(*slots));
    if (!slots)
        return -1;
    free(set->slots);
    set->slots = slots;
    set->n_slots = n;
    for (size_t i = 1; i < set->n_nodes; i++) {
        size_t j = set->nodes[i].hash & (n - 1);
        while (slots[j] != 0)
            j = (j + 1) & (n - 1);
        slots[j] = (uint32_t)(i + 1);
    }
    return 0;
}

/* Grows the array at *p of *cap elements of `size` bytes to hold `need`; -1 when out of memory. */
static int
array_reserve(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need)
        ncap *= 2;
    void *n = reallocarray(*p, ncap, size);
    if (!n)
        return -1;
    *p = n;
    *cap = ncap;
    return 0;
}

/* The node (parent, name), made when missing. Returns OCI_PATHSET_NONE when out of memory. */
static uint32_t
child_add(struct oci_pathset *set, uint32_t parent, const char *name, size_t len)
{
    uint32_t found = child_find(set, parent, name, len);
    if (found != OCI_PATHSET_NONE)
        return found;
    if (len > UINT16_MAX || set->n_nodes >= UINT32_MAX - 1)
        return OCI_PATHSET_NONE;
    if ((set->n_nodes + 1) * 2 > set->n_slots && slots_grow(set) < 0)
        return OCI_PATHSET_NONE;
    if (array_reserve((void **)&set->nodes, &set->cap_nodes, set->n_nodes + 1,
                      sizeof(*set->nodes)) < 0 ||
        array_reserve((void **)&set->names, &set->names_cap, set->names_len + len, 1) < 0)
        return OCI_PATHSET_NONE;
    uint32_t hash = node_hash(parent, name, len);
    uint32_t n = (uint32_t)set->n_nodes++;
    set->nodes[n] = (struct oci_pathset_node){parent, hash, set->names_len, (uint16_t)len, false};
    memcpy(set->names + set->names_len, name, len);
    set->names_len += len;
    set->slots[slot_find(set, parent, name, len, hash)] = n + 1;
    return n;
}

/* Makes the root node of an empty set. */
static int
root_make(struct oci_pathset *set)
{
    if (set->n_nodes > 0)
        return 0;
    if (array_reserve((void **)&set->nodes, &set->cap_nodes, 1, sizeof(*set->nodes)) < 0)
        return -1;
    set->nodes[0] = (struct oci_pathset_node){OCI_PATHSET_NONE, 0, 0, 0, false};
    set->n_nodes = 1;
    return 0;
}

int
oci_pathset_add(struct oci_pathset *set, const char *path, uint32_t *out_node, struct bx_err *err)
{
    if (root_make(set) < 0)
        return bx_err_set(err, BX_ENOMEM, "path set: out of memory");
    uint32_t node = OCI_PATHSET_ROOT;
    const char *p = path;
    while (*p && strcmp(p, ".") != 0) {
        const char *end = strchrnul(p, '/');
        node = child_add(set, node, p, (size_t)(end - p));
        if (node == OCI_PATHSET_NONE)
            return bx_err_set(err, BX_ENOMEM, "path set: out of memory");
        p = *end ? end + 1 : end;
    }
    set->nodes[node].added = true;
    if (out_node)
        *out_node = node;
    return 0;
}

uint32_t
oci_pathset_find(const struct oci_pathset *set, const char *path)
{
    uint32_t node = OCI_PATHSET_ROOT;
    const char *p = path;
    while (*p && strcmp(p, ".") != 0 && node != OCI_PATHSET_NONE) {
        const char *end = strchrnul(p, '/');
        node = child_find(set, node, p, (size_t)(end - p));
        p = *end ? end + 1 : end;
    }
    return node;
}

uint32_t
oci_pathset_child(const struct oci_pathset *set, uint32_t parent, const char *name)
{
    return child_find(set, parent, name, strlen(name));
}

bool
oci_pathset_added(const struct oci_pathset *set, uint32_t node)
{
    return node < set->n_nodes && set->nodes[node].added;
}

int
oci_pathset_path(const struct oci_pathset *set, uint32_t node, char *buf, size_t size,
                 struct bx_err *err)
{
    if (node == OCI_PATHSET_ROOT || node >= set->n_nodes) {
        if (size < 2)
            return bx_err_set(err, BX_ETOOBIG, "path set: path too long");
        strcpy(buf, ".");
        return 0;
    }
    /* Measure first, then fill from the end, walking up the parents twice. */
    size_t len = 0;
    for (uint32_t n = node; n != OCI_PATHSET_ROOT; n = set->nodes[n].parent)
        len += set->nodes[n].name_len + (len ? 1 : 0);
    if (len + 1 > size)
        return bx_err_set(err, BX_ETOOBIG, "path set: path too long");
    buf[len] = '\0';
    size_t end = len;
    for (uint32_t n = node; n != OCI_PATHSET_ROOT; n = set->nodes[n].parent) {
        const struct oci_pathset_node *nd = &set->nodes[n];
        if (end < len)
            buf[--end] = '/';
        end -= nd->name_len;
        memcpy(buf + end, set->names + nd->name_off, nd->name_len);
    }
    return 0;
}
