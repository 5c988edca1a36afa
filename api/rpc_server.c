/* The shim RPC server's lifecycle and its event loop: one thread sets the server up, tells the
 * starter it is ready, then takes every event of the server's completion queue until shutdown is
 * complete. gRPC listens on no port of its own: a second thread binds the socket (under a umask
 * of its own), accepts the connections and hands each to the server, so that everything of gRPC
 * can be made before the socket's path is known (prepare, then serve), or only once a client
 * comes (listen). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpc/grpc_posix.h>
#include <grpc/grpc_security.h>

#include "common/cleanup.h"
#include "common/log.h"
#include "rpc_server_internal.h"

/* How long stop() lets running calls finish before cancelling them. */
#define RPC_STOP_GRACE_MS 2000

/* Hands a request slot to gRPC for the next call of its method. mu held. */
static void
request_post_locked(struct shim_rpc_server *srv, struct rpc_request *req)
{
    grpc_call_error e;
    srv->pending++;
    if (req->method)
        e = grpc_server_request_registered_call(srv->server, req->registered, &req->call,
                                                &req->deadline, &req->metadata, &req->payload,
                                                srv->cq, srv->cq, &req->tag);
    else
        e = grpc_server_request_call(srv->server, &req->call, &req->details, &req->metadata,
                                     srv->cq, srv->cq, &req->tag);
    if (e != GRPC_CALL_OK) {
        srv->pending--;
        bx_log_error("rpc request not posted", "method=%s error=\"%s\"",
                     req->method ? req->method->name : "*", grpc_call_error_to_string(e));
    }
}

/* Stops admitting calls and answers parked Waits; the loop ends once gRPC confirms. mu held. */
static void
server_begin_shutdown_locked(struct shim_rpc_server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    srv->grace = rpc_deadline_from_ms(RPC_STOP_GRACE_MS);
    rpc_wait_release_all_locked(srv, GRPC_STATUS_UNAVAILABLE, "the shim is stopping");
    srv->pending++;
    grpc_server_shutdown_and_notify(srv->server, srv->cq, &srv->shutdown_tag);
}

static void
server_register(struct shim_rpc_server *srv)
{
    for (size_t i = 0; i <= RPC_METHOD_COUNT; i++) {
        struct rpc_request *req = &srv->requests[i];
        req->tag = (struct rpc_tag){RPC_TAG_REQUEST, req};
        req->method = i < RPC_METHOD_COUNT ? &rpc_methods[i] : NULL;
        grpc_call_details_init(&req->details);
        grpc_metadata_array_init(&req->metadata);
        if (req->method)
            req->registered = grpc_server_register_method(
                srv->server, req->method->path, NULL, GRPC_SRM_PAYLOAD_READ_INITIAL_BYTE_BUFFER, 0);
    }
    srv->shutdown_tag = (struct rpc_tag){RPC_TAG_SHUTDOWN, srv};
}

/* Creates the server and starts it, with no port (server thread). On failure the caller still
 * shuts down. */
static int
server_setup(struct shim_rpc_server *srv, struct bx_err *err)
{
    grpc_arg args[] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = SHIM_RPC_MAX_MESSAGE}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_SEND_MESSAGE_LENGTH, {.integer = SHIM_RPC_MAX_MESSAGE}},
    };
    grpc_channel_args channel_args = {sizeof(args) / sizeof(args[0]), args};
    srv->cq = grpc_completion_queue_create_for_next(NULL);
    srv->server = grpc_server_create(&channel_args, NULL);
    grpc_server_register_completion_queue(srv->server, srv->cq, NULL);
    server_register(srv);
    for (size_t i = 0; i < RPC_METHOD_COUNT; i++) {
        if (!srv->requests[i].registered)
            return bx_err_set(err, BX_EINTERNAL, "cannot register %s", rpc_methods[i].path);
    }
    grpc_server_start(srv->server);
    pthread_mutex_lock(&srv->mu);
    srv->started = true;
    for (size_t i = 0; i <= RPC_METHOD_COUNT; i++)
        request_post_locked(srv, &srv->requests[i]);
    pthread_mutex_unlock(&srv->mu);
    return 0;
}

