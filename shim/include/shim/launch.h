/* Launching one execution through a boxer-shim, for boxerd and `boxerctl run`: the run
 * directory (home/run/<exec_id>/ with an overlay view of the image's shared rootfs, the bundle
 * and /output), `boxer-shim start`, Wait and Delete over its socket (or over a link), and the
 * teardown.
 *
 * The shared rootfs is only ever the lower layer of a per-run overlay: runsc's gofer creates
 * missing mount points inside root.path, and the cache must stay untouched. Every directory made
 * is 0711 (runsc's sandbox opens the path unprivileged); /output is 0700 and belongs to the
 * sandbox's user (65534).
 *
 * Thread-safe: any number of launches may run at once (children start with posix_spawn).
 */
#ifndef BOXER_SHIM_LAUNCH_H
#define BOXER_SHIM_LAUNCH_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/err.h"
#include "oci/spec.h"
#include "shim/v1/shim.pb-c.h"

#define SHIM_EXEC_ID_SIZE 48 /* "boxer-" + a uuid4 + NUL */

struct shim_launch_opts {
    const char *home;    /* Boxer's home: the run directory is <home>/run/<exec_id> */
    const char *exec_id; /* see shim_exec_id_new() */
    const char *rootfs;  /* the image's shared, read-only root file system */
    const char *const *args;
    const char *const *env; /* merged (oci_env_merge) */
    const char *cwd;        /* absolute */
    const struct oci_spec_file *files;
    size_t n_files;
    uint64_t nofile; /* 0: the spec's default */
    /* The shim's options */
    const char *shim_path;   /* NULL: shim_launch_shim_path() */
    const char *runsc;       /* NULL: "runsc" in PATH */
    const char *platform;    /* as probed (bx_runsc_platform) */
    uint64_t wall_clock_ms;  /* 0: none */
    uint64_t output_limit;   /* per stream; 0: none */
    uint64_t memory_bytes;   /* 0: none */
    uint64_t cpu_millicores; /* 0: none */
    uint64_t pids;           /* 0: none */
    bool ignore_cgroups;
    bool runsc_debug;
    const char *log_level; /* the shim's; NULL: info */
    /* The shim removes the run directory itself once deleted (boxer-shim --remove-state): the
     * teardown returns when Delete is answered, without waiting for the unmount and removal.
     * The directory goes whatever the teardown's `keep` says: not for a run to keep. */
    bool shim_removes;
    /* Linked (boxerctl run): the shim is a linked spare whose launcher keeps a socket to it (the
     * link) instead of calling its status socket: the wait reads the exit from the link and the
     * record from the run directory, and the teardown closes the link, which deletes the
     * execution; a caller that dies so stops its sandbox too. The caller then needs no gRPC, and
     * the shim starts gRPC only if someone else calls it (boxerctl state, ...). */
    bool linked;
};

struct shim_rpc_client;

struct shim_launch {
    char exec_id[SHIM_EXEC_ID_SIZE];
    char dir[PATH_MAX];    /* <home>/run/<exec_id> */
    char merged[PATH_MAX]; /* the overlay view, root.path */
    bool created;          /* dir was made by this launch: teardown removes it */
    bool mounted;
    bool started;      /* a shim runs for it */
    pid_t shim_pid;    /* that shim, our child */
    bool shim_removes; /* launched with shim_removes */
    /* The connection to the shim's socket, made by the wait and kept for the teardown's
     * Delete (one channel and one gRPC start-up per run, not two). */
    struct shim_rpc_client *cl;
    /* Set by a caller that exits right after the teardown: the teardown leaves cl open, since
     * closing a channel costs 1-5 ms after the run's last reply, and does not reap the shim
     * (init does, once the caller is gone). */
    bool keep_client;
    bool linked; /* launched linked: link_fd is the link until the teardown */
    int link_fd;
    bool link_lost; /* the link ended without the exit: the shim died, the teardown cleans up */
};

/* A new "boxer-<uuid4>". */
void shim_exec_id_new(char *buf, size_t size);

