/* Scope-bound cleanup for libarchive handles, like common/cleanup.h for fds and memory.
 * Private to oci/. */
#ifndef BOXER_OCI_ARCHIVE_INTERNAL_H
#define BOXER_OCI_ARCHIVE_INTERNAL_H

#include <errno.h>

#include <archive.h>

static inline void
oci_cleanup_archive_readp(struct archive **a)
{
    int saved = errno;
    if (*a)
        archive_read_free(*a);
    errno = saved;
}

/* A reader (archive_read_new()) freed with archive_read_free() when it leaves scope. */
#define cleanup_archive_read __attribute__((cleanup(oci_cleanup_archive_readp)))

#endif