static void
server_on_request(struct shim_rpc_server *srv, struct rpc_request *req, bool ok)
{
    pthread_mutex_lock(&srv->mu);
    srv->pending--;
    bool stopping = srv->stopping;
    pthread_mutex_unlock(&srv->mu);
    /* A slot fails when the server shuts down; it is not posted again. */
    if (!ok) {
        if (!stopping)
            bx_log_error("rpc request failed", "method=%s", req->method ? req->method->name : "*");
        return;
    }
    rpc_call_serve_new(srv, req);
    pthread_mutex_lock(&srv->mu);
    if (!srv->stopping)
        request_post_locked(srv, req);
    pthread_mutex_unlock(&srv->mu);
}

static void
server_on_event(struct shim_rpc_server *srv, const grpc_event *ev)
{
    struct rpc_tag *tag = ev->tag;
    switch (tag->kind) {
    case RPC_TAG_REQUEST:
        server_on_request(srv, tag->owner, ev->success);
        break;
    case RPC_TAG_CLOSE:
    case RPC_TAG_REPLY:
        rpc_call_on_event(tag->owner, tag->kind);
        break;
    case RPC_TAG_SHUTDOWN:
        pthread_mutex_lock(&srv->mu);
        srv->pending--;
        srv->shutdown_done = true;
        pthread_mutex_unlock(&srv->mu);
        break;
    }
}

/* Expires parked Waits and, past the stop grace period, cancels what still runs. mu held. */
static void
server_on_timeout_locked(struct shim_rpc_server *srv)
{
    rpc_wait_expire_locked(srv);
    if (srv->stopping && !srv->cancelled_all &&
        gpr_time_cmp(gpr_now(GPR_CLOCK_MONOTONIC), srv->grace) >= 0) {
        srv->cancelled_all = true;
        grpc_server_cancel_all_calls(srv->server);
    }
}

/* Runs until shutdown is complete and every tag handed to gRPC is back. */
static void
server_loop(struct shim_rpc_server *srv)
{
    for (;;) {
        pthread_mutex_lock(&srv->mu);
        if (srv->shutdown_done && srv->pending == 0) {
            pthread_mutex_unlock(&srv->mu);
            return;
        }
        gpr_timespec deadline = rpc_wait_next_deadline_locked(srv);
        if (srv->stopping && !srv->cancelled_all && gpr_time_cmp(srv->grace, deadline) < 0)
            deadline = srv->grace;
        pthread_mutex_unlock(&srv->mu);

        grpc_event ev = grpc_completion_queue_next(srv->cq, deadline, NULL);
        if (ev.type == GRPC_OP_COMPLETE) {
            server_on_event(srv, &ev);
        } else if (ev.type == GRPC_QUEUE_TIMEOUT) {
            pthread_mutex_lock(&srv->mu);
            server_on_timeout_locked(srv);
            pthread_mutex_unlock(&srv->mu);
        } else {
            return; /* GRPC_QUEUE_SHUTDOWN: the queue is only shut down after this loop */
        }
    }
}

static void
server_teardown(struct shim_rpc_server *srv)
{
    grpc_server_destroy(srv->server);
    srv->server = NULL;
    grpc_completion_queue_shutdown(srv->cq);
    while (grpc_completion_queue_next(srv->cq, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL).type !=
           GRPC_QUEUE_SHUTDOWN)
        ;
    grpc_completion_queue_destroy(srv->cq);
    srv->cq = NULL;
}

static void *
server_main(void *arg)
{
    struct shim_rpc_server *srv = arg;
    struct bx_err err = BX_ERR_INIT;
    int rc = server_setup(srv, &err);
    pthread_mutex_lock(&srv->mu);
    srv->ready = true;
    if (rc < 0) {
        srv->setup_err = err;
        server_begin_shutdown_locked(srv);
    }
    pthread_cond_broadcast(&srv->ready_cond);
    pthread_mutex_unlock(&srv->mu);
    server_loop(srv);
    server_teardown(srv);
    return NULL;
}

/* Frees what start allocated; the thread is joined and gRPC's objects are gone. */
static void
server_free(struct shim_rpc_server *srv)
{
    for (size_t i = 0; i <= RPC_METHOD_COUNT; i++) {
        grpc_call_details_destroy(&srv->requests[i].details);
        grpc_metadata_array_destroy(&srv->requests[i].metadata);
    }
    if (srv->exited)
        grpc_slice_unref(srv->exit_reply);
    pthread_cond_destroy(&srv->ready_cond);
    pthread_mutex_destroy(&srv->mu);
    free(srv->exec_id);
    free(srv->socket_path);
    bool inited = srv->grpc_inited;
    free(srv);
    if (inited)
        grpc_shutdown();
}

