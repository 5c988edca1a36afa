/* The shim's status socket: the boxer.shim.v1.Shim gRPC service (api/shim/v1/shim.proto) over a
 * unix socket, served and called through the gRPC C core (there is no C service generator; the
 * messages are protobuf-c's).
 *
 * Wire: unary calls on "/boxer.shim.v1.Shim/<Method>", one protobuf message each way, at most
 * SHIM_RPC_MAX_MESSAGE bytes in either direction (a larger request is refused with
 * RESOURCE_EXHAUSTED before it is unpacked). Any other method is answered UNIMPLEMENTED at once.
 *
 * Errors: a callback's BX_E* code travels as a gRPC status and comes back as the same code:
 *   BX_ENOENT       NOT_FOUND            BX_EPERM     PERMISSION_DENIED
 *   BX_EINVAL       INVALID_ARGUMENT     BX_ETOOBIG   RESOURCE_EXHAUSTED
 *   BX_EBUSY        FAILED_PRECONDITION  BX_ECANCELED CANCELLED
 *   BX_EUNSUPPORTED UNIMPLEMENTED        BX_ENET      UNAVAILABLE
 *   BX_ETIMEDOUT    DEADLINE_EXCEEDED    BX_EEXIST    ALREADY_EXISTS
 * and anything else as INTERNAL (BX_EINTERNAL on the client). The callback's err.msg becomes the
 * status details; the client puts the method name in front ("State: exec x is not served here").
 *
 * Process-wide facts, which are the program's job:
 *   - Each server and each client holds one grpc_init() until it is stopped or closed. From the
 *     first grpc_init() on, the process has threads of gRPC's own: fork() is unsafe, start
 *     children with posix_spawn().
 *   - gRPC writes with MSG_NOSIGNAL on Linux, but a program serving sockets should still ignore
 *     SIGPIPE (signal(SIGPIPE, SIG_IGN)) before starting a server or client.
 *   - gRPC's own log lines go to stderr and follow GRPC_VERBOSITY (NONE, ERROR, INFO, DEBUG;
 *     gRPC's default is ERROR). This module does not change it; set it before the first
 *     server or client if the default is not wanted.
 */
#ifndef BOXER_API_SHIM_RPC_H
#define BOXER_API_SHIM_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"
#include "shim/v1/shim.pb-c.h"

/* The largest message accepted in either direction, in bytes. */
#define SHIM_RPC_MAX_MESSAGE (64 * 1024)

/* Method paths, for shim_rpc_client_call_raw(). */
#define SHIM_RPC_PATH_STATE "/boxer.shim.v1.Shim/State"
#define SHIM_RPC_PATH_WAIT "/boxer.shim.v1.Shim/Wait"
#define SHIM_RPC_PATH_KILL "/boxer.shim.v1.Shim/Kill"
#define SHIM_RPC_PATH_DELETE "/boxer.shim.v1.Shim/Delete"
#define SHIM_RPC_PATH_STATS "/boxer.shim.v1.Shim/Stats"

/* ---- server ---------------------------------------------------------------------------------- */

struct shim_rpc_server;

/* What the shim answers. Every callback runs on the server's own thread, one call at a time, so
 * callbacks never run concurrently with each other. A callback returns 0, or a BX_E* code with
 * `err` filled (the code and err.msg become the call's status, see above). A NULL callback
 * answers its method UNIMPLEMENTED.
 *
 * Requests are the server's and valid only during the callback. A callback filling a response
 * gets it initialised to defaults and may point its strings and sub-messages (StateResponse.exit,
 * DeleteResponse.exit) at memory of its own: the server only reads them, serialises the response
 * right after the callback returns, on the same thread and before anything else, and then calls
 * `release` with that response, whether the callback succeeded or not. From `release` on the
 * server never looks at those pointers again, so `release` may free them. Without `release`, the
 * memory must merely stay valid and unchanged until the server thread's next callback (static
 * strings, or ctx fields that other threads do not change).
 *
 * A callback may call shim_rpc_server_post_exit(); it must not call shim_rpc_server_stop(). */
