/* The shim RPC client: one channel per client, one pluck completion queue per call, so that any
 * number of threads may call through one client at once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <grpc/grpc_security.h>

#include "rpc_internal.h"

struct shim_rpc_client {
    grpc_channel *channel;
};

/* How a call ended. */
struct rpc_result {
    grpc_status_code status;
    char details[BX_ERR_MSG_MAX];
    grpc_byte_buffer *msg; /* the response, NULL when none; the caller destroys it */
};

/* An idle channel that never connects, held with gRPC: channels share gRPC's event engine,
 * which lives while one does. Without it every run's client would start the engine's threads
 * (two workers and a timer thread) and join them at its close. */
static grpc_channel *hold_channel;
static int holds;

void
shim_rpc_hold(void)
{
    grpc_init();
    if (holds++ > 0)
        return;
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    hold_channel = grpc_channel_create("unix:/nonexistent/boxer-hold.sock", creds, NULL);
    grpc_channel_credentials_release(creds);
}

void
shim_rpc_release(void)
{
    if (--holds == 0) {
        grpc_channel_destroy(hold_channel);
        hold_channel = NULL;
    }
    grpc_shutdown();
}

int
shim_rpc_client_open(const char *socket_path, struct shim_rpc_client **out, struct bx_err *err)
{
    if (!out)
        return bx_err_set(err, BX_EINVAL, "shim RPC client: missing argument");
    *out = NULL;
    char addr[RPC_ADDRESS_MAX];
    int rc = rpc_address(socket_path, addr, sizeof(addr), err);
    if (rc < 0)
        return rc;
    struct shim_rpc_client *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return bx_err_set(err, BX_ENOMEM, "shim RPC client");
    /* A local socket: retry a refused connection soon (gRPC's default waits a second or more).
     * gRPC also takes the minimum backoff as the least time a connection attempt may take: it
     * stays long, or a shim busy with many handshakes fails them ("connection attempt timed out
     * before receiving SETTINGS frame"). */
    grpc_arg args[] = {
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECEIVE_MESSAGE_LENGTH, {.integer = SHIM_RPC_MAX_MESSAGE}},
        {GRPC_ARG_INTEGER, GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, {.integer = 100}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, {.integer = 10000}},
        {GRPC_ARG_INTEGER, GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, {.integer = 10000}},
    };
    grpc_channel_args channel_args = {sizeof(args) / sizeof(args[0]), args};
    grpc_init();
    grpc_channel_credentials *creds = grpc_insecure_credentials_create();
    cl->channel = grpc_channel_create(addr, creds, &channel_args);
    grpc_channel_credentials_release(creds);
    *out = cl;
    return 0;
}

void
shim_rpc_client_close(struct shim_rpc_client *cl)
{
    if (!cl)
        return;
    grpc_channel_destroy(cl->channel);
    free(cl);
    grpc_shutdown();
}

/* Makes one unary call and waits for its end; the result's status says how it went. */
static void
client_call(struct shim_rpc_client *cl, const char *path, grpc_byte_buffer *req, int timeout_ms,
            bool wait_for_ready, struct rpc_result *res)
{
    grpc_completion_queue *cq = grpc_completion_queue_create_for_pluck(NULL);
    grpc_slice method = grpc_slice_from_copied_string(path);
    grpc_call *call =
        grpc_channel_create_call(cl->channel, NULL, GRPC_PROPAGATE_DEFAULTS, cq, method, NULL,
                                 rpc_deadline_from_ms(timeout_ms), NULL);
    grpc_slice_unref(method);
    grpc_metadata_array initial, trailing;
    grpc_metadata_array_init(&initial);
    grpc_metadata_array_init(&trailing);
    grpc_slice details = grpc_empty_slice();
    grpc_op ops[6];
    memset(ops, 0, sizeof(ops));
    ops[0].op = GRPC_OP_SEND_INITIAL_METADATA;
    ops[0].flags = wait_for_ready ? GRPC_INITIAL_METADATA_WAIT_FOR_READY : 0;
    ops[1].op = GRPC_OP_SEND_MESSAGE;
    ops[1].data.send_message.send_message = req;
    ops[2].op = GRPC_OP_SEND_CLOSE_FROM_CLIENT;
    ops[3].op = GRPC_OP_RECV_INITIAL_METADATA;
    ops[3].data.recv_initial_metadata.recv_initial_metadata = &initial;
    ops[4].op = GRPC_OP_RECV_MESSAGE;
    ops[4].data.recv_message.recv_message = &res->msg;
    ops[5].op = GRPC_OP_RECV_STATUS_ON_CLIENT;
    ops[5].data.recv_status_on_client.trailing_metadata = &trailing;
    ops[5].data.recv_status_on_client.status = &res->status;
    ops[5].data.recv_status_on_client.status_details = &details;
    res->status = GRPC_STATUS_INTERNAL;
    snprintf(res->details, sizeof(res->details), "the call could not be made");
    if (grpc_call_start_batch(call, ops, 6, call, NULL) == GRPC_CALL_OK) {
        /* The batch always completes: at the deadline at the latest. */
        grpc_completion_queue_pluck(cq, call, gpr_inf_future(GPR_CLOCK_MONOTONIC), NULL);
        snprintf(res->details, sizeof(res->details), "%.*s", (int)GRPC_SLICE_LENGTH(details),
                 (const char *)GRPC_SLICE_START_PTR(details));
    }
    grpc_slice_unref(details);
    grpc_metadata_array_destroy(&initial);
    grpc_metadata_array_destroy(&trailing);
    grpc_call_unref(call);
    grpc_completion_queue_shutdown(cq);
    grpc_completion_queue_destroy(cq);
}