static struct shim_rpc_server *
server_new(void)
{
    struct shim_rpc_server *srv = calloc(1, sizeof(*srv));
    if (!srv)
        return NULL;
    srv->listen_fd = -1;
    pthread_mutex_init(&srv->mu, NULL);
    pthread_cond_init(&srv->ready_cond, NULL);
    return srv;
}

/* Starts the server thread and waits until it is set up (or failed to). */
static int
server_run(struct shim_rpc_server *srv, struct bx_err *err)
{
    int rc = pthread_create(&srv->thread, NULL, server_main, srv);
    if (rc != 0)
        return bx_err_sys(err, bx_err_from_errno(rc), rc, "start the RPC server thread");
    pthread_mutex_lock(&srv->mu);
    while (!srv->ready)
        pthread_cond_wait(&srv->ready_cond, &srv->mu);
    struct bx_err setup_err = srv->setup_err;
    pthread_mutex_unlock(&srv->mu);
    if (setup_err.code == 0)
        return 0;
    pthread_join(srv->thread, NULL);
    *err = setup_err;
    return setup_err.code;
}

/* gRPC's part: grpc_init, the server thread and the server. */
static int
server_bring_up(struct shim_rpc_server *srv, struct bx_err *err)
{
    grpc_init();
    srv->grpc_inited = true;
    int rc = server_run(srv, err);
    srv->up = rc == 0;
    return rc;
}

/* The accept thread's: brings gRPC's part up for the first connection of a server that listens
 * without it; true when it is up. */
static bool
accept_bring_up(struct shim_rpc_server *srv, grpc_server_credentials **creds)
{
    if (!srv->up && !srv->up_failed) {
        struct bx_err err = BX_ERR_INIT;
        if (server_bring_up(srv, &err) < 0) {
            srv->up_failed = true;
            bx_log_error("rpc server cannot start; connections are closed", "error=\"%s\"",
                         err.msg);
        }
    }
    if (srv->up && !*creds)
        *creds = grpc_insecure_server_credentials_create();
    return srv->up && *creds;
}

/* The accept thread: binds the socket under a umask of its own, says so, then hands every
 * connection to the server until stop shuts the socket down. */
static void *
accept_main(void *arg)
{
    struct shim_rpc_server *srv = arg;
    struct bx_err err = BX_ERR_INIT;
    mode_t old_umask = 0;
    (void)rpc_socket_private_umask(&old_umask);
    int fd = rpc_socket_listen(srv->socket_path, &err);
    pthread_mutex_lock(&srv->mu);
    srv->listen_fd = fd;
    srv->listen_err = err;
    srv->listening = true;
    pthread_cond_broadcast(&srv->ready_cond);
    pthread_mutex_unlock(&srv->mu);
    if (fd < 0)
        return NULL;
    grpc_server_credentials *creds = NULL;
    for (;;) {
        int conn = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (conn >= 0 && accept_bring_up(srv, &creds)) {
            grpc_server_add_channel_from_fd(srv->server, conn, creds);
            continue;
        }
        if (conn >= 0) {
            close(conn);
            continue;
        }
        int e = errno;
        if (e == EINTR || e == ECONNABORTED)
            continue;
        pthread_mutex_lock(&srv->mu);
        bool closing = srv->closing;
        pthread_mutex_unlock(&srv->mu);
        if (closing)
            break;
        /* Out of descriptors or memory: the connection waits in the backlog; try again soon. */
        bx_log_warn("rpc accept failed", "error=\"%s\"", strerror(e));
        usleep(50 * 1000);
    }
    if (creds)
        grpc_server_credentials_release(creds);
    return NULL;
}

/* Stops accepting: the thread leaves accept() once the socket is shut down. */
static void
accept_stop(struct shim_rpc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    bool running = srv->accepting;
    srv->closing = true;
    int fd = srv->listen_fd;
    pthread_mutex_unlock(&srv->mu);
    if (!running)
        return;
    if (fd >= 0)
        shutdown(fd, SHUT_RDWR);
    pthread_join(srv->accept_thread, NULL);
    srv->accepting = false;
    if (fd >= 0)
        close(fd);
    srv->listen_fd = -1;
}

