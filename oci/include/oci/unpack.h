/* Applying image layers to a root file system, safely whatever a layer contains.
 *
 * A layer is a tar stream, uncompressed or gzip or zstd compressed (libarchive detects which).
 * Every entry is resolved under the root directory fd with the kernel's RESOLVE_IN_ROOT, so no
 * name, symlink or hardlink in a layer can make the unpacker touch anything outside the root.
 *
 * Whiteouts follow the OCI image spec with umoci's and containerd's semantics: `.wh.<name>`
 * removes <name> as the lower layers left it; `.wh..wh..opq` empties its directory of what lower
 * layers put there and keeps the directory; entries the same layer adds are never removed by
 * its own whiteouts, whatever their order in the tar; whiteout files are never extracted.
 *
 * Regular files, directories, symlinks and hardlinks (whose target must already exist inside
 * the root) are created with their modes, owners and mtimes (directory mtimes are set once the
 * layer is done). An entry replaces whatever was at its path (a directory by a file and back).
 * Device nodes, fifos and sockets are skipped with a debug line. Extended attributes are not
 * applied.
 *
 * Thread-safe for different roots; one root must not be unpacked into by two threads.
 */
#ifndef BOXER_OCI_UNPACK_H
#define BOXER_OCI_UNPACK_H

#include <stdint.h>

#include "common/err.h"

struct oci_unpack_limits {
    uint64_t max_bytes;   /* total bytes of file content across all layers; 0 is no limit */
    uint64_t max_entries; /* total tar entries across all layers; 0 is no limit */
};

/* Running totals across the layers of one image: pass the same struct, zeroed, to every layer
 * of the image so the limits hold for the whole image. */
struct oci_unpack_stats {
    uint64_t bytes;   /* file content written */
    uint64_t entries; /* tar entries read */
    uint64_t skipped; /* device nodes, fifos, sockets */
};

/* Applies the layer read from `layer_fd` (a file or a pipe, read to its end) onto the root file
 * system at `rootfd`. Passing a limit is BX_ETOOBIG ("image exceeds the maximum size of N
 * bytes"); a corrupt stream is BX_EINVAL; an entry that would leave the root is BX_EPERM naming
 * the entry. After an error the root is partly written: the caller discards it. */
int oci_layer_unpack(int rootfd, int layer_fd, const struct oci_unpack_limits *limits,
                     struct oci_unpack_stats *stats, struct bx_err *err);

#endif