/* 0 for an OK status, else its BX_E* code with "<what>: <details>". */
static int
result_error(const char *what, const struct rpc_result *res, struct bx_err *err)
{
    if (res->status == GRPC_STATUS_OK)
        return 0;
    return bx_err_set(err, rpc_status_to_bx(res->status), "%s: %s", what,
                      res->details[0] ? res->details : rpc_status_name(res->status));
}

/* Calls a method with a request message; *resp is its response message. */
static int
client_unary(struct shim_rpc_client *cl, enum rpc_method_id id, const ProtobufCMessage *req,
             int timeout_ms, bool wait_for_ready, ProtobufCMessage **resp, struct bx_err *err)
{
    const struct rpc_method *m = &rpc_methods[id];
    *resp = NULL;
    if (!cl)
        return bx_err_set(err, BX_EINVAL, "%s: no client", m->name);
    grpc_byte_buffer *bb = NULL;
    int rc = rpc_buffer_pack(req, &bb, err);
    if (rc < 0)
        return bx_err_prefix(err, "%s", m->name);
    struct rpc_result res = {0};
    client_call(cl, m->path, bb, timeout_ms, wait_for_ready, &res);
    grpc_byte_buffer_destroy(bb);
    rc = result_error(m->name, &res, err);
    if (rc == 0 && !res.msg)
        rc = bx_err_set(err, BX_EINTERNAL, "%s: OK without a response message", m->name);
    if (rc == 0 && rpc_buffer_unpack(res.msg, m->response, resp, err) < 0)
        rc = bx_err_prefix(err, "%s: response", m->name);
    if (res.msg)
        grpc_byte_buffer_destroy(res.msg);
    return rc;
}

/* The request's exec_id field: protobuf-c wants a non-const string it only reads. */
static char *
request_exec_id(const char *exec_id)
{
    return (char *)(exec_id ? exec_id : "");
}

/* Takes the exit record out of a Wait or Delete response (an empty one when it has none). */
static int
exit_record_take(Boxer__Shim__V1__ExitRecord **field, Boxer__Shim__V1__ExitRecord **out,
                 struct bx_err *err)
{
    *out = *field;
    *field = NULL;
    if (!*out)
        *out = boxer__shim__v1__exit_record__unpack(NULL, 0, NULL);
    if (!*out)
        return bx_err_set(err, BX_ENOMEM, "exit record");
    return 0;
}

int
shim_rpc_client_state(struct shim_rpc_client *cl, const char *exec_id, int timeout_ms,
                      bool wait_for_ready, Boxer__Shim__V1__StateResponse **out, struct bx_err *err)
{
    Boxer__Shim__V1__StateRequest req = BOXER__SHIM__V1__STATE_REQUEST__INIT;
    req.exec_id = request_exec_id(exec_id);
    ProtobufCMessage *resp = NULL;
    int rc = client_unary(cl, RPC_METHOD_STATE, &req.base, timeout_ms, wait_for_ready, &resp, err);
    *out = (Boxer__Shim__V1__StateResponse *)resp;
    return rc;
}

