/* Small file-system helpers that every module needs, written so that a path that sandboxed code
 * or a registry could have shaped never leads the host outside a chosen directory.
 *
 * Nothing here follows a symlink unless a function says it does. Functions return 0 or a
 * negative BX_E* code and fill `err`. All are thread-safe (they share no state).
 */
#ifndef BOXER_COMMON_FS_H
#define BOXER_COMMON_FS_H

#include <stdbool.h>
#include <dirent.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/err.h"

/* How bx_open_in_root() and bx_open_parent_in_root() treat symlinks inside the root. */
enum bx_resolve {
    /* Symlinks are followed as if the root were "/" (a chroot): an absolute target or a ".."
     * that climbs above the root stays inside it. For image root file systems. */
    BX_RESOLVE_IN_ROOT = 0,
    /* No symlink at all, in any component; ".." may not climb above the root. For the file
     * store and for anything sandboxed code wrote. */
    BX_RESOLVE_NO_SYMLINKS = 1,
};

/* Lexically cleans a relative path into out: leading and repeated slashes and "." components go,
 * ".." removes the component before it and never climbs above the start. "" and "/" become ".".
 * With `reject_dotdot`, any ".." component is BX_EINVAL instead. BX_ETOOBIG when out is too
 * small. */
int bx_path_clean(const char *in, bool reject_dotdot, char *out, size_t out_size,
                  struct bx_err *err);

/* Opens `path` under the directory `rootfd` with openat(2) `flags` and `mode`, resolving every
 * component inside the root as `resolve` says (openat2 with RESOLVE_IN_ROOT or
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, never magic links). O_CLOEXEC is always added. A final
 * symlink is followed only when `flags` lacks O_NOFOLLOW. Returns the fd (>= 0) or a code. */
int bx_open_in_root(int rootfd, const char *path, int flags, mode_t mode, enum bx_resolve resolve,
                    struct bx_err *err);

/* Opens the directory that holds the last component of `path` under `rootfd`, creating missing
 * directories with `dir_mode` when `dir_mode` is not 0, and copies the last component into
 * `leaf`. For creating, replacing or removing an entry without following it. A path with no
 * last component ("", "/", ".", "..") is BX_EINVAL. Returns the directory fd or a code. */
int bx_open_parent_in_root(int rootfd, const char *path, enum bx_resolve resolve, mode_t dir_mode,
                           char *leaf, size_t leaf_size, struct bx_err *err);

/* Creates the directory `path` and every missing parent, relative to `dirfd` (AT_FDCWD or a
 * directory fd; an absolute path ignores dirfd). An existing component that is a symlink is
 * refused (BX_EPERM), never followed. An existing directory is fine. */
int bx_mkdir_p(int dirfd, const char *path, mode_t mode, struct bx_err *err);

/* Opens the directory `name` under `dirfd` ("." for `dirfd` itself) for readdir, never following
 * a symlink. The stream has its own file offset: a dup() of `dirfd` would share the offset, so a
 * second listing of the same directory fd would start where the first ended. NULL with errno. */
DIR *bx_opendir_at(int dirfd, const char *name);

/* Removes `name` (relative to `dirfd`, or absolute) and, for a directory, everything under it,
 * never following a symlink: a symlink is removed itself. Directories without write or search
 * permission are made removable first. A missing `name` is success. */
int bx_rm_rf(int dirfd, const char *name, struct bx_err *err);

/* Writes `len` bytes to `name` in directory `dirfd` atomically: a temporary file in the same
 * directory is written, fsynced, given `mode` and renamed over `name`, then the directory is
 * fsynced. A reader sees the old content or the new, never a part; a failure leaves no
 * temporary file. `name` must be a single component. */
int bx_write_file_atomic(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                         struct bx_err *err);

/* bx_write_file_atomic() without the fsyncs: readers see the old or the new content, never a
 * part, but a crash may lose the file. For files that mean nothing after a crash (a pid file,
 * a run's bundle). */
int bx_write_file_replace(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                          struct bx_err *err);

/* Reads the regular file `name` (relative to `dirfd`, not following a final symlink) into a
 * NUL-terminated buffer that the caller frees. A file larger than `max_size` is BX_ETOOBIG,
 * refused before anything is allocated for it. `out_len` may be NULL. */
int bx_read_file(int dirfd, const char *name, size_t max_size, char **out, size_t *out_len,
                 struct bx_err *err);

/* write(2) until done, retrying on EINTR and short writes. Returns 0 or -1 with errno set. */
int bx_write_all(int fd, const void *data, size_t len);

#endif
