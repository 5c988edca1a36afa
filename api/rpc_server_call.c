/* One call on the shim RPC server, from its arrival to its end: the request is bounded and
 * unpacked, its exec_id checked, the callback run, and the response serialised and sent. A call
 * lives while a batch of it is in flight: the RECV_CLOSE_ON_SERVER posted on arrival (it tells a
 * parked Wait that its client went away) and the reply. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "rpc_server_internal.h"

/* Room for any response a callback fills. */
union rpc_response {
    ProtobufCMessage base;
    Boxer__Shim__V1__StateResponse state;
    Boxer__Shim__V1__KillResponse kill;
    Boxer__Shim__V1__DeleteResponse delete_;
    Boxer__Shim__V1__StatsResponse stats;
};

/* Starts a batch; the call stays alive until its tag is back. mu held. */
static bool
call_batch_locked(struct rpc_call *c, const grpc_op *ops, size_t n, struct rpc_tag *tag)
{
    c->refs++;
    c->srv->pending++;
    grpc_call_error e = grpc_call_start_batch(c->call, ops, n, tag, NULL);
    if (e == GRPC_CALL_OK)
        return true;
    c->refs--;
    c->srv->pending--;
    bx_log_error("rpc batch refused", "method=%s error=\"%s\"", c->method ? c->method->name : "*",
                 grpc_call_error_to_string(e));
    return false;
}

void
rpc_call_reply_locked(struct rpc_call *c, grpc_status_code status, const char *details,
                      grpc_byte_buffer *msg)
{
    if (c->replied) {
        if (msg)
            grpc_byte_buffer_destroy(msg);
        return;
    }
    c->replied = true;
    c->reply_msg = msg;
    if (details && details[0])
        c->reply_details = grpc_slice_from_copied_string(details);
    grpc_op ops[3];
    memset(ops, 0, sizeof(ops));
    size_t n = 0;
    ops[n++].op = GRPC_OP_SEND_INITIAL_METADATA;
    if (msg && status == GRPC_STATUS_OK) {
        ops[n].op = GRPC_OP_SEND_MESSAGE;
        ops[n++].data.send_message.send_message = msg;
    }
    ops[n].op = GRPC_OP_SEND_STATUS_FROM_SERVER;
    ops[n].data.send_status_from_server.status = status;
    ops[n++].data.send_status_from_server.status_details = &c->reply_details;
    /* Without a reply the client would wait for its deadline: end the call instead. */
    if (!call_batch_locked(c, ops, n, &c->reply_tag))
        grpc_call_cancel_with_status(c->call, GRPC_STATUS_INTERNAL, "reply refused", NULL);
}

static void
call_free(struct rpc_call *c)
{
    grpc_call_unref(c->call);
    if (c->reply_msg)
        grpc_byte_buffer_destroy(c->reply_msg);
    grpc_slice_unref(c->reply_details);
    free(c);
}

void
rpc_call_on_event(struct rpc_call *c, enum rpc_tag_kind kind)
{
    struct shim_rpc_server *srv = c->srv;
    pthread_mutex_lock(&srv->mu);
    srv->pending--;
    /* A parked Wait whose client went away (or whose deadline gRPC enforced) is over. */
    if (kind == RPC_TAG_CLOSE)
        rpc_wait_unpark_locked(c);
    bool last = --c->refs == 0;
    bool deleted = last && c->notify_deleted;
    pthread_mutex_unlock(&srv->mu);
    if (!last)
        return;
    call_free(c);
    if (deleted && srv->ops.deleted)
        srv->ops.deleted(srv->ctx);
}

static int
call_callback(struct shim_rpc_server *srv, enum rpc_method_id id, const ProtobufCMessage *req,
              union rpc_response *resp, struct bx_err *err)
{
    const struct shim_rpc_ops *ops = &srv->ops;
    switch (id) {
    case RPC_METHOD_STATE:
        if (ops->state)
            return ops->state(srv->ctx, (const void *)req, &resp->state, err);
        break;
    case RPC_METHOD_KILL:
        if (ops->kill)
            return ops->kill(srv->ctx, (const void *)req, err);
        break;
    case RPC_METHOD_DELETE:
        if (ops->delete_)
            return ops->delete_(srv->ctx, (const void *)req, &resp->delete_, err);
        break;
    case RPC_METHOD_STATS:
        if (ops->stats)
            return ops->stats(srv->ctx, (const void *)req, &resp->stats, err);
        break;
    default:
        break;
    }
    return bx_err_set(err, BX_EUNSUPPORTED, "this shim does not serve %s", rpc_methods[id].name);
}