struct shim_rpc_ops {
    int (*state)(void *ctx, const Boxer__Shim__V1__StateRequest *req,
                 Boxer__Shim__V1__StateResponse *resp, struct bx_err *err);
    int (*kill)(void *ctx, const Boxer__Shim__V1__KillRequest *req, struct bx_err *err);
    int (*delete_)(void *ctx, const Boxer__Shim__V1__DeleteRequest *req,
                   Boxer__Shim__V1__DeleteResponse *resp, struct bx_err *err);
    int (*stats)(void *ctx, const Boxer__Shim__V1__StatsRequest *req,
                 Boxer__Shim__V1__StatsResponse *resp, struct bx_err *err);
    /* Optional: called on the server thread once a successful Delete's call is over (its
     * response sent and the call closed), so the shim may exit without losing the answer. Called
     * once per successful Delete. */
    void (*deleted)(void *ctx);
    /* Optional: frees what a callback pointed a response at (see above). `resp` is the message
     * handed to state, delete_ or stats: check resp->descriptor for which. */
    void (*release)(void *ctx, ProtobufCMessage *resp);
};

/* Serves the Shim service on the unix socket `socket_path` for the execution `exec_id`.
 *
 * A request whose exec_id is non-empty and differs from `exec_id` is answered NOT_FOUND, for
 * every method, without calling back. Wait is served here, not by a callback: until
 * shim_rpc_server_post_exit() every Wait is parked (any number of them, each until its own
 * deadline, when it is answered DEADLINE_EXCEEDED); from then on every parked and every later
 * Wait is answered with the posted record.
 *
 * The socket's directory must exist (else BX_ENOENT). A stale socket at the path (one nobody
 * listens on) is replaced; a live one is BX_EBUSY, anything else at the path BX_EEXIST. A path
 * holding '%', '?' or '#' is BX_EINVAL (gRPC would misread it), one too long for sun_path
 * BX_ETOOBIG. A relative path is made absolute against the current directory. The socket is
 * created with mode 0600, never wider: the server's accept thread binds it under a umask of its
 * own (should the kernel refuse unshare(CLONE_FS), the mode is fixed before start returns).
 *
 * Returns when the server accepts calls. `ops` is copied; `ctx` is passed to every callback and
 * must outlive the server. *out is freed by shim_rpc_server_stop().
 *
 * Thread-safety: start (prepare, serve) and stop belong to one owner; between them, post_exit and
 * waiters may be called from any thread, including from callbacks. */
int shim_rpc_server_start(const char *socket_path, const char *exec_id,
                          const struct shim_rpc_ops *ops, void *ctx, struct shim_rpc_server **out,
                          struct bx_err *err);

/* start in two steps. prepare makes everything of gRPC (its threads, the server, the request
 * slots) with no socket yet; serve binds the socket and accepts calls for `exec_id` as start
 * does, with the same errors. The costly part (a few ms of CPU) can so be done before the
 * execution is known: a spare shim prepares while it waits for its arguments. A prepared server
 * that never serves is freed by shim_rpc_server_stop(). A second serve is BX_EEXIST; after a
 * failed serve, only stop. */
int shim_rpc_server_prepare(struct shim_rpc_server **out, struct bx_err *err);
int shim_rpc_server_serve(struct shim_rpc_server *srv, const char *socket_path, const char *exec_id,
                          const struct shim_rpc_ops *ops, void *ctx, struct bx_err *err);

/* start with gRPC's part left for later: the socket is bound (mode 0600, the same errors) and
 * accepts connections, and the first one brings gRPC up (grpc_init, its threads, the server) on
 * the accept thread before it is served; until then the server has one thread of its own and has
 * spent no CPU on gRPC. For a process that may never be called: a shim whose launcher waits
 * through a link of its own. post_exit, waiters and stop work before gRPC is up. Should gRPC
 * fail to start, the error is logged and every connection is closed. */
int shim_rpc_server_listen(const char *socket_path, const char *exec_id,
                           const struct shim_rpc_ops *ops, void *ctx, struct shim_rpc_server **out,
                           struct bx_err *err);

/* Posts the execution's exit record: every parked Wait is answered with it now, every later Wait
 * at once. `rec` is copied (serialised) before this returns. Thread-safe. A second post is
 * BX_EEXIST and changes nothing. */
int shim_rpc_server_post_exit(struct shim_rpc_server *srv, const Boxer__Shim__V1__ExitRecord *rec,
                              struct bx_err *err);

/* The number of Wait calls parked now (for tests and the shim's own status lines). Thread-safe. */
size_t shim_rpc_server_waiters(struct shim_rpc_server *srv);

