/* What the shim RPC server and client share: the method table, the status map, and the
 * conversions between gRPC byte buffers and protobuf-c messages. Private to api/. */
#ifndef BOXER_API_RPC_INTERNAL_H
#define BOXER_API_RPC_INTERNAL_H

#include <stddef.h>
#include <sys/un.h>

#include <grpc/byte_buffer.h>
#include <grpc/grpc.h>
#include <grpc/status.h>
#include <grpc/support/time.h>
#include <protobuf-c/protobuf-c.h>

#include "api/shim_rpc.h"
#include "common/err.h"

/* "unix:" and a sun_path. */
#define RPC_ADDRESS_MAX (sizeof("unix:") + sizeof(((struct sockaddr_un *)0)->sun_path))

enum rpc_method_id {
    RPC_METHOD_STATE,
    RPC_METHOD_WAIT,
    RPC_METHOD_KILL,
    RPC_METHOD_DELETE,
    RPC_METHOD_STATS,
    RPC_METHOD_COUNT,
};

struct rpc_method {
    enum rpc_method_id id;
    const char *name; /* "State", for messages */
    const char *path; /* "/boxer.shim.v1.Shim/State" */
    const ProtobufCMessageDescriptor *request;
    const ProtobufCMessageDescriptor *response;
};

extern const struct rpc_method rpc_methods[RPC_METHOD_COUNT];

/* ---- rpc_service.c: statuses ---- */

/* The gRPC status for a BX_E* code (0 is OK, unknown codes INTERNAL), and back (OK is 0, unknown
 * statuses BX_EINTERNAL). */
grpc_status_code rpc_status_from_bx(int code);
int rpc_status_to_bx(grpc_status_code status);

/* "NOT_FOUND" and so on; never NULL. */
const char *rpc_status_name(grpc_status_code status);

/* Writes the gRPC target "unix:<path>" for a socket path; BX_EINVAL for a path gRPC's URI parser
 * would read differently ('%', '?' or '#' in it, or a leading "//"), BX_ETOOBIG for one longer than
 * sun_path. */
int rpc_address(const char *path, char *buf, size_t size, struct bx_err *err);

/* An absolute deadline timeout_ms from now; timeout_ms < 0 is none (the infinite future). */
gpr_timespec rpc_deadline_from_ms(int timeout_ms);

/* ---- rpc_codec.c: buffers and messages ---- */

/* Serialises `msg` into a new slice (the caller unrefs it), or into a new byte buffer (the caller
 * destroys it). A message over SHIM_RPC_MAX_MESSAGE bytes is BX_ETOOBIG. */
int rpc_slice_pack(const ProtobufCMessage *msg, grpc_slice *out, struct bx_err *err);
int rpc_buffer_pack(const ProtobufCMessage *msg, grpc_byte_buffer **out, struct bx_err *err);

/* A new byte buffer holding a copy of `len` bytes (the caller destroys it). */
grpc_byte_buffer *rpc_buffer_from_bytes(const void *data, size_t len);

/* Copies a byte buffer of at most `max` bytes into one malloc'd block (BX_ETOOBIG when larger,
 * before allocating). *out is NULL for an empty buffer. */
int rpc_buffer_read(grpc_byte_buffer *bb, size_t max, void **out, size_t *out_len,
                    struct bx_err *err);

/* Unpacks a byte buffer of at most SHIM_RPC_MAX_MESSAGE bytes as a `desc` message (BX_ETOOBIG
 * when larger, BX_EINVAL when it does not parse). NULL `bb` is the empty message. The caller
 * frees *out with protobuf_c_message_free_unpacked(*out, NULL). */
int rpc_buffer_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                      ProtobufCMessage **out, struct bx_err *err);

/* The exec_id field of a request message ("" when it has none). */
const char *rpc_message_exec_id(const ProtobufCMessage *msg);

#endif
