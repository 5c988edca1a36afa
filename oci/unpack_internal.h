/* Shared by the files of the layer unpacker (unpack.c, pathset.c, whiteout.c). Private to oci/.
 *
 * Nothing here is thread-safe: one unpacker owns its set and walks one root at a time.
 */
#ifndef BOXER_OCI_UNPACK_INTERNAL_H
#define BOXER_OCI_UNPACK_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

/* The longest entry name (and hardlink target) a layer may use, in bytes. */
#define OCI_UNPACK_PATH_MAX 4096

/* ---- canonical paths under the root (rootpath.c) ---- */

struct oci_root {
    int fd;
    char path[PATH_MAX]; /* the root's absolute path, as the kernel names it */
    size_t path_len;
    bool path_known; /* false without /proc: then canonical paths fall back to the names */
};

/* Fills `root` for the directory `rootfd` (which stays the caller's). Never fails. */
void oci_root_init(struct oci_root *root, int rootfd);

/* Opens the directory that holds the last component of the clean path `path`, resolved under the
 * root as bx_open_parent_in_root() with BX_RESOLVE_IN_ROOT does (creating missing directories
 * with `dir_mode` unless it is 0), copies the last component into `leaf`, and writes into
 * `canon` the path of that entry with no symlink in it: where it really is in the root. */
int oci_root_parent_open(const struct oci_root *root, const char *path, mode_t dir_mode, char *leaf,
                         size_t leaf_size, char *canon, size_t canon_size, struct bx_err *err);

/* ---- the set of paths one layer added (pathset.c) ----
 *
 * A tree of path components, each node stored once under (parent node, name) in an
 * open-addressing hash table, so that a set of N paths costs memory proportional to the bytes of
 * their distinct components, never to N times their depth. A node is present when the layer added
 * its path or anything below it; `added` marks the paths the layer itself created. Node numbers
 * are stable while the set lives. */

#define OCI_PATHSET_ROOT ((uint32_t)0)          /* the node of "." (the root), always present */
#define OCI_PATHSET_NONE ((uint32_t)UINT32_MAX) /* "no such node" */

struct oci_pathset_node;

struct oci_pathset {
    struct oci_pathset_node *nodes;
    size_t n_nodes, cap_nodes;
    uint32_t *slots; /* node number + 1 for each used slot, 0 for a free one */
    size_t n_slots;  /* a power of two, or 0 before the first add */
    char *names;     /* every node's name, one after another, not NUL-terminated */
    size_t names_len, names_cap;
};

/* Makes an empty set (allocates nothing). */
void oci_pathset_init(struct oci_pathset *set);

/* Frees what the set holds; it can be initialised again. */
void oci_pathset_release(struct oci_pathset *set);

/* Adds the clean relative path `path` ("a/b/c": no empty, "." or ".." components; "." is the
 * root) with its ancestors and marks it added. `out_node` (may be NULL) receives its node.
 * BX_ENOMEM when memory runs out. */
int oci_pathset_add(struct oci_pathset *set, const char *path, uint32_t *out_node,
                    struct bx_err *err);

/* The node of the clean relative path `path`, or OCI_PATHSET_NONE. */
uint32_t oci_pathset_find(const struct oci_pathset *set, const char *path);

/* The node called `name` under `parent`, or OCI_PATHSET_NONE (also when parent is NONE). */
uint32_t oci_pathset_child(const struct oci_pathset *set, uint32_t parent, const char *name);

/* Whether the layer itself created the path of `node`. */
bool oci_pathset_added(const struct oci_pathset *set, uint32_t node);

/* Writes the path of `node` ("." for the root) into buf. BX_ETOOBIG when it does not fit. */
int oci_pathset_path(const struct oci_pathset *set, uint32_t node, char *buf, size_t size,
                     struct bx_err *err);

/* ---- the directories a layer's whiteouts already emptied (inoset.c) ----
 *
 * Directories by (st_dev, st_ino), so that one directory is walked once per layer however many
 * names (symlinks, repeated markers) lead to it. */

struct oci_inoset_slot;

struct oci_inoset {
    struct oci_inoset_slot *slots;
    size_t n_slots, n_used; /* n_slots is a power of two, or 0 before the first add */
};

/* Makes an empty set (allocates nothing). */
void oci_inoset_init(struct oci_inoset *set);

/* Frees what the set holds; it can be initialised again. */
void oci_inoset_release(struct oci_inoset *set);

/* Adds (dev, ino): 1 when it was not there, 0 when it was, BX_ENOMEM. */
int oci_inoset_add(struct oci_inoset *set, dev_t dev, ino_t ino, struct bx_err *err);

/* ---- whiteouts (whiteout.c) ---- */

#define OCI_WHITEOUT_PREFIX ".wh."
#define OCI_WHITEOUT_PREFIX_LEN 4
#define OCI_WHITEOUT_META_PREFIX ".wh..wh."
#define OCI_WHITEOUT_OPAQUE ".wh..wh..opq"

/* Applies the whiteout entry at the clean path `path`, whose last component starts with ".wh.",
 * to `root`: ".wh.<name>" removes <name>, ".wh..wh..opq" empties the directory that
 * holds it, keeping everything `added` names (the canonical paths the same layer created) and the
 * directories on the way to them. `emptied` (the same set for every whiteout of one layer) records
 * the directories already emptied, whose content is all the layer's own: they are not walked again.
 * Every path is resolved under the root, so nothing outside it is touched; a missing target is
 * success. BX_EPERM for ".wh..." (it would name the parent), BX_EINVAL for ".wh." and ".wh..".
 * Needs no recursion: the walk keeps its own stack. */
int oci_whiteout_apply(const struct oci_root *root, const struct oci_pathset *added,
                       struct oci_inoset *emptied, const char *path, struct bx_err *err);

#endif
