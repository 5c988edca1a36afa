/* Between gRPC byte buffers and protobuf-c messages, with the size bound applied before memory is
 * allocated for a message. */
#include <stdlib.h>
#include <string.h>

#include <grpc/byte_buffer_reader.h>
#include <grpc/slice.h>

#include "common/cleanup.h"
#include "rpc_internal.h"

int
rpc_slice_pack(const ProtobufCMessage *msg, grpc_slice *out, struct bx_err *err)
{
    size_t len = protobuf_c_message_get_packed_size(msg);
    if (len > SHIM_RPC_MAX_MESSAGE)
        return bx_err_set(err, BX_ETOOBIG, "%s is %zu bytes, more than %d",
                          msg->descriptor->short_name, len, SHIM_RPC_MAX_MESSAGE);
    *out = grpc_slice_malloc(len);
    protobuf_c_message_pack(msg, GRPC_SLICE_START_PTR(*out));
    return 0;
}

int
rpc_buffer_pack(const ProtobufCMessage *msg, grpc_byte_buffer **out, struct bx_err *err)
{
    grpc_slice slice;
    int rc = rpc_slice_pack(msg, &slice, err);
    if (rc < 0)
        return rc;
    *out = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return 0;
}

grpc_byte_buffer *
rpc_buffer_from_bytes(const void *data, size_t len)
{
    grpc_slice slice = grpc_slice_from_copied_buffer(data, len);
    grpc_byte_buffer *bb = grpc_raw_byte_buffer_create(&slice, 1);
    grpc_slice_unref(slice);
    return bb;
}

/* Copies the buffer's slices into dst, which holds exactly `len` bytes. */
static int
buffer_copy(grpc_byte_buffer *bb, unsigned char *dst, size_t len, struct bx_err *err)
{
    grpc_byte_buffer_reader reader;
    if (!grpc_byte_buffer_reader_init(&reader, bb))
        return bx_err_set(err, BX_EINVAL, "message cannot be read");
    size_t n = 0;
    grpc_slice slice;
    while (grpc_byte_buffer_reader_next(&reader, &slice)) {
        size_t part = GRPC_SLICE_LENGTH(slice);
        if (n <= len && part <= len - n)
            memcpy(dst + n, GRPC_SLICE_START_PTR(slice), part);
        n += part;
        grpc_slice_unref(slice);
    }
    grpc_byte_buffer_reader_destroy(&reader);
    /* A compressed buffer reads back longer than it is: refuse rather than cut. */
    if (n != len)
        return bx_err_set(err, BX_EINVAL, "message of %zu bytes read back as %zu", len, n);
    return 0;
}

int
rpc_buffer_read(grpc_byte_buffer *bb, size_t max, void **out, size_t *out_len, struct bx_err *err)
{
    *out = NULL;
    *out_len = 0;
    size_t len = bb ? grpc_byte_buffer_length(bb) : 0;
    if (len > max)
        return bx_err_set(err, BX_ETOOBIG, "message is %zu bytes, more than %zu", len, max);
    if (len == 0)
        return 0;
    cleanup_free unsigned char *buf = malloc(len);
    if (!buf)
        return bx_err_set(err, BX_ENOMEM, "message of %zu bytes", len);
    int rc = buffer_copy(bb, buf, len, err);
    if (rc < 0)
        return rc;
    *out = steal_ptr(&buf);
    *out_len = len;
    return 0;
}

int
rpc_buffer_unpack(grpc_byte_buffer *bb, const ProtobufCMessageDescriptor *desc,
                  ProtobufCMessage **out, struct bx_err *err)
{
    *out = NULL;
    cleanup_free void *data = NULL;
    size_t len = 0;
    int rc = rpc_buffer_read(bb, SHIM_RPC_MAX_MESSAGE, &data, &len, err);
    if (rc < 0)
        return rc;
    /* protobuf-c reads nothing from a NULL buffer of length 0. */
    ProtobufCMessage *msg = protobuf_c_message_unpack(desc, NULL, len, data);
    if (!msg)
        return bx_err_set(err, BX_EINVAL, "%zu bytes are not a valid %s", len, desc->name);
    *out = msg;
    return 0;
}

const char *
rpc_message_exec_id(const ProtobufCMessage *msg)
{
    const ProtobufCFieldDescriptor *field =
        protobuf_c_message_descriptor_get_field_by_name(msg->descriptor, "exec_id");
    if (!field || field->type != PROTOBUF_C_TYPE_STRING)
        return "";
    const char *id = *(const char *const *)((const char *)msg + field->offset);
    return id ? id : "";
}
