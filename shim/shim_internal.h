/* boxer-shim's internals: one process per execution that supervises `runsc run`, caps its
 * output, enforces the wall clock and the resource limits through a cgroup of its own, writes
 * the exit record and serves the status socket (api/shim/v1).
 *
 * Files of an execution's state directory (home/run/<exec_id>/):
 *   shim.sock     the status socket (0600)
 *   shim.pid      the shim's pid
 *   shim.log      the shim's own log lines (never the sandbox's output)
 *   stdout        stderr   the sandbox's output, each capped at the output limit
 *   exit.json     the exit record, written atomically before it is served
 *   runsc/        runsc's --root (state of the sandbox), removed by Delete
 */
#ifndef BOXER_SHIM_INTERNAL_H
#define BOXER_SHIM_INTERNAL_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "common/err.h"
#include "shim/v1/shim.pb-c.h"

#define SHIM_SOCKET_NAME "shim.sock"
#define SHIM_PID_NAME "shim.pid"
#define SHIM_LOG_NAME "shim.log"
#define SHIM_STDOUT_NAME "stdout"
#define SHIM_STDERR_NAME "stderr"
#define SHIM_RECORD_NAME "exit.json"
#define SHIM_RUNSC_ROOT_NAME "runsc"
/* The root filesystem view a launcher mounts in the run directory (launch.c). */
#define SHIM_VIEW_NAME "view/merged"
#define SHIM_MAX_RUNSC_FLAGS 16
/* The most arguments a spare shim takes (launch.c passes about 25), and their bytes. */
#define SHIM_SPARE_MAX_ARGS 64
#define SHIM_SPARE_MAX_BYTES 8192
#define SHIM_DEFAULT_LINGER_S 300
/* The sandbox's own memory (the runsc processes: sentry, gofer, ptrace stubs) is charged to the
 * cgroup too; measured at 18-26 MB. The allowance keeps it out of the program's limit. */
#define SHIM_SANDBOX_MEMORY_ALLOWANCE (32ull << 20)

/* Milliseconds of `clock` (CLOCK_MONOTONIC, CLOCK_REALTIME). */
int64_t shim_now_ms(clockid_t clock);

/* Unmounts the view (SHIM_VIEW_NAME) in the run directory `dir` if it is mounted, and removes
 * `dir` with everything in it (rundir.c). */
int shim_run_dir_remove(const char *dir, struct bx_err *err);

/* ---- options (args.c) ---- */

struct shim_opts {
    const char *exec_id;    /* 1-64 of [A-Za-z0-9._-]; the runsc container id and hostname */
    const char *bundle;     /* absolute: holds config.json */
    const char *state_dir;  /* absolute: the execution's directory (created by the caller) */
    const char *runsc;      /* runsc binary; default "runsc" looked up in PATH */
    const char *runsc_root; /* runsc --root; default <state_dir>/runsc */
    const char *runsc_flags[SHIM_MAX_RUNSC_FLAGS]; /* global flags, e.g. --platform=ptrace */
    size_t n_runsc_flags;
    uint64_t wall_clock_ms;      /* 0: none */
    uint64_t output_limit_bytes; /* per stream; 0: none */
    uint64_t memory_bytes;       /* 0: unlimited */
    uint64_t cpu_millicores;     /* 0: unlimited; 1000 = one core */
    uint64_t pids_limit;         /* guest processes and threads; 0: unlimited */
    bool ignore_cgroups;         /* enforce no limit (the exit record says so) */
    bool runsc_debug;            /* runsc's debug logs into <state_dir>/runsc-debug/ */
    uint64_t linger_s;           /* after the exit, how long to wait for Delete */
    bool remove_state;           /* the state directory is the shim's once deleted (below) */
    const char *log_level;       /* error, warn, info, debug; default info */
    bool foreground;             /* `run`: stay attached (for debugging); `start` detaches */
};

/* Parses `boxer-shim start|run [options]` (argv[0] is the program). BX_EINVAL with a message
 * naming the option on bad input. Pointers in opts point into argv. */
int shim_opts_parse(int argc, char **argv, struct shim_opts *opts, struct bx_err *err);

/* ---- output capping (output.c) ---- */

struct shim_output {
    int fd;        /* the capped file in the state directory */
    uint64_t cap;  /* 0: no cap */
    uint64_t kept; /* bytes written to fd */
    bool overflow; /* more arrived than the cap: the first `cap` bytes are kept */
    bool eof;      /* the pipe is closed */
};

/* Takes `len` bytes read from the sandbox: writes what fits under the cap and sets overflow
 * when anything is left over. Returns 0, or a negative BX_E* code when the file cannot be
 * written. */
int shim_output_take(struct shim_output *o, const void *buf, size_t len, struct bx_err *err);

/* Keeps the last `size - 1` bytes of a stream in `tail`, NUL-terminated; `*len` holds how many
 * it keeps now. */
void shim_tail_append(char *tail, size_t size, size_t *len, const char *buf, size_t n);

/* ---- the exit record (record.c) ---- */

struct shim_record {
    int32_t exit_code; /* the status, or 128 + signal */
    int32_t signal;    /* the terminating signal, 0 when the process exited */
    bool timed_out;
    bool oom_killed;
    bool stdout_overflow;
    bool stderr_overflow;
    bool limits_enforced;
    int64_t started_unix_ms;
    int64_t finished_unix_ms;
    int64_t wall_ms;
    int32_t pid;
    uint64_t stdout_bytes;
    uint64_t stderr_bytes;
    char runtime_error[512]; /* runsc's own failure; empty when it ran the program */
};