int
shim_rpc_server_prepare(struct shim_rpc_server **out, struct bx_err *err)
{
    if (!out)
        return bx_err_set(err, BX_EINVAL, "shim RPC server: missing argument");
    *out = NULL;
    struct shim_rpc_server *srv = server_new();
    if (!srv)
        return bx_err_set(err, BX_ENOMEM, "shim RPC server");
    int rc = server_bring_up(srv, err);
    if (rc < 0) {
        server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int
shim_rpc_server_serve(struct shim_rpc_server *srv, const char *socket_path, const char *exec_id,
                      const struct shim_rpc_ops *ops, void *ctx, struct bx_err *err)
{
    if (!srv || !socket_path || !exec_id || !ops)
        return bx_err_set(err, BX_EINVAL, "shim RPC server: missing argument");
    if (srv->socket_path)
        return bx_err_set(err, BX_EEXIST, "shim RPC server: already serving");
    cleanup_free char *path = NULL;
    int rc = rpc_socket_prepare(socket_path, &path, err);
    if (rc < 0)
        return rc;
    cleanup_free char *id = strdup(exec_id);
    if (!id)
        return bx_err_set(err, BX_ENOMEM, "shim RPC server");
    /* No call can come before the socket exists: these are set before the accept thread starts
     * and do not change. */
    srv->exec_id = steal_ptr(&id);
    srv->ops = *ops;
    srv->ctx = ctx;
    srv->socket_path = steal_ptr(&path);
    rc = pthread_create(&srv->accept_thread, NULL, accept_main, srv);
    if (rc != 0)
        return bx_err_sys(err, bx_err_from_errno(rc), rc, "start the RPC accept thread");
    pthread_mutex_lock(&srv->mu);
    srv->accepting = true;
    while (!srv->listening)
        pthread_cond_wait(&srv->ready_cond, &srv->mu);
    struct bx_err listen_err = srv->listen_err;
    pthread_mutex_unlock(&srv->mu);
    if (listen_err.code != 0) {
        *err = listen_err;
        return listen_err.code;
    }
    return rpc_socket_secure(srv->socket_path, &srv->socket_st, err);
}

int
shim_rpc_server_listen(const char *socket_path, const char *exec_id, const struct shim_rpc_ops *ops,
                       void *ctx, struct shim_rpc_server **out, struct bx_err *err)
{
    if (!socket_path || !exec_id || !ops || !out)
        return bx_err_set(err, BX_EINVAL, "shim RPC server: missing argument");
    *out = NULL;
    struct shim_rpc_server *srv = server_new();
    if (!srv)
        return bx_err_set(err, BX_ENOMEM, "shim RPC server");
    int rc = shim_rpc_server_serve(srv, socket_path, exec_id, ops, ctx, err);
    if (rc < 0) {
        shim_rpc_server_stop(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int
shim_rpc_server_start(const char *socket_path, const char *exec_id, const struct shim_rpc_ops *ops,
                      void *ctx, struct shim_rpc_server **out, struct bx_err *err)
{
    if (!socket_path || !exec_id || !ops || !out)
        return bx_err_set(err, BX_EINVAL, "shim RPC server: missing argument");
    *out = NULL;
    struct shim_rpc_server *srv = NULL;
    int rc = shim_rpc_server_prepare(&srv, err);
    if (rc == 0)
        rc = shim_rpc_server_serve(srv, socket_path, exec_id, ops, ctx, err);
    if (rc < 0) {
        shim_rpc_server_stop(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

void
shim_rpc_server_stop(struct shim_rpc_server *srv)
{
    if (!srv)
        return;
    accept_stop(srv);
    /* From here on no thread but this one changes up. */
    if (srv->up) {
        pthread_mutex_lock(&srv->mu);
        server_begin_shutdown_locked(srv);
        pthread_mutex_unlock(&srv->mu);
        pthread_join(srv->thread, NULL);
    }
    if (srv->socket_path)
        rpc_socket_remove(srv->socket_path, &srv->socket_st);
    server_free(srv);
}
