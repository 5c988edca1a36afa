/* libarchive, loaded when liboci first unpacks a layer (see lazy.h). */
#include <stdarg.h>
#include <stdio.h>

#include <archive.h>
#include <archive_entry.h>

#include "lazy.h"

#if ARCHIVE_VERSION_NUMBER < 3000000 || ARCHIVE_VERSION_NUMBER >= 4000000
#error "libarchive's soname is not libarchive.so.13 for this version"
#endif

#define ARCHIVE_NAMES(X)                                                                           \
    X(archive_read_new)                                                                            \
    X(archive_read_free)                                                                           \
    X(archive_read_support_filter_all)                                                             \
    X(archive_read_support_filter_gzip)                                                            \
    X(archive_read_support_filter_zstd)                                                            \
    X(archive_read_support_format_tar)                                                             \
    X(archive_read_open)                                                                           \
    X(archive_read_next_header)                                                                    \
    X(archive_read_data_block)                                                                     \
    X(archive_errno)                                                                               \
    X(archive_error_string)                                                                        \
    X(archive_set_error)                                                                           \
    X(archive_entry_pathname)                                                                      \
    X(archive_entry_filetype)                                                                      \
    X(archive_entry_perm)                                                                          \
    X(archive_entry_uid)                                                                           \
    X(archive_entry_gid)                                                                           \
    X(archive_entry_size)                                                                          \
    X(archive_entry_size_is_set)                                                                   \
    X(archive_entry_hardlink)                                                                      \
    X(archive_entry_symlink)                                                                       \
    X(archive_entry_atime)                                                                         \
    X(archive_entry_atime_is_set)                                                                  \
    X(archive_entry_atime_nsec)                                                                    \
    X(archive_entry_mtime)                                                                         \
    X(archive_entry_mtime_is_set)                                                                  \
    X(archive_entry_mtime_nsec)

LAZY_LIB(archive_lib, "libarchive.so.13", ARCHIVE_NAMES);

/* The first call of an unpack: a library that cannot be loaded makes no reader (the unpack
 * fails as out of memory would, and the reason is logged). */
struct archive *
archive_read_new(void)
{
    if (!lazy_load(&archive_lib))
        return NULL;
    return LAZY_FN(archive_lib, struct archive *, archive_read_new, (void))();
}

#define A struct archive *a
#define E struct archive_entry *e
LAZY_FORWARD(archive_lib, int, archive_read_free, (A), (a))
LAZY_FORWARD(archive_lib, int, archive_read_support_filter_all, (A), (a))
LAZY_FORWARD(archive_lib, int, archive_read_support_filter_gzip, (A), (a))
LAZY_FORWARD(archive_lib, int, archive_read_support_filter_zstd, (A), (a))
LAZY_FORWARD(archive_lib, int, archive_read_support_format_tar, (A), (a))
LAZY_FORWARD(archive_lib, int, archive_read_open,
             (A, void *data, archive_open_callback *o, archive_read_callback *r,
              archive_close_callback *c),
             (a, data, o, r, c))
LAZY_FORWARD(archive_lib, int, archive_read_next_header, (A, struct archive_entry **e), (a, e))
LAZY_FORWARD(archive_lib, int, archive_read_data_block,
             (A, const void **buf, size_t *size, la_int64_t *offset), (a, buf, size, offset))
LAZY_FORWARD(archive_lib, int, archive_errno, (A), (a))
LAZY_FORWARD(archive_lib, const char *, archive_error_string, (A), (a))
LAZY_FORWARD(archive_lib, const char *, archive_entry_pathname, (E), (e))
LAZY_FORWARD(archive_lib, __LA_MODE_T, archive_entry_filetype, (E), (e))
LAZY_FORWARD(archive_lib, __LA_MODE_T, archive_entry_perm, (E), (e))
LAZY_FORWARD(archive_lib, la_int64_t, archive_entry_uid, (E), (e))
LAZY_FORWARD(archive_lib, la_int64_t, archive_entry_gid, (E), (e))
LAZY_FORWARD(archive_lib, la_int64_t, archive_entry_size, (E), (e))
LAZY_FORWARD(archive_lib, int, archive_entry_size_is_set, (E), (e))
LAZY_FORWARD(archive_lib, const char *, archive_entry_hardlink, (E), (e))
LAZY_FORWARD(archive_lib, const char *, archive_entry_symlink, (E), (e))
LAZY_FORWARD(archive_lib, time_t, archive_entry_atime, (E), (e))
LAZY_FORWARD(archive_lib, int, archive_entry_atime_is_set, (E), (e))
LAZY_FORWARD(archive_lib, long, archive_entry_atime_nsec, (E), (e))
LAZY_FORWARD(archive_lib, time_t, archive_entry_mtime, (E), (e))
LAZY_FORWARD(archive_lib, int, archive_entry_mtime_is_set, (E), (e))
LAZY_FORWARD(archive_lib, long, archive_entry_mtime_nsec, (E), (e))
#undef A
#undef E

/* A format string cannot be passed on as a va_list: the message is formatted here. */
void
archive_set_error(struct archive *a, int err, const char *fmt, ...)
{
    lazy_need(&archive_lib);
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    LAZY_FN(archive_lib, void, archive_set_error, (struct archive *, int, const char *, ...))
    (a, err, "%s", msg);
}
