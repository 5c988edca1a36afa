/* The shim RPC server's insides, shared by its files: rpc_server.c (lifecycle and the event
 * loop), rpc_server_call.c (one call, from its arrival to its end), rpc_server_wait.c (parked
 * Waits and the exit record) and rpc_server_socket.c (the socket file). Private to api/.
 *
 * One thread, the server thread, takes every event from the server's completion queue. Other
 * threads touch the server only through post_exit (answers parked Waits) and stop; everything
 * they share with the server thread is under `mu`. Callbacks run on the server thread without
 * `mu` held. */
#ifndef BOXER_API_RPC_SERVER_INTERNAL_H
#define BOXER_API_RPC_SERVER_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "rpc_internal.h"

/* What a completion-queue tag stands for. Every tag points at one of these. */
enum rpc_tag_kind {
    RPC_TAG_REQUEST,  /* a posted request slot got a new call; owner: struct rpc_request */
    RPC_TAG_CLOSE,    /* a call is over (RECV_CLOSE_ON_SERVER); owner: struct rpc_call */
    RPC_TAG_REPLY,    /* a call's reply batch is done; owner: struct rpc_call */
    RPC_TAG_SHUTDOWN, /* grpc_server_shutdown_and_notify is done; owner: the server */
};

struct rpc_tag {
    enum rpc_tag_kind kind;
    void *owner;
};

/* A posted grpc_server_request_registered_call (one per method) or grpc_server_request_call
 * (the generic slot, method NULL, which receives every method not registered). */
struct rpc_request {
    struct rpc_tag tag;
    const struct rpc_method *method;
    void *registered;
    grpc_call *call;
    gpr_timespec deadline;
    grpc_call_details details;
    grpc_metadata_array metadata;
    grpc_byte_buffer *payload;
};

/* One call, alive while a batch of it is in flight (`refs`). */
struct rpc_call {
    struct shim_rpc_server *srv;
    grpc_call *call;
    const struct rpc_method *method; /* NULL: a method this server does not serve */
    gpr_timespec deadline;           /* GPR_CLOCK_MONOTONIC; infinite when the client set none */
    struct rpc_tag close_tag;
    struct rpc_tag reply_tag;
    int cancelled; /* set by RECV_CLOSE_ON_SERVER */
    /* Under srv->mu: */
    int refs;
    bool replied;
    bool notify_deleted; /* a successful Delete: call ops.deleted when the call is over */
    bool parked;
    struct rpc_call *prev, *next; /* the parked list */
    grpc_byte_buffer *reply_msg;  /* kept until the reply batch is done */
    grpc_slice reply_details;
};

struct shim_rpc_server {
    struct shim_rpc_ops ops;
    void *ctx;
    char *exec_id;
    char *socket_path;     /* absolute */
    struct stat socket_st; /* the socket as bound; zero until then */
    grpc_server *server;
    grpc_completion_queue *cq;
    pthread_t thread;
    pthread_t accept_thread; /* from serve on */
    /* gRPC's part: made by prepare, or by the accept thread at the first connection (listen).
     * Written before the accept thread starts or by it; read by stop after joining it. */
    bool grpc_inited; /* grpc_init was called: free undoes it */
    bool up;          /* the server thread runs (setup went well) */
    bool up_failed;   /* the accept thread's try failed: connections are closed */
    struct rpc_request requests[RPC_METHOD_COUNT + 1];
    struct rpc_tag shutdown_tag;

    pthread_mutex_t mu;
    pthread_cond_t ready_cond;
    /* Under mu: */
    bool ready; /* setup is over, setup_err says how it went */
    struct bx_err setup_err;
    bool accepting; /* the accept thread was started (and is not joined yet) */
    bool listening; /* the accept thread tried to listen; listen_err says how it went */
    struct bx_err listen_err;
    int listen_fd;      /* the listening socket, -1 before serve and after stop */
    bool closing;       /* stop has begun: the accept thread leaves */
    bool started;       /* grpc_server_start was called */
    size_t pending;     /* tags handed to gRPC and not yet back from the queue */
    bool stopping;      /* no new requests are posted; Waits are answered UNAVAILABLE */
    bool shutdown_done; /* the shutdown tag is back */
    bool cancelled_all; /* grpc_server_cancel_all_calls was called */
    gpr_timespec grace; /* when stopping: cancel the calls still running at this time */
    bool exited;        /* post_exit was called; exit_reply holds the WaitResponse */
    grpc_slice exit_reply;
    struct rpc_call *parked; /* parked Waits, newest first */
    size_t n_parked;
};

/* ---- rpc_server_call.c ---- */

/* Takes the new call out of a completed request slot (leaving the slot ready to be posted
 * again) and serves it: a call the server does not know is answered UNIMPLEMENTED, Wait goes to
 * rpc_wait_serve(), the others to their callbacks. Server thread. */
void rpc_call_serve_new(struct shim_rpc_server *srv, struct rpc_request *req);

/* Starts the call's reply: status, details (may be NULL) and message (may be NULL; the call takes
 * it). A call is replied to once; a second reply is dropped. mu held. */
void rpc_call_reply_locked(struct rpc_call *c, grpc_status_code status, const char *details,
                           grpc_byte_buffer *msg);

/* A batch of the call came back from the queue. Server thread, mu not held. */
void rpc_call_on_event(struct rpc_call *c, enum rpc_tag_kind kind);

/* ---- rpc_server_wait.c ---- */

/* Serves a Wait: answered at once after post_exit (or UNAVAILABLE when stopping), else parked.
 * mu held. */
void rpc_wait_serve_locked(struct rpc_call *c);

/* Takes the call off the parked list if it is there. mu held. */
void rpc_wait_unpark_locked(struct rpc_call *c);

/* The earliest deadline of a parked Wait (the infinite future when none). mu held. */
gpr_timespec rpc_wait_next_deadline_locked(struct shim_rpc_server *srv);

/* Answers DEADLINE_EXCEEDED to every parked Wait whose deadline has passed. mu held. */
void rpc_wait_expire_locked(struct shim_rpc_server *srv);

/* Answers every parked Wait with `status`. mu held. */
void rpc_wait_release_all_locked(struct shim_rpc_server *srv, grpc_status_code status,
                                 const char *details);

/* ---- rpc_server_socket.c ---- */

/* Checks `path` for use as the socket: makes it absolute (*out, malloc'd), within the length of
 * sun_path, and clears a stale socket from it (BX_EBUSY when a server listens on it, BX_EEXIST
 * when something else is there). */
int rpc_socket_prepare(const char *path, char **out, struct bx_err *err);

/* Gives the calling thread a file-system context of its own (unshare(CLONE_FS)) with umask 0177,
 * so a socket it binds is 0600 from the start without touching the process's umask; *old is the
 * umask to restore once bound. Returns false when the kernel refused; rpc_socket_secure() then
 * still fixes the mode. */
bool rpc_socket_private_umask(mode_t *old);

/* Makes sure the socket at `path` is a socket of mode 0600; *out is what lstat says of it. */
int rpc_socket_secure(const char *path, struct stat *out, struct bx_err *err);

/* A unix socket bound at `path` and listening: its fd (close-on-exec, blocking), or a BX_E* code
 * with err set. The file's mode is what the calling thread's umask leaves. */
int rpc_socket_listen(const char *path, struct bx_err *err);

/* Removes the socket at `path` if it is still the one described by `bound` (nothing when bound
 * is not a socket, i.e. was never filled): another server may have bound the path since. */
void rpc_socket_remove(const char *path, const struct stat *bound);

#endif