/* boxer-shim's path: $BOXER_SHIM, else beside the running program, else the build tree's
 * ../shim/boxer-shim, else "boxer-shim" from PATH. */
void shim_launch_shim_path(char *buf, size_t size);

/* Makes the run directory, mounts the view and writes the bundle. */
int shim_launch_prepare(const struct shim_launch_opts *o, struct shim_launch *l,
                        struct bx_err *err);

/* The two halves of shim_launch_prepare(), for a caller that puts files in the run directory
 * (referenced by o->files) between them. */
int shim_launch_prepare_dirs(const struct shim_launch_opts *o, struct shim_launch *l,
                             struct bx_err *err);
int shim_launch_write_bundle(const struct shim_launch_opts *o, const struct shim_launch *l,
                             struct bx_err *err);

/* A spare shim (spare.c): `boxer-shim spare` started ahead of the next launch, which then does
 * not wait for the shim's exec and loading. enable starts one (shim_path NULL:
 * shim_launch_shim_path(); linked: `spare --linked`, for linked launches), refill starts the
 * next once one was taken (a long-lived caller, boxerd; call it off the run's critical path),
 * disable lets it go if it was not taken and reaps it. A one-shot caller (boxerctl run) enables
 * before its own preparation and disables at the end. Thread-safe. */
void shim_launch_spare_enable(const char *shim_path, bool linked);
void shim_launch_spare_refill(void);
void shim_launch_spare_disable(void);
/* Hands `args` (those of `boxer-shim start`, without argv[0]) to the spare if it runs
 * `shim_path` (and is linked if `linked`), else to a `boxer-shim spare` started now, and waits
 * for its ready line. On success *pid is the shim, the caller's child from then on:
 * shim_launch_reap() it once it was deleted; *link_fd is the link when linked, else -1. On
 * failure the error is the shim's own ready line ("boxer-shim failed to start: ...") or how it
 * died. */
int shim_launch_spare_start(const char *shim_path, const char *const *args, bool linked, pid_t *pid,
                            int *link_fd, struct bx_err *err);
/* Reaps a shim of shim_launch_spare_start() now if it has exited, else from a thread of its
 * own once it does (after a Delete it still unmounts and removes its run directory). */
void shim_launch_reap(pid_t pid);

/* Runs `boxer-shim start` (or gives its arguments to the spare) and returns once its socket is
 * ready. */
int shim_launch_start(const struct shim_launch_opts *o, struct shim_launch *l, struct bx_err *err);

/* Waits for the exit (timeout_ms < 0: no deadline) and returns the exit record (free with
 * boxer__shim__v1__exit_record__free_unpacked). The sandbox stays until the teardown. */
int shim_launch_wait(struct shim_launch *l, int timeout_ms, Boxer__Shim__V1__ExitRecord **rec,
                     struct bx_err *err);

/* The pid of the live boxer-shim whose state directory is `dirfd` (from its shim.pid, checked
 * against /proc/PID/stat: its name, and not a zombie), else 0. */
pid_t shim_pid_alive(int dirfd);

/* Wait on `cl` for the exit of the execution whose state directory is `dir`, retrying a call
 * that could not reach the shim while the shim is alive (a shim busy with many connections can
 * fail a handshake). timeout_ms < 0: no deadline. */
int shim_wait_exit(struct shim_rpc_client *cl, const char *dir, const char *exec_id, int timeout_ms,
                   Boxer__Shim__V1__ExitRecord **rec, struct bx_err *err);

/* The path of a file of the run directory ("stdout", "output", ...). */
void shim_launch_path(const struct shim_launch *l, const char *name, char *buf, size_t size);

/* Removes what the launch made: tells the shim to delete the sandbox (killing it if it still
 * runs) and exit, removes the shim's leftovers when it died (cgroup), the view's mount, and the
 * run directory unless `keep`. With shim_removes, once the shim answered Delete the view and the
 * directory are its to remove (they go moments after this returns). Safe at any stage. */
void shim_launch_teardown(struct shim_launch *l, bool keep);

#endif
