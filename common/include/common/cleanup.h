/* Scope-bound cleanup, as crun and conmon use it.
 *
 * Every variable declared with one of these attributes must be initialised where it is declared
 * (NULL or -1). Ownership leaves a variable visibly: `return steal_ptr(&buf);`,
 * `*out_fd = steal_fd(&fd);`. The cleanups preserve errno.
 */
#ifndef BOXER_COMMON_CLEANUP_H
#define BOXER_COMMON_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static inline void
bx_cleanup_freep(void *p)
{
    int saved = errno;
    free(*(void **)p);
    errno = saved;
}

static inline void
bx_cleanup_closep(int *fd)
{
    int saved = errno;
    if (*fd >= 0)
        close(*fd);
    errno = saved;
}

static inline void
bx_cleanup_fclosep(FILE **f)
{
    int saved = errno;
    if (*f)
        fclose(*f);
    errno = saved;
}

static inline void
bx_cleanup_closedirp(DIR **d)
{
    int saved = errno;
    if (*d)
        closedir(*d);
    errno = saved;
}

#define cleanup_free __attribute__((cleanup(bx_cleanup_freep)))
#define cleanup_close __attribute__((cleanup(bx_cleanup_closep)))
#define cleanup_fclose __attribute__((cleanup(bx_cleanup_fclosep)))
#define cleanup_dir __attribute__((cleanup(bx_cleanup_closedirp)))

/* Takes the pointer out of *pp, leaving NULL behind. */
static inline void *
steal_ptr(void *pp)
{
    void **p = (void **)pp;
    void *r = *p;
    *p = NULL;
    return r;
}

/* Takes the descriptor out of *fd, leaving -1 behind. */
static inline int
steal_fd(int *fd)
{
    int r = *fd;
    *fd = -1;
    return r;
}

#endif