/* Stops serving: parked Waits are answered UNAVAILABLE, calls still running after a short grace
 * period are cancelled, the server thread is joined, the socket removed and everything freed.
 * NULL is a no-op. Not from a callback (it would join its own thread). */
void shim_rpc_server_stop(struct shim_rpc_server *srv);

/* ---- client ---------------------------------------------------------------------------------- */

struct shim_rpc_client;

/* gRPC starts (its threads, its event engine) with the first client or server of a process and
 * stops with the last; its event engine, with its three threads, lives while a channel does. A
 * process that makes one client after another, as boxerd does per run, holds gRPC for its whole
 * life (with an idle channel that never connects) so that both start once; each hold is undone
 * by one release. */
void shim_rpc_hold(void);
void shim_rpc_release(void);

/* Opens a channel to the shim listening on `socket_path`. Nothing is connected yet: the first
 * call connects, and a lost connection is re-established by later calls (retrying a socket that
 * refuses after 100 ms, backing off to at most 1 s). *out is freed by shim_rpc_client_close().
 *
 * Thread-safety: all calls on one client may run concurrently from any number of threads (each
 * call has its own completion queue; the connection is shared). open and close must not overlap
 * any call on the same client. */
int shim_rpc_client_open(const char *socket_path, struct shim_rpc_client **out, struct bx_err *err);

/* NULL is a no-op. */
void shim_rpc_client_close(struct shim_rpc_client *cl);

/* The calls. `exec_id` may be NULL or "" (whatever the shim serves) or the execution's id (a
 * shim serving another is BX_ENOENT). timeout_ms < 0 is no deadline; otherwise the call fails
 * with BX_ETIMEDOUT when it has not been answered within timeout_ms (the server sees the same
 * deadline). Without wait_for_ready (the default for all but State), a shim that is not listening
 * fails the call at once with BX_ENET; with it, the call waits for the shim to come up until its
 * deadline (use it while a shim is starting).
 *
 * On success *out is a new message owned by the caller: free it with its protobuf-c function,
 * boxer__shim__v1__state_response__free_unpacked(*out, NULL) (exit_record, stats_response
 * likewise). A non-OK status becomes its BX_E* code (table above) with err.msg "<Method>:
 * <status details>"; *out is then NULL. */
int shim_rpc_client_state(struct shim_rpc_client *cl, const char *exec_id, int timeout_ms,
                          bool wait_for_ready, Boxer__Shim__V1__StateResponse **out,
                          struct bx_err *err);
/* Blocks until the execution has exited (or the deadline): *out is the exit record. */
int shim_rpc_client_wait(struct shim_rpc_client *cl, const char *exec_id, int timeout_ms,
                         Boxer__Shim__V1__ExitRecord **out, struct bx_err *err);
/* `sig` 0 is SIGKILL; `all` signals every process of the sandbox. */
int shim_rpc_client_kill(struct shim_rpc_client *cl, const char *exec_id, uint32_t sig, bool all,
                         int timeout_ms, struct bx_err *err);
/* *out is the exit record the shim returned with the delete (it may be an empty record when the
 * shim had none). */
int shim_rpc_client_delete(struct shim_rpc_client *cl, const char *exec_id, int timeout_ms,
                           Boxer__Shim__V1__ExitRecord **out, struct bx_err *err);
int shim_rpc_client_stats(struct shim_rpc_client *cl, const char *exec_id, int timeout_ms,
                          Boxer__Shim__V1__StatsResponse **out, struct bx_err *err);

/* Calls any method path (e.g. SHIM_RPC_PATH_STATE, or one the shim does not serve) with `req`
 * as the raw request bytes, for tests and boxerctl's debugging. Returns 0 when the status is OK,
 * else its BX_E* code with err filled; *grpc_status (may be NULL) is set to the status either way
 * (a grpc_status_code, GRPC_STATUS_UNAVAILABLE when the call could not be made). *resp is a
 * malloc'd copy of the response bytes (free() it; NULL with *resp_len 0 when there were none). */
int shim_rpc_client_call_raw(struct shim_rpc_client *cl, const char *method, const void *req,
                             size_t req_len, int timeout_ms, void **resp, size_t *resp_len,
                             int *grpc_status, struct bx_err *err);

#endif
