/* Wait, served by the RPC server itself: calls parked until the exit record is posted, each
 * until its own deadline, and the record, serialised once, answering all of them. */
#include "rpc_server_internal.h"

static grpc_byte_buffer *
exit_reply_buffer(struct shim_rpc_server *srv)
{
    return grpc_raw_byte_buffer_create(&srv->exit_reply, 1);
}

void
rpc_wait_unpark_locked(struct rpc_call *c)
{
    if (!c->parked)
        return;
    struct shim_rpc_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->parked = c->next;
    if (c->next)
        c->next->prev = c->prev;
    c->prev = c->next = NULL;
    c->parked = false;
    srv->n_parked--;
}

void
rpc_wait_serve_locked(struct rpc_call *c)
{
    struct shim_rpc_server *srv = c->srv;
    if (srv->exited) {
        rpc_call_reply_locked(c, GRPC_STATUS_OK, NULL, exit_reply_buffer(srv));
        return;
    }
    if (srv->stopping) {
        rpc_call_reply_locked(c, GRPC_STATUS_UNAVAILABLE, "the shim is stopping", NULL);
        return;
    }
    c->parked = true;
    c->prev = NULL;
    c->next = srv->parked;
    if (srv->parked)
        srv->parked->prev = c;
    srv->parked = c;
    srv->n_parked++;
}

gpr_timespec
rpc_wait_next_deadline_locked(struct shim_rpc_server *srv)
{
    gpr_timespec next = gpr_inf_future(GPR_CLOCK_MONOTONIC);
    for (struct rpc_call *c = srv->parked; c; c = c->next) {
        if (gpr_time_cmp(c->deadline, next) < 0)
            next = c->deadline;
    }
    return next;
}

void
rpc_wait_expire_locked(struct shim_rpc_server *srv)
{
    gpr_timespec now = gpr_now(GPR_CLOCK_MONOTONIC);
    struct rpc_call *next = NULL;
    for (struct rpc_call *c = srv->parked; c; c = next) {
        next = c->next;
        if (gpr_time_cmp(c->deadline, now) > 0)
            continue;
        rpc_wait_unpark_locked(c);
        rpc_call_reply_locked(c, GRPC_STATUS_DEADLINE_EXCEEDED,
                              "the deadline passed before the execution exited", NULL);
    }
}

void
rpc_wait_release_all_locked(struct shim_rpc_server *srv, grpc_status_code status,
                            const char *details)
{
    while (srv->parked) {
        struct rpc_call *c = srv->parked;
        rpc_wait_unpark_locked(c);
        if (status == GRPC_STATUS_OK)
            rpc_call_reply_locked(c, status, NULL, exit_reply_buffer(srv));
        else
            rpc_call_reply_locked(c, status, details, NULL);
    }
}

int
shim_rpc_server_post_exit(struct shim_rpc_server *srv, const Boxer__Shim__V1__ExitRecord *rec,
                          struct bx_err *err)
{
    if (!srv || !rec)
        return bx_err_set(err, BX_EINVAL, "post exit: missing argument");
    Boxer__Shim__V1__WaitResponse resp = BOXER__SHIM__V1__WAIT_RESPONSE__INIT;
    /* Packing only reads the record. */
    resp.exit = (Boxer__Shim__V1__ExitRecord *)rec;
    grpc_slice reply;
    int rc = rpc_slice_pack(&resp.base, &reply, err);
    if (rc < 0)
        return bx_err_prefix(err, "post exit");
    pthread_mutex_lock(&srv->mu);
    if (srv->exited) {
        pthread_mutex_unlock(&srv->mu);
        grpc_slice_unref(reply);
        return bx_err_set(err, BX_EEXIST, "post exit: the exit record was already posted");
    }
    srv->exited = true;
    srv->exit_reply = reply;
    rpc_wait_release_all_locked(srv, GRPC_STATUS_OK, NULL);
    pthread_mutex_unlock(&srv->mu);
    return 0;
}

size_t
shim_rpc_server_waiters(struct shim_rpc_server *srv)
{
    pthread_mutex_lock(&srv->mu);
    size_t n = srv->n_parked;
    pthread_mutex_unlock(&srv->mu);
    return n;
}