int
shim_rpc_client_wait(struct shim_rpc_client *cl, const char *exec_id, int timeout_ms,
                     Boxer__Shim__V1__ExitRecord **out, struct bx_err *err)
{
    *out = NULL;
    Boxer__Shim__V1__WaitRequest req = BOXER__SHIM__V1__WAIT_REQUEST__INIT;
    req.exec_id = request_exec_id(exec_id);
    ProtobufCMessage *resp = NULL;
    int rc = client_unary(cl, RPC_METHOD_WAIT, &req.base, timeout_ms, false, &resp, err);
    if (rc < 0)
        return rc;
    Boxer__Shim__V1__WaitResponse *wr = (Boxer__Shim__V1__WaitResponse *)resp;
    rc = exit_record_take(&wr->exit, out, err);
    boxer__shim__v1__wait_response__free_unpacked(wr, NULL);
    return rc;
}

int
shim_rpc_client_kill(struct shim_rpc_client *cl, const char *exec_id, uint32_t sig, bool all,
                     int timeout_ms, struct bx_err *err)
{
    Boxer__Shim__V1__KillRequest req = BOXER__SHIM__V1__KILL_REQUEST__INIT;
    req.exec_id = request_exec_id(exec_id);
    req.signal = sig;
    req.all = all;
    ProtobufCMessage *resp = NULL;
    int rc = client_unary(cl, RPC_METHOD_KILL, &req.base, timeout_ms, false, &resp, err);
    if (resp)
        protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

int
shim_rpc_client_delete(struct shim_rpc_client *cl, const char *exec_id, int timeout_ms,
                       Boxer__Shim__V1__ExitRecord **out, struct bx_err *err)
{
    *out = NULL;
    Boxer__Shim__V1__DeleteRequest req = BOXER__SHIM__V1__DELETE_REQUEST__INIT;
    req.exec_id = request_exec_id(exec_id);
    ProtobufCMessage *resp = NULL;
    int rc = client_unary(cl, RPC_METHOD_DELETE, &req.base, timeout_ms, false, &resp, err);
    if (rc < 0)
        return rc;
    Boxer__Shim__V1__DeleteResponse *dr = (Boxer__Shim__V1__DeleteResponse *)resp;
    rc = exit_record_take(&dr->exit, out, err);
    boxer__shim__v1__delete_response__free_unpacked(dr, NULL);
    return rc;
}

int
shim_rpc_client_stats(struct shim_rpc_client *cl, const char *exec_id, int timeout_ms,
                      Boxer__Shim__V1__StatsResponse **out, struct bx_err *err)
{
    Boxer__Shim__V1__StatsRequest req = BOXER__SHIM__V1__STATS_REQUEST__INIT;
    req.exec_id = request_exec_id(exec_id);
    ProtobufCMessage *resp = NULL;
    int rc = client_unary(cl, RPC_METHOD_STATS, &req.base, timeout_ms, false, &resp, err);
    *out = (Boxer__Shim__V1__StatsResponse *)resp;
    return rc;
}

int
shim_rpc_client_call_raw(struct shim_rpc_client *cl, const char *method, const void *req,
                         size_t req_len, int timeout_ms, void **resp, size_t *resp_len,
                         int *grpc_status, struct bx_err *err)
{
    if (grpc_status)
        *grpc_status = GRPC_STATUS_UNAVAILABLE;
    if (!cl || !method || method[0] != '/' || (!req && req_len) || !resp || !resp_len)
        return bx_err_set(err, BX_EINVAL, "raw call: bad argument");
    *resp = NULL;
    *resp_len = 0;
    grpc_byte_buffer *bb = rpc_buffer_from_bytes(req, req_len);
    struct rpc_result res = {0};
    client_call(cl, method, bb, timeout_ms, false, &res);
    grpc_byte_buffer_destroy(bb);
    if (grpc_status)
        *grpc_status = res.status;
    int rc = result_error(method, &res, err);
    if (rc == 0 && res.msg)
        rc = rpc_buffer_read(res.msg, SHIM_RPC_MAX_MESSAGE, resp, resp_len, err);
    if (res.msg)
        grpc_byte_buffer_destroy(res.msg);
    return rc;
}