/* Serialises the record as JSON and writes it atomically as exit.json under `dirfd`. */
int shim_record_write(int dirfd, const struct shim_record *rec, struct bx_err *err);
/* Reads exit.json back; BX_ENOENT when there is none yet. */
int shim_record_read(int dirfd, struct shim_record *rec, struct bx_err *err);
/* JSON text of the record; the caller frees it. NULL when out of memory. */
char *shim_record_to_json(const struct shim_record *rec);
int shim_record_from_json(const char *text, size_t len, struct shim_record *rec,
                          struct bx_err *err);

/* From runsc's wait status and what the shim saw, the record's exit code, signal and runtime
 * error. `stderr_tail` is the end of what runsc wrote to stderr (runsc reports its own failures
 * there, with exit status 128). */
void shim_record_set_status(struct shim_record *rec, int wait_status, const char *stderr_tail);

/* ---- cgroups (cgroup.c) ---- */

struct shim_cgroup {
    bool v2;
    /* runsc puts the sandbox in (v1): the bundle's spec names the cgroup (shim_cgroup_adopt) */
    bool by_runsc;
    char name[128];   /* shim_cgroup_name */
    int procs_fds[4]; /* cgroup.procs of each hierarchy (v1: memory, pids, cpu, cpuacct) */
    size_t n_procs_fds;
    char paths[4][256]; /* the directories made, to remove at the end */
    size_t n_paths;
};

/* Creates boxer/<name> (shim_cgroup_name) in the memory, pids and cpu hierarchies and writes the
 * limits (pids mapped from guest tasks to host threads, see cgroup.c). */
int shim_cgroup_create(struct shim_cgroup *cg, const struct shim_opts *opts, struct bx_err *err);
/* Whether runsc can put the sandbox into the cgroup itself: on v1, when the bundle's spec names
 * it (linux.cgroupsPath "/boxer/<name>", as shim_launch writes it). Then `runsc run` stays
 * outside, its own start-up not throttled by the sandbox's CPU quota; else the shim moves
 * `runsc run` in before exec and starts it with --ignore-cgroups. */
void shim_cgroup_adopt(struct shim_cgroup *cg, const char *bundle);
/* Moves the calling process into the cgroup: async-signal-safe, for the child before exec. */
int shim_cgroup_join_self(const struct shim_cgroup *cg);
/* Whether the kernel's OOM killer ended a process of the cgroup. */
bool shim_cgroup_oom_killed(const struct shim_cgroup *cg);
/* Current usage and limits, for Stats. */
void shim_cgroup_stats(const struct shim_cgroup *cg, uint64_t *mem, uint64_t *mem_limit,
                       uint64_t *cpu_ns, uint64_t *pids, uint64_t *pids_limit);
/* SIGKILLs what is left in the cgroup and removes it; safe on a zeroed or failed cgroup. */
void shim_cgroup_destroy(struct shim_cgroup *cg);
/* Removes what is left of the cgroup of `exec_id` when its shim died without cleaning up (its
 * processes are SIGKILLed first). */
void shim_cgroup_remove_stale(const char *exec_id, const char *state_dir);
/* The cgroup's name: "<exec_id>-<hash of the state directory>", so that executions of the same
 * id in two homes never share one. */
void shim_cgroup_name(const char *exec_id, const char *state_dir, char *buf, size_t size);
/* Host threads allowed for `guest_tasks` guest processes and threads under runsc. */
uint64_t shim_cgroup_host_pids(uint64_t guest_tasks);

/* ---- runsc's command line (runsc.c) ---- */

/* Starts `runsc run` for the execution with stdout and stderr on new pipes (read ends returned
 * non-blocking) and /dev/null on stdin, in the cgroup (when given), dying with the shim. Uses
 * vfork, whose child only makes system calls until its exec: safe beside threads. */
int shim_runsc_run(const struct shim_opts *opts, const struct shim_cgroup *cg, pid_t *pid,
                   int *stdout_fd, int *stderr_fd, struct bx_err *err);
/* Runs `runsc kill [--all] ID SIG` and waits for it (at most a few seconds). Uses posix_spawn:
 * safe with threads. A failure's message ends with runsc's last line ("runsc kill: exit status
 * 128: loading container: file does not exist"). */
int shim_runsc_kill(const struct shim_opts *opts, int sig, bool all, struct bx_err *err);
/* Runs `runsc delete --force ID` and waits for it. */
int shim_runsc_delete(const struct shim_opts *opts, struct bx_err *err);

/* ---- supervision (supervise.c) ---- */

struct shim;
struct shim_rpc_server;
/* The signals the shim reads from a signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP): every thread
 * must block them, or the kernel may hand one to a thread that does not (and SIGCHLD is lost). A
 * thread inherits its creator's mask, so block them before anything starts a thread. */
void shim_signals(sigset_t *set);
/* Runs the execution to its end and serves the status socket until Delete or the linger time.
 * Called in the daemon; `ready_fd` (or -1) gets "ok\n" or "error: <msg>\n" once the socket is
 * ready or start-up failed. `prepared` (or NULL) is an RPC server made before the arguments were
 * known (shim_rpc_server_prepare): it serves the socket, and shim_main stops it in any case;
 * without one, gRPC's part is made when the first client connects (shim_rpc_server_listen).
 * `link_fd` (or -1) is a linked launcher's socket (see SHIM_LINK_EXIT): "exit\n" is sent on it
 * once the exit record is written, and its closing deletes the execution as Delete does,
 * stopping the sandbox first if it still runs. Returns the process exit status. */
int shim_main(const struct shim_opts *opts, int ready_fd, struct shim_rpc_server *prepared,
              int link_fd);

/* What a linked shim sends its launcher when the exit record is written. */
#define SHIM_LINK_EXIT "exit\n"

/* The record as the status API's message; its strings point into `r`. */
void shim_record_to_pb(const struct shim_record *r, Boxer__Shim__V1__ExitRecord *pb);

#endif