/* Runs the method's callback and replies with its response or its error. */
static void
call_serve_unary(struct rpc_call *c, const ProtobufCMessage *req)
{
    struct shim_rpc_server *srv = c->srv;
    enum rpc_method_id id = c->method->id;
    union rpc_response resp;
    protobuf_c_message_init(c->method->response, &resp);
    struct bx_err err = BX_ERR_INIT;
    int rc = call_callback(srv, id, req, &resp, &err);
    if (rc > 0)
        rc = bx_err_set(&err, BX_EINTERNAL, "callback returned %d", rc);
    grpc_byte_buffer *msg = NULL;
    if (rc == 0)
        rc = rpc_buffer_pack(&resp.base, &msg, &err);
    if (srv->ops.release && id != RPC_METHOD_KILL)
        srv->ops.release(srv->ctx, &resp.base);
    if (rc < 0 && !err.msg[0])
        bx_err_set(&err, rc, "%s", bx_err_code_name(rc));
    pthread_mutex_lock(&srv->mu);
    c->notify_deleted = rc == 0 && id == RPC_METHOD_DELETE;
    rpc_call_reply_locked(c, rpc_status_from_bx(rc), rc < 0 ? err.msg : NULL, msg);
    pthread_mutex_unlock(&srv->mu);
}

/* Decodes the request and checks its exec_id: 0 with *out set, or an error for the reply. */
static int
call_read_request(struct rpc_call *c, grpc_byte_buffer *payload, ProtobufCMessage **out,
                  struct bx_err *err)
{
    /* gRPC gives no payload when the client sent no message (or the message was refused). */
    if (!payload)
        return bx_err_set(err, BX_EINVAL, "the call carried no request message");
    int rc = rpc_buffer_unpack(payload, c->method->request, out, err);
    if (rc < 0)
        return rc;
    const char *exec_id = rpc_message_exec_id(*out);
    if (exec_id[0] && strcmp(exec_id, c->srv->exec_id) != 0)
        return bx_err_set(err, BX_ENOENT, "exec %s is not served here (this shim serves %s)",
                          exec_id, c->srv->exec_id);
    return 0;
}

static void
call_dispatch(struct rpc_call *c, grpc_byte_buffer *payload)
{
    struct shim_rpc_server *srv = c->srv;
    if (!c->method) {
        pthread_mutex_lock(&srv->mu);
        rpc_call_reply_locked(c, GRPC_STATUS_UNIMPLEMENTED, "no such method", NULL);
        pthread_mutex_unlock(&srv->mu);
        return;
    }
    ProtobufCMessage *req = NULL;
    struct bx_err err = BX_ERR_INIT;
    int rc = call_read_request(c, payload, &req, &err);
    if (rc == 0 && c->method->id != RPC_METHOD_WAIT) {
        call_serve_unary(c, req);
    } else {
        pthread_mutex_lock(&srv->mu);
        if (rc == 0)
            rpc_wait_serve_locked(c);
        else
            rpc_call_reply_locked(c, rpc_status_from_bx(rc), err.msg, NULL);
        pthread_mutex_unlock(&srv->mu);
    }
    if (req)
        protobuf_c_message_free_unpacked(req, NULL);
}

/* Takes the call out of the slot and makes the slot ready to be posted again. */
static struct rpc_call *
call_take(struct shim_rpc_server *srv, struct rpc_request *req)
{
    struct rpc_call *c = calloc(1, sizeof(*c));
    if (c) {
        c->srv = srv;
        c->call = req->call;
        c->method = req->method;
        c->deadline = gpr_convert_clock_type(req->method ? req->deadline : req->details.deadline,
                                             GPR_CLOCK_MONOTONIC);
        c->close_tag = (struct rpc_tag){RPC_TAG_CLOSE, c};
        c->reply_tag = (struct rpc_tag){RPC_TAG_REPLY, c};
        c->reply_details = grpc_empty_slice();
    } else {
        grpc_call_cancel_with_status(req->call, GRPC_STATUS_RESOURCE_EXHAUSTED, "out of memory",
                                     NULL);
        grpc_call_unref(req->call);
    }
    req->call = NULL;
    grpc_call_details_destroy(&req->details);
    grpc_call_details_init(&req->details);
    grpc_metadata_array_destroy(&req->metadata);
    grpc_metadata_array_init(&req->metadata);
    return c;
}

void
rpc_call_serve_new(struct shim_rpc_server *srv, struct rpc_request *req)
{
    grpc_byte_buffer *payload = req->payload;
    req->payload = NULL;
    struct rpc_call *c = call_take(srv, req);
    bool watched = false;
    if (c) {
        grpc_op op;
        memset(&op, 0, sizeof(op));
        op.op = GRPC_OP_RECV_CLOSE_ON_SERVER;
        op.data.recv_close_on_server.cancelled = &c->cancelled;
        pthread_mutex_lock(&srv->mu);
        watched = call_batch_locked(c, &op, 1, &c->close_tag);
        pthread_mutex_unlock(&srv->mu);
        if (!watched) {
            grpc_call_cancel_with_status(c->call, GRPC_STATUS_INTERNAL, "call refused", NULL);
            call_free(c);
        }
    }
    if (watched)
        call_dispatch(c, payload);
    if (payload)
        grpc_byte_buffer_destroy(payload);
}
