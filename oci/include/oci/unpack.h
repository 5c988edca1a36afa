/* Applying image layers to a root file system, safely whatever a layer contains.
 *
 * A layer is a tar stream (ustar, pax or GNU), uncompressed or gzip or zstd compressed (libarchive
 * detects which; no other compression is accepted). Every entry is resolved under the root
 * directory fd with the kernel's RESOLVE_IN_ROOT, so no name, symlink or hardlink in a layer can
 * make the unpacker touch anything outside the root:
 *   - names are relative to the root ("/etc/x", "./etc/x" and "etc/x" are one path); a ".."
 *     component in a name or a hardlink target is refused (BX_EPERM), never clamped;
 *   - symlinks already in the root are followed as if the root were "/": a path through one
 *     lands inside the root, or fails (BX_ENOENT) when it names a directory the root lacks;
 *   - the entry itself is never followed: a file entry at the path of a symlink replaces the
 *     symlink;
 *   - a hardlink's target must already exist inside the root and not be a directory.
 *
 * Whiteouts follow the OCI image spec with umoci's and containerd's semantics: `.wh.<name>`
 * removes <name> as the lower layers left it; `.wh..wh..opq` empties its directory of what lower
 * layers put there and keeps the directory; entries the same layer adds are never removed by
 * its own whiteouts, whatever their order in the tar or the path (through symlinks) that names
 * them; whiteout files are never extracted. A whiteout is resolved under the root like any entry,
 * so it removes nothing outside it; `.wh...` (naming the parent) is BX_EPERM, `.wh.` and `.wh..`
 * BX_EINVAL, a `.wh.` component used as a directory ("a/.wh.b/c") BX_EINVAL. Other AUFS metadata
 * (`.wh..wh.*`) is skipped.
 *
 * Regular files, directories, symlinks and hardlinks are created with their modes (setuid,
 * setgid and sticky bits included), owners (uid and gid numbers, applied only when running as
 * root) and mtimes (directory times are set once the layer is done). An entry replaces whatever
 * was at its path (a directory by a file and back); a directory entry over an existing directory
 * keeps its content and updates its mode and owner. Device nodes, fifos and sockets are skipped
 * with a debug line and counted. The root's own entry ("./") is ignored: the root directory's
 * mode, owner and times are the caller's. Extended attributes are not applied.
 *
 * Work and memory: file content streams through fixed buffers; memory grows with the number of
 * entries (and the length of their names), not with file sizes; no recursion depends on the input;
 * whiteouts walk each directory at most once per layer.
 *
 * Thread-safe for different roots; one root must not be unpacked into by two threads.
 */
#ifndef BOXER_OCI_UNPACK_H
#define BOXER_OCI_UNPACK_H

#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"

struct oci_unpack_limits {
    /* Total bytes of file content across all layers, counting a sparse file's logical size
     * (holes included); 0 is no limit. A file whose header already passes it is refused before
     * anything is written; otherwise no byte past the limit is written. */
    uint64_t max_bytes;
    /* Total tar entries across all layers, whiteouts and skipped entries included; 0 is no
     * limit. */
    uint64_t max_entries;
};

/* Running totals across the layers of one image: pass the same struct, zeroed, to every layer
 * of the image so the limits hold for the whole image. */
struct oci_unpack_stats {
    uint64_t bytes;   /* file content written */
    uint64_t entries; /* tar entries read */
    uint64_t skipped; /* device nodes, fifos, sockets */
};

/* Applies the layer read from `layer_fd` (a file or a pipe; after success it has been read to its
 * end, past the tar's end-of-archive blocks) onto the root file system at `rootfd`. Both fds stay
 * the caller's. `limits` may be NULL (no limits); `stats` may be NULL (then the limits hold for
 * this layer alone). Passing a limit is BX_ETOOBIG ("image exceeds the maximum size of N bytes",
 * "image exceeds the maximum of N entries"); a corrupt or truncated stream, or an entry of an
 * unknown type, is BX_EINVAL; an entry that would leave the root is BX_EPERM. Errors about an
 * entry name it: "layer entry 'a/b': ...". After an error the root is partly written: the
 * caller discards it. */
int oci_layer_unpack(int rootfd, int layer_fd, const struct oci_unpack_limits *limits,
                     struct oci_unpack_stats *stats, struct bx_err *err);

/* Reads a layer's bytes into buf (at most size); returns the count, 0 at the end, or -1 with
 * errno set when the stream failed. */
typedef ssize_t (*oci_layer_read_fn)(void *ctx, void *buf, size_t size);

/* oci_layer_unpack() reading through `read_fn` instead of a file descriptor: for a layer that is
 * still being downloaded. */
int oci_layer_unpack_reader(int rootfd, oci_layer_read_fn read_fn, void *ctx,
                            const struct oci_unpack_limits *limits, struct oci_unpack_stats *stats,
                            struct bx_err *err);

#endif
