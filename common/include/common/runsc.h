/* What boxerd and boxerctl ask of the installed runsc before they use it. */
#ifndef BOXER_COMMON_RUNSC_H
#define BOXER_COMMON_RUNSC_H

#include <stdbool.h>

/* The real path `exec` would run for `name` (a path, or a name looked up in PATH), in `out`;
 * false when there is no such executable. */
bool bx_runsc_find(const char *name, char *out, size_t size);

/* Whether `runsc` (a path, or a name looked up in PATH) knows the gVisor platform `platform`:
 * runs `runsc --platform=P --root=<a path that does not exist> list`, which fails with "unknown
 * platform" for one it lacks. Thread-safe (posix_spawn). */
bool bx_runsc_has_platform(const char *runsc, const char *platform);

/* The platform to use: `wanted` when runsc has it, else "ptrace" (*fell_back set), the one every
 * runsc has. */
const char *bx_runsc_platform(const char *runsc, const char *wanted, bool *fell_back);

/* bx_runsc_platform() with its answer kept in `cache_dir` (a file per platform, keyed by the
 * runsc binary's path, inode, size and mtime), so a short-lived tool does not probe each time.
 * "ptrace" needs no probe. */
const char *bx_runsc_platform_cached(const char *runsc, const char *wanted, const char *cache_dir,
                                     bool *fell_back);

#endif
