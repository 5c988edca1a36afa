/* The state of one shim process, shared by supervise.c (the main thread's loop) and service.c
 * (the RPC callbacks on the server's thread). Fields marked [mu] are read or written by both
 * threads under `mu`; the rest belong to the main thread. */
#ifndef BOXER_SHIM_SUPERVISE_INTERNAL_H
#define BOXER_SHIM_SUPERVISE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "shim/v1/shim.pb-c.h"
#include "shim_internal.h"

enum { TAG_SIGNAL = 1, TAG_TIMER, TAG_CMD, TAG_STDOUT, TAG_STDERR, TAG_LINK };

struct shim_rpc_server;

struct shim {
    const struct shim_opts *o;
    int state_fd;
    struct shim_cgroup cg;
    bool have_cg; /* [mu] */
    pid_t runsc_pid;
    int out_pipe, err_pipe;
    struct shim_output out, err;
    int sfd, epfd, cmd_fd, tfd;
    char stderr_tail[1024];
    size_t tail_len;

    int64_t started_unix_ms, started_mono_ms, finished_unix_ms, finished_mono_ms;
    int64_t wall_deadline, drain_until, linger_until; /* monotonic ms; 0: none */
    bool exited, stopping, timed_out, terminate, cleaned, lingered, root_removed;
    bool done; /* [mu] the shim may exit */
    int wait_status;

    pthread_mutex_t mu;
    pthread_cond_t cv;
    Boxer__Shim__V1__Status status; /* [mu] */
    struct shim_record record;      /* final once record_done */
    Boxer__Shim__V1__ExitRecord pb_record;
    bool record_done; /* [mu] */
    /* Kill and Delete, handed from the RPC thread to the main thread. [mu] */
    bool kill_pending, kill_done;
    int kill_sig;
    bool kill_all;
    struct bx_err kill_err;
    bool delete_requested, delete_ready;
    bool delete_by_rpc; /* a Delete call waits for delete_ready; its answer ends the shim */
    /* The linked launcher's socket (-1: none, or closed); main thread only. Its closing is a
     * Delete with nobody to answer: delete_ready ends the shim unless a Delete call waits. */
    int link_fd;
    bool link_closed;
    int64_t kill_since, kill_retry_at; /* the pending Kill's first try, its next; 0: none */
    struct shim_rpc_server *srv;
};

void shim_stop_sandbox(struct shim *s, const char *why);
/* The main thread's side of Kill and Delete (service.c). */
void shim_on_command(struct shim *s);
/* Tries the pending Kill (again); see KILL_RETRY_MS. */
void shim_kill_now(struct shim *s);
/* Removes runsc's state, the cgroup and the pid file; idempotent (supervise.c). */
void shim_cleanup_state(struct shim *s);

int shim_service_start(struct shim *s, struct bx_err *err);
void shim_service_post_exit(struct shim *s);
void shim_service_stop(struct shim *s);

#endif
